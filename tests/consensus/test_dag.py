"""The fast-path validator machine: refusals with their codes, bounded memory, liveness, safety.

Unit tests drive one validator with hand-made messages; the liveness tests run honest committees
through the pump; the property tests run them through a randomised scheduler (per-message delays
and a partition window drawn from a Hypothesis seed) and check the committed logs.
"""

from __future__ import annotations

import heapq
import random
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from aci_ref.consensus.committee import Committee, Validator
from aci_ref.consensus.dag import Committed, DagState, dag_program
from aci_ref.consensus.dag_messages import (
    Ack,
    Certificate,
    CertificateReply,
    CertificateRequest,
    DagConfig,
    Vertex,
    certify,
    check_certificate_signatures,
    check_signer_set,
    sign_ack,
    sign_vertex,
)
from aci_ref.consensus.io import (
    Broadcast,
    ClientTx,
    Deliver,
    Dropped,
    Effects,
    Input,
    Program,
    Send,
    SetTimer,
    Start,
    TimerFired,
)
from aci_ref.crypto import KeyPair
from aci_ref.errors import Rejection
from aci_ref.params import Params, default_params
from tests.consensus.pump import Pump

PARAMS = default_params()


def committee_of(n: int) -> tuple[Committee, dict[str, KeyPair]]:
    names = [f"v{i}" for i in range(n)]
    keys = {name: KeyPair.from_label("dag/" + name) for name in names}
    return Committee(tuple(Validator(nm, keys[nm].public, 1) for nm in names)), keys


COMMITTEE, KEYS = committee_of(4)


def programs(
    committee: Committee, keys: dict[str, KeyPair], params: Params = PARAMS
) -> dict[str, Program[DagState]]:
    return {name: dag_program(DagConfig(committee, name, keys[name], params)) for name in keys}


def machine(params: Params = PARAMS) -> tuple[Program[DagState], DagState]:
    """Validator v0, started at time 0 (its round-1 vertex proposed)."""
    program = dag_program(DagConfig(COMMITTEE, "v0", KEYS["v0"], params))
    state, _ = program.step(program.initial(), Start(0))
    return program, state


def deliver(
    program: Program[DagState], state: DagState, sender: str, message: Any, now: int = 1
) -> tuple[DagState, Effects]:
    return program.step(state, Deliver(now, sender, message))


def vertex(
    author: str, round_: int = 1, parents: Iterable[bytes] = (), batch: tuple[bytes, ...] = ()
) -> Vertex:
    return sign_vertex(KEYS[author], round_, author, tuple(sorted(parents)), batch)


def certificate(v: Vertex, signers: Sequence[str] = ("v1", "v2", "v3")) -> Certificate:
    return certify(v, {s: sign_ack(KEYS[s], v, s).signature for s in signers})


def assert_refused(
    program: Program[DagState], state: DagState, message: Any, code: Rejection, sender: str = "v1"
) -> None:
    """The message is dropped with `code` and nothing but the counters changes."""
    new, effects = deliver(program, state, sender, message)
    assert [e.reason for e in effects if isinstance(e, Dropped)] == [code], effects
    assert not [e for e in effects if isinstance(e, Broadcast | Committed)]
    assert replace(new, stats=state.stats) == state
    assert new.stats.dropped[code.value] == state.stats.dropped.get(code.value, 0) + 1
    assert new.stats.received == state.stats.received + 1


# ---- unit: refusals ----------------------------------------------------------------------------


def test_a_vertex_from_a_non_member_or_badly_signed_is_refused() -> None:
    program, state = machine()
    stranger = sign_vertex(KeyPair.from_label("stranger"), 1, "zz", (), ())
    assert_refused(program, state, stranger, Rejection.NOT_VALIDATOR)
    assert_refused(program, state, vertex("v1"), Rejection.NOT_VALIDATOR, sender="zz")
    forged = replace(vertex("v1"), signature=vertex("v2").signature)
    assert_refused(program, state, forged, Rejection.BAD_SIGNATURE)
    before = state.stats.verifications
    new, _ = deliver(program, state, "v1", forged)
    assert new.stats.verifications == before + 1


