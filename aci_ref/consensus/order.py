"""The orders over a DAG of certificates: the total (Bullshark-style) one, and the causal-only one.

A DAG here is a mapping round -> author -> `Node` (a certificate with its digest computed once);
at most one node per (round, author) slot. Everything is a pure function of that mapping, so tests
can hand-build DAGs, and a broken commit rule can be planted through `enough`.

The total order works in waves of two rounds. The anchor of even round r is the certificate of
`committee.leader(r // 2)`. It is committed directly when the round r+1 certificates naming it as
a parent hold validity stake (more than 1/3): any later quorum of parents then meets one of them,
so every later anchor reaches it. Committing an anchor first commits the earlier, uncommitted
anchors its chain of anchors reaches, oldest first; each committed anchor then emits the not yet
ordered part of its causal history, by round and then author.
"""

from __future__ import annotations

from collections.abc import Callable, Container, Iterable, Mapping
from dataclasses import dataclass

from aci_ref.consensus.committee import Committee
from aci_ref.consensus.dag_messages import Certificate

Enough = Callable[[Iterable[str]], bool]
"""A rule saying whether the authors supporting an anchor suffice to commit it."""


@dataclass(frozen=True, slots=True)
class Node:
    """A certified vertex in a local DAG, with the digest its children name."""

    digest: bytes
    certificate: Certificate

    @property
    def round(self) -> int:
        """The vertex's round."""
        return self.certificate.vertex.round

    @property
    def author(self) -> str:
        """The vertex's author."""
        return self.certificate.vertex.author

    @property
    def parents(self) -> tuple[bytes, ...]:
        """The digests of the parent certificates."""
        return self.certificate.vertex.parents

    @property
    def batch(self) -> tuple[bytes, ...]:
        """The vertex's transactions."""
        return self.certificate.vertex.batch


Dag = Mapping[int, Mapping[str, Node]]


def node_of(certificate: Certificate) -> Node:
    """The DAG node of a certificate."""
    return Node(certificate.digest(), certificate)


def dag_of(nodes: Iterable[Node]) -> dict[int, dict[str, Node]]:
    """A DAG holding `nodes` (the first node of each slot wins)."""
    dag: dict[int, dict[str, Node]] = {}
    for node in nodes:
        dag.setdefault(node.round, {}).setdefault(node.author, node)
    return dag


