"""The chain's one entry point: `apply(state, signed_event) -> (state, effects)`, and `genesis`.

`apply` admits a signed event (well formed, known sender, next nonce, valid signature), looks its
body's type up in `PROCESSORS` and runs that `process_<event>` function on the typed body. A
refusal raises `RejectedError` and leaves the state passed in untouched (every value is
immutable); no other exception but the project's own may escape.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import replace
from types import MappingProxyType
from typing import Any, Final, TypeVar

import immutables

from aci_ref.chain.block import process_seal_block
from aci_ref.chain.contracts import process_call_contract
from aci_ref.chain.effects import Effects
from aci_ref.chain.evidence import process_report_invalid_attestation
from aci_ref.chain.jobs import process_accept_quote, process_request_quote, process_submit_result
from aci_ref.chain.probes import process_reveal_probe
from aci_ref.chain.stake import (
    process_bond,
    process_deposit_liquidity,
    process_transfer,
    process_unbond,
    process_withdraw,
    process_withdraw_liquidity,
)
from aci_ref.chain.state import VERIFICATION_POOL, Account, ChainState, Genesis
from aci_ref.chain.votes import process_cast_vote
from aci_ref.chain.workers import process_register_worker
from aci_ref.economics import ledger
from aci_ref.errors import RejectedError, Rejection
from aci_ref.events import (
    AcceptQuote,
    Bond,
    CallContract,
    CastVote,
    DepositLiquidity,
    RegisterWorker,
    ReportInvalidAttestation,
    RequestQuote,
    RevealProbe,
    SealBlock,
    SignedEvent,
    SubmitResult,
    Transfer,
    Unbond,
    Withdraw,
    WithdrawLiquidity,
)
from aci_ref.market import hmm
from aci_ref.market.hmm import Market
from aci_ref.params import Params
from aci_ref.poai.profiles import HARDWARE_CLASSES
from aci_ref.wellformed import check_well_formed

PUBLIC_KEY_BYTES: Final = 32
"""An Ed25519 public key is 32 bytes (RFC 8032)."""

SUPPLY_LIMIT: Final = 1 << 63
"""ref: genesis — the supply must fit a signed 64-bit integer, so every amount does too."""

Body = TypeVar("Body")
Processor = Callable[[ChainState, Any, str, int], tuple[ChainState, Effects]]


def _by_sender(
    process: Callable[[ChainState, Body, str], tuple[ChainState, Effects]],
) -> Processor:
    """Adapt a processor that needs only the sender (most do) to the table's signature."""

    def run(state: ChainState, body: Body, sender: str, nonce: int) -> tuple[ChainState, Effects]:
        return process(state, body, sender)

    run.__wrapped__ = process  # type: ignore[attr-defined]
    return run


PROCESSORS: Final[Mapping[type, Processor]] = MappingProxyType(
    {
        Transfer: _by_sender(process_transfer),
        Bond: _by_sender(process_bond),
        Unbond: _by_sender(process_unbond),
        Withdraw: _by_sender(process_withdraw),
        RegisterWorker: _by_sender(process_register_worker),
        DepositLiquidity: _by_sender(process_deposit_liquidity),
        WithdrawLiquidity: _by_sender(process_withdraw_liquidity),
        RequestQuote: process_request_quote,
        AcceptQuote: _by_sender(process_accept_quote),
        SubmitResult: _by_sender(process_submit_result),
        SealBlock: _by_sender(process_seal_block),
        CastVote: _by_sender(process_cast_vote),
        ReportInvalidAttestation: _by_sender(process_report_invalid_attestation),
        RevealProbe: _by_sender(process_reveal_probe),
        CallContract: process_call_contract,
    }
)
"""ref: chain transition — which `process_<event>` function runs each kind of event body."""


def apply(state: ChainState, event: SignedEvent) -> tuple[ChainState, Effects]:
    """ref: chain transition — admit a signed event and apply it, or refuse it with a Rejection.

    Admission, in order: every field has its declared type (`bad_input`); the sender is known
    (`unknown_sender`); the nonce is the sender's next (`replayed_event` if already used,
    `nonce_gap` if it skips ahead); the signature verifies (`bad_signature`). Then the event's
    processor runs; its refusals propagate unchanged.
    """
    if type(event) is not SignedEvent:
        raise RejectedError(Rejection.BAD_INPUT, "not a signed event")
    check_well_formed(event)
    public = state.keys.get(event.sender)
    if public is None:
        raise RejectedError(Rejection.UNKNOWN_SENDER, event.sender)
    expected = state.nonces.get(event.sender, 0) + 1
    if event.nonce < expected:
        raise RejectedError(Rejection.REPLAYED_EVENT, f"nonce {event.nonce} < {expected}")
    if event.nonce > expected:
        raise RejectedError(Rejection.NONCE_GAP, f"nonce {event.nonce} > {expected}")
    if not event.verifies(public):
        raise RejectedError(Rejection.BAD_SIGNATURE, event.sender)
    process = PROCESSORS[type(event.body)]  # well-formedness admits only the Event union
    after, effects = process(state, event.body, event.sender, event.nonce)
    return replace(after, nonces=after.nonces.set(event.sender, event.nonce)), effects