def test_malformed_messages_are_bad_input_and_never_raise() -> None:
    program, state = machine()
    junk: list[Any] = [
        None,
        b"bytes",
        object(),
        Vertex("1", "v1", (), (), b""),  # type: ignore[arg-type]
        Vertex(1, "v1", (b"short",), (), b""),
        Vertex(1, "v1", (), ("text",), b""),  # type: ignore[arg-type]
        Certificate(vertex("v1"), (("v1",),)),  # type: ignore[arg-type]
        Certificate(vertex("v1"), (("v2", b"x"), ("v1", b"y"))),  # unsorted signers
        Ack(b"x", 1, "v0", "v1", b""),
        CertificateRequest(("x",)),  # type: ignore[arg-type]
        CertificateReply((None,)),  # type: ignore[arg-type]
    ]
    for message in junk:
        assert_refused(program, state, message, Rejection.BAD_INPUT)
    _, effects = program.step(state, ClientTx(1, "not bytes"))  # type: ignore[arg-type]
    assert [e.reason for e in effects] == [Rejection.BAD_INPUT]
    _, effects = program.step(state, TimerFired(1, "no-such-timer"))
    assert [e.reason for e in effects] == [Rejection.BAD_INPUT]


def test_stale_and_far_future_rounds_are_refused() -> None:
    params = replace(PARAMS, gc_depth_rounds=2)
    pump = Pump(programs(COMMITTEE, KEYS, params))
    pump.run_until(1000)
    program = pump.programs["v0"]
    state: DagState = pump.states["v0"]
    assert state.last_committed_round > 4
    assert_refused(program, state, vertex("v1", 1), Rejection.STALE_ROUND)
    assert_refused(program, state, certificate(vertex("v1", 1)), Rejection.STALE_ROUND)
    far = state.proposed_round + params.max_round_lead + 1
    assert_refused(program, state, vertex("v1", far, [bytes(32)]), Rejection.FUTURE_ROUND)


def test_a_vertex_with_missing_parents_is_held_fetched_then_acknowledged() -> None:
    program, state = machine()
    parents = [certificate(vertex(a)) for a in ("v1", "v2", "v3")]
    child = vertex("v1", 2, [c.digest() for c in parents])
    held, effects = deliver(program, state, "v1", child)
    assert held.held_count == 1
    requests = [e for e in effects if isinstance(e, Send) and e.to == "v1"]
    assert requests and isinstance(requests[0].message, CertificateRequest)
    assert set(requests[0].message.digests) == {c.digest() for c in parents}
    done, effects = deliver(program, held, "v1", CertificateReply(tuple(parents)))
    assert done.held_count == 0 and len(done.dag[1]) == 3
    acks = [e.message for e in effects if isinstance(e, Send) and isinstance(e.message, Ack)]
    assert [(a.round, a.author, a.signer) for a in acks] == [(2, "v1", "v0")]
    # A peer asking for those parents gets them.
    _, effects = deliver(program, done, "v2", CertificateRequest((parents[0].digest(),)))
    assert Send("v2", CertificateReply((parents[0],))) in effects


def test_the_waiting_room_is_bounded() -> None:
    program, state = machine(replace(PARAMS, max_pending_messages=2))
    parents = [certificate(vertex(a)).digest() for a in ("v1", "v2", "v3")]
    for author in ("v1", "v2"):
        state, _ = deliver(program, state, author, vertex(author, 2, parents))
    assert state.held_count == 2
    assert_refused(program, state, vertex("v3", 2, parents), Rejection.MISSING_PARENT)
    assert_refused(program, state, vertex("v1", 2, parents), Rejection.DUPLICATE_MESSAGE)


