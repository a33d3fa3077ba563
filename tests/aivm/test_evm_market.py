"""The marketplace's Solidity twin on py-evm: it prices and picks workers exactly as the Python
HMM does, every Table 9 operation goes through, refusals revert, and each receipt's gas is split
by opcode group without losing a unit."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from fractions import Fraction
from itertools import count
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aci_ref.aivm.evm import runtime_available
from aci_ref.aivm.evm_market import (
    OPERATIONS,
    VERIFIER_ROLE,
    EvmRow,
    TwinWorld,
    measure_market,
    sign,
)
from aci_ref.errors import RejectedError, Rejection
from aci_ref.market import hmm
from aci_ref.params import BPS, default_params

pytestmark = pytest.mark.skipif(not runtime_available(), reason="py-evm is not installed")

NEVER = 2**64 - 1  # the widest uint64 bound a client can set


def reverts(name: str, call: Any, *args: Any, **kwargs: Any) -> None:
    """`call` is refused with the twin's custom error `name`."""
    with pytest.raises(RejectedError) as refused:
        call(*args, **kwargs)
    assert refused.value.rejection is Rejection.CONTRACT_TRAP
    assert f"reverted: {name}(" in refused.value.detail, refused.value.detail


@pytest.fixture(scope="module")
def rows() -> list[EvmRow]:
    return measure_market()


@pytest.fixture(scope="module")
def world() -> TwinWorld:
    return TwinWorld(label="tests")


@pytest.fixture(scope="module")
def audited() -> TwinWorld:
    params = replace(default_params(), sampling_rate=Fraction(1))
    return TwinWorld(params, workers=("lazy-0",), label="tests-votes")


def test_every_table9_operation_has_a_receipt_split_by_opcode_group(rows: list[EvmRow]) -> None:
    assert [r.operation for r in rows] == list(OPERATIONS)
    for row in rows:
        groups = dict(row.gas_by_group)
        assert row.evm_gas > 21_000 + row.execution_gas // 2 > 21_000
        assert sum(groups.values()) == row.execution_gas  # every unit of gas is in one group
        assert groups["storage"] > 0 and groups["refund"] <= 0
    by = {r.operation: dict(r.gas_by_group) for r in rows}
    assert by["settlement"]["precompile calls"] >= 3 * 3_000  # three ecrecovers and a SHA-256
    assert by["dispute resolution"]["precompile calls"] >= 3_000  # the vote's ecrecover
    assert by["HMM swap"]["precompile calls"] == 0  # the curve is plain arithmetic


# ---- the HMM: same price, same worker as aci_ref.market.hmm --------------------------------

WORKER_KEYS = 48


@pytest.fixture(scope="module")
def curve() -> Iterator[tuple[TwinWorld, Iterator[int]]]:
    names = tuple(f"w-{i}" for i in range(WORKER_KEYS))
    twin = TwinWorld(workers=(), extra=names, label="curve")
    twin.operate("mint", twin.address("client-1"), 2**200)
    yield twin, count(1)


def _python_refusal(step: Any) -> object:
    try:
        return step()
    except RejectedError as refused:
        return refused.rejection


TWIN_ERRORS = {
    Rejection.NO_WORKER: "NoWorker",
    Rejection.NO_CAPACITY: "NoCapacity",
    Rejection.INSUFFICIENT_LIQUIDITY: "InsufficientLiquidity",
    Rejection.POOL_OUT_OF_RANGE: "PoolOutOfRange",
}


def _twin(step: Any) -> object:
    try:
        return step()
    except RejectedError as refused:
        name = refused.detail.split("reverted: ", 1)[1].split("(", 1)[0]
        return next(code for code, error in TWIN_ERRORS.items() if error == name)


prices = st.one_of(st.integers(1, 10_000), st.integers(2**50, 2**63))
supplies = st.tuples(
    st.integers(1, 40),  # capacity
    st.integers(1, 30),  # throughput
    st.one_of(st.sampled_from([0, 4_999, 5_000, BPS]), st.integers(0, BPS)),  # quality
)


