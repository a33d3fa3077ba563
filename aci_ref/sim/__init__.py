"""The deterministic simulator behind `aci-ref simulate`."""