def test_bad_parents_are_refused() -> None:
    program, state = machine()
    round1 = [certificate(vertex(a)) for a in ("v1", "v2", "v3")]
    for c in round1:
        state, _ = deliver(program, state, "v1", c)
    digests = sorted(c.digest() for c in round1)
    assert_refused(program, state, vertex("v1", 1, digests[:1]), Rejection.BAD_PARENTS)
    assert_refused(program, state, vertex("v1", 2, digests[:2]), Rejection.BAD_PARENTS)
    unsorted = Vertex(2, "v1", tuple(reversed(digests)), (), b"")
    unsorted = sign_vertex(KEYS["v1"], 2, "v1", unsorted.parents, ())
    assert_refused(program, state, unsorted, Rejection.BAD_PARENTS)


def test_oversized_batches_and_a_full_mempool_are_refused() -> None:
    params = replace(PARAMS, max_batch_txs=2, max_batch_bytes=64)
    program, state = machine(params)
    assert_refused(
        program, state, vertex("v1", batch=(b"a", b"b", b"c")), Rejection.OVERSIZED_BATCH
    )
    assert_refused(program, state, vertex("v1", batch=(bytes(70),)), Rejection.OVERSIZED_BATCH)
    for i in range(8):
        state, effects = program.step(state, ClientTx(1, b"tx%d" % i))
        assert effects == ()
    new, effects = program.step(state, ClientTx(1, b"one too many"))
    assert [e.reason for e in effects] == [
        Rejection.OVERSIZED_BATCH
    ] and new.mempool == state.mempool


def test_certificates_need_distinct_members_quorum_stake_and_real_acks() -> None:
    program, state = machine()
    v = vertex("v1")
    good = certificate(v)
    sigs = dict(good.signers)
    twice = Certificate(v, (("v1", sigs["v1"]), ("v1", sigs["v1"]), ("v2", sigs["v2"])))
    assert_refused(program, state, twice, Rejection.DUPLICATE_SIGNER)
    assert_refused(program, state, certificate(v, ("v1", "v2")), Rejection.UNDERSIGNED_CERTIFICATE)
    outsider = Certificate(v, (*good.signers, ("zz", bytes(64))))
    assert_refused(program, state, outsider, Rejection.NOT_VALIDATOR)
    forged = Certificate(v, (("v1", sigs["v1"]), ("v2", sigs["v2"]), ("v3", sigs["v1"])))
    assert_refused(program, state, forged, Rejection.BAD_SIGNATURE)
    added, _ = deliver(program, state, "v2", good)
    assert "v1" in added.dag[1]
    assert_refused(program, added, good, Rejection.DUPLICATE_MESSAGE)
    assert_refused(program, added, certificate(vertex("v1", batch=(b"x",))), Rejection.EQUIVOCATION)


def test_an_equivocating_author_gets_at_most_one_certificate() -> None:
    program, state = machine()
    first, second = vertex("v3", batch=(b"one",)), vertex("v3", batch=(b"two",))
    acked, effects = deliver(program, state, "v3", first)
    assert Send("v3", sign_ack(KEYS["v0"], first, "v0")) in effects
    assert_refused(program, acked, second, Rejection.EQUIVOCATION, sender="v3")
    # Acks may be re-sent for the same vertex; the slot stays taken.
    _, effects = deliver(program, acked, "v3", first)
    assert Send("v3", sign_ack(KEYS["v0"], first, "v0")) in effects
    assert [e.reason for e in effects if isinstance(e, Dropped)] == [Rejection.DUPLICATE_MESSAGE]
    # Across a committee: honest v0, v1 see `first`, honest v2 sees `second`; v3 signs both.
    pump_programs = programs(COMMITTEE, KEYS)
    acks: dict[bytes, dict[str, bytes]] = {first.digest(): {}, second.digest(): {}}
    for name, shown in (("v0", first), ("v1", first), ("v2", second)):
        p = pump_programs[name]
        s, _ = p.step(p.initial(), Start(0))
        s, _ = p.step(s, Deliver(1, "v3", shown))
        _, effects = p.step(s, Deliver(2, "v3", second if shown is first else first))
        assert [e.reason for e in effects if isinstance(e, Dropped)] == [Rejection.EQUIVOCATION]
        acks[shown.digest()][name] = sign_ack(KEYS[name], shown, name).signature
    for v in (first, second):
        signed = {**acks[v.digest()], "v3": sign_ack(KEYS["v3"], v, "v3").signature}
        acks[v.digest()] = signed
    verdicts = [check_signer_set(certify(v, acks[v.digest()]), COMMITTEE) for v in (first, second)]
    assert verdicts[0] is None and verdicts[1] is not None
    assert verdicts[1][0] is Rejection.UNDERSIGNED_CERTIFICATE


