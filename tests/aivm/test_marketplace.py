"""Listing 1's submitJob through the contract and RequestQuote + AcceptQuote through the chain
reach the same state, and every refusal of either is the same refusal (errata E102)."""

from __future__ import annotations

import wasmtime
from hypothesis import given, settings
from hypothesis import strategies as st

from aci_ref.aivm.bundled import bundled_contracts
from aci_ref.chain import ContractCalled
from aci_ref.errors import RejectedError, Rejection
from aci_ref.events import AcceptQuote, CallContract, RequestQuote, Transfer, job_id_of
from aci_ref.market.jobs import JobStatus
from aci_ref.sim.world import MODEL_ID, SLA_MS, World, build_world, world_params

MARKET = bytes(wasmtime.wat2wasm(bundled_contracts()["marketplace"]))
GAS = 1_000_000


def world() -> World:
    return build_world(world_params(), label="market", contracts=(("marketplace", MARKET),))


def submit_direct(w: World, client: str, data: bytes, budget: int, bound: int) -> object:
    nonce = w.next_nonce(client)
    try:
        w.act(client, RequestQuote(MODEL_ID, data, SLA_MS, budget))
        w.act(client, AcceptQuote(job_id_of(client, nonce), bound))
    except RejectedError as refused:
        return refused.rejection
    return w.job(job_id_of(client, nonce)).price


def submit_via(w: World, client: str, data: bytes, budget: int, bound: int) -> object:
    call_data = bytes([len(MODEL_ID)]) + MODEL_ID.encode() + data
    body = CallContract("marketplace", "submitJob", (SLA_MS, budget, bound), call_data, GAS)
    try:
        effects = w.act(client, body)
    except RejectedError as refused:
        return refused.rejection
    (called,) = [e for e in effects if isinstance(e, ContractCalled)]
    return called.returned[0]


def keep_nonces_in_step(direct: World, via: World, client: str) -> None:
    """Job ids come from (client, nonce): the direct path spends up to two nonces per job, the
    contract one, so the client pads with transfers to itself (which change nothing else)."""
    while via.next_nonce(client) < direct.next_nonce(client):
        via.act(client, Transfer(client, 1))


@settings(max_examples=15)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["client-0", "client-1"]),
            st.integers(min_value=0, max_value=12_000),  # the budget
            st.integers(min_value=0, max_value=12_000),  # the highest price accepted
        ),
        min_size=1,
        max_size=6,
    )
)
def test_submit_job_is_request_and_accept(jobs: list[tuple[str, int, int]]) -> None:
    direct, via = world(), world()
    for client, budget, bound in jobs:
        data = direct.new_input()
        assert via.new_input() == data
        got_direct = submit_direct(direct, client, data, budget, bound)
        got_via = submit_via(via, client, data, budget, bound)
        # Same price or same refusal. A bound below the quote is refused by the acceptance in
        # both; the direct path keeps the quote until its block ends, the contract call
        # reverts it with everything else.
        assert got_direct == got_via
        keep_nonces_in_step(direct, via, client)
        direct.seal()
        via.seal()
        assert direct.state.ledger == via.state.ledger
        assert direct.state.market == via.state.market
        assert direct.state.executing == via.state.executing
        unexpired = {
            k: j for k, j in direct.state.jobs.items() if j.status is not JobStatus.EXPIRED
        }
        assert unexpired == dict(via.state.jobs)


def test_the_contract_records_its_jobs_and_a_refused_call_leaves_nothing() -> None:
    w = world()
    price = submit_via(w, "client-0", w.new_input(), 12_000, 12_000)
    assert isinstance(price, int) and price > 0
    (job_id,) = list(w.state.jobs)
    record = price.to_bytes(8, "little") + b"\x00"
    assert dict(w.state.contract_storage["marketplace"]) == {job_id: record}
    before = w.state
    data = w.new_input()
    body = CallContract("marketplace", "submitJob", (SLA_MS, 12_000, 1), bytes([3]) + data, GAS)
    assert w.refuse(w.sign("client-0", body)) in (Rejection.UNKNOWN_MODEL, Rejection.CONTRACT_TRAP)
    assert w.state is before
    unknown = CallContract("nosuch", "submitJob", (SLA_MS, 1, 1), b"", GAS)
    assert w.refuse(w.sign("client-0", unknown)) is Rejection.UNKNOWN_CONTRACT
    starved = CallContract("marketplace", "submitJob", (SLA_MS, 12_000, 12_000), data, 50)
    assert w.refuse(w.sign("client-0", starved)) is Rejection.OUT_OF_GAS


