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

#: The parameters file of a source checkout (the paper's values). A built wheel does not carry
#: `spec/`, so when this path is absent the same text, embedded at the end of this module, is used.
DEFAULT_PARAMS_PATH: Final = Path(__file__).resolve().parent.parent / "spec" / "parameters.toml"

EMBEDDED_DEFAULT: Final = "embedded default"
"""How `params_origin` names the defaults when they come from the embedded copy."""

BPS: Final = 10_000
"""Basis points in one whole: every share in the protocol is an integer number of bps."""

AMOUNT_LIMIT: Final = 2**63
"""Every amount a parameter implies (in base units or ms) must stay below this.

Canonical CBOR and the event well-formedness check accept integers with |x| < 2**64. Keeping each
single amount under half of that leaves room for the sums the ledger forms (a balance plus an
incoming stake or refund) without any of them leaving the 64-bit range.
"""

MAX_TOKEN_BASE_UNITS: Final = 10**9
"""The most base units one ACI token may have.

At 10**9, AMOUNT_LIMIT still counts about 9.2 × 10**9 whole tokens: the shipped stakes (at most
10**5 tokens) and the simulator's whole default genesis (about 9.6 × 10**6 tokens) fit a thousand
times over. At 10**12 that genesis alone would pass 2**63 base units.
"""