def anchor_of(dag: Dag, round_: int, committee: Committee) -> Node | None:
    """The anchor of even round `round_`: the leader's certified vertex, if this DAG holds it."""
    if round_ < 2 or round_ % 2:
        return None
    return dag.get(round_, {}).get(committee.leader(round_ // 2))


def _history(dag: Dag, top: Node, floor_round: int) -> Iterable[Node]:
    """Every node reachable from `top` (itself included) at rounds from `floor_round`, by round."""
    frontier = {top.digest}
    for round_ in range(top.round, floor_round - 1, -1):
        if not frontier:
            return
        here = [node for node in dag.get(round_, {}).values() if node.digest in frontier]
        frontier = {parent for node in here for parent in node.parents}
        yield from here


def reaches(dag: Dag, high: Node, low: Node) -> bool:
    """True when a path of parent links leads from `high` down to `low`."""
    return any(node.digest == low.digest for node in _history(dag, high, low.round))


def supporters(dag: Dag, anchor: Node) -> list[str]:
    """The authors of round r+1 certificates that name the anchor of round r as a parent."""
    return sorted(
        node.author
        for node in dag.get(anchor.round + 1, {}).values()
        if anchor.digest in node.parents
    )


def commit_anchors(
    dag: Dag, last_committed_round: int, committee: Committee, enough: Enough | None = None
) -> list[Node]:
    """Bullshark's commit rule, §4.2 (errata: Algorithm 3's commit rule): anchors now committed.

    The highest anchor above `last_committed_round` with enough support (validity stake unless a
    test plants another rule) is committed with every earlier uncommitted anchor its chain reaches:
    walking down two rounds at a time, an anchor is taken when the last anchor taken reaches it.
    Returned oldest first; empty when nothing new is committed.
    """
    rule = committee.is_validity if enough is None else enough
    rounds = sorted((r for r in dag if r > last_committed_round and r % 2 == 0), reverse=True)
    for round_ in rounds:
        top = anchor_of(dag, round_, committee)
        if top is not None and rule(supporters(dag, top)):
            break
    else:
        return []
    chain = [top]
    for round_ in range(top.round - 2, last_committed_round, -2):
        earlier = anchor_of(dag, round_, committee)
        if earlier is not None and reaches(dag, chain[-1], earlier):
            chain.append(earlier)
    return chain[::-1]


def order_history(
    dag: Dag, anchor: Node, already_ordered: Container[bytes], floor_round: int = 0
) -> list[Node]:
    """The anchor's causal history not yet ordered, from `floor_round` up, by (round, author)."""
    found = [n for n in _history(dag, anchor, floor_round) if n.digest not in already_ordered]
    return sorted(found, key=lambda node: (node.round, node.author))


@dataclass(frozen=True, slots=True)
class _Either:
    """Membership in either of two containers."""

    first: Container[bytes]
    second: Container[bytes]

    def __contains__(self, item: object) -> bool:
        return item in self.first or item in self.second


def commit_step(
    dag: Dag,
    committee: Committee,
    last_committed_round: int,
    already_ordered: Container[bytes],
    gc_depth_rounds: int,
    enough: Enough | None = None,
) -> list[tuple[Node, list[Node]]]:
    """The total order's next output: each newly committed anchor with the history it orders.

    An anchor of round r orders nothing below round r - gc_depth_rounds: every validator has
    those rounds (they are above its garbage-collection horizon), so all emit the same nodes.
    """
    out: list[tuple[Node, list[Node]]] = []
    emitted: set[bytes] = set()
    for anchor in commit_anchors(dag, last_committed_round, committee, enough):
        floor = max(0, anchor.round - gc_depth_rounds)
        history = order_history(dag, anchor, _Either(already_ordered, emitted), floor)
        emitted.update(node.digest for node in history)
        out.append((anchor, history))
    return out


def total_order(
    arrivals: Iterable[Node],
    committee: Committee,
    gc_depth_rounds: int,
    enough: Enough | None = None,
) -> list[Node]:
    """The total order one validator outputs when certificates arrive in this order.

    A certificate joins the local DAG once its parents are there (the machine fetches missing
    ones; here they are waited for); the commit rule runs after each addition.
    """
    dag: dict[int, dict[str, Node]] = {}
    known: set[bytes] = set()
    ordered: list[Node] = []
    done: set[bytes] = set()
    last = 0
    for node in _topological(arrivals, known):
        dag.setdefault(node.round, {}).setdefault(node.author, node)
        for anchor, history in commit_step(dag, committee, last, done, gc_depth_rounds, enough):
            ordered.extend(history)
            done.update(n.digest for n in history)
            last = anchor.round
    return ordered


def _topological(arrivals: Iterable[Node], known: set[bytes]) -> Iterable[Node]:
    """Nodes in arrival order, each held back until all its parents have been released."""
    waiting: list[Node] = []
    for node in arrivals:
        waiting.append(node)
        released = True
        while released:
            released = False
            for held in waiting:
                if all(parent in known for parent in held.parents):
                    waiting.remove(held)
                    known.add(held.digest)
                    released = True
                    yield held
                    break


def causal_order(arrivals: Iterable[Node]) -> list[Node]:
    """Algorithm 3 lines 7-8 as written, §4.2: execute each vertex once its parents have been.

    Kept to show why the reference adds a total order (errata: Algorithm 3's commit rule): the
    order depends on when certificates arrive, so two honest validators may execute conflicting
    transactions of one round in different orders.
    """
    return list(_topological(arrivals, set()))
