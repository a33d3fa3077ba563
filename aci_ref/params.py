"""Every protocol constant, loaded once from `spec/parameters.toml` into a frozen `Params`.

Decimals in the file are read as exact `Fraction`s (TOML's float text goes straight to
`Fraction`, never through a binary float), integers stay integers. Each field states its
constraint next to it; `load_params` refuses a file that breaks one with a `ParamsError`
naming the key, so a user trying a protocol change learns at once what is malformed.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from fractions import Fraction
from functools import cache
from pathlib import Path
from typing import Any, Final

from aci_ref.errors import ParamsError, Rejection

#: The parameters file shipped with the reference (the paper's values).
DEFAULT_PARAMS_PATH: Final = Path(__file__).resolve().parent.parent / "spec" / "parameters.toml"

BPS: Final = 10_000
"""Basis points in one whole: every share in the protocol is an integer number of bps."""


@dataclass(frozen=True, slots=True)
class Bound:
    """The allowed range of one parameter: `kind` is `int`, `bps` or `fraction`."""

    kind: str
    low: Fraction
    high: Fraction | None = None
    low_open: bool = False

    def check(self, key: str, value: object) -> None:
        """Raise `ParamsError` unless `value` has this bound's type and lies in its range."""
        if self.kind == "fraction":
            if isinstance(value, bool) or not isinstance(value, Fraction | int):
                raise ParamsError(
                    Rejection.PARAMS_BAD_TYPE, key, f"expected a number, got {value!r}"
                )
        elif isinstance(value, bool) or not isinstance(value, int):
            raise ParamsError(Rejection.PARAMS_BAD_TYPE, key, f"expected an integer, got {value!r}")
        number = Fraction(value)
        too_low = number <= self.low if self.low_open else number < self.low
        too_high = self.high is not None and number > self.high
        if too_low or too_high:
            low = f"({self.low}" if self.low_open else f"[{self.low}"
            high = "inf)" if self.high is None else f"{self.high}]"
            raise ParamsError(
                Rejection.PARAMS_OUT_OF_RANGE, key, f"{_show(value)} is outside {low}, {high}"
            )


def _show(value: object) -> str:
    return str(float(value)) if isinstance(value, Fraction) else str(value)


def _rate(*, open_low: bool = True) -> Any:
    """A probability or rate in (0, 1] (or [0, 1] when `open_low` is False)."""
    return field(metadata={"bound": Bound("fraction", Fraction(0), Fraction(1), open_low)})


def _positive_fraction() -> Any:
    return field(metadata={"bound": Bound("fraction", Fraction(0), None, True)})


def _bps() -> Any:
    """A share in basis points, 0 to 10000 inclusive (a slash above 100 % is refused)."""
    return field(metadata={"bound": Bound("bps", Fraction(0), Fraction(BPS))})


def _count(low: int = 1) -> Any:
    return field(metadata={"bound": Bound("int", Fraction(low))})


@dataclass(frozen=True, slots=True)
class Params:
    """The protocol's constants; see `spec/parameters.toml` for each one's source."""

    # PoAI (§3)
    sampling_rate: Fraction = _rate()
    quality_ema_rate: Fraction = _rate()
    epsilon_num: Fraction = _positive_fraction()
    epsilon_kl: Fraction = _positive_fraction()
    quality_threshold: Fraction = _rate(open_low=False)
    metrics_flops_tolerance_bps: int = _bps()
    verification_committee_size: int = _count()
    verification_quorum_bps: int = _bps()
    arbitration_committee_size: int = _count()
    arbitration_quorum_bps: int = _bps()
    epoch_jobs: int = _count()
    detection_horizon_epochs: int = _count()
    epoch_duration_ms: int = _count()
    # Slashing (Table 2)
    slash_wrong_output_bps: int = _bps()
    slash_invalid_attestation_bps: int = _bps()
    slash_timeout_bps: int = _bps()
    slash_low_quality_bps_per_epoch: int = _bps()
    slash_sybil_bps: int = _bps()
    slash_false_accusation_bps: int = _bps()
    slash_reporter_reward_bps: int = _bps()
    timeout_sla_multiple: int = _count()
    # Stakes (Definition 1, Table 6)
    token_base_units: int = _count()
    validator_min_stake: int = _count()
    verifier_min_stake: int = _count()
    worker_min_stake: int = _count()
    lp_min_stake: int = _count()
    worker_stake_per_capacity_unit: int = _count(0)
    unbonding_delay_epochs: int = _count(0)
    # Fees (Table 5)
    fee_worker_bps: int = _bps()
    fee_validators_bps: int = _bps()
    fee_verifiers_bps: int = _bps()
    fee_lps_bps: int = _bps()
    fee_burn_bps: int = _bps()
    # AIVM gas (Equation 3)
    gas_matmul_base: int = _count(0)
    gas_matmul_per_mac: Fraction = _positive_fraction()
    # Consensus (§4)
    checkpoint_interval_rounds: int = _count()
    settlement_interval_ms: int = _count()
    # Market (HMM; HMM.md, spec/hmm.md)
    hmm_reference_price: Fraction = _positive_fraction()
    hmm_reserve_bps: int = _count()
    hmm_market_fee_bps: int = _bps()
    hmm_risk_fee_bps: int = _bps()

    # ---- derived values (computed, never stored in the file) -------------------------------

    def tokens(self, whole_tokens: int) -> int:
        """Whole ACI tokens as ledger base units."""
        return whole_tokens * self.token_base_units

    @property
    def unbonding_delay_ms(self) -> int:
        """How long unbonding stake stays slashable before it can be withdrawn."""
        return self.unbonding_delay_epochs * self.epoch_duration_ms


