"""How many generated scenarios the adversarial suite runs: at least 10,000 in the deep profile.

Each scenario test asserts that it ran exactly its planned count (the state machines: at least
their Hypothesis examples), so the plans summed here are what the suite runs. Not counted: the
checker's own tests and bounded searches, and the xfailed reproductions.
"""

from __future__ import annotations

from aci_ref.sim.byzantine import ADVERSARIES
from tests.adversarial.harness import EXAMPLES
from tests.adversarial.test_adversaries import EXPECTED, N7_ATTACKS, SEEDS, fault_cases
from tests.adversarial.test_twins import planned, twins_plan

PROTOCOLS = len(EXPECTED)


def scenario_plan() -> dict[str, int]:
    """Scenarios per family in the loaded profile."""
    return {
        "twins": sum(planned(name) for name in twins_plan()),
        "state machines": 2 * EXAMPLES,
        "one adversary": (len(ADVERSARIES) + 1) * PROTOCOLS * SEEDS,
        "two among seven": len(N7_ATTACKS) * PROTOCOLS,
        "network faults": len(fault_cases("dag")) * PROTOCOLS * SEEDS,
    }


def test_the_suite_runs_ten_thousand_scenarios_in_the_deep_profile() -> None:
    plan = scenario_plan()
    total = sum(plan.values())
    print(f"{total} scenarios at {EXAMPLES} examples per test: {plan}")
    if EXAMPLES >= 2000:
        assert total >= 10_000, plan
    else:
        assert total >= 300, plan  # ci: a few dozen Twins per family, 60 per state machine
