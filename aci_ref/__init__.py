"""aci-ref: the executable reference implementation of the Hanzo ACI protocol."""
