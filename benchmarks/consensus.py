"""Consensus throughput through the pure simulator: the DAG fast path and HotStuff, each alone.

For each committee size n (4, 10, 31, 100 validators of equal stake) each track runs fault-free
in `aci_ref.sim.network.Network` (base latency 20 ms, no jitter, one seed, no trace hashing) with
the shipped parameters, for a fixed virtual duration. Clients keep every validator's mempool
topped up with distinct random 100-byte transactions (at each tick, up to two batches' worth),
so every vertex and every block is proposed full. Each (track, n) runs in a fresh interpreter, so
its peak RSS (`ru_maxrss`) and its signature cache are its own.

- DAG (Algorithm 3, `dag_program`): committed vertices and transactions (those in the log of the
  validator that committed least, i.e. what every validator committed), rounds reached, and the
  fast-path commit rate: committed transactions per wall second and per virtual second.
- HotStuff (§4.3, `hotstuff_program`): decided blocks and their transactions, settlement blocks
  per wall and per virtual second. The virtual rate is capped by design: a leader waits
  `settlement_interval_ms` (2 s) after its parent, so it is about 0.5 blocks per virtual second.

Messages are the network's transmissions (a broadcast counts once per receiver). Signature
verifications are counted two ways, because `aci_ref.consensus.signing.verify` is an
`lru_cache` shared by every simulated validator in the process: `verifications_logical` sums
`Stats.verifications` over validators, the checks the protocol asks for (what n separate
machines would each perform); `verifications_real` is the number of cache misses, the Ed25519
verifications this process actually ran (about one per distinct signature, so roughly the
logical count divided by n). `verify_calls` (cache hits plus misses) should equal the logical
count; both are printed so a difference would show.

The wall time of each run is bounded: the DAG's virtual duration shrinks as 10/n above ten
validators (see `virtual_ms`: with the default `--seconds 10`, n = 31 runs 3.2 s and n = 100 runs
1 s of virtual time), and a run that exceeds `--budget` wall seconds stops at the next tick and
says so (`cut_by_budget`, with the virtual time it reached). Prints one JSON object.

    python benchmarks/consensus.py [--sizes 4,10,31,100] [--seconds S] [--budget B]
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import subprocess
import sys
import time
from typing import Any

BASE_LATENCY_MS = 20
SEED = 7
TX_BYTES = 100
TRACKS = ("dag", "hotstuff")


def virtual_ms(track: str, n: int, seconds: float) -> int:
    """The virtual duration of one run. DAG: `seconds`, scaled by 10/n above 10 validators (a
    round costs about n^2 messages, each vertex re-encoded by every receiver). HotStuff: 8x
    `seconds` at every size (its blocks are 2 s apart and a block costs O(n) messages)."""
    if track == "hotstuff":
        return max(1, round(8 * seconds * 1000))
    return max(1, round(seconds * min(1.0, 10 / n) * 1000))


def _committee(n: int) -> tuple[Any, dict[str, Any], list[str]]:
    from aci_ref.consensus.committee import Committee, Validator
    from aci_ref.crypto import KeyPair

    width = len(str(n - 1))
    names = [f"v{i:0{width}d}" for i in range(n)]
    keys = {name: KeyPair.from_label("bench/consensus/" + name) for name in names}
    return Committee(tuple(Validator(m, keys[m].public, 1) for m in names)), keys, names


def _programs(track: str, n: int) -> tuple[dict[str, Any], list[str], Any]:
    from aci_ref.consensus.dag import dag_program
    from aci_ref.consensus.dag_messages import DagConfig
    from aci_ref.consensus.hotstuff import HotStuffConfig, hotstuff_program
    from aci_ref.params import default_params

    params = default_params()
    committee, keys, names = _committee(n)
    programs: dict[str, Any]
    if track == "dag":
        programs = {m: dag_program(DagConfig(committee, m, keys[m], params)) for m in names}
    else:
        programs = {
            m: hotstuff_program(HotStuffConfig(committee, m, keys[m], params)) for m in names
        }
    return programs, names, params


def _rss_mb() -> float:
    """This process's resident set now, in MB (Linux /proc; 0 elsewhere)."""
    try:
        with open("/proc/self/statm", encoding="ascii") as statm:
            pages = int(statm.read().split()[1])
    except OSError:
        return 0.0
    return pages * resource.getpagesize() / 2**20