@settings(max_examples=8)
@given(prices, st.lists(supplies, min_size=1, max_size=3), st.integers(1, 6), st.integers(1, 4))
def test_the_twin_quotes_and_buys_as_the_python_hmm(
    curve: tuple[TwinWorld, Iterator[int]],
    price: int,
    supply: list[tuple[int, int, int]],
    units: int,
    buys: int,
) -> None:
    twin, ids = curve
    params = default_params()
    pool = next(ids)
    model = pool.to_bytes(32, "big")
    twin.operate("createPool", pool, price, 1, 1)
    twin.operate("registerModel", model, [pool, units, 1, 0, 32, True])
    market = hmm.create_pool(hmm.Market(), params, "rc", price)
    for capacity, throughput, quality in supply:
        name = twin.actor(f"w-{next(ids)}")
        address = twin.address(name)
        worker = "0x" + address.hex()  # code-point order of fixed-width hex = address order

        offer = (capacity, throughput, quality)

        def python_join(
            m: hmm.Market = market, w: str = worker, o: tuple[int, int, int] = offer
        ) -> hmm.Market:
            m = hmm.add_worker(m, params, "rc", w, o[0], o[1], BPS)
            return hmm.set_quality(m, "rc", w, o[2])

        def twin_join(n: str = name, a: bytes = address, o: tuple[int, int, int] = offer) -> None:
            twin.register(n, o[0], o[1], pool)
            if o[2] != BPS:
                twin.operate("setQuality", a, o[2])

        joined = _python_refusal(python_join)
        assert (joined is Rejection.POOL_OUT_OF_RANGE) == (_twin(twin_join) is not None)
        market = joined if isinstance(joined, hmm.Market) else market
    for _ in range(buys):

        def python_buy(m: hmm.Market = market) -> tuple[hmm.Market, hmm.Quote]:
            return hmm.buy(m, params, "rc", units, NEVER)

        def twin_buy() -> tuple[str, int]:
            data = bytes(32)
            receipt = twin.market.transact(
                "submitJob", model, data, 10_000, NEVER, key=twin.keys["client-1"]
            )
            (topics, price_word) = receipt.logs[-1]
            return "0x" + topics[2].to_bytes(32, "big")[12:].hex(), int.from_bytes(price_word)

        expected = _python_refusal(python_buy)
        got = _twin(twin_buy)
        if isinstance(expected, tuple):
            market, filled = expected
            assert got == (filled.worker, filled.price)
        else:
            assert got is expected


# ---- each operation, and its refusals ------------------------------------------------------


def test_submission_and_swap_refuse_what_the_chain_refuses(world: TwinWorld) -> None:
    reverts("SlippageExceeded", world.submit, max_price=1)
    client = world.keys["client-0"]

    def submit(model: bytes, data: bytes, sla: int) -> object:
        return world.market.transact("submitJob", model, data, sla, NEVER, key=client)

    bad = bytearray(world.workload.make_input(1))
    bad[2:4] = b"\x80\x7f"  # a float32 whose exponent is all ones: +inf
    for error, data in (("InputUnrunnable", bytes(bad)), ("InputUnrunnable", b"\x00" * 32)):
        reverts(error, submit, world.model, data, 10_000)
    good = world.workload.make_input(1)
    reverts("SlaOutOfRange", submit, world.model, good, 1)
    reverts("UnknownModel", submit, bytes(32), good, 10_000)
    quoted, _ = world.submit(quote_only=True)
    price = world.job(quoted)["price"]
    other = world.keys["client-1"]
    reverts("NotJobClient", world.market.transact, "swap", quoted, price, key=other)
    reverts("SlippageExceeded", world.market.transact, "swap", quoted, price - 1, key=client)
    before = world.market.read("balanceOf", world.address("client-0"))[0]
    world.market.transact("swap", quoted, price, key=client)
    assert world.market.read("balanceOf", world.address("client-0"))[0] == before - price
    reverts("BadJobStatus", world.market.transact, "swap", quoted, price, key=client)
    world.settle(quoted)  # give the units back for the tests that follow