def param_names() -> tuple[str, ...]:
    """Every key a parameters file must hold, in declaration order."""
    return tuple(f.name for f in fields(Params))


def _flatten(document: Mapping[str, Any]) -> dict[str, object]:
    flat: dict[str, object] = {}
    for key, value in document.items():
        items = value.items() if isinstance(value, dict) else [(key, value)]
        for name, leaf in items:
            if isinstance(leaf, dict):
                raise ParamsError(Rejection.PARAMS_MALFORMED, name, "tables nest one level only")
            if name in flat:
                raise ParamsError(Rejection.PARAMS_MALFORMED, name, "key appears twice")
            flat[name] = leaf
    return flat


def _check_whole(values: Mapping[str, object]) -> None:
    shares = (
        "fee_worker_bps",
        "fee_validators_bps",
        "fee_verifiers_bps",
        "fee_lps_bps",
        "fee_burn_bps",
    )
    total = sum(value for key in shares if isinstance(value := values[key], int))
    if total != BPS:
        raise ParamsError(
            Rejection.PARAMS_FEE_SHARES_NOT_WHOLE,
            "fee_worker_bps",
            f"the five fee shares sum to {total} bps, not {BPS}",
        )


def params_from_text(text: str) -> Params:
    """Parse and check the text of a parameters file (Table 5's shares must make a whole)."""
    try:
        document = tomllib.loads(text, parse_float=Fraction)
    except tomllib.TOMLDecodeError as error:
        raise ParamsError(Rejection.PARAMS_MALFORMED, "<file>", str(error)) from error
    values = _flatten(document)
    known = {f.name: f for f in fields(Params)}
    for key in sorted(values):
        if key not in known:
            raise ParamsError(Rejection.PARAMS_UNKNOWN_KEY, key, "not a parameter of the protocol")
    for name, spec in known.items():
        if name not in values:
            raise ParamsError(Rejection.PARAMS_MISSING_KEY, name, "missing from the file")
        bound = spec.metadata["bound"]
        assert isinstance(bound, Bound)
        bound.check(name, values[name])
        value = values[name]
        if bound.kind == "fraction" and isinstance(value, int):
            values[name] = Fraction(value)
    _check_whole(values)
    return Params(**values)  # type: ignore[arg-type]


def load_params(path: Path | str | None = None) -> Params:
    """Load a parameters file (the shipped one when `path` is None)."""
    if path is None:
        return default_params()
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as error:
        raise ParamsError(
            Rejection.PARAMS_MALFORMED, str(path), error.strerror or "unreadable"
        ) from error
    return params_from_text(text)


@cache
def default_params() -> Params:
    """The shipped parameters, loaded once."""
    return params_from_text(DEFAULT_PARAMS_PATH.read_text(encoding="utf-8"))


_SOURCE = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_]*)\s*=\s*[^#]*#\s*(.+?)\s*$")


def param_sources(path: Path | str | None = None) -> dict[str, str]:
    """Each key's source, read from the comment that ends its line in the parameters file."""
    text = Path(path or DEFAULT_PARAMS_PATH).read_text(encoding="utf-8")
    return {m.group(1): m.group(2) for line in text.splitlines() if (m := _SOURCE.match(line))}