def settle_via(w: World, job_id: bytes, behaviour: str) -> object:
    from aci_ref.encoding import canonical_bytes
    from aci_ref.events import SubmitResult

    output, attestation = w.attestation(job_id, behaviour=behaviour)
    data = canonical_bytes(SubmitResult(job_id, output, attestation))
    try:
        w.act(w.job(job_id).worker, CallContract("marketplace", "settleJob", (), data, GAS))
    except RejectedError as refused:
        return refused.rejection
    return None


@settings(max_examples=8)
@given(
    st.lists(st.sampled_from(["honest", "careless", "lazy"]), min_size=1, max_size=4),
    st.sampled_from([0, 1]),
)
def test_a_whole_lifecycle_through_the_contract_matches_the_direct_one(
    behaviours: list[str], always: int
) -> None:
    from fractions import Fraction

    from aci_ref.sim.world import workers_of

    params = world_params(Fraction(always))
    contracts = (("marketplace", MARKET),)
    direct, via = (
        build_world(params, label="life", contracts=contracts, workers=workers_of("honest", "lazy"))
        for _ in range(2)
    )
    for behaviour in behaviours:
        data = direct.new_input()
        assert via.new_input() == data
        client = "client-0"
        nonce = direct.next_nonce(client)
        quoted = submit_direct(direct, client, data, 12_000, 12_000)
        assert quoted == submit_via(via, client, data, 12_000, 12_000)
        keep_nonces_in_step(direct, via, client)
        if not isinstance(quoted, int):  # e.g. every worker banned: no quote on either path
            continue
        job_id = job_id_of(client, nonce)
        try:
            direct.submit(job_id, behaviour=behaviour)
            got_direct: object = None
        except RejectedError as refused:
            got_direct = refused.rejection
        assert got_direct == settle_via(via, job_id, behaviour)
        direct.seal()
        via.seal()
        direct.decide(job_id)
        via.decide(job_id)
        assert direct.state.ledger == via.state.ledger
        assert direct.state.market == via.state.market
        assert dict(direct.state.jobs) == dict(via.state.jobs)
        assert direct.state.workers == via.state.workers


def contract_world() -> tuple[World, World]:
    from fractions import Fraction

    from aci_ref.sim.world import workers_of

    params = world_params(Fraction(1))
    contracts = (("marketplace", MARKET),)
    made = [
        build_world(params, label="votes", contracts=contracts, workers=workers_of("lazy"))
        for _ in range(2)
    ]
    return made[0], made[1]


@settings(max_examples=10)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["stake", "unstake"]),
            st.sampled_from([0, 1, 2, 3, 7]),  # validator, verifier, worker, LP, no such role
            st.integers(min_value=-5, max_value=60_000_000_000),
        ),
        min_size=1,
        max_size=6,
    )
)
def test_stake_and_unstake_are_bond_and_unbond(ops: list[tuple[str, int, int]]) -> None:
    from aci_ref.aivm.market_opcodes import ROLES
    from aci_ref.events import Bond, Unbond

    direct, via = world(), world()
    member = direct.verifiers[0]
    for op, role, amount in ops:
        body = CallContract("marketplace", op, (role, amount), b"", GAS)
        try:
            via.act(member, body)
            got_via: object = None
        except RejectedError as refused:
            got_via = refused.rejection
        if role >= len(ROLES):
            assert got_via is Rejection.CONTRACT_TRAP
            continue
        event = (Bond if op == "stake" else Unbond)(ROLES[role], amount)
        try:
            direct.act(member, event)
            got_direct: object = None
        except RejectedError as refused:
            got_direct = refused.rejection
        assert got_direct == got_via
        assert direct.state.ledger == via.state.ledger


def test_a_dispute_decided_through_the_contract_matches_the_direct_one() -> None:
    from aci_ref.encoding import canonical_bytes
    from aci_ref.events import CastVote
    from aci_ref.poai.votes import sign_vote

    direct, via = contract_world()
    for w in (direct, via):
        job_id = w.order("client-0")
        w.submit(job_id, behaviour="lazy")
        w.seal()
    job_id = next(bytes.fromhex(k) for k in direct.state.jobs)
    while direct.job(job_id).status.value in ("verifying", "disputed"):
        job = direct.job(job_id)
        voted = {v.verifier for v in job.votes}
        member = next(m for m in direct.members(job_id) if m not in voted)
        direct.vote(member, job_id)
        right = via.output_correct(job_id)
        reason = None if right else Rejection.OUTPUT_MISMATCH
        vote = sign_vote(via.keys[member], job_id, member, right, reason)
        data = canonical_bytes(CastVote(vote))
        via.act(member, CallContract("marketplace", "castVote", (), data, GAS))
        assert direct.state.ledger == via.state.ledger
        assert dict(direct.state.jobs) == dict(via.state.jobs)
    assert direct.job(job_id).status.value == "refunded"
