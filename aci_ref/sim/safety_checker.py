"""§4.2-§4.4: the safety checker's memory of a run and the checks it makes at each step.

`SafetyChecker` reads the effects and states honest validators report, one step at a time, and
records each broken property (see `safety` for the list and for the two ways to run it). The
settlement checks follow decisions and their commitQCs, the fast-path checks commit logs, slots
and certificates, and the root checks checkpoints and state roots by index.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, Final

from aci_ref.consensus.committee import Committee
from aci_ref.consensus.dag_messages import (
    Committed,
    check_certificate_signatures,
    check_signer_set,
    check_vertex_signature,
)
from aci_ref.consensus.hotstuff import Decided
from aci_ref.consensus.hotstuff_messages import GENESIS_BLOCK, QC, Block, Phase, block_digest
from aci_ref.consensus.hotstuff_messages import check_qc as check_quorum_certificate
from aci_ref.consensus.order import Node
from aci_ref.consensus.transactions import Track
from aci_ref.sim.safety_report import Progress, Property, SafetyReport, SafetyViolation, Violation

_GENESIS: Final = block_digest(GENESIS_BLOCK)


DagOf = Callable[[Any], Mapping[int, Mapping[str, Node]] | None]
"""Where a validator's state keeps its DAG (round -> author -> node), or None."""


RootsOf = Callable[[Any], Mapping[int, bytes]]
"""The state roots a validator's state records, by checkpoint index."""


def default_dag(state: Any) -> Mapping[int, Mapping[str, Node]] | None:
    """The DAG of a fast-path state, or of a composed validator's fast-path part."""
    dag = getattr(state, "dag", None)
    inner = getattr(dag, "dag", None)
    if isinstance(inner, Mapping):
        return inner
    return dag if isinstance(dag, Mapping) else None


