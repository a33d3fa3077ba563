"""Tests of `aci-ref experiment NAME`: each experiment's numbers at small scale."""
