"""Loading parameters: the shipped file, every stated constraint, and each refusal's key."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import pytest

import aci_ref.params
from aci_ref.errors import ParamsError, Rejection
from aci_ref.params import (
    AMOUNT_LIMIT,
    DEFAULT_PARAMS_PATH,
    EMBEDDED_DEFAULT,
    MAX_TOKEN_BASE_UNITS,
    default_params,
    default_params_text,
    load_params,
    param_names,
    param_sources,
    params_from_text,
    params_origin,
)

TEXT = DEFAULT_PARAMS_PATH.read_text(encoding="utf-8")


def with_line(key: str, value: str) -> str:
    """The shipped file with `key`'s value replaced."""
    lines = []
    for line in TEXT.splitlines():
        if line.split("=")[0].strip() == key:
            line = f"{key} = {value}"
        lines.append(line)
    return "\n".join(lines)


def test_the_papers_values() -> None:
    p = default_params()
    assert p.sampling_rate == Fraction(3, 1000)
    assert p.epsilon_num == Fraction(1, 10_000)
    assert p.gas_matmul_per_mac == 1  # E106: the paper's 1/1000 underpriced a MAC
    assert (p.validator_min_stake, p.verifier_min_stake) == (100_000, 50_000)
    assert (p.worker_min_stake, p.lp_min_stake) == (10_000, 1_000)
    assert p.fee_worker_bps + p.fee_validators_bps + p.fee_verifiers_bps == 9_300
    assert p.slash_wrong_output_bps == 10_000 and p.slash_invalid_attestation_bps == 5_000
    assert p.timeout_sla_multiple == 2 and p.epoch_jobs == 10_000


def test_the_two_rates_named_alpha_are_separate() -> None:
    """Errata E1: the sampling rate and the quality EMA rate are two parameters."""
    p = params_from_text(with_line("quality_ema_rate", "0.25"))
    assert p.quality_ema_rate == Fraction(1, 4)
    assert p.sampling_rate == default_params().sampling_rate


def test_decimals_are_exact() -> None:
    p = params_from_text(with_line("sampling_rate", "0.1"))
    assert p.sampling_rate == Fraction(1, 10)


def test_every_key_has_a_source() -> None:
    sources = param_sources()
    assert set(param_names()) <= set(sources)


def test_load_from_path(tmp_path: Path) -> None:
    path = tmp_path / "p.toml"
    path.write_text(TEXT, encoding="utf-8")
    assert load_params(path) == default_params()
    assert load_params(None) == default_params()


@pytest.mark.parametrize(
    ("key", "value", "code"),
    [
        ("fee_burn_bps", "301", Rejection.PARAMS_FEE_SHARES_NOT_WHOLE),
        ("slash_timeout_bps", "10001", Rejection.PARAMS_OUT_OF_RANGE),
        ("slash_sybil_bps", "-1", Rejection.PARAMS_OUT_OF_RANGE),
        ("sampling_rate", "0.0", Rejection.PARAMS_OUT_OF_RANGE),
        ("sampling_rate", "1.5", Rejection.PARAMS_OUT_OF_RANGE),
        ("quality_ema_rate", "0", Rejection.PARAMS_OUT_OF_RANGE),
        ("epoch_jobs", "0", Rejection.PARAMS_OUT_OF_RANGE),
        ("epoch_jobs", "2.5", Rejection.PARAMS_BAD_TYPE),
        ("sampling_rate", '"high"', Rejection.PARAMS_BAD_TYPE),
        ("timeout_sla_multiple", "true", Rejection.PARAMS_BAD_TYPE),
    ],
)
def test_broken_constraint_is_refused_naming_the_key(key: str, value: str, code: Rejection) -> None:
    with pytest.raises(ParamsError) as caught:
        params_from_text(with_line(key, value))
    assert caught.value.rejection is code
    expected_key = "fee_worker_bps" if code is Rejection.PARAMS_FEE_SHARES_NOT_WHOLE else key
    assert caught.value.key == expected_key
    assert expected_key in str(caught.value)


