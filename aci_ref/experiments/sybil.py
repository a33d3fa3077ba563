"""`aci-ref experiment sybil`: what controlling a fraction of the workers costs on the chain.

For n = 1 … N attacker identities beside H honest workers, three ways to get them:

- one platform (what a Sybil attacker can afford): n identities on one TEE platform; the chain
  sees the shared platform key at the second registration, slashes both 100 % and bans the
  platform, so every later identity is refused (Table 2 row Sybil);
- distinct platforms (what Theorem 4 prices): one certified machine per identity; each bonds
  its required stake, f = n / (n + H) of the capacity for n × stake;
- merged: one identity declaring all n identities' capacity (Theorem 4 assumes uniform capacity;
  with capacity-proportional stake below MinStake per unit, merging is cheaper: errata E64).

Beside each, Theorem 4's f · N_workers · MinStake. A short probe at n = N counts the jobs the
attacker's identities actually win.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from fractions import Fraction
from pathlib import Path
from typing import Any

from rich.console import Group, RenderableType
from rich.table import Table

from aci_ref.experiments.base import (
    Experiment,
    Progress,
    Result,
    key_value_table,
    new_figure,
    non_negative,
    positive,
    save_figure,
)

CASES = ("one_platform", "distinct_platforms", "merged")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--identities", type=positive, default=10, help="attacker identities N (10)"
    )
    parser.add_argument("--honest", type=non_negative, default=10, help="honest workers H (10)")
    parser.add_argument(
        "--probe-blocks",
        type=non_negative,
        default=5,
        help="blocks of jobs in the probe at n = N (5)",
    )
    parser.add_argument("--seed", type=non_negative, default=0, help="world label seed (0)")


def _specs(case: str, n: int) -> tuple[Any, ...]:
    from aci_ref.sim.adversaries import SybilAttacker

    attacker = SybilAttacker(n)
    if case == "one_platform":
        return attacker.specs()
    if case == "distinct_platforms":
        return attacker.distinct_specs()
    return (attacker.merged_spec(),)


def _capacity_share(world: Any, attackers: Sequence[str]) -> Fraction:
    """The attacker's share of the capacity the market may quote now."""
    from aci_ref.sim.adversary_runs import eligible_workers
    from aci_ref.sim.world import RESOURCE_CLASS

    pool = world.state.market.pools[RESOURCE_CLASS]
    eligible = eligible_workers(world)
    total = sum(pool.workers[name].capacity for name in eligible)
    held = sum(pool.workers[name].capacity for name in eligible if name in attackers)
    return Fraction(held, total) if total else Fraction(0)


def one_case(args: argparse.Namespace, case: str, n: int, probe: bool) -> dict[str, Any]:
    """Register the honest workers and the attacker's identities; measure cost and control."""
    from aci_ref.chain import Slashed
    from aci_ref.economics.ledger import Role
    from aci_ref.sim.adversary_runs import bootstrap_registering, run_epochs
    from aci_ref.sim.world import WorkerSpec, build_world, world_params

    honest = tuple(WorkerSpec(f"honest-{i}") for i in range(args.honest))
    attack = _specs(case, n)
    names = [spec.name for spec in attack]
    world = build_world(
        world_params(),
        label=f"sybil/{args.seed}/{case}/{n}",
        workers=(*honest, *attack),
        bootstrap=False,
    )
    outcome = bootstrap_registering(world, (*honest, *attack))
    slashes = [e for e in world.log if isinstance(e, Slashed)]
    bonded = sum(world.stake(name, Role.WORKER) for name in names)
    taken = sum(s.record.amount for s in slashes if s.record.offender in names)
    result: dict[str, Any] = {
        "identities": n,
        "registered": sum(outcome[name] == "" for name in names),
        "refused": sorted({outcome[name] for name in names} - {""}),
        "slashed_identities": len({s.record.offender for s in slashes} & set(names)),
        "banned": sum(
            world.state.workers[name].banned for name in names if name in world.state.workers
        ),
        "stake_slashed": taken,
        "stake_held": bonded,
        "cost": bonded + taken,
        "capacity_share": float(_capacity_share(world, names)),
        "honest_slashed": sum(s.record.offender not in names for s in slashes),
    }
    if probe:
        log = run_epochs(world, epochs=1, jobs_per_worker=args.probe_blocks)
        won = sum(record.worker in names for record in log.jobs.values())
        result["probe_jobs"] = len(log.jobs)
        result["probe_jobs_won"] = won
    return result


