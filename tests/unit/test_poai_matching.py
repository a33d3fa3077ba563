"""§3.4 by example: the exact, ε_num and seed-pinning + ε_KL rules, and the output formats."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest

from aci_ref.errors import RejectedError, Rejection
from aci_ref.params import default_params
from aci_ref.poai.matching import (
    OutputKind,
    compare_outputs,
    decode_sampled,
    encode_numeric,
    encode_sampled,
    float32_units,
    kl_divergence,
    pinned_choice,
    seed_from_job,
    token_draw,
)

PARAMS = default_params()
EPS = PARAMS.epsilon_num


def f32(*values: float | np.float32) -> np.ndarray:
    return np.array(values, dtype=np.float32)


def numeric(claimed: np.ndarray, reference: np.ndarray) -> object:
    return compare_outputs(
        OutputKind.NUMERIC, encode_numeric(claimed), encode_numeric(reference), PARAMS
    )


def test_exact_rule() -> None:
    same = compare_outputs(OutputKind.EXACT, b"abc", b"abc", PARAMS)
    assert (same.match, same.measure, same.rule) == (True, Fraction(0), "hash")
    assert not compare_outputs(OutputKind.EXACT, b"abc", b"abd", PARAMS).match


def test_numeric_rule_is_exact_at_the_threshold() -> None:
    assert Fraction(1, 10_000) == EPS
    base = np.float32(1.0)
    # the largest float32 step not above 1e-4 from 1.0 passes, the next one fails
    below = np.float32(base + np.float32(EPS.numerator / EPS.denominator))
    while Fraction(float(below)) - 1 > EPS:
        below = np.nextafter(below, np.float32(0))
    above = np.nextafter(below, np.float32(2))
    ok = compare_outputs(
        OutputKind.NUMERIC, encode_numeric(f32(below)), encode_numeric(f32(1.0)), PARAMS
    )
    bad = compare_outputs(
        OutputKind.NUMERIC, encode_numeric(f32(above)), encode_numeric(f32(1.0)), PARAMS
    )
    assert ok.match and ok.measure == Fraction(float(below)) - 1
    assert not bad.match and bad.measure is not None and bad.measure > EPS
    assert bad.rule == "max_abs"


def test_numeric_rule_refuses_incomparable_outputs() -> None:
    for claimed, reference in (
        (f32(1, 2), f32(1, 2, 3)),
        (f32(), f32()),
        (f32(np.nan), f32(np.nan)),
        (f32(np.inf), f32(np.inf)),
    ):
        result = compare_outputs(
            OutputKind.NUMERIC, encode_numeric(claimed), encode_numeric(reference), PARAMS
        )
        assert (result.match, result.measure, result.rule) == (False, None, "malformed")
    ragged = compare_outputs(OutputKind.NUMERIC, b"\x00" * 5, b"\x00" * 5, PARAMS)
    assert ragged.rule == "malformed"


def test_float32_units_are_exact() -> None:
    values = f32(0.0, 1.0, 0.5, 1e-45, 3.4e38)
    units = float32_units(values)
    for value, unit in zip(values.tolist(), units, strict=True):
        assert Fraction(unit, 1 << 149) == Fraction(value)
    for bad in (f32(-1.0), f32(np.inf), f32(np.nan)):
        with pytest.raises(RejectedError) as refused:
            float32_units(bad)
        assert refused.value.rejection is Rejection.BAD_INPUT
    assert float32_units(f32(-0.0)) == [0]


def test_pinned_choice_is_inverse_cdf_in_integers() -> None:
    probs = f32(0.25, 0.25, 0.5)
    top = 1 << 256
    assert pinned_choice(probs, 0) == 0
    assert pinned_choice(probs, top // 4 - 1) == 0
    assert pinned_choice(probs, top // 4) == 1
    assert pinned_choice(probs, top // 2) == 2
    assert pinned_choice(probs, top - 1) == 2
    assert pinned_choice(f32(2.0, 2.0), top // 2 - 1) == 0  # weights need not sum to 1
    assert pinned_choice(f32(0.0, 1.0), 0) == 1  # no mass, never chosen
    with pytest.raises(RejectedError):
        pinned_choice(f32(0.0, 0.0), 0)
    with pytest.raises(RejectedError):
        pinned_choice(probs, top)


def test_seed_and_draws_are_pinned() -> None:
    seed = seed_from_job(b"job-1")
    assert seed == seed_from_job(b"job-1") and 0 <= seed < 1 << 64
    assert seed != seed_from_job(b"job-2")
    assert seed_from_job(b"job-1").to_bytes(8, "big").hex() == SEED_JOB1
    draws = [token_draw(seed, step) for step in range(4)]
    assert len(set(draws)) == 4 and all(0 <= d < 1 << 256 for d in draws)


SEED_JOB1 = "422eed1897a4bb70"


def sampled(tokens: list[int], rows: list[list[float]]) -> bytes:
    return encode_sampled(tokens, np.array(rows, dtype=np.float32))


def test_kl_direction_and_normalisation() -> None:
    p, q = f32(0.5, 0.5), f32(0.9, 0.1)
    forward = kl_divergence(p, q)
    assert forward == pytest.approx(0.5 * np.log(0.5 / 0.9) + 0.5 * np.log(0.5 / 0.1))
    assert forward != pytest.approx(kl_divergence(q, p))
    assert kl_divergence(f32(0.5, 0.5), f32(1.0, 0.0)) == float("inf")  # worker drops support
    assert kl_divergence(f32(1.0, 0.0), f32(0.5, 0.5)) == pytest.approx(np.log(2))
    assert kl_divergence(f32(0.5, 0.5), f32(4.0, 4.0)) == 0.0  # inflation is normalised away


def test_sampled_rule() -> None:
    ref = sampled([0, 1], [[0.5, 0.5], [0.2, 0.8]])
    close = sampled([0, 1], [[0.5001, 0.4999], [0.2, 0.8]])
    far = sampled([0, 1], [[0.6, 0.4], [0.2, 0.8]])
    other_tokens = sampled([1, 1], [[0.5, 0.5], [0.2, 0.8]])
    dropped = sampled([0, 1], [[1.0, 0.0], [0.2, 0.8]])
    result = compare_outputs(OutputKind.SAMPLED, close, ref, PARAMS)
    assert result.match and result.rule == "kl" and result.measure is not None
    assert result.measure <= PARAMS.epsilon_kl
    result = compare_outputs(OutputKind.SAMPLED, far, ref, PARAMS)
    assert not result.match and result.rule == "kl" and result.measure is not None
    assert result.measure > PARAMS.epsilon_kl
    result = compare_outputs(OutputKind.SAMPLED, other_tokens, ref, PARAMS)
    assert (result.match, result.measure, result.rule) == (False, Fraction(0), "tokens")
    result = compare_outputs(OutputKind.SAMPLED, dropped, ref, PARAMS)
    assert (result.match, result.measure, result.rule) == (False, None, "kl")
    assert compare_outputs(OutputKind.SAMPLED, ref, ref, PARAMS).measure == 0


def test_sampled_rule_refuses_malformed_outputs() -> None:
    ref = sampled([0, 1], [[0.5, 0.5], [0.2, 0.8]])
    for bad in (
        b"",
        b"\xa0",  # an empty CBOR map
        sampled([0], [[0.5, 0.5]]),  # fewer steps
        sampled([0, 1], [[0.5, 0.5, 0.0], [0.2, 0.8, 0.0]]),  # another vocabulary
        sampled([0, 1], [[-0.5, 1.5], [0.2, 0.8]]),  # negative mass
        sampled([0, 1], [[0.0, 0.0], [0.2, 0.8]]),  # no mass
        sampled([0, 1], [[np.nan, 0.5], [0.2, 0.8]]),
    ):
        result = compare_outputs(OutputKind.SAMPLED, bad, ref, PARAMS)
        assert (result.match, result.rule) == (False, "malformed")
    with pytest.raises(RejectedError):
        decode_sampled(sampled([0, 1], [[0.5, 0.5], [0.2, 0.8]]) + b"\x00")
    with pytest.raises(RejectedError):
        encode_sampled([0], np.zeros((2, 2), dtype=np.float32))
    assert decode_sampled(ref).tokens == (0, 1)
