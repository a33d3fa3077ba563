"""The fast path's total order on hand-built DAGs: the commit rule, its walk back, its output order.

A checker that cannot fail proves nothing, so one test plants a broken rule (an anchor committed
on a single vote) and shows the prefix-consistency check catching it on some arrival order.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Sequence

from hypothesis import find, given, settings
from hypothesis import strategies as st

from aci_ref.consensus.committee import Committee, Validator
from aci_ref.consensus.dag_messages import Certificate, Vertex
from aci_ref.consensus.order import (
    Node,
    commit_anchors,
    dag_of,
    node_of,
    order_history,
    reaches,
    total_order,
)
from aci_ref.crypto import KeyPair

NAMES = ("a", "b", "c", "d")
COMMITTEE = Committee(tuple(Validator(n, KeyPair.from_label(n).public, 1) for n in NAMES))
GC_DEPTH = 64


def node(round_: int, author: str, parents: Iterable[Node] = (), tag: bytes = b"") -> Node:
    """A certified vertex (signatures are not the order's business)."""
    digests = tuple(sorted(p.digest for p in parents))
    batch = (f"{author}{round_}".encode() + tag,)
    return node_of(Certificate(Vertex(round_, author, digests, batch, b""), ()))


def full_dag(rounds: int, authors: Sequence[str] = NAMES) -> list[Node]:
    """Every author in every round, each naming all of the round before."""
    nodes: list[Node] = []
    previous: list[Node] = []
    for round_ in range(1, rounds + 1):
        here = [node(round_, author, previous) for author in authors]
        nodes.extend(here)
        previous = here
    return nodes


def prefix_consistent(logs: Sequence[Sequence[Node]]) -> bool:
    """Every pair of logs agrees on their common length."""
    for first in logs:
        for second in logs:
            length = min(len(first), len(second))
            if [n.digest for n in first[:length]] != [n.digest for n in second[:length]]:
                return False
    return True


def test_anchor_commits_with_validity_stake_only() -> None:
    # Anchor of round 2 is leader(1) = "b"; round 3 certificates a3, c3 support it (2 of 4 > 1/3).
    r1 = [node(1, x) for x in NAMES]
    r2 = [node(2, x, r1) for x in NAMES]
    anchor = r2[1]
    others = [r2[0], r2[2], r2[3]]
    one_vote = dag_of([*r1, *r2, node(3, "a", r2), *(node(3, x, others) for x in "bcd")])
    assert commit_anchors(one_vote, 0, COMMITTEE) == []
    two_votes = dag_of([*r1, *r2, node(3, "a", r2), node(3, "c", r2), node(3, "d", others)])
    assert commit_anchors(two_votes, 0, COMMITTEE) == [anchor]
    assert commit_anchors(two_votes, 2, COMMITTEE) == []  # already committed


def test_walk_back_takes_reachable_anchors_oldest_first_and_skips_the_rest() -> None:
    nodes = full_dag(5)
    dag = dag_of(nodes)
    # Round 2's anchor had no votes when it was passed over, but round 4's anchor reaches it.
    anchors = commit_anchors(dag, 0, COMMITTEE)
    assert [(a.round, a.author) for a in anchors] == [(2, "b"), (4, "c")]
    # An anchor the chain cannot reach is skipped: drop every link into round 2's anchor.
    r1, r2 = nodes[:4], nodes[4:8]
    without = [r2[0], r2[2], r2[3]]
    r3 = [node(3, x, without) for x in NAMES]
    r4 = [node(4, x, r3) for x in NAMES]
    r5 = [node(5, x, r4) for x in NAMES]
    skipped = dag_of([*r1, *r2, *r3, *r4, *r5])
    assert [(a.round, a.author) for a in commit_anchors(skipped, 0, COMMITTEE)] == [(4, "c")]
    assert not reaches(skipped, r4[2], r2[1])
    assert reaches(skipped, r4[2], r2[0])


def test_history_is_sorted_and_skips_what_is_ordered_or_below_the_floor() -> None:
    nodes = full_dag(4)
    dag = dag_of(nodes)
    anchor = dag[4]["c"]
    history = order_history(dag, anchor, set())
    assert [(n.round, n.author) for n in history] == sorted((n.round, n.author) for n in history)
    assert history[-1] == anchor and len(history) == 13  # 4 + 4 + 4 below, then the anchor
    ordered = {n.digest for n in nodes[:4]}
    assert all(n.round > 1 for n in order_history(dag, anchor, ordered))
    assert min(n.round for n in order_history(dag, anchor, set(), floor_round=3)) == 3


def random_dag(seed: int, rounds: int) -> list[Node]:
    """Each round: a random quorum-or-more of authors, each naming a random quorum of parents."""
    rng = random.Random(seed)
    nodes: list[Node] = []
    previous: list[Node] = []
    for round_ in range(1, rounds + 1):
        authors = sorted(rng.sample(NAMES, rng.randint(3, 4)))
        here = []
        for author in authors:
            parents = rng.sample(previous, 3) if previous else []
            here.append(node(round_, author, parents))
        nodes.extend(here)
        previous = here
    return nodes


def arrival(nodes: Sequence[Node], seed: int) -> list[Node]:
    order = list(nodes)
    random.Random(seed).shuffle(order)
    return order


@given(st.integers(0, 2**32), st.lists(st.integers(0, 2**32), min_size=3, max_size=3))
@settings()
def test_total_order_is_prefix_consistent_for_any_arrival_order(
    dag_seed: int, seeds: list[int]
) -> None:
    nodes = random_dag(dag_seed, 12)
    logs = [total_order(arrival(nodes, s), COMMITTEE, GC_DEPTH) for s in seeds]
    assert prefix_consistent(logs)
    for log in logs:
        slots = [(n.round, n.author) for n in log]
        assert len(slots) == len(set(slots))  # at most one vertex per slot


def planted_dag() -> list[Node]:
    """Round 2's anchor ("b") gets one vote (a3); round 4's anchor ("c") does not reach it.

    Only a's vertices descend from a3, so a validator may see round 4's anchor committed before
    a3 arrives, while another sees a3 (and, under the broken rule, round 2's anchor) first.
    """
    r1 = [node(1, x) for x in NAMES]
    r2 = [node(2, x, r1) for x in NAMES]
    without = [r2[0], r2[2], r2[3]]
    r3 = [node(3, "a", r2), *(node(3, x, without) for x in "bcd")]
    r4 = [node(4, "a", r3), *(node(4, x, r3[1:]) for x in "bcd")]
    r5 = [node(5, "a", r4), *(node(5, x, r4[1:]) for x in "bcd")]
    return [*r1, *r2, *r3, *r4, *r5]


def single_vote(authors: Iterable[str]) -> bool:
    """The planted fault: any one supporter commits an anchor."""
    return len(list(authors)) >= 1


def logs_of(seeds: Sequence[int], broken: bool) -> list[list[Node]]:
    nodes = planted_dag()
    rule = single_vote if broken else None
    return [total_order(arrival(nodes, s), COMMITTEE, GC_DEPTH, rule) for s in seeds]


def test_the_checker_catches_a_single_vote_commit_rule() -> None:
    pair = st.lists(st.integers(0, 2**32), min_size=2, max_size=2)
    bad = find(pair, lambda seeds: not prefix_consistent(logs_of(seeds, broken=True)))
    assert not prefix_consistent(logs_of(bad, broken=True))
    assert prefix_consistent(logs_of(bad, broken=False))


@given(st.lists(st.integers(0, 2**32), min_size=2, max_size=2))
@settings()
def test_the_real_rule_keeps_the_planted_dag_consistent(seeds: list[int]) -> None:
    assert prefix_consistent(logs_of(seeds, broken=False))