def test_acks_are_checked() -> None:
    program, state = machine()
    mine = state.own[1]
    assert_refused(
        program,
        state,
        replace(sign_ack(KEYS["v1"], mine, "v1"), signature=bytes(64)),
        Rejection.BAD_SIGNATURE,
    )
    assert_refused(program, state, sign_ack(KEYS["v0"], mine, "v0"), Rejection.DUPLICATE_MESSAGE)
    assert_refused(program, state, sign_ack(KEYS["v1"], vertex("v1"), "v1"), Rejection.BAD_INPUT)
    one, _ = deliver(program, state, "v1", sign_ack(KEYS["v1"], mine, "v1"))
    assert one.stats.verifications == state.stats.verifications + 1
    two, effects = deliver(program, one, "v2", sign_ack(KEYS["v2"], mine, "v2"))
    broadcast = [e.message for e in effects if isinstance(e, Broadcast)]
    assert len(broadcast) == 1 and isinstance(broadcast[0], Certificate)
    assert check_certificate_signatures(broadcast[0], COMMITTEE) is None
    assert "v0" in two.dag[1] and 1 not in two.votes


def test_a_flood_leaves_memory_bounded_by_the_parameters() -> None:
    params = replace(PARAMS, max_pending_messages=64, max_round_lead=8)
    program, state = machine(params)
    rng = random.Random(7)
    for i in range(3000):
        kind = i % 5
        author = ("v1", "v2", "v3")[i % 3]
        if kind == 0:  # far future
            message: Any = vertex(author, params.max_round_lead + 2 + i, [bytes(32)])
        elif kind == 1:  # equivocation in a slot already taken
            message = vertex(author, 1, batch=(b"%d" % i,))
        elif kind == 2:  # parents nobody will ever supply
            fake = sorted(rng.randbytes(32) for _ in range(3))
            message = vertex(author, rng.randint(2, params.max_round_lead), fake)
        elif kind == 3:
            message = ("junk", i)
        else:
            message = Certificate(vertex(author, 1, batch=(b"%d" % i,)), ())
        state, effects = deliver(program, state, author, message, now=i)
        assert len(effects) <= 4
    window = params.max_round_lead + params.gc_depth_rounds + 1
    assert state.held_count <= params.max_pending_messages
    assert sum(len(room) for room in state.pending.values()) == state.held_count
    assert len(state.acked) <= COMMITTEE.size * window
    assert sum(len(r) for r in state.dag.values()) <= COMMITTEE.size * window
    assert len(state.mempool) <= 4 * params.max_batch_txs
    assert state.stats.received == 3000


# ---- liveness through the pump -----------------------------------------------------------------


def committed(outputs: list[Any]) -> list[Committed]:
    return [e for e in outputs if isinstance(e, Committed)]


def check_logs(logs: dict[str, list[Committed]], committee: Committee) -> None:
    """Prefix consistency, gap-free sequences and at most one committed vertex per slot."""
    for log in logs.values():
        assert [c.sequence for c in log] == list(range(len(log)))
        slots = [(c.round, c.author) for c in log]
        assert len(slots) == len(set(slots))
    for a in logs.values():
        for b in logs.values():
            n = min(len(a), len(b))
            assert [c.certificate_digest for c in a[:n]] == [c.certificate_digest for c in b[:n]]


