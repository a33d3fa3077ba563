"""The contracts shipped with the package, in `aci_ref/aivm/contracts/` (WebAssembly text)."""

from __future__ import annotations

from importlib import resources


def bundled_contracts() -> dict[str, str]:
    """Listing 1, §5.4: the shipped contracts — the marketplace and the demo — by name (stem)."""
    folder = resources.files("aci_ref.aivm") / "contracts"
    return {
        entry.name.removesuffix(".wat"): entry.read_text(encoding="utf-8")
        for entry in folder.iterdir()
        if entry.name.endswith(".wat")
    }
