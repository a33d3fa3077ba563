"""The threshold BLS beacon: uniqueness, refusals, total decoding, and that f Byzantine validators
cannot move Algorithm 2's re-execution draw."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from fractions import Fraction
from functools import cache
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from py_arkworks_bls12381 import G2Point, Scalar

from aci_ref.consensus.beacon import (
    GROUP_ORDER,
    BeaconKeys,
    beacon_bytes,
    combine,
    deal,
    sign_share,
    threshold_for,
    valid_shares,
    verify_beacon,
    verify_share,
)
from aci_ref.crypto import sha256
from aci_ref.encoding import canonical_bytes
from aci_ref.errors import RejectedError, Rejection
from aci_ref.params import load_params
from aci_ref.poai.verification import selected_for_reexecution

SIZES = (4, 7, 10)
JOB_IDS = tuple(sha256(b"job %d" % i) for i in range(48))
PARAMS = dataclasses.replace(load_params(), sampling_rate=Fraction(1, 2))


@cache
def setup(n: int) -> tuple[BeaconKeys, dict[str, bytes]]:
    return deal(tuple(f"validator-{i:03d}" for i in range(n)), threshold_for(n), b"genesis %d" % n)


@cache
def honest_share(n: int, name: str, height: int) -> bytes:
    return sign_share(setup(n)[1][name], height)


def all_shares(n: int, height: int) -> dict[str, bytes]:
    keys, _ = setup(n)
    return {name: honest_share(n, name, height) for name in keys.names}


@cache
def reference(n: int, height: int) -> bytes:
    keys, _ = setup(n)
    return combine(
        keys, height, {k: all_shares(n, height)[k] for k in keys.names[-keys.threshold :]}
    )


def sampled(signature: bytes) -> frozenset[bytes]:
    seed = beacon_bytes(signature)
    return frozenset(j for j in JOB_IDS if selected_for_reexecution(PARAMS, seed, j))


def refused(rejection: Rejection, fn: Any, *args: Any) -> None:
    with pytest.raises(RejectedError) as info:
        fn(*args)
    assert info.value.rejection is rejection


heights = st.integers(min_value=0, max_value=(1 << 64) - 1)


# ---- setup ---------------------------------------------------------------------------------------


def test_threshold_is_two_f_plus_one() -> None:
    assert [threshold_for(n) for n in (1, 3, 4, 7, 10, 31, 100)] == [1, 1, 3, 5, 7, 21, 67]
    for bad in (0, -1, True, 4.0):
        refused(Rejection.BAD_INPUT, threshold_for, bad)


def test_deal_is_deterministic_sorted_and_public_part_is_encodable() -> None:
    keys, secrets = deal(("c", "a", "b", "d"), 3, b"seed")
    again, same = deal(("a", "b", "c", "d"), 3, b"seed")
    assert (keys, secrets) == (again, same)
    assert keys.names == ("a", "b", "c", "d") and set(secrets) == set(keys.names)
    assert all(
        len(s) == 32 and 0 < int.from_bytes(s, "big") < GROUP_ORDER for s in secrets.values()
    )
    assert deal(("a", "b", "c", "d"), 3, b"other")[0].group_public != keys.group_public
    assert canonical_bytes(keys)  # part of genesis: it has a canonical encoding
    for names, t in ((("a", "a", "b"), 2), (("a", "b"), 0), (("a", "b"), 3), ((), 1), (["a"], 1)):
        refused(Rejection.BAD_INPUT, deal, names, t, b"seed")
    refused(
        Rejection.BAD_INPUT, BeaconKeys, ("b", "a"), 1, keys.group_public, keys.share_publics[:2]
    )


# ---- uniqueness and refusals ---------------------------------------------------------------------


@given(n=st.sampled_from(SIZES), height=heights, data=st.data())
def test_any_threshold_subset_combines_to_the_one_signature(n: int, height: int, data: Any) -> None:
    keys, _ = setup(n)
    shares = all_shares(n, height)
    chosen = data.draw(st.sets(st.sampled_from(keys.names), min_size=keys.threshold))
    other = data.draw(st.sets(st.sampled_from(keys.names), min_size=keys.threshold))
    signature = combine(keys, height, {k: shares[k] for k in chosen})
    assert signature == combine(keys, height, {k: shares[k] for k in other})
    assert verify_beacon(keys, height, signature)
    assert not verify_beacon(keys, height + 1, signature)
    assert len(beacon_bytes(signature)) == 32


@given(n=st.sampled_from(SIZES), height=heights, data=st.data())
def test_fewer_than_threshold_shares_are_refused(n: int, height: int, data: Any) -> None:
    keys, _ = setup(n)
    shares = all_shares(n, height)
    few = data.draw(st.sets(st.sampled_from(keys.names), max_size=keys.threshold - 1))
    refused(Rejection.BAD_BEACON, combine, keys, height, {k: shares[k] for k in few})


def lagrange_at_zero(indices: list[int]) -> list[int]:
    weights = []
    for i in indices:
        num = den = 1
        for j in indices:
            if j != i:
                num, den = num * j % GROUP_ORDER, den * (j - i) % GROUP_ORDER
        weights.append(num * pow(den, -1, GROUP_ORDER) % GROUP_ORDER)
    return weights


@pytest.mark.parametrize("n", SIZES)
def test_threshold_minus_one_shares_interpolate_to_nothing_useful(n: int) -> None:
    keys, _ = setup(n)
    names = keys.names[: keys.threshold - 1]
    points = [G2Point.from_compressed_bytes(honest_share(n, k, 9)) for k in names]
    weights = lagrange_at_zero([keys.names.index(k) + 1 for k in names])
    forged = G2Point.multiexp_unchecked(points, [Scalar(w) for w in weights])
    assert not verify_beacon(keys, 9, forged.to_compressed_bytes())


@given(n=st.sampled_from(SIZES), height=heights, data=st.data())
def test_an_invalid_extra_share_is_refused(n: int, height: int, data: Any) -> None:
    keys, secrets = setup(n)
    f = (n - 1) // 3
    shares = all_shares(n, height)
    count = data.draw(st.sampled_from((f, keys.threshold - 1, keys.threshold)))
    honest = data.draw(
        st.lists(st.sampled_from(keys.names), min_size=count, max_size=count, unique=True)
    )
    liar = data.draw(st.sampled_from([k for k in keys.names if k not in honest]))
    victim = data.draw(st.sampled_from([k for k in keys.names if k != liar]))
    bad = data.draw(
        st.sampled_from(
            (
                sign_share(secrets[liar], height + 1 if height < (1 << 64) - 1 else 0),
                shares[victim],
                (G2Point.from_compressed_bytes(shares[liar]) + G2Point()).to_compressed_bytes(),
                G2Point.identity().to_compressed_bytes(),
                b"\x00" * 96,
            )
        )
    )
    offered = {k: shares[k] for k in honest} | {liar: bad}
    refused(Rejection.BAD_BEACON, combine, keys, height, offered)
    refused(Rejection.BAD_BEACON, combine, keys, height, offered | {"outsider": shares[liar]})


@pytest.mark.parametrize("n", SIZES)
def test_share_for_another_height_or_key_fails(n: int) -> None:
    keys, secrets = setup(n)
    a, b = keys.names[0], keys.names[1]
    share = sign_share(secrets[a], 5)
    assert verify_share(keys, a, 5, share)
    assert not verify_share(keys, a, 6, share)
    assert not verify_share(keys, b, 5, share)
    assert not verify_share(keys, "outsider", 5, share)
    other_keys, other_secrets = deal(keys.names, keys.threshold, b"another genesis")
    assert not verify_share(keys, a, 5, sign_share(other_secrets[a], 5))
    assert not verify_share(other_keys, a, 5, share)
    assert not verify_beacon(other_keys, 5, reference(n, 5))


# ---- the property: f Byzantine validators cannot change which jobs are sampled -------------------

ATTACKS = ("nothing", "own", "wrong", "other_height", "copy", "garbage", "identity")


def attack(n: int, liar: str, kind: str, height: int, victim: str, junk: bytes) -> bytes | None:
    secrets = setup(n)[1]
    if kind == "nothing":
        return None
    if kind == "own":
        return honest_share(n, liar, height)
    if kind == "wrong":
        wrong = int.from_bytes(sha256(junk + liar.encode()), "big") % GROUP_ORDER or 1
        return sign_share(wrong.to_bytes(32, "big"), height)
    if kind == "other_height":
        return sign_share(secrets[liar], height ^ 1)
    if kind == "copy":
        return honest_share(n, victim, height)
    if kind == "identity":
        return G2Point.identity().to_compressed_bytes()
    return junk


@given(n=st.sampled_from(SIZES), height=st.integers(0, 3), data=st.data())
def test_f_byzantine_validators_cannot_change_the_sample(n: int, height: int, data: Any) -> None:
    keys, _ = setup(n)
    f = (n - 1) // 3
    byzantine = data.draw(st.sets(st.sampled_from(keys.names), min_size=f, max_size=f))
    honest = [k for k in keys.names if k not in byzantine]
    sends = st.tuples(st.sampled_from(ATTACKS), st.sampled_from(keys.names), st.binary(max_size=97))
    messages = [(k, honest_share(n, k, height)) for k in honest]
    for liar in sorted(byzantine):
        for kind, victim, junk in data.draw(st.lists(sends, max_size=3)):
            share = attack(n, liar, kind, height, victim, junk)
            if share is not None:
                messages.append((liar, share))
    messages = data.draw(st.permutations(messages))

    # An assembler keeps the first share per member that verifies, then uses any threshold of them.
    pool: dict[str, bytes] = {}
    for name, share in messages:
        if name not in pool and verify_share(keys, name, height, share):
            pool[name] = share
    assert valid_shares(keys, height, dict(messages)).keys() <= pool.keys()
    used = data.draw(st.sets(st.sampled_from(sorted(pool)), min_size=keys.threshold))
    signature = combine(keys, height, {k: pool[k] for k in used})
    assert signature == reference(n, height)
    assert sampled(signature) == sampled(reference(n, height))

    # A careless assembler that keeps the last message per name gets the same beacon or none.
    try:
        careless = combine(keys, height, dict(messages))
    except RejectedError as error:
        assert error.rejection is Rejection.BAD_BEACON
    else:
        assert careless == reference(n, height)


def test_the_sample_is_neither_empty_nor_everything() -> None:
    chosen = sampled(reference(4, 0))
    assert 0 < len(chosen) < len(JOB_IDS)
    assert sampled(reference(4, 1)) != chosen


# ---- total decoding ------------------------------------------------------------------------------

junk_values = st.one_of(
    st.binary(max_size=200),
    st.binary(min_size=96, max_size=96),
    st.binary(min_size=48, max_size=48),
    st.none(),
    st.integers(),
    st.text(max_size=5),
    st.just(bytearray(96)),
)


@given(value=junk_values, name=st.one_of(st.text(max_size=12), st.integers()), height=st.integers())
def test_malformed_inputs_give_false_or_rejected_error(value: Any, name: Any, height: int) -> None:
    keys, _ = setup(4)
    member = keys.names[0]
    assert not verify_share(keys, member, 0, value)
    assert not verify_share(keys, name, height, value)
    assert not verify_beacon(keys, height, value)
    assert not verify_share(keys, member, height, honest_share(4, member, 0)) or height == 0
    calls: tuple[Callable[[], object], ...] = (
        lambda: combine(keys, 0, all_shares(4, 0) | {member: value}),
        lambda: combine(keys, 0, all_shares(4, 0) | {name: value}),
        lambda: combine(keys, height if height else -1, all_shares(4, 0)),
        lambda: combine(keys, 0, value),
        lambda: beacon_bytes(value),
    )
    for call in calls:
        with pytest.raises(RejectedError) as info:
            call()
        assert info.value.rejection is Rejection.BAD_BEACON
    try:
        sign_share(value, height)
    except RejectedError as error:
        assert error.rejection is Rejection.BAD_INPUT


def test_non_canonical_encodings_are_refused() -> None:
    keys, _ = setup(4)
    signature = reference(4, 0)
    flipped = bytes([signature[0] ^ 0x20]) + signature[1:]  # the other y: a different point
    assert not verify_beacon(keys, 0, flipped)
    uncompressed_flag = bytes([signature[0] & 0x7F]) + signature[1:]
    assert not verify_beacon(keys, 0, uncompressed_flag)
    assert not verify_beacon(keys, 0, b"\xff" * 96)  # infinity flag with junk coordinates
    assert not verify_beacon(keys, True, signature)
    assert not verify_beacon(keys, -1, signature) and not verify_beacon(keys, 1 << 64, signature)
    bad_keys = dataclasses.replace(keys, group_public=b"\xc0" + bytes(47))  # the identity
    assert not verify_beacon(bad_keys, 0, signature)
    for secret in (bytes(32), GROUP_ORDER.to_bytes(32, "big"), b"\x01" * 31):
        refused(Rejection.BAD_INPUT, sign_share, secret, 0)
    refused(Rejection.BAD_INPUT, sign_share, setup(4)[1][keys.names[0]], -1)


# ---- cost (printed, not asserted) ----------------------------------------------------------------


def _ms(fn: Callable[[], object], reps: int) -> float:
    start = time.perf_counter()
    for _ in range(reps):
        fn()
    return (time.perf_counter() - start) * 1000 / reps


def _costs(n: int) -> str:
    keys, secrets = deal(tuple(f"v{i:03d}" for i in range(n)), threshold_for(n), b"cost")
    first = keys.names[0]
    fresh = iter(range(10**6, 2 * 10**6))  # a new height each time: hash to G2 included
    sign = _ms(lambda: sign_share(secrets[first], next(fresh)), 20)
    share = sign_share(secrets[first], 7)
    verify = _ms(lambda: verify_share(keys, first, 7, share), 20)
    shares = {k: sign_share(secrets[k], 7) for k in keys.names[: keys.threshold]}
    joined = _ms(lambda: combine(keys, 7, shares), 3)
    signature = combine(keys, 7, shares)
    check = _ms(lambda: verify_beacon(keys, 7, signature), 20)
    return (
        f"n={n:3d} t={keys.threshold:2d}: sign_share {sign:.2f} ms, verify_share {verify:.2f} ms,"
        f" combine {joined:.1f} ms, verify_beacon {check:.2f} ms"
    )


def test_measure_costs(capsys: pytest.CaptureFixture[str]) -> None:
    lines = [_costs(n) for n in (4, 31, 100)]
    with capsys.disabled():
        print("\nbeacon costs (ms per call):\n" + "\n".join(lines))
