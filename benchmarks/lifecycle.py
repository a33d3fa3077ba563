"""Job lifecycles per second through the pure core, against the Ed25519-verify floor.

A simulation (honest workers, default parameters) is run once to record every accepted signed
event; the recorded events are then re-applied from genesis with `chain.apply` alone, so model
execution, signing and the driver are excluded from the timing. Each lifecycle verifies several
Ed25519 signatures (the events' own, the TEE chain, the attestation), so the same process also
measures how many verifies per second this machine does: the ratio of the two says how far the
core is from its cryptographic floor. Two floors are reported: `ratio_to_verify_floor` counts the
verifies a lifecycle performs (a TEE chain already verified is remembered, not verified again);
`ratio_to_protocol_floor` counts every signature check the protocol asks for, remembered or not,
so it stays comparable with measurements made before the chain cache existed.

The two measurements are interleaved so that machine noise hits both alike: a replay pass is cut
into chunks of events, and after every chunk of `apply` comes a chunk of verify-only work of about
the same duration. Each round is one full replay from genesis; the figures reported are medians
over the rounds (the ratio is taken per round, then its median). Contracts are measured on and
off, each in a fresh interpreter (the switch is read at import). Prints one JSON object.

    python benchmarks/lifecycle.py [--jobs N] [--rounds R] [--chunk EVENTS]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from fractions import Fraction
from typing import Any


def _record(jobs: int) -> tuple[Any, list[Any]]:
    """Run the simulation once; return its start state and every accepted signed event."""
    from aci_ref.events import SignedEvent
    from aci_ref.sim.simulate import SimConfig, Simulation

    recorded: list[SignedEvent] = []

    class Recording(Simulation):
        def submit(self, event: SignedEvent) -> Any:
            effects = super().submit(event)
            if effects is not None:
                recorded.append(event)
            return effects

    config = SimConfig(
        jobs=jobs, lazy_workers=0, careless_workers=0, sybil_workers=0, lm_share=Fraction(0)
    )
    sim = Recording(config)
    start_state = sim.state
    sim.run()
    return start_state, recorded


def _verify_work() -> Callable[[int], float]:
    """A timer of `n` verify-only calls (the same wrapper the core uses), in seconds."""
    from aci_ref.crypto import KeyPair, verify_signature

    keys = [KeyPair.from_label(f"bench-{i}") for i in range(4)]
    samples = []
    for i, key in enumerate(keys):
        message = bytes([i]) * 200
        samples.append((key.public, message, key.sign(message)))

    def timed(n: int) -> float:
        began = time.perf_counter()
        for i in range(n):
            public, message, signature = samples[i & 3]
            if not verify_signature(public, message, signature):
                raise AssertionError("a benchmark signature failed to verify")
        return time.perf_counter() - began

    return timed


def measure(jobs: int, rounds: int, chunk: int) -> dict[str, Any]:
    from aci_ref.chain import apply
    from aci_ref.contracts import CONTRACTS_ON

    start_state, recorded = _record(jobs)
    verify = _verify_work()
    chunks = [recorded[i : i + chunk] for i in range(0, len(recorded), chunk)]

    # Calibrate (and warm up): one untimed-for-the-result pass and a verify sample, so each
    # verify chunk can be sized to last about as long as an apply chunk.
    state = start_state
    began = time.perf_counter()
    for event in recorded:
        state, _ = apply(state, event)
    per_event = (time.perf_counter() - began) / len(recorded)
    probe = 2000
    verify_rate_guess = probe / verify(probe)
    verifies_per_chunk = max(100, round(per_event * chunk * verify_rate_guess))

    apply_seconds: list[float] = []
    verify_rates: list[float] = []
    for _ in range(rounds):
        state = start_state
        applying = 0.0
        verifying = 0.0
        verified = 0
        for events in chunks:
            began = time.perf_counter()
            for event in events:
                state, _ = apply(state, event)
            applying += time.perf_counter() - began
            verifying += verify(verifies_per_chunk)
            verified += verifies_per_chunk
        apply_seconds.append(applying)
        verify_rates.append(verified / verifying)

    verifies = _count_verifies(start_state, recorded, apply) / jobs
    checks = _count_verifies(start_state, recorded, apply, uncached=True) / jobs
    lifecycle_rates = [jobs / seconds for seconds in apply_seconds]
    costs = [rate / life for rate, life in zip(verify_rates, lifecycle_rates, strict=True)]
    ratios = [verifies / cost for cost in costs]
    protocol_ratios = [checks / cost for cost in costs]
    return {
        "contracts": CONTRACTS_ON,
        "jobs": jobs,
        "events": len(recorded),
        "rounds": rounds,
        "chunk_events": chunk,
        "verifies_per_chunk": verifies_per_chunk,
        "seconds_median": round(statistics.median(apply_seconds), 4),
        "lifecycles_per_second": round(statistics.median(lifecycle_rates), 1),
        "ed25519_verifies_per_second": round(statistics.median(verify_rates), 1),
        "signature_verifies_per_lifecycle": round(verifies, 2),
        "signature_checks_per_lifecycle": round(checks, 2),
        "lifecycle_cost_in_verifies": round(statistics.median(costs), 2),
        "lifecycle_cost_in_verifies_range": [round(min(costs), 2), round(max(costs), 2)],
        "ratio_to_verify_floor": round(statistics.median(ratios), 3),
        "ratio_range": [round(min(ratios), 3), round(max(ratios), 3)],
        "ratio_to_protocol_floor": round(statistics.median(protocol_ratios), 3),
    }


def _count_verifies(state: Any, events: list[Any], apply: Any, *, uncached: bool = False) -> int:
    """How many Ed25519 verifications one pass over `events` performs (every one goes through
    PyNaCl's VerifyKey.verify). With `uncached`, the TEE-chain cache is emptied before every
    event, so the count is of the signature checks the protocol asks for, remembered or not."""
    from nacl.signing import VerifyKey

    from aci_ref.poai import tee

    chain_cache = getattr(tee, "_verified_chain", None)

    original = VerifyKey.verify
    calls = 0

    def counting(self: VerifyKey, *args: Any, **kwargs: Any) -> Any:
        nonlocal calls
        calls += 1
        return original(self, *args, **kwargs)

    VerifyKey.verify = counting  # type: ignore[method-assign]
    try:
        for event in events:
            if uncached and chain_cache is not None:
                chain_cache.cache_clear()
            state, _ = apply(state, event)
    finally:
        VerifyKey.verify = original  # type: ignore[method-assign]
    return calls


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--jobs", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--chunk", type=int, default=200, help="events per apply chunk")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(measure(args.jobs, args.rounds, args.chunk)))
        return
    results: dict[str, Any] = {}
    for mode in ("on", "off"):
        env = {**os.environ, "ACI_CONTRACTS": mode}
        out = subprocess.run(
            [
                sys.executable,
                __file__,
                "--child",
                f"--jobs={args.jobs}",
                f"--rounds={args.rounds}",
                f"--chunk={args.chunk}",
            ],
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
    # The same, with each run's cost counted in its own interpreter's verifies (less noisy).
    results["contract_overhead_in_verifies"] = round(
        on["lifecycle_cost_in_verifies"] / off["lifecycle_cost_in_verifies"], 2
    )
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