class SafetyChecker:
    """The checker's memory of a run; the `safety` module docstring lists what it checks."""

    def __init__(
        self,
        committee: Committee,
        honest: Iterable[str],
        *,
        dag_of: DagOf = default_dag,
        roots_of: RootsOf | None = None,
        raise_on_violation: bool = False,
    ) -> None:
        self.committee = committee
        self.honest = frozenset(honest)
        self._dag_of = dag_of
        self._roots_of = roots_of
        self._raise = raise_on_violation
        self._violations: list[Violation] = []
        self._steps = 0
        # settlement: the first decision at each height, each address's tip and decisions
        self._heights: dict[int, tuple[bytes, str]] = {}
        self._tips: dict[str, tuple[int, bytes]] = {}
        self._decided: dict[str, set[bytes]] = {}
        self._decisions: dict[str, list[tuple[int, Block]]] = {}
        self._qc_verdicts: dict[QC, str | None] = {}
        self._owed: list[tuple[str, int, bytes]] = []
        # fast path: the first vertex at each sequence number and in each slot
        self._sequence: dict[int, tuple[bytes, str]] = {}
        self._slots: dict[tuple[int, str], tuple[bytes, str]] = {}
        self._ordered: dict[str, set[bytes]] = {}
        self._commits: dict[str, list[tuple[int, Committed]]] = {}
        self._certified: set[bytes] = set()
        self._unverified: set[bytes] = set()
        self._previous: dict[str, Any] = {}
        # checkpoints and state roots by index
        self._checkpoints: dict[int, tuple[bytes, str]] = {}
        self._roots: dict[int, tuple[bytes, str]] = {}
        self._roots_seen: dict[str, set[int]] = {}

    # ---- feeding ---------------------------------------------------------------------------

    def after_step(self, at_ms: int, address: str, state: Any, effects: Sequence[Any]) -> None:
        """`Network`'s `after_step` hook: check what one step of `address` reported."""
        self._steps += 1
        if address not in self.honest:
            return
        self.check_effects(at_ms, address, effects, (state, self._previous.get(address)))
        self.check_state(at_ms, address, state)
        self._previous[address] = state

    def check_effects(
        self, at_ms: int, address: str, effects: Iterable[Any], states: Sequence[Any]
    ) -> None:
        """Check effects `address` reported; `states` are where to look for its DAG nodes."""
        for effect in effects:
            self._effect(at_ms, address, effect, states)
        self._settle(at_ms)

    def check_state(self, at_ms: int, address: str, state: Any) -> None:
        """Check the state roots `address`'s state records (when a `roots_of` hook is given)."""
        if self._roots_of is not None:
            self._check_roots(at_ms, address, self._roots_of(state))

    def _effect(self, at_ms: int, address: str, effect: Any, states: Sequence[Any]) -> None:
        kind = type(effect)
        if kind is Decided:
            self._on_decided(at_ms, address, effect)
        elif kind is Committed:
            self._on_committed(at_ms, address, effect, states)
        else:
            checkpoint = getattr(effect, "checkpoint", None)
            if checkpoint is not None:
                self._on_checkpoint(at_ms, address, checkpoint)

    def _violate(self, prop: Property, address: str, at_ms: int, detail: str) -> None:
        violation = Violation(prop, address, at_ms, detail)
        self._violations.append(violation)
        if self._raise:
            raise SafetyViolation(violation)

    # ---- settlement ------------------------------------------------------------------------

    def _on_decided(self, at_ms: int, address: str, decided: Decided) -> None:
        block = decided.block
        digest = block_digest(block)
        height, tip = self._tips.get(address, (0, _GENESIS))
        if block.height != height + 1 or block.parent != tip:
            self._violate(
                Property.CHAIN,
                address,
                at_ms,
                f"decided height {block.height} on {block.parent.hex()[:12]} after height "
                f"{height} ({tip.hex()[:12]})",
            )
        self._tips[address] = (block.height, digest)
        first, by = self._heights.setdefault(block.height, (digest, address))
        if first != digest:
            self._violate(
                Property.AGREEMENT,
                address,
                at_ms,
                f"height {block.height}: {digest.hex()[:12]}, but {by} decided {first.hex()[:12]}",
            )
        self._decided.setdefault(address, set()).add(digest)
        self._decisions.setdefault(address, []).append((at_ms, block))
        problem = self._qc_problem(decided.qc)
        if problem is not None:
            self._violate(Property.CERTIFICATE, address, at_ms, f"height {block.height}: {problem}")
        self._owed.append((address, at_ms, decided.qc.block))

    def _qc_problem(self, qc: QC) -> str | None:
        """Why `qc` is no commitQC backed by a quorum of distinct valid signers (cached)."""
        if qc in self._qc_verdicts:
            return self._qc_verdicts[qc]
        verdict: str | None = None
        if type(qc) is not QC or qc.phase is not Phase.COMMIT:
            verdict = "decided without a commit certificate"
        else:
            problem, _ = check_quorum_certificate(qc, self.committee)
            names = [name for name, _ in qc.signers]
            if problem is not None:
                verdict = f"its commitQC is refused: {problem[0]} ({problem[1]})"
            elif len(set(names)) != len(names) or not self.committee.is_quorum(names):
                verdict = "its commitQC lacks a quorum of distinct signers"
        self._qc_verdicts[qc] = verdict
        return verdict

    def _settle(self, at_ms: int) -> None:
        """A decision's certificate must name a block its validator has decided by now."""
        for address, when, block in self._owed:
            if block not in self._decided.get(address, ()):
                self._violate(
                    Property.CERTIFICATE,
                    address,
                    max(when, at_ms),
                    f"a commitQC names {block.hex()[:12]}, which it never decided",
                )
        self._owed.clear()

    # ---- fast path -------------------------------------------------------------------------

    def _on_committed(
        self, at_ms: int, address: str, committed: Committed, states: Sequence[Any]
    ) -> None:
        digest, sequence = committed.certificate_digest, committed.sequence
        expected = len(self._commits.get(address, ()))
        if sequence != expected:
            self._violate(
                Property.PREFIX, address, at_ms, f"sequence {sequence} where {expected} was next"
            )
        first, by = self._sequence.setdefault(sequence, (digest, address))
        if first != digest:
            self._violate(
                Property.PREFIX,
                address,
                at_ms,
                f"sequence {sequence}: {digest.hex()[:12]}, but {by} has {first.hex()[:12]}",
            )
        ordered = self._ordered.setdefault(address, set())
        if digest in ordered:
            self._violate(Property.PREFIX, address, at_ms, f"{digest.hex()[:12]} ordered twice")
        ordered.add(digest)
        self._commits.setdefault(address, []).append((at_ms, committed))
        slot = (committed.round, committed.author)
        holder, by = self._slots.setdefault(slot, (digest, address))
        if holder != digest:
            self._violate(
                Property.SLOT,
                address,
                at_ms,
                f"slot {slot}: {digest.hex()[:12]}, but {by} committed {holder.hex()[:12]}",
            )
        self._check_certificate(at_ms, address, committed, states)

    def _check_certificate(
        self, at_ms: int, address: str, committed: Committed, states: Sequence[Any]
    ) -> None:
        """The committed vertex is its DAG's node in that slot, with a valid certificate."""
        digest = committed.certificate_digest
        if digest in self._certified:
            return
        node = None
        for state in states:
            dag = None if state is None else self._dag_of(state)
            slot = None if dag is None else dag.get(committed.round)
            node = None if slot is None else slot.get(committed.author)
            if node is not None:
                break
        if node is None:
            self._unverified.add(digest)  # collected before it could be read; maybe later
            return
        problem = _certificate_problem(node, committed, self.committee)
        if problem is not None:
            self._violate(Property.CERTIFICATE, address, at_ms, problem)
            return
        self._certified.add(digest)
        self._unverified.discard(digest)

    # ---- checkpoints and roots -------------------------------------------------------------

    def _on_checkpoint(self, at_ms: int, address: str, checkpoint: Any) -> None:
        index, digest = checkpoint.index, checkpoint.digest()
        first, by = self._checkpoints.setdefault(index, (digest, address))
        if first != digest:
            self._violate(Property.ROOTS, address, at_ms, f"checkpoint {index} differs from {by}'s")

    def _check_roots(self, at_ms: int, address: str, roots: Mapping[int, bytes]) -> None:
        seen = self._roots_seen.setdefault(address, set())
        for index in sorted(set(roots) - seen):
            seen.add(index)
            first, by = self._roots.setdefault(index, (roots[index], address))
            if first != roots[index]:
                self._violate(
                    Property.ROOTS, address, at_ms, f"state root {index} differs from {by}'s"
                )

    # ---- reading -----------------------------------------------------------------------------

    def decisions(self, address: str) -> tuple[tuple[int, Block], ...]:
        """The blocks `address` decided, with the virtual time of each decision."""
        return tuple(self._decisions.get(address, ()))

    def commits(self, address: str) -> tuple[tuple[int, Committed], ...]:
        """The vertices `address` committed, in sequence order, with their virtual times."""
        return tuple(self._commits.get(address, ()))

    def stalled(self, progress: Progress) -> list[Violation]:
        """The liveness violations of `progress`: each address and track with nothing new."""
        found: list[Violation] = []
        end = progress.since_ms + progress.within_ms
        for address in progress.addresses or tuple(sorted(self.honest)):
            for track in progress.tracks:
                log: Sequence[tuple[int, Any]] = (
                    self._commits.get(address, [])
                    if track is Track.FAST
                    else self._decisions.get(address, [])
                )
                times = [at for at, _ in log]
                first = bisect_left(times, progress.since_ms)
                if first == len(times) or times[first] >= end:
                    found.append(
                        Violation(
                            Property.LIVENESS,
                            address,
                            end,
                            f"no new {track} output in [{progress.since_ms}, {end}) ms",
                        )
                    )
        return found

    def report(self, progress: Progress | None = None) -> SafetyReport:
        """Everything found so far, plus the liveness goal's violations when one is given."""
        liveness = self.stalled(progress) if progress is not None else []
        return SafetyReport(
            violations=(*self._violations, *liveness),
            decided={a: len(self._decisions.get(a, ())) for a in sorted(self.honest)},
            committed={a: len(self._commits.get(a, ())) for a in sorted(self.honest)},
            checkpoints=len(self._checkpoints),
            certificates_checked=len(self._certified),
            certificates_unchecked=len(self._unverified),
            steps=self._steps,
        )


def _certificate_problem(node: Node, committed: Committed, committee: Committee) -> str | None:
    """Why the DAG node behind a commit does not back it, or None."""
    certificate = node.certificate
    vertex = certificate.vertex
    if node.digest != committed.certificate_digest or certificate.digest() != node.digest:
        return f"slot {(committed.round, committed.author)} holds another vertex than the commit"
    if vertex.batch != committed.batch:
        return "the committed batch is not the certified vertex's"
    problem = check_signer_set(certificate, committee)
    if problem is not None:
        return f"certificate refused: {problem[0]} ({problem[1]})"
    bad = check_certificate_signatures(certificate, committee)
    if bad is not None or not check_vertex_signature(vertex, committee):
        return f"certificate refused: {bad or 'the vertex signature does not verify'}"
    return None