def test_settlement_checks_level1_then_pays_table5(world: TwinWorld) -> None:
    job, _ = world.submit()
    worker, output, attestation = world.result(job)
    market, key = world.market, world.keys[worker]
    reverts("NotJobWorker", market.transact, "settleJob", job, output, attestation)
    reverts("WrongOutput", market.transact, "settleJob", job, output + b"!", attestation, key=key)
    forged = world.result(job, signer=world.keys["client-0"])[2]
    reverts("BadSignature", market.transact, "settleJob", job, output, forged, key=key)
    rooted = list(attestation)
    platform = list(rooted[0])
    platform[3] = list(sign(world.keys["client-0"], bytes(32)))  # not the vendor's signature
    rooted[0] = platform
    reverts("BadCertChain", market.transact, "settleJob", job, output, rooted, key=key)
    escrowed = world.job(job)["escrowedAtMs"]
    for error, fields in (
        ("WrongInput", {"hInput": bytes(32)}),
        ("WrongModel", {"hModel": bytes(32)}),
        ("WrongJob", {"jobId": job + 1}),
        ("Stale", {"tStartMs": escrowed - 1}),
        ("MetricsInconsistent", {"flops": 1}),
        ("MetricsInconsistent", {"memoryBytes": 1}),
    ):
        _, claimed, changed = world.result(job, **fields)
        reverts(error, market.transact, "settleJob", job, claimed, changed, key=key)
    price = world.job(job)["price"]
    before = market.read("balanceOf", world.address(worker))[0]
    market.transact("settleJob", job, output, attestation, key=key)
    assert world.job(job)["status"] == 4  # Settled
    p = world.params
    shares = (p.fee_validators_bps, p.fee_verifiers_bps, p.fee_lps_bps, p.fee_burn_bps)
    others = [price * bps // BPS for bps in shares]
    assert market.read("balanceOf", world.address(worker))[0] - before == price - sum(others)
    reverts("BadJobStatus", market.transact, "settleJob", job, output, attestation, key=key)


def test_the_deciding_vote_refunds_and_slashes_a_wrong_output(audited: TwinWorld) -> None:
    job, _ = audited.submit()
    audited.settle(job, "lazy")
    market = audited.market
    member = audited.names[market.read("committeeMember", job, 0)[0]]
    outsider = next(v for v in audited.keys if v.startswith("verifier-") and v != member)
    vote = audited.vote(outsider, job, False)
    cast = market.transact
    reverts("NotAVerifier", cast, "castVote", job, False, vote, key=audited.keys[outsider])
    wrong = audited.vote(member, job, True)  # signed for the other verdict
    reverts("BadSignature", cast, "castVote", job, False, wrong, key=audited.keys[member])
    client = audited.address("client-0")
    refunded = market.read("balanceOf", client)[0] + audited.job(job)["price"]
    audited.decide(job, False)
    assert audited.job(job)["status"] == 5  # Refunded
    assert market.read("balanceOf", client)[0] == refunded
    assert market.read("stakes", audited.address("lazy-0"), 2)[0] == 0  # slashed 100 %
    vote = audited.vote(member, job, False)
    reverts("BadJobStatus", market.transact, "castVote", job, False, vote, key=audited.keys[member])


def test_stake_and_unstake_round_trip_through_the_unbonding_queue(world: TwinWorld) -> None:
    market, name = world.market, "verifier-1"
    key, address = world.keys[name], world.address(name)
    amount = world.params.tokens(world.params.verifier_min_stake)
    balance = market.read("balanceOf", address)[0]
    market.transact("stake", VERIFIER_ROLE, amount, key=key)
    assert market.read("balanceOf", address)[0] == balance - amount
    reverts("StakeBelowMinimum", market.transact, "unstake", VERIFIER_ROLE, amount + 1, key=key)
    reverts("InsufficientStake", market.transact, "unstake", VERIFIER_ROLE, 3 * amount, key=key)
    market.transact("unstake", VERIFIER_ROLE, amount, key=key)
    reverts("UnbondingNotMature", market.transact, "withdraw", VERIFIER_ROLE, key=key)
    world.chain.advance(world.params.unbonding_delay_ms // 1000)
    market.transact("withdraw", VERIFIER_ROLE, key=key)
    assert market.read("balanceOf", address)[0] == balance
    reverts("NothingToWithdraw", market.transact, "withdraw", VERIFIER_ROLE, key=key)
    reverts("RoleNotStakeable", market.transact, "stake", 3, amount, key=key)
    reverts("UnknownRole", market.transact, "stake", 7, amount, key=key)
    reverts("NonPositiveAmount", market.transact, "stake", VERIFIER_ROLE, 0, key=key)
