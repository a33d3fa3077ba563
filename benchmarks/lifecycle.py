"""Job lifecycles per second through the pure core, against the Ed25519-verify floor.

A simulation (honest workers, default parameters) is run once to record every accepted signed
event; the recorded events are then re-applied from genesis with `chain.apply` alone, so model
execution, signing and the driver are excluded from the timing. The same run measures how many
Ed25519 signatures this machine verifies per second, since each lifecycle verifies several (the
events' own, the TEE chain and the attestation): the ratio of the two says how far the core is from
its cryptographic floor. Contracts are measured on and off, each in a fresh interpreter (the switch
is read at import). Prints one JSON object.

    python benchmarks/lifecycle.py [--jobs N] [--repeat R]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from typing import Any


def measure(jobs: int, repeat: int) -> dict[str, Any]:
    from aci_ref.chain import apply
    from aci_ref.contracts import CONTRACTS_ON
    from aci_ref.crypto import KeyPair, verify_signature
    from aci_ref.events import SignedEvent
    from aci_ref.sim.simulate import SimConfig, Simulation

    recorded: list[SignedEvent] = []

    class Recording(Simulation):
        def submit(self, event: SignedEvent) -> Any:
            effects = super().submit(event)
            if effects is not None:
                recorded.append(event)
            return effects

    config = SimConfig(jobs=jobs, lazy_workers=0, careless_workers=0, sybil_workers=0, lm_share=0)
    sim = Recording(config)
    start_state = sim.state
    sim.run()
    best = float("inf")
    for _ in range(repeat):
        state = start_state
        began = time.perf_counter()
        for event in recorded:
            state, _ = apply(state, event)
        best = min(best, time.perf_counter() - began)
    verifies = _count_verifies(start_state, recorded, apply)
    key = KeyPair.from_label("bench")
    message = b"x" * 200
    signature = key.sign(message)
    n = 3000
    began = time.perf_counter()
    for _ in range(n):
        verify_signature(key.public, message, signature)
    verify_rate = n / (time.perf_counter() - began)
    lifecycles = jobs / best
    return {
        "contracts": CONTRACTS_ON,
        "jobs": jobs,
        "events": len(recorded),
        "seconds": round(best, 4),
        "lifecycles_per_second": round(lifecycles, 1),
        "ed25519_verifies_per_second": round(verify_rate, 1),
        "signature_verifies_per_lifecycle": round(verifies / jobs, 2),
        "lifecycle_cost_in_verifies": round(verify_rate / lifecycles, 2),
        "share_of_time_in_verifies": round(verifies / jobs / (verify_rate / lifecycles), 3),
    }


def _count_verifies(state: Any, events: list[Any], apply: Any) -> int:
    """How many Ed25519 verifications one pass over `events` performs (every one goes through
    PyNaCl's VerifyKey.verify)."""
    from nacl.signing import VerifyKey

    original = VerifyKey.verify
    calls = 0

    def counting(self: VerifyKey, *args: Any, **kwargs: Any) -> Any:
        nonlocal calls
        calls += 1
        return original(self, *args, **kwargs)

    VerifyKey.verify = counting  # type: ignore[method-assign]
    try:
        for event in events:
            state, _ = apply(state, event)
    finally:
        VerifyKey.verify = original  # type: ignore[method-assign]
    return calls


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=2000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(measure(args.jobs, args.repeat)))
        return
    results = {}
    for mode in ("on", "off"):
        env = {**os.environ, "ACI_CONTRACTS": mode}
        out = subprocess.run(
            [sys.executable, __file__, "--child", f"--jobs={args.jobs}", f"--repeat={args.repeat}"],
            env=env,
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        results[f"contracts_{mode}"] = json.loads(out)
    on, off = results["contracts_on"], results["contracts_off"]
    results["contract_overhead"] = round(
        off["lifecycles_per_second"] / on["lifecycles_per_second"], 2
    )
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