def test_missing_unknown_duplicate_and_malformed() -> None:
    missing = "\n".join(line for line in TEXT.splitlines() if not line.startswith("epoch_jobs"))
    cases = [
        (missing, Rejection.PARAMS_MISSING_KEY, "epoch_jobs"),
        (TEXT + "\nsurprise = 1\n", Rejection.PARAMS_UNKNOWN_KEY, "surprise"),
        (TEXT + "\n[extra]\nepoch_jobs = 5\n", Rejection.PARAMS_MALFORMED, "epoch_jobs"),
        ("this is = = not toml", Rejection.PARAMS_MALFORMED, "<file>"),
    ]
    for text, code, key in cases:
        with pytest.raises(ParamsError) as caught:
            params_from_text(text)
        assert (caught.value.rejection, caught.value.key) == (code, key)


def test_unreadable_file(tmp_path: Path) -> None:
    with pytest.raises(ParamsError) as caught:
        load_params(tmp_path / "absent.toml")
    assert caught.value.rejection is Rejection.PARAMS_MALFORMED


def test_params_are_frozen() -> None:
    p = default_params()
    with pytest.raises(AttributeError):
        p.sampling_rate = Fraction(1)  # type: ignore[misc]


def refused(text: str) -> ParamsError:
    with pytest.raises(ParamsError) as caught:
        params_from_text(text)
    return caught.value


def test_token_base_units_is_bounded_by_the_64_bit_amounts() -> None:
    """10**15 used to pass and then crash the simulation; the bound keeps 2**63 in reach."""
    error = refused(with_line("token_base_units", str(10**15)))
    assert (error.rejection, error.key) == (Rejection.PARAMS_OUT_OF_RANGE, "token_base_units")
    assert "64-bit" in str(error)
    at_bound = params_from_text(with_line("token_base_units", str(MAX_TOKEN_BASE_UNITS)))
    largest = max(at_bound.validator_min_stake, at_bound.verifier_min_stake)
    assert at_bound.tokens(largest) < AMOUNT_LIMIT


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("validator_min_stake", str(10**13)),
        ("lp_min_stake", str(10**13)),
        ("worker_stake_per_capacity_unit", str(10**13)),
        ("hmm_reference_price", "9223372036854.9"),
    ],
)
def test_whole_token_keys_times_base_units_fit(key: str, value: str) -> None:
    error = refused(with_line(key, value))
    assert (error.rejection, error.key) == (Rejection.PARAMS_OUT_OF_RANGE, key)
    assert "token_base_units" in str(error) and "2**63" in str(error)


def test_deadlines_and_unbonding_fit_the_clock() -> None:
    long_epoch = with_line("epoch_duration_ms", str(10**18))
    assert refused(long_epoch).key == "detection_horizon_epochs"
    slow = with_line("unbonding_delay_epochs", str(10**13))
    assert refused(slow).key == "unbonding_delay_epochs"


def test_binary_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "p.toml"
    path.write_bytes(b"\x89PNG\r\n\x1a\n\x00\xff")
    with pytest.raises(ParamsError) as caught:
        load_params(path)
    assert caught.value.rejection is Rejection.PARAMS_MALFORMED
    assert "not a TOML text file" in str(caught.value)


def test_the_packaged_copy_is_the_shipped_file() -> None:
    """An installed package reads its own copy: in a checkout, a link to spec/parameters.toml."""
    assert aci_ref.params.PACKAGED_PARAMS_PATH.read_text(encoding="utf-8") == TEXT
    assert params_origin() == str(DEFAULT_PARAMS_PATH)


def test_defaults_without_a_checkout(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(aci_ref.params, "DEFAULT_PARAMS_PATH", tmp_path / "absent.toml")
    default_params.cache_clear()
    try:
        assert default_params_text() == TEXT
        assert default_params() == params_from_text(TEXT)
        assert params_origin() == EMBEDDED_DEFAULT
        assert set(param_names()) <= set(param_sources())
    finally:
        default_params.cache_clear()