def run_committee(
    n: int, running: Sequence[str] | None = None, txs: int = 60
) -> dict[str, list[Committed]]:
    committee, keys = committee_of(n)
    live = {name: keys[name] for name in (running or committee.names)}
    pump = Pump(
        programs(committee, keys)
        if running is None
        else {name: dag_program(DagConfig(committee, name, keys[name], PARAMS)) for name in live}
    )
    for i in range(txs):
        pump.submit(sorted(live)[i % len(live)], b"client-tx-%d" % i)
    pump.run_until(2000)
    logs = {name: committed(pump.outputs[name]) for name in live}
    check_logs(logs, committee)
    for log in logs.values():
        transactions = [tx for c in log for tx in c.batch]
        assert sorted(transactions) == sorted(b"client-tx-%d" % i for i in range(txs))
    return logs


def test_four_honest_validators_commit_every_transaction_once_in_one_order() -> None:
    logs = run_committee(4)
    orders = {tuple(tx for c in log for tx in c.batch) for log in logs.values()}
    assert len(orders) == 1


def test_seven_honest_validators_commit_every_transaction_once_in_one_order() -> None:
    run_committee(7)


def test_one_silent_validator_does_not_stop_the_rest() -> None:
    run_committee(4, running=("v0", "v1", "v2"))
    run_committee(7, running=("v0", "v1", "v2", "v3", "v5", "v6"))


def test_a_partition_without_a_quorum_side_heals() -> None:
    pump = Pump(programs(COMMITTEE, KEYS))
    side = {"v0": 0, "v1": 0, "v2": 1, "v3": 1}
    pump.blocked = lambda sender, to, message: 200 <= pump.now_ms < 900 and side[sender] != side[to]
    for i in range(40):
        pump.submit(f"v{i % 4}", b"t%d" % i)
    pump.run_until(900)
    stuck = {name: pump.states[name].proposed_round for name in COMMITTEE.names}
    pump.run_until(3000)
    logs = {name: committed(pump.outputs[name]) for name in COMMITTEE.names}
    check_logs(logs, COMMITTEE)
    for name, log in logs.items():
        assert pump.states[name].proposed_round > stuck[name] + 10
        assert sorted(tx for c in log for tx in c.batch) == sorted(b"t%d" % i for i in range(40))


def test_a_crashed_validator_recovers_without_equivocating() -> None:
    pump = Pump(programs(COMMITTEE, KEYS))
    for i in range(20):
        pump.submit("v1", b"early-%d" % i)
    pump.run_until(500)
    program = pump.programs["v0"]
    before: DagState = pump.states["v0"]
    after = program.recover(before)
    assert after.acked == before.acked and after.own == before.own
    assert after.mempool == () and after.held_count == 0 and not after.started
    restarted, _ = program.step(after, Start(pump.now_ms))
    taken = [slot for slot in after.acked if slot[1] == "v1"][-1]
    twin = vertex("v1", taken[0], after.own[taken[0]].parents, batch=(b"twin",))
    assert_refused(program, restarted, twin, Rejection.EQUIVOCATION)
    pump.states["v0"] = after
    pump._push(pump.now_ms, "v0", Start(pump.now_ms))
    for i in range(20):
        pump.submit("v2", b"late-%d" % i)
    pump.run_until(2000)
    logs = {name: committed(pump.outputs[name]) for name in COMMITTEE.names}
    check_logs(logs, COMMITTEE)
    assert all(b"late-19" in [tx for c in log for tx in c.batch] for log in logs.values())


# ---- safety under random schedules -------------------------------------------------------------