def measure(track: str, n: int, seconds: float, budget: float) -> dict[str, Any]:
    """One run of one track at committee size n; the figures described in the docstring."""
    from aci_ref.consensus import signing
    from aci_ref.sim.faults import Faults
    from aci_ref.sim.network import Network, Scenario

    programs, names, params = _programs(track, n)
    duration = virtual_ms(track, n, seconds)
    network = Network(
        programs,
        Scenario(faults=Faults(base_latency_ms=BASE_LATENCY_MS), seed=SEED),
        digest=False,
    )
    rng = random.Random(SEED)
    tick = params.dag_round_interval_ms if track == "dag" else params.settlement_interval_ms // 4
    target = 2 * params.max_batch_txs
    submitted = 0
    signing._verify.cache_clear()
    rss_before = _rss_mb()
    began = time.perf_counter()
    cut = False
    now = 0
    while now < duration:
        for name in names:
            for _ in range(target - len(network.states[name].mempool)):
                network.submit(name, rng.randbytes(TX_BYTES))
                submitted += 1
        now = min(now + tick, duration)
        network.run(end_ms=now)
        if time.perf_counter() - began > budget and now < duration:
            cut = True
            break
    wall = time.perf_counter() - began
    cache = signing._verify.cache_info()
    virtual_s = now / 1000
    states = network.states
    logical = sum(states[m].stats.verifications for m in names)
    messages = network.counters().sent
    result: dict[str, Any] = {
        "track": track,
        "validators": n,
        "virtual_seconds_planned": duration / 1000,
        "virtual_seconds_run": virtual_s,
        "cut_by_budget": cut,
        "wall_seconds": round(wall, 3),
        "steps": network.steps,
        "client_txs_submitted": submitted,
        "messages": messages,
        "verifications_logical": logical,
        "verify_calls": cache.hits + cache.misses,
        "verifications_real": cache.misses,
    }
    if track == "dag":
        logs = [
            [e for _, e in network.outputs[m] if type(e).__name__ == "Committed"] for m in names
        ]
        common = min(logs, key=len)
        txs = sum(len(c.batch) for c in common)
        result |= {
            "committed_vertices": len(common),
            "committed_txs": txs,
            "rounds": max(states[m].proposed_round for m in names),
            "last_committed_round": min(states[m].last_committed_round for m in names),
            "fast_path_txs_per_wall_second": _rate(txs, wall),
            "fast_path_txs_per_virtual_second": _rate(txs, virtual_s),
            "messages_per_committed_tx": _rate(messages, txs),
            "verifications_logical_per_committed_tx": _rate(logical, txs),
            "verifications_real_per_committed_tx": _rate(cache.misses, txs),
        }
    else:
        logs = [[e for _, e in network.outputs[m] if type(e).__name__ == "Decided"] for m in names]
        common = min(logs, key=len)
        txs = sum(len(d.block.payload) for d in common)
        blocks = len(common)
        result |= {
            "decided_blocks": blocks,
            "committed_txs": txs,
            "views": max(states[m].view for m in names),
            "settlement_blocks_per_wall_second": _rate(blocks, wall),
            "settlement_blocks_per_virtual_second": _rate(blocks, virtual_s),
            "committed_txs_per_wall_second": _rate(txs, wall),
            "messages_per_block": _rate(messages, blocks),
            "messages_per_committed_tx": _rate(messages, txs),
            "verifications_logical_per_block": _rate(logical, blocks),
            "verifications_real_per_block": _rate(cache.misses, blocks),
            "verifications_logical_per_committed_tx": _rate(logical, txs),
            "verifications_real_per_committed_tx": _rate(cache.misses, txs),
        }
    result |= {
        "rss_before_run_mb": round(rss_before, 1),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }
    return result


def _rate(count: float, per: float) -> float | None:
    return round(count / per, 3) if per else None


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--sizes", default="4,10,31,100", help="committee sizes, comma-separated")
    parser.add_argument(
        "--seconds", type=float, default=10.0, help="DAG virtual seconds at n <= 10 (HotStuff: 8x)"
    )
    parser.add_argument("--budget", type=float, default=600.0, help="wall seconds per run")
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",") if s]
    if args.child is not None:
        track, n = args.child.split(":")
        print(json.dumps(measure(track, int(n), args.seconds, args.budget)))
        return
    began = time.perf_counter()
    runs: list[dict[str, Any]] = []
    for n in sizes:
        for track in TRACKS:
            out = subprocess.run(
                [
                    sys.executable,
                    __file__,
                    f"--child={track}:{n}",
                    f"--seconds={args.seconds}",
                    f"--budget={args.budget}",
                ],
                check=True,
                capture_output=True,
                text=True,
            ).stdout
            runs.append(json.loads(out))
    report = {
        "base_latency_ms": BASE_LATENCY_MS,
        "seed": SEED,
        "tx_bytes": TX_BYTES,
        "seconds": args.seconds,
        "budget_seconds": args.budget,
        "total_wall_seconds": round(time.perf_counter() - began, 1),
        "dag": [r for r in runs if r["track"] == "dag"],
        "hotstuff": [r for r in runs if r["track"] == "hotstuff"],
    }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
