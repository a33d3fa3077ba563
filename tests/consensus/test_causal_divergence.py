"""Why Algorithm 3 needs a total order (errata: Algorithm 3's commit rule).

A worker has one unit of capacity left. Two clients' job matches for it sit in vertices of two
authors of the same round. Executing each certified vertex once its parents are executed, in the
order certificates arrive, lets two honest validators hand the last unit to different clients;
executing in the DAG's total order never does.
"""

from __future__ import annotations

from collections.abc import Sequence

from hypothesis import find, given, settings
from hypothesis import strategies as st

from aci_ref.consensus.committee import Committee, Validator
from aci_ref.consensus.dag_messages import Certificate, Vertex
from aci_ref.consensus.order import Node, causal_order, node_of, total_order
from aci_ref.crypto import KeyPair

NAMES = ("a", "b", "c", "d")
COMMITTEE = Committee(tuple(Validator(n, KeyPair.from_label(n).public, 1) for n in NAMES))
MATCHES = {"a": b"match:worker-1:client-A", "b": b"match:worker-1:client-B"}


def build(rounds: int) -> list[Node]:
    """A full DAG; in round 1, authors a and b each carry one client's match for worker-1."""
    nodes: list[Node] = []
    previous: list[Node] = []
    for round_ in range(1, rounds + 1):
        here = []
        for author in NAMES:
            batch = (MATCHES[author],) if round_ == 1 and author in MATCHES else ()
            parents = tuple(sorted(p.digest for p in previous))
            here.append(node_of(Certificate(Vertex(round_, author, parents, batch, b""), ())))
        nodes.extend(here)
        previous = here
    return nodes


NODES = build(6)


def last_unit_goes_to(log: Sequence[Node], capacity: int = 1) -> list[bytes]:
    """Execute the matches in log order against the worker's remaining capacity."""
    won: list[bytes] = []
    for node in log:
        for tx in node.batch:
            if tx.startswith(b"match:worker-1:") and capacity > 0:
                capacity -= 1
                won.append(tx)
    return won


schedules = st.tuples(st.permutations(NODES), st.permutations(NODES))


def test_causal_order_lets_honest_validators_diverge() -> None:
    def diverges(pair: tuple[list[Node], list[Node]]) -> bool:
        first, second = pair
        return last_unit_goes_to(causal_order(first)) != last_unit_goes_to(causal_order(second))

    first, second = find(schedules, diverges)
    assert {*last_unit_goes_to(causal_order(first)), *last_unit_goes_to(causal_order(second))} == {
        MATCHES["a"],
        MATCHES["b"],
    }


@given(schedules)
@settings()
def test_total_order_never_diverges(pair: tuple[list[Node], list[Node]]) -> None:
    first, second = (total_order(arrivals, COMMITTEE, 64) for arrivals in pair)
    assert last_unit_goes_to(first) == last_unit_goes_to(second)
    assert last_unit_goes_to(first)  # the anchors committed: one client got the unit
