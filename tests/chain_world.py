"""The actor harness moved to `aci_ref.sim.world`; this name stays for older scenario files."""

from aci_ref.sim.world import *  # noqa: F403
from aci_ref.sim.world import __all__  # noqa: F401
