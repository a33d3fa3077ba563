"""Tokens and stake: Transfer, Bond, Unbond, Withdraw, DepositLiquidity, WithdrawLiquidity.

Each `process_<event>` takes the state, the typed event body and its sender (already admitted:
well formed, signed, in nonce order) and returns the next state and its effects.
"""

from __future__ import annotations

from dataclasses import replace

from aci_ref.chain.effects import Effects
from aci_ref.chain.state import ChainState, PlatformRecord
from aci_ref.chain.steps import sync_market
from aci_ref.economics import ledger, staking
from aci_ref.economics.ledger import Role
from aci_ref.errors import RejectedError, Rejection
from aci_ref.events import (
    Bond,
    DepositLiquidity,
    Transfer,
    Unbond,
    Withdraw,
    WithdrawLiquidity,
)
from aci_ref.market import hmm


def process_transfer(state: ChainState, body: Transfer, sender: str) -> tuple[ChainState, Effects]:
    """ref: transfer — move tokens between two accounts."""
    return replace(state, ledger=ledger.transfer(state.ledger, sender, body.to, body.amount)), ()


def process_bond(state: ChainState, body: Bond, sender: str) -> tuple[ChainState, Effects]:
    """ref: bonding (errata E70) — stake a validator or verifier role, or top up a worker's.

    A worker registers with `RegisterWorker`; once registered it may add stake here, which puts
    a worker slashed under its required stake back into the market. LP stake is deposited into
    a pool (`DepositLiquidity`).
    """
    if body.role is Role.LP:
        raise RejectedError(Rejection.ROLE_NOT_STAKEABLE, "LP stake enters by DepositLiquidity")
    if body.role is not Role.WORKER:
        new = staking.bond(state.ledger, state.params, sender, body.role, body.amount)
        return replace(state, ledger=new), ()
    info = state.workers.get(sender)
    if info is None or info.departed:
        raise RejectedError(Rejection.UNKNOWN_WORKER, f"{sender} registers with RegisterWorker")
    if info.banned:
        raise RejectedError(Rejection.WORKER_BANNED, sender)
    new = staking.bond(state.ledger, state.params, sender, Role.WORKER, body.amount)
    return sync_market(replace(state, ledger=new), sender), ()


def process_unbond(state: ChainState, body: Unbond, sender: str) -> tuple[ChainState, Effects]:
    """ref: unbonding — stake starts leaving a role; a worker unbonding all of it leaves its pool.

    A departing worker keeps its record (quality, ban), and its platform's record keeps the
    lowest score it left with, so neither leaving nor coming back as another account resets
    anything (errata E73); its platform is freed, so it may rejoin on the same machine without
    being a Sybil. A worker still holding jobs cannot leave (`worker_busy`).
    """
    if body.role is Role.LP:
        raise RejectedError(Rejection.ROLE_NOT_STAKEABLE, "LP stake leaves by WithdrawLiquidity")
    new = staking.unbond(state.ledger, state.params, sender, body.role, body.amount, state.now_ms)
    info = state.workers.get(sender)
    state = replace(state, ledger=new)
    if body.role is not Role.WORKER or info is None or info.departed:
        return state, ()
    if new.stakes[ledger.stake_key(sender, Role.WORKER)].backing > 0:
        return sync_market(state, sender), ()
    market = hmm.remove_worker(state.market, info.resource_class, sender)
    platform = info.platform_key.hex()
    record = state.platforms.get(platform, PlatformRecord())
    left = replace(
        record,
        workers=tuple(w for w in record.workers if w != sender),
        quality_bps=min(record.quality_bps, info.quality_bps),
    )
    return replace(
        state,
        market=market,
        workers=state.workers.set(sender, replace(info, departed=True)),
        platforms=state.platforms.set(platform, left),
    ), ()


def process_withdraw(state: ChainState, body: Withdraw, sender: str) -> tuple[ChainState, Effects]:
    """ref: unbonding — matured unbonding stake of a role returns to the balance."""
    new = staking.withdraw(state.ledger, sender, body.role, state.now_ms)
    return replace(state, ledger=new), ()


def process_deposit_liquidity(
    state: ChainState, body: DepositLiquidity, sender: str
) -> tuple[ChainState, Effects]:
    """ref: LP shares — bond LP stake into a pool's liquidity and receive shares."""
    new_ledger = staking.bond(state.ledger, state.params, sender, Role.LP, body.amount)
    market, _ = hmm.add_liquidity(
        state.market, state.params, body.resource_class, sender, body.amount
    )
    return replace(state, ledger=new_ledger, market=market), ()


def process_withdraw_liquidity(
    state: ChainState, body: WithdrawLiquidity, sender: str
) -> tuple[ChainState, Effects]:
    """ref: LP shares — burn pool shares; the liquidity they stand for starts unbonding."""
    market, amount = hmm.remove_liquidity(
        state.market, state.params, body.resource_class, sender, body.shares
    )
    new_ledger = staking.unbond(state.ledger, state.params, sender, Role.LP, amount, state.now_ms)
    return replace(state, ledger=new_ledger, market=market), ()
