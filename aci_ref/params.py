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

#: The parameters file of a source checkout (the paper's values).
DEFAULT_PARAMS_PATH: Final = Path(__file__).resolve().parent.parent / "spec" / "parameters.toml"

#: The same file as package data: `aci_ref/parameters.toml` is a link to the spec's file in a
#: checkout, and the file itself in a built wheel (which carries no `spec/`).
PACKAGED_PARAMS_PATH: Final = Path(__file__).parent / "parameters.toml"

EMBEDDED_DEFAULT: Final = "packaged default"
"""How `params_origin` names the defaults when they come from the package's copy."""

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


def _non_negative_fraction() -> Any:
    return field(metadata={"bound": Bound("fraction", Fraction(0), None)})


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
    probe_share_bps: int = _bps()
    # Slashing (Table 2)
    slash_wrong_output_bps: int = _bps()
    slash_invalid_attestation_bps: int = _bps()
    slash_timeout_bps: int = _bps()
    slash_low_quality_bps_per_epoch: int = _bps()
    slash_sybil_bps: int = _bps()
    slash_false_accusation_bps: int = _bps()
    slash_missed_fault_bps: int = _bps()
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
    gas_host_call_base: int = _count(0)
    gas_storage_read: int = _count(0)
    gas_storage_write: int = _count(0)
    gas_storage_per_byte: int = _count(0)
    aivm_gas_limit: int = _count()
    aivm_gas_call_base: int = _count(0)
    aivm_block_gas_limit: int = _count()
    aivm_memory_pages: int = _count()
    aivm_max_module_bytes: int = _count()
    aivm_max_body_branches: int = _count()
    aivm_max_module_branches: int = _count()
    aivm_wasm_stack_bytes: int = _count()
    aivm_max_table_elements: int = _count()
    aivm_tensor_max_elements: int = _count()
    gas_tensor_per_element: int = _count(0)
    gas_hash_per_byte: int = _count(0)
    gas_kl_per_element: int = _count(0)
    aivm_norm_epsilon: Fraction = _positive_fraction()
    gas_hmm_quote: int = _count(0)
    gas_escrow_lock: int = _count(0)
    gas_submit_result: int = _count(0)
    gas_stake: int = _count(0)
    gas_cast_vote: int = _count(0)
    gas_tee_verify: int = _count(0)
    aivm_model_max_layers: int = _count()
    aivm_gas_price: Fraction = _non_negative_fraction()
    # Consensus (§4)
    checkpoint_interval_rounds: int = _count()
    settlement_interval_ms: int = _count()
    dag_round_interval_ms: int = _count()
    dag_leader_timeout_ms: int = _count()
    max_batch_txs: int = _count()
    max_batch_bytes: int = _count()
    max_round_lead: int = _count()
    gc_depth_rounds: int = _count()
    max_pending_messages: int = _count()
    view_timeout_ms: int = _count()
    max_view_timeout_ms: int = _count()
    max_clock_drift_ms: int = _count(0)
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


def check_params(params: Params) -> None:
    """ref: parameter checks — a `Params` not read from a file (a state's own) obeys its rules."""
    values = {f.name: getattr(params, f.name) for f in fields(Params)}
    for f in fields(Params):
        f.metadata["bound"].check(f.name, values[f.name])
    _check_whole(values)
    _check_amounts(values)


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
    """The text of the shipped parameters: the checkout's file, else the package's copy."""
    if DEFAULT_PARAMS_PATH.is_file():
        return DEFAULT_PARAMS_PATH.read_text(encoding="utf-8")
    return PACKAGED_PARAMS_PATH.read_text(encoding="utf-8")


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