def _check_accounts(accounts: object) -> tuple[Account, ...]:
    if not isinstance(accounts, tuple):
        raise RejectedError(Rejection.BAD_INPUT, "genesis accounts must be a tuple")
    for account in accounts:
        if type(account) is not Account:
            raise RejectedError(Rejection.BAD_INPUT, "a genesis account must be an Account")
        if isinstance(account.public_key, bytes) and len(account.public_key) != PUBLIC_KEY_BYTES:
            raise RejectedError(Rejection.BAD_KEY, f"{account.name!r}: a key is 32 bytes")
        if type(account.balance) is int and account.balance < 0:
            raise RejectedError(Rejection.NON_POSITIVE_AMOUNT, f"{account.name!r}: negative")
        check_well_formed(account, f"account {account.name!r}")
    names = [account.name for account in accounts]
    if len(set(names)) != len(names):
        raise RejectedError(Rejection.BAD_INPUT, "genesis account names must be unique")
    if sum(account.balance for account in accounts) >= SUPPLY_LIMIT:
        raise RejectedError(Rejection.BAD_INPUT, "the supply must be below 2^63 base units")
    return accounts


def _check_probes(commitments: object) -> immutables.Map[str, bool]:
    if not isinstance(commitments, tuple) or not all(
        isinstance(c, bytes) and len(c) == 32 for c in commitments
    ):
        raise RejectedError(Rejection.BAD_INPUT, "probe commitments are a tuple of 32-byte digests")
    if len(set(commitments)) != len(commitments):
        raise RejectedError(Rejection.BAD_INPUT, "probe commitments must be distinct")
    return immutables.Map({c.hex(): False for c in commitments})


def _check_contracts(params: Params, contracts: object) -> immutables.Map[str, bytes]:
    if not isinstance(contracts, tuple) or not all(
        isinstance(c, tuple) and len(c) == 2 and isinstance(c[0], str) and isinstance(c[1], bytes)
        for c in contracts
    ):
        raise RejectedError(Rejection.BAD_INPUT, "contracts are (name, WebAssembly binary) pairs")
    names = [name for name, _ in contracts]
    if len(set(names)) != len(names):
        raise RejectedError(Rejection.BAD_INPUT, "contract names must be unique")
    from aci_ref.chain.contracts import admit_contract

    for name, wasm in contracts:
        admit_contract(params, name, wasm)
    return immutables.Map(dict(contracts))


def genesis(config: Genesis) -> ChainState:
    """ref: genesis — the opening state: balances, keys, empty pools, the model registry.

    Refused: accounts that are not a tuple of well-typed `Account`s (`bad_input`), a key that is
    not 32 bytes (`bad_key`), a negative balance (`non_positive_amount`), a supply of 2^63 or
    more, duplicate names or a sequencer without an account (`bad_input`), an account name the
    ledger cannot hold (`bad_identifier`), an unknown resource class (`unknown_pool`), a model
    of an unknown pool or without units (`bad_input`), an account named like the verification
    pool or probe commitments that are not distinct 32-byte digests (`bad_input`).
    """
    accounts = _check_accounts(config.accounts)
    if config.sequencer not in {account.name for account in accounts}:
        raise RejectedError(Rejection.BAD_INPUT, "the sequencer needs an account")
    if VERIFICATION_POOL in {account.name for account in accounts}:
        raise RejectedError(Rejection.BAD_INPUT, f"{VERIFICATION_POOL} is the protocol's account")
    probes = _check_probes(config.probe_commitments)
    opening = ledger.genesis({**{a.name: a.balance for a in accounts}, VERIFICATION_POOL: 0})
    market = Market()
    for resource_class in sorted(set(config.resource_classes)):
        if resource_class not in HARDWARE_CLASSES:
            raise RejectedError(Rejection.UNKNOWN_POOL, resource_class)
        market = hmm.create_pool(market, config.params, resource_class)
    for model in config.models:
        if model.resource_class not in market.pools or model.units <= 0:
            raise RejectedError(Rejection.BAD_INPUT, f"model {model.model_id}")
    return ChainState(
        params=config.params,
        ledger=opening,
        market=market,
        jobs=immutables.Map(),
        keys=immutables.Map({a.name: a.public_key for a in accounts}),
        nonces=immutables.Map(),
        workers=immutables.Map(),
        platforms=immutables.Map(),
        attestations=immutables.Map(),
        models=immutables.Map({m.model_id: m for m in config.models}),
        anchors=config.anchors,
        sequencer=config.sequencer,
        height=0,
        now_ms=0,
        epoch=0,
        pending=(),
        open_quotes=(),
        executing=immutables.Map(),
        voting=immutables.Map(),
        vote_credits=immutables.Map(),
        probes=probes,
        reviews=immutables.Map(),
        contracts=_check_contracts(config.params, config.contracts),
        contract_storage=immutables.Map(),
    )
