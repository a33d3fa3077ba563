"""Listing 1's submitJob through the contract and RequestQuote + AcceptQuote through the chain
reach the same state, and every refusal of either is the same refusal (errata E102).

The worlds here set `aivm_gas_price` to 0, so the contract path burns no fee and the two ledgers
can be compared whole; a contract call that fails is accepted as `ContractReverted` with the
chain's reason (errata E105), and that reason is compared with the direct path's refusal. Fees
have their own tests (tests/aivm/test_call_fees.py)."""

from __future__ import annotations

from dataclasses import replace

import wasmtime
from hypothesis import given, settings
from hypothesis import strategies as st

from aci_ref.aivm.bundled import bundled_contracts
from aci_ref.chain import ContractCalled, ContractReverted
from aci_ref.errors import RejectedError, Rejection
from aci_ref.events import AcceptQuote, CallContract, RequestQuote, Transfer, job_id_of
from aci_ref.market.jobs import JobStatus
from aci_ref.sim.world import MODEL_ID, SLA_MS, World, build_world, world_params

MARKET = bytes(wasmtime.wat2wasm(bundled_contracts()["marketplace"]))
GAS = 1_000_000


def world() -> World:
    return build_world(FREE, label="market", contracts=(("marketplace", MARKET),))


FREE = world_params(aivm_gas_price=0)


def outcome(w: World, sender: str, body: CallContract) -> object:
    """None when the call returned; else the refusal's or the revert's reason."""
    try:
        effects = w.act(sender, body)
    except RejectedError as refused:
        return refused.rejection
    reverted = [e.reason for e in effects if isinstance(e, ContractReverted)]
    return reverted[0] if reverted else None


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
    for effect in effects:
        if isinstance(effect, ContractReverted):
            return effect.reason
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
    data = w.new_input()
    body = CallContract("marketplace", "submitJob", (SLA_MS, 12_000, 1), bytes([3]) + data, GAS)
    starved_gas = w.params.aivm_gas_call_base + 50
    starved = CallContract("marketplace", "submitJob", (SLA_MS, 12_000, 12_000), data, starved_gas)
    for failing, reasons in (
        (body, (Rejection.UNKNOWN_MODEL, Rejection.CONTRACT_TRAP)),
        (starved, (Rejection.OUT_OF_GAS,)),
    ):
        before = w.state
        assert outcome(w, "client-0", failing) in reasons
        # accepted as reverted: only the nonce moved (the fee is 0 in this world)
        assert replace(w.state, nonces=before.nonces, block_gas=before.block_gas) == before
    unknown = CallContract("nosuch", "submitJob", (SLA_MS, 1, 1), b"", GAS)
    assert w.refuse(w.sign("client-0", unknown)) is Rejection.UNKNOWN_CONTRACT


def settle_via(w: World, job_id: bytes, behaviour: str) -> object:
    from aci_ref.encoding import canonical_bytes
    from aci_ref.events import SubmitResult

    output, attestation = w.attestation(job_id, behaviour=behaviour)
    data = canonical_bytes(SubmitResult(job_id, output, attestation))
    return outcome(w, w.job(job_id).worker, CallContract("marketplace", "settleJob", (), data, GAS))


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

    params = world_params(Fraction(always), aivm_gas_price=0)
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

    params = world_params(Fraction(1), aivm_gas_price=0)
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
        got_via = outcome(via, member, body)
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


def test_quote_then_swap_in_two_calls_is_submit_in_one() -> None:
    """Table 9's HMM swap alone: quoteJob (HMM_QUOTE) then swapJob (HMM_SWAP + ESCROW_LOCK)
    leave the same ledger, market and job as submitJob, and the record moves 2 → 0."""
    one, two = world(), world()
    data = one.new_input()
    assert two.new_input() == data
    price = submit_via(one, "client-0", data, 12_000, 12_000)
    call_data = bytes([len(MODEL_ID)]) + MODEL_ID.encode() + data
    quote = CallContract("marketplace", "quoteJob", (SLA_MS, 12_000), call_data, GAS)
    effects = two.act("client-0", quote)
    (called,) = [e for e in effects if isinstance(e, ContractCalled)]
    assert called.returned == (price,)
    (job_hex,) = list(two.state.jobs)
    assert two.state.contract_storage["marketplace"][job_hex][-1] == 2
    assert two.job(bytes.fromhex(job_hex)).status is JobStatus.QUOTED
    swap = CallContract("marketplace", "swapJob", (12_000,), bytes.fromhex(job_hex), GAS)
    assert outcome(two, "client-0", swap) is None
    assert outcome(two, "client-0", swap) is Rejection.CONTRACT_TRAP  # no longer quoted
    assert two.state.ledger == one.state.ledger
    assert two.state.market == one.state.market
    assert dict(two.state.jobs) == dict(one.state.jobs)
    assert dict(two.state.contract_storage) == dict(one.state.contract_storage)


def test_a_swap_of_a_job_the_contract_never_quoted_is_refused() -> None:
    w = world()
    job_id = job_id_of("client-0", w.next_nonce("client-0"))
    w.act("client-0", RequestQuote(MODEL_ID, w.new_input(), SLA_MS, 12_000))  # not via contract
    swap = CallContract("marketplace", "swapJob", (12_000,), job_id, GAS)
    assert outcome(w, "client-0", swap) is Rejection.CONTRACT_TRAP
    assert w.job(job_id).status is JobStatus.QUOTED  # no escrow was taken


def test_check_result_is_level_one_and_changes_nothing() -> None:
    from aci_ref.encoding import canonical_bytes
    from aci_ref.events import SubmitResult

    w = world()
    submit_via(w, "client-0", w.new_input(), 12_000, 12_000)
    (job_hex,) = list(w.state.jobs)
    job_id = bytes.fromhex(job_hex)
    for behaviour, verdict in (("honest", 1), ("careless", 0)):
        output, attestation = w.attestation(job_id, behaviour=behaviour)
        data = canonical_bytes(SubmitResult(job_id, output, attestation))
        before = w.state
        effects = w.act("client-1", CallContract("marketplace", "checkResult", (), data, GAS))
        (called,) = [e for e in effects if isinstance(e, ContractCalled)]
        assert called.returned == (verdict,)
        assert replace(w.state, nonces=before.nonces, block_gas=before.block_gas) == before