@dataclass(frozen=True, slots=True)
class Bound:
    """The allowed range of one parameter: `kind` is `int`, `bps` or `fraction`."""

    kind: str
    low: Fraction
    high: Fraction | None = None
    low_open: bool = False
    why: str = ""

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
            reason = f" ({self.why})" if self.why else ""
            raise ParamsError(
                Rejection.PARAMS_OUT_OF_RANGE,
                key,
                f"{_show(value)} is outside {low}, {high}{reason}",
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


def _base_units() -> Any:
    why = "ledger amounts are 64-bit; 10**9 base units per token still count 9.2 × 10**9 tokens"
    bound = Bound("int", Fraction(1), Fraction(MAX_TOKEN_BASE_UNITS), why=why)
    return field(metadata={"bound": bound})


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
    # Jobs (Algorithm 1 input bounds)
    min_sla_blocks: int = _count()
    max_input_bytes: int = _count()
    # Stakes (Definition 1, Table 6)
    token_base_units: int = _base_units()
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
        """Whole ACI tokens as ledger base units (below AMOUNT_LIMIT for the file's amounts)."""
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


#: Keys counted in whole tokens: each becomes `value × token_base_units` base units on the ledger.
_WHOLE_TOKEN_KEYS: Final = (
    "validator_min_stake",
    "verifier_min_stake",
    "worker_min_stake",
    "lp_min_stake",
    "worker_stake_per_capacity_unit",
    "hmm_reference_price",
)


def _check_amounts(values: Mapping[str, object]) -> None:
    """Refuse a file whose products reach AMOUNT_LIMIT, naming the key that carries the product.

    The per-key bounds cannot see these: a stake of 10**13 tokens is a fine integer until the
    ledger multiplies it by token_base_units, and a long epoch is fine until a deadline adds
    timeout_sla_multiple × the longest SLA a job may ask for to the clock.
    """
    units = values["token_base_units"]
    assert isinstance(units, int)
    for key in _WHOLE_TOKEN_KEYS:
        value = values[key]
        assert isinstance(value, Fraction | int)
        tokens = Fraction(value)
        amount = -(-tokens.numerator * units // tokens.denominator)
        if amount >= AMOUNT_LIMIT:
            raise ParamsError(
                Rejection.PARAMS_OUT_OF_RANGE,
                key,
                f"{_show(value)} tokens × token_base_units {units} = {amount} base units, "
                "not below 2**63",
            )
    epoch_ms, horizon, multiple, unbonding = (
        values[k]
        for k in (
            "epoch_duration_ms",
            "detection_horizon_epochs",
            "timeout_sla_multiple",
            "unbonding_delay_epochs",
        )
    )
    assert isinstance(epoch_ms, int) and isinstance(horizon, int)
    assert isinstance(multiple, int) and isinstance(unbonding, int)
    spans = (
        ("detection_horizon_epochs", "timeout_sla_multiple × the longest SLA", multiple * horizon),
        ("unbonding_delay_epochs", "the unbonding delay", unbonding),
    )
    for key, what, epochs in spans:
        if epochs * epoch_ms >= AMOUNT_LIMIT:
            raise ParamsError(
                Rejection.PARAMS_OUT_OF_RANGE,
                key,
                f"{what} is {epochs} epochs of {epoch_ms} ms = {epochs * epoch_ms} ms, "
                "not below 2**63",
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
    _check_amounts(values)
    return Params(**values)  # type: ignore[arg-type]


def load_params(path: Path | str | None = None) -> Params:
    """Load a parameters file (the shipped one when `path` is None)."""
    if path is None:
        return default_params()
    try:
        data = Path(path).read_bytes()
    except OSError as error:
        raise ParamsError(
            Rejection.PARAMS_MALFORMED, str(path), error.strerror or "unreadable"
        ) from error
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise ParamsError(
            Rejection.PARAMS_MALFORMED,
            str(path),
            f"not a TOML text file (byte 0x{data[error.start]:02x} at offset {error.start} "
            "is not UTF-8)",
        ) from error
    return params_from_text(text)


def default_params_text() -> str:
    """The text of the shipped parameters: the checkout's file, else the embedded copy."""
    if DEFAULT_PARAMS_PATH.is_file():
        return DEFAULT_PARAMS_PATH.read_text(encoding="utf-8")
    return _EMBEDDED_PARAMETERS


def params_origin(path: Path | str | None = None) -> str:
    """Where parameters loaded by `load_params(path)` come from, for reports and JSON output."""
    if path is not None:
        return str(Path(path).resolve())
    return str(DEFAULT_PARAMS_PATH) if DEFAULT_PARAMS_PATH.is_file() else EMBEDDED_DEFAULT


@cache
def default_params() -> Params:
    """The shipped parameters, loaded once."""
    return params_from_text(default_params_text())


_SOURCE = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_]*)\s*=\s*[^#]*#\s*(.+?)\s*$")


def param_sources(path: Path | str | None = None) -> dict[str, str]:
    """Each key's source, read from the comment that ends its line in the parameters file."""
    text = default_params_text() if path is None else Path(path).read_text(encoding="utf-8")
    return {m.group(1): m.group(2) for line in text.splitlines() if (m := _SOURCE.match(line))}


# spec/parameters.toml as of this release, for an installed package (tests/unit/test_params.py
# fails when the two differ, so an edit to the file is copied here in the same change).
_EMBEDDED_PARAMETERS: Final = """\
# Every protocol constant of aci-ref. Edit a copy and pass it with `--params FILE`, or check it with
# `aci-ref params --check FILE` and `aci-ref check-params FILE`.
#
# Rules of this file:
# - Tables only group keys for the reader; every key name is unique across the whole file.
# - Decimals are read as exact fractions (0.003 is 3/1000, never a binary float).
# - Money is in whole ACI tokens here; the ledger counts base units (token_base_units per token).
# - Shares are basis points (bps): 10000 bps = 100 %.
# - The comment after each key is its source: a paper item, or `ref:` for a choice of the reference
#   (spec/errata.md says why), or `roadmap:` for a key read by a later roadmap step only.

[poai]
sampling_rate = 0.003                 # Table 1, Algorithm 2 line 7 (α): chance a job is re-executed
quality_ema_rate = 0.1                # ref: Algorithm 2 line 16 reuses α; errata E1 splits the two rates
epsilon_num = 1e-4                    # §3.4 item 3: element-wise tolerance on numeric outputs
epsilon_kl = 0.001                    # ref: §3.4 item 2 leaves ε_KL open; errata E6 justifies 10^-3 nats
quality_threshold = 0.5               # ref: Table 2 "quality below threshold" names no threshold (E7)
metrics_flops_tolerance_bps = 500     # ref: Algorithm 2 line 4 "metrics consistency" (E9)
verification_committee_size = 1       # Algorithm 2 line 8: a sampled job is re-executed on a verifier node (E10)
verification_quorum_bps = 6666        # ref: stake-weighted 2/3 of the committee decides; 6666 bps so 2 of 3 equal votes do (E10, E74)
arbitration_committee_size = 5        # ref: Algorithm 1 line 15 "arbitration protocol" (E11)
arbitration_quorum_bps = 6666         # ref: stake-weighted 2/3 of the arbitration committee (E11, E74)
epoch_jobs = 10000                    # Theorem 1 (N): jobs per verification epoch
detection_horizon_epochs = 10         # Theorem 1, §3.4: "over 10 epochs"
epoch_duration_ms = 3600000           # §3.4: 10 epochs are 10 hours

[slashing]
slash_wrong_output_bps = 10000        # Table 2: wrong output (verified), 100 %
slash_invalid_attestation_bps = 5000  # Table 2: invalid attestation, 50 %
slash_timeout_bps = 1000              # Table 2: timeout beyond 2 x SLA, 10 %
slash_low_quality_bps_per_epoch = 500 # Table 2: quality below threshold, 5 % per epoch
slash_sybil_bps = 10000               # Table 2: Sybil detected, 100 %
slash_false_accusation_bps = 1000     # ref: a verifier whose accusation fails arbitration (E11)
slash_reporter_reward_bps = 1000      # ref: share of a slash paid to whoever brought the evidence (E12)
timeout_sla_multiple = 2              # Table 2: timeout is "> 2 x SLA"

[jobs]
min_sla_blocks = 2                    # ref: an SLA spans at least this many settlement blocks, and no job times out sooner (E70)
max_input_bytes = 1048576             # ref: the largest job input the chain stores, 1 MiB (E72)

[stakes]
token_base_units = 1000000            # ref: base units per ACI token (E13)
validator_min_stake = 100000          # Definition 1, Table 6: validator stake, tokens
verifier_min_stake = 50000            # Definition 1, Table 6: verifier stake, tokens
worker_min_stake = 10000              # Table 6: worker minimum stake, tokens
lp_min_stake = 1000                   # Table 6: HMM liquidity provider minimum stake, tokens
worker_stake_per_capacity_unit = 1000 # ref: Definition 1 "proportional to declared capacity" (E14)
unbonding_delay_epochs = 10           # ref: stake stays slashable over Theorem 1's horizon (E15)

[fees]
fee_worker_bps = 8000                 # Table 5: worker (compute provider), 80 %
fee_validators_bps = 800              # Table 5: validators, 8 %
fee_verifiers_bps = 500               # Table 5: verifiers, 5 %
fee_lps_bps = 400                     # Table 5: HMM liquidity providers, 4 %
fee_burn_bps = 300                    # Table 5: protocol treasury (burn), 3 %

[aivm]
gas_matmul_base = 100                 # Equation 3 (g0)
gas_matmul_per_mac = 0.001            # Equation 3 (g1), gas per multiply-accumulate

[consensus]
checkpoint_interval_rounds = 100      # roadmap: consensus (step 4); §4.4 item 1
settlement_interval_ms = 2000         # §4.3: a settlement block every 2 s; bounds SLAs from below (E70)

# [market] keys (HMM, not defined by the paper; see spec/hmm.md) follow.
[market]
hmm_reference_price = 0.0025          # ref: HMM idle price, tokens per full-quality capacity unit (E41); 1/400 so Theorem 3 holds at every quote (E69)
hmm_reserve_bps = 5000                # ref: HMM virtual reserve as a share of effective capacity; caps surge at 9x (E41)
hmm_market_fee_bps = 0                # ref: HIP-004 market fee f_m; zero, Table 5 already pays LPs and burn (E43)
hmm_risk_fee_bps = 1000               # ref: HIP-004 risk-fee weight λ_r; at most 10 % of the curve cost (E43)
"""  # noqa: E501