def run(args: argparse.Namespace, progress: Progress) -> Result:
    """Theorem 4, §6.2 and Table 2 row Sybil: the sweep over n, then the probe at n = N."""
    from aci_ref.params import default_params
    from aci_ref.sim.world import WORKER_CAPACITY
    from proofs.theorem4 import REFERENCE_WORKERS, sybil_bound, sybil_stake

    params = default_params()
    total = len(CASES) * args.identities
    rows: list[dict[str, Any]] = []
    for n in range(1, args.identities + 1):
        row: dict[str, Any] = {"identities": n}
        for case in CASES:
            row[case] = one_case(args, case, n, probe=n == args.identities)
            progress((n - 1) * len(CASES) + CASES.index(case) + 1, total)
        f = Fraction(n, n + args.honest)
        row["fraction"] = float(f)
        row["theorem4_bound"] = int(f * (n + args.honest) * params.tokens(params.worker_min_stake))
        row["theorem4_reference_network"] = int(sybil_bound(params, f))
        row["proofs_stake_distinct"] = sybil_stake(params, [WORKER_CAPACITY] * n)
        row["proofs_stake_merged"] = sybil_stake(params, [WORKER_CAPACITY * n])
        rows.append(row)
    return {
        "config": {
            "identities": args.identities,
            "honest": args.honest,
            "probe_blocks": args.probe_blocks,
            "seed": args.seed,
            "worker_capacity": WORKER_CAPACITY,
            "worker_min_stake_tokens": params.worker_min_stake,
            "stake_per_capacity_unit_tokens": params.worker_stake_per_capacity_unit,
            "slash_sybil_bps": params.slash_sybil_bps,
            "reference_workers": REFERENCE_WORKERS,
            "token_base_units": params.token_base_units,
        },
        "rows": rows,
    }


def render(result: Result) -> RenderableType:
    """The sweep as one table; the probe at n = N as another."""
    unit = result["config"]["token_base_units"]
    table = Table(title="sybil: cost of n identities (ACI) and the capacity share they control")
    for column in (
        "n",
        "f",
        "Theorem 4 f·N·MinStake",
        "one platform: lost / share",
        "distinct: bonded / share",
        "merged: bonded / share",
    ):
        table.add_column(column, justify="right")
    for row in result["rows"]:
        one, distinct, merged = (row[c] for c in CASES)
        table.add_row(
            str(row["identities"]),
            f"{row['fraction']:.3f}",
            f"{row['theorem4_bound'] / unit:,.0f}",
            f"{one['stake_slashed'] / unit:,.0f} / {one['capacity_share']:.3f}",
            f"{distinct['cost'] / unit:,.0f} / {distinct['capacity_share']:.3f}",
            f"{merged['cost'] / unit:,.0f} / {merged['capacity_share']:.3f}",
        )
    last = result["rows"][-1]
    probe = [
        (
            f"{case}: jobs won",
            f"{last[case]['probe_jobs_won']} / {last[case]['probe_jobs']}",
            f"registered {last[case]['registered']}, refused {last[case]['refused'] or '—'}, "
            f"slashed {last[case]['slashed_identities']}",
        )
        for case in CASES
    ]
    return Group(table, key_value_table(f"probe at n = {last['identities']}", probe))


def plot(result: Result, directory: Path) -> list[Path]:
    """Cost against the capacity share: Theorem 4's line and what each strategy paid."""
    unit = result["config"]["token_base_units"]
    rows = result["rows"]
    figure = new_figure()
    axes = figure.add_subplot(1, 1, 1)
    f = [row["fraction"] for row in rows]
    for case, style in zip(CASES, ("rx", "o-", "s-"), strict=True):
        axes.plot(f, [row[case]["cost"] / unit for row in rows], style, label=case)
    bound = [row["theorem4_bound"] / unit for row in rows]
    axes.plot(f, bound, "k--", linewidth=2, label="Theorem 4: f·N·MinStake")
    axes.set_xlabel("fraction f of the workers the attacker sought")
    axes.set_ylabel("stake bonded or slashed (ACI)")
    axes.set_title("one platform: slashed and banned, controls nothing")
    axes.legend()
    return [save_figure(figure, directory, "sybil")]


EXPERIMENT = Experiment(
    name="sybil",
    summary="Sybil identities on one platform vs distinct platforms vs Theorem 4's cost bound",
    add_arguments=add_arguments,
    run=run,
    render=render,
    plot=plot,
)
