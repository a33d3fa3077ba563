"""What no fault may break: a safety and liveness checker over a run of consensus machines (§4).

It reads what honest validators report (settlement decisions `Decided`, fast-path commits
`Committed`, and any effect carrying a `checkpoint`) and the states they leave, and records each
violation of:

- agreement (§4.3): no two honest validators decide different blocks at one height, and each
  validator's decisions form one chain from genesis;
- prefix consistency (§4.2): honest commit logs agree at every sequence number, with no gap and no
  vertex ordered twice;
- one vertex per slot: at most one committed vertex per (round, author);
- certificates: every decision carries a valid commitQC (distinct members, a quorum of stake,
  every signature good) naming a block that validator decided; every committed vertex is the one
  its validator's DAG holds, with a valid certificate;
- roots (§4.4): honest checkpoints, and state roots read through a hook, agree at every index;
- liveness, when asked: from a given time, every honest validator produces something new on each
  track within a bound.

Feed it step by step (`after_step` has the signature of `Network`'s hook; with
`raise_on_violation` the first violation raises, which is what a Hypothesis invariant wants) or
after the run (`check_run`). A step costs work in proportion to its effects; a certificate is
verified once, whichever honest validator commits it. The checker is in `safety_checker`, the
properties, violations and the report in `safety_report`; this module runs it and re-exports them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import replace
from itertools import groupby
from operator import itemgetter
from typing import Any

from aci_ref.consensus.committee import Committee
from aci_ref.consensus.io import Program
from aci_ref.sim.network import Network
from aci_ref.sim.safety_checker import DagOf, RootsOf, SafetyChecker, default_dag
from aci_ref.sim.safety_report import Progress, Property, SafetyReport, SafetyViolation, Violation
from aci_ref.sim.scenario import Scenario

__all__ = [
    "DagOf",
    "Progress",
    "Property",
    "RootsOf",
    "SafetyChecker",
    "SafetyReport",
    "SafetyViolation",
    "Violation",
    "check_run",
    "watch",
]


def check_run(
    run: Any,
    committee: Committee,
    honest: Iterable[str],
    *,
    progress: Progress | None = None,
    dag_of: DagOf = default_dag,
    roots_of: RootsOf | None = None,
) -> SafetyReport:
    """Check a finished run (a `Network` or its `RunResult`) from its outputs and final states.

    Certificates are looked up in the final DAGs of all honest validators, so those already
    garbage-collected everywhere are counted as unchecked rather than verified.
    """
    checker = SafetyChecker(committee, honest, dag_of=dag_of, roots_of=roots_of)
    finals = [run.states[a] for a in sorted(checker.honest) if a in run.states]
    for address in sorted(checker.honest):
        # One step's effects share a time: a decision's QC may name a block decided after it.
        for at_ms, group in groupby(run.outputs.get(address, ()), key=itemgetter(0)):
            checker.check_effects(at_ms, address, [effect for _, effect in group], finals)
        if address in run.states:
            checker.check_state(run.now_ms, address, run.states[address])
    return replace(checker.report(progress), steps=run.steps)


def watch(
    programs: Mapping[str, Program[Any]],
    scenario: Scenario,
    committee: Committee,
    honest: Iterable[str],
    *,
    message_round: Callable[[Any], int | None] | None = None,
    raise_on_violation: bool = False,
    dag_of: DagOf = default_dag,
    roots_of: RootsOf | None = None,
) -> tuple[Network, SafetyChecker]:
    """A network whose every step is checked: the checker rides on its `after_step` hook."""
    checker = SafetyChecker(
        committee, honest, dag_of=dag_of, roots_of=roots_of, raise_on_violation=raise_on_violation
    )
    network = Network(
        programs,
        scenario,
        message_round=message_round,
        after_step=checker.after_step,
        digest=False,
    )
    return network, checker