@dataclass
class Scheduler:
    """A pump whose every message takes its own random delay, with one partition window."""

    programs: dict[str, Program[DagState]]
    rng: random.Random
    max_delay_ms: int
    cut: Callable[[str, str, int], bool] = lambda sender, to, now: False
    equivocator: str = ""
    now_ms: int = 0
    states: dict[str, DagState] = field(default_factory=dict)
    outputs: dict[str, list[Any]] = field(default_factory=dict)
    certificates: dict[bytes, Certificate] = field(default_factory=dict)
    queue: list[tuple[int, int, str, Input]] = field(default_factory=list)
    timers: dict[tuple[str, str], int] = field(default_factory=dict)
    seq: int = 0

    def push(self, at: int, to: str, event: Input) -> None:
        self.seq += 1
        heapq.heappush(self.queue, (at, self.seq, to, event))

    def start(self) -> None:
        for name, program in self.programs.items():
            self.states[name] = program.initial()
            self.outputs[name] = []
            self.push(self.rng.randint(0, self.max_delay_ms), name, Start(0))

    def route(self, name: str, effects: Iterable[Any]) -> None:
        for effect in effects:
            if isinstance(effect, SetTimer):
                self.timers[(name, effect.key)] = effect.at_ms
                self.push(effect.at_ms, name, TimerFired(effect.at_ms, effect.key))
                continue
            if not isinstance(effect, Send | Broadcast):
                self.outputs[name].append(effect)
                continue
            if isinstance(effect.message, Certificate):
                self.certificates[effect.message.digest()] = effect.message
            targets = (
                [effect.to] if isinstance(effect, Send) else [o for o in self.programs if o != name]
            )
            for i, to in enumerate(targets):
                message = effect.message
                if name == self.equivocator and isinstance(message, Vertex) and i % 2:
                    # The Byzantine author shows every other peer a different vertex.
                    batch = (*message.batch, b"twin")
                    message = sign_vertex(KEYS[name], message.round, name, message.parents, batch)
                if to in self.programs and not self.cut(name, to, self.now_ms):
                    at = self.now_ms + self.rng.randint(1, self.max_delay_ms)
                    self.push(at, to, Deliver(at, name, message))

    def run_until(self, end_ms: int) -> None:
        while self.queue and self.queue[0][0] < end_ms:
            at, _, to, event = heapq.heappop(self.queue)
            if isinstance(event, TimerFired) and self.timers.get((to, event.key)) != at:
                continue
            self.now_ms = at
            if isinstance(event, Start):
                event = Start(at)
            state, effects = self.programs[to].step(self.states[to], event)
            self.states[to] = state
            self.route(to, effects)


@given(
    seed=st.integers(0, 2**32),
    max_delay=st.integers(1, 120),
    isolated=st.sampled_from(["", "v0", "v3"]),
    window=st.tuples(st.integers(0, 600), st.integers(0, 600)),
    equivocator=st.sampled_from(["", "v2"]),
)
@settings()
def test_random_schedules_keep_logs_prefix_consistent_and_certified(
    seed: int, max_delay: int, isolated: str, window: tuple[int, int], equivocator: str
) -> None:
    start, length = window

    def cut(sender: str, to: str, now: int) -> bool:
        return isolated in (sender, to) and start <= now < start + length

    rng = random.Random(seed)
    net = Scheduler(programs(COMMITTEE, KEYS), rng, max_delay, cut, equivocator)
    net.start()
    for i in range(12):
        net.push(rng.randint(0, 400), f"v{i % 4}", ClientTx(0, b"tx-%d" % i))
    net.run_until(1500)
    honest = [name for name in COMMITTEE.names if name != equivocator]
    logs = {name: committed(net.outputs[name]) for name in honest}
    check_logs(logs, COMMITTEE)
    for log in logs.values():
        for c in log:
            cert = net.certificates[c.certificate_digest]
            assert check_signer_set(cert, COMMITTEE) is None
            assert check_certificate_signatures(cert, COMMITTEE) is None
            assert (cert.vertex.round, cert.vertex.author) == (c.round, c.author)
        transactions = [tx for c in log for tx in c.batch]
        assert len(transactions) == len(set(transactions))  # each at most once
    assert max(len(log) for log in logs.values()) > 0
