"""HIP-004 single-asset market maker, one pool per resource class (HMM.md, spec/hmm.md).

Each pool prices one hardware tier on the invariant H = Ψ·Θ = κ, solved exactly in integers:

- Ψ is the pool's effective free supply: Σ_j free_j·q_j over its workers (capacity units times
  quality in basis points, so "unit-bps"; no division, so no rounding) plus a virtual reserve
  R = ceil(r · Σ_j capacity_j·q_j / 10^4) that keeps the last real unit sellable (E41).
- κ is anchored at the pool's reference (idle) price P: κ = P·Ψ_idle²/10^4, where Ψ_idle is Ψ with
  nothing in use. Swaps (a job buying capacity, a job releasing it) keep Ψ_idle and so κ; supply
  changes re-anchor κ at P (E42), never at the momentary price.
- Θ is the demand-credit reserve in token base units, Θ = ceil(κ/Ψ): rounded up, for the pool.

Every quantity of a pool is a function of its worker table, so a job bought and then released
leaves the pool exactly as it found it, whatever happened in between (E47). The HMM moves no
tokens: the job lifecycle escrows the quoted price and splits it by Table 5; LP liquidity is the LP
stake bonded in the ledger, mirrored here as shares that weight Table 5's LP share (E46).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from fractions import Fraction
from typing import Final

import icontract
import immutables

from aci_ref.contracts import CONTRACTS_ON
from aci_ref.errors import InvariantViolation, RejectedError, Rejection
from aci_ref.params import BPS, Params

MS_PER_SECOND: Final = 1000
"""ref: HMM.md ETA (E45) — milliseconds per second, the ETA's unit conversion."""

MAX_WORD: Final = 2**64 - 1
"""ref: HMM.md pool range — the largest integer canonical CBOR encodes; pools stay within it."""


# ---- state ---------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class WorkerSupply:
    """HMM.md worker supply: one worker's declared offer in one pool.

    `capacity` is the most work units it holds at once, `in_use` the units jobs hold now,
    `queued_units` the units accepted and not yet finished (what the ETA waits for),
    `throughput` the units it finishes per second, `quality_bps` its PoAI quality in bps.
    """

    worker: str
    capacity: int
    in_use: int
    queued_units: int
    throughput: int
    quality_bps: int

    @property
    def free(self) -> int:
        """Capacity not held by any job."""
        return self.capacity - self.in_use


@dataclass(frozen=True, slots=True)
class Pool:
    """HIP-004 pool, HMM.md: one resource class's supply, curve and LP shares.

    `reference_price` is P (base units per full-quality capacity unit, the idle price) and
    `reserve_bps` is r; both are fixed when the pool is created. `psi`, `psi_idle`, `reserve` and
    `theta` are derived from `workers` by `reprice`; `shares` maps each LP to its shares.
    """

    resource_class: str
    reference_price: int
    reserve_bps: int
    psi: int
    psi_idle: int
    reserve: int
    theta: int
    workers: immutables.Map[str, WorkerSupply]
    shares: immutables.Map[str, int]
    total_shares: int


@dataclass(frozen=True, slots=True)
class Market:
    """HMM.md market: every pool, keyed by resource class (hardware tier)."""

    pools: immutables.Map[str, Pool] = field(default_factory=immutables.Map)


@dataclass(frozen=True, slots=True)
class Quote:
    """HIP-004 quote, HMM.md: Algorithm 1's (worker, price, ETA) and the pool state it used.

    `price` = `cost` + `market_fee` + `risk_fee`; `delta_psi` is the job's effective size
    (units × the worker's quality in bps); `psi` and `theta` are the pool's before the fill.
    """

    resource_class: str
    worker: str
    units: int
    price: int
    eta_ms: int
    psi: int
    theta: int
    delta_psi: int
    cost: int
    market_fee: int
    risk_fee: int


# ---- arithmetic ----------------------------------------------------------------------------------


def _ceil_div(numerator: int, denominator: int) -> int:
    return -(-numerator // denominator)


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def effective_supply(workers: Mapping[str, WorkerSupply], reserve_bps: int) -> tuple[int, int, int]:
    """HIP-004 quality weighting, HMM.md: (Ψ, Ψ_idle, R) of a worker table, in unit-bps.

    Ψ_free = Σ_j (capacity_j − in_use_j)·q_j and C = Σ_j capacity_j·q_j, summed over every worker
    (below the quality threshold too: HIP-004 weights, the worker choice excludes, E48), exact.
    R = ceil(C·r / 10^4), rounded up so that any supply at all leaves R ≥ 1 (E41).
    Ψ = Ψ_free + R and Ψ_idle = C + R.
    """
    free = sum(w.free * w.quality_bps for w in workers.values())
    total = sum(w.capacity * w.quality_bps for w in workers.values())
    reserve = _ceil_div(total * reserve_bps, BPS)
    return free + reserve, total + reserve, reserve


def curve_constant(pool: Pool) -> Fraction:
    """HIP-004 invariant, HMM.md: κ = P·Ψ_idle² / 10^4, exact (never rounded, never stored)."""
    return Fraction(pool.reference_price * pool.psi_idle * pool.psi_idle, BPS)


def invariant(pool: Pool) -> int:
    """HIP-004 invariant, HMM.md: H = Ψ·Θ, which the pool keeps at or above κ.

    Θ = ceil(κ/Ψ) gives κ ≤ H < κ + Ψ; an empty pool (Ψ = 0) has Θ = 0 and H = 0.
    """
    return pool.psi * pool.theta


def _theta(reference_price: int, psi: int, psi_idle: int) -> int:
    if psi == 0:
        return 0
    return _ceil_div(reference_price * psi_idle * psi_idle, BPS * psi)


def spot_price(pool: Pool) -> Fraction:
    """HIP-004 conjugate price, HMM.md: p = Θ/Ψ per full-quality unit, = P·(Ψ_idle/Ψ)².

    With λ = 0 HIP-004's conjugate price is Θ/Ψ; taken on the exact curve Θ = κ/Ψ and scaled from
    unit-bps to capacity units it is 10^4·κ/Ψ² = P·(Ψ_idle/Ψ)², an exact fraction. An empty pool
    quotes its reference price P.
    """
    if pool.psi == 0:
        return Fraction(pool.reference_price)
    return Fraction(pool.reference_price * pool.psi_idle * pool.psi_idle, pool.psi * pool.psi)


def swap_cost(pool: Pool, delta_psi: int) -> int:
    """HIP-004 swap cost, HMM.md: the credits that take Ψ to Ψ − ΔΨ on the curve, rounded up.

    cost = ceil(κ/(Ψ − ΔΨ) − κ/Ψ) = ceil(P·Ψ_idle²·ΔΨ / (10^4·Ψ·(Ψ − ΔΨ))), the exact area under
    the price curve, rounded up (the buyer pays the fraction). Requires 0 < ΔΨ < Ψ.
    """
    if not 0 < delta_psi < pool.psi:
        raise RejectedError(
            Rejection.INSUFFICIENT_LIQUIDITY, f"ΔΨ {delta_psi} outside (0, {pool.psi})"
        )
    numerator = pool.reference_price * pool.psi_idle * pool.psi_idle * delta_psi
    return _ceil_div(numerator, BPS * pool.psi * (pool.psi - delta_psi))


def job_price(pool: Pool, params: Params, delta_psi: int) -> tuple[int, int, int, int]:
    """HIP-004 fees, HMM.md: (price, cost, market fee, risk fee) of a job of effective size ΔΨ.

    cost = `swap_cost`; market fee = ceil(cost·f_m / 10^4); risk fee f_r = λ_r·ΔΨ/Ψ of the cost,
    = ceil(cost·λ_r·ΔΨ / (10^4·Ψ)); price = cost + both fees. Fees round up (against the buyer).
    The fees are surcharges inside the job's payment, which Table 5 splits whole (E43).
    """
    cost = swap_cost(pool, delta_psi)
    market_fee = _ceil_div(cost * params.hmm_market_fee_bps, BPS)
    risk_fee = _ceil_div(cost * params.hmm_risk_fee_bps * delta_psi, BPS * pool.psi)
    return cost + market_fee + risk_fee, cost, market_fee, risk_fee


# ---- quoting -------------------------------------------------------------------------------------


def eta_ms(worker: WorkerSupply, units: int) -> int:
    """HMM.md ETA (E45): ceil((queued_units + units) · 1000 / throughput) milliseconds.

    The time until this job's last unit is done if the worker finishes its queue first, at its
    declared throughput (units per second); rounded up.
    """
    return _ceil_div((worker.queued_units + units) * MS_PER_SECOND, worker.throughput)


def _meets_quality(worker: WorkerSupply, params: Params) -> bool:
    return worker.quality_bps > 0 and Fraction(worker.quality_bps, BPS) >= params.quality_threshold


def choose_worker(pool: Pool, params: Params, units: int) -> WorkerSupply:
    """HMM.md worker choice (E44): the worker a quote for `units` names.

    Eligible: quality_bps > 0, quality ≥ params.quality_threshold, free capacity ≥ units. Among
    them the smallest ETA, then the higher quality, then the smaller id (code-point order). Refuses
    NO_WORKER when no worker meets the quality bar, NO_CAPACITY when none of those has the room.
    """
    good = [w for w in pool.workers.values() if _meets_quality(w, params)]
    if not good:
        raise RejectedError(
            Rejection.NO_WORKER, f"no worker of {pool.resource_class!r} meets quality"
        )
    room = [w for w in good if w.free >= units]
    if not room:
        raise RejectedError(
            Rejection.NO_CAPACITY, f"no worker of {pool.resource_class!r} has {units} free"
        )
    return min(room, key=lambda w: (eta_ms(w, units), -w.quality_bps, w.worker))


def _pool(market: Market, resource_class: object) -> Pool:
    if not isinstance(resource_class, str):
        raise RejectedError(Rejection.BAD_IDENTIFIER, f"resource class {resource_class!r}")
    pool = market.pools.get(resource_class)
    if pool is None:
        raise RejectedError(Rejection.UNKNOWN_POOL, resource_class)
    return pool


def _worker(pool: Pool, worker: object) -> WorkerSupply:
    if not isinstance(worker, str):
        raise RejectedError(Rejection.BAD_IDENTIFIER, f"worker {worker!r}")
    supply = pool.workers.get(worker)
    if supply is None:
        raise RejectedError(Rejection.UNKNOWN_WORKER, f"{worker!r} in {pool.resource_class!r}")
    return supply


def _units(value: object, what: str = "units", low: int = 1) -> int:
    if not _is_int(value) or value < low:  # type: ignore[operator]
        raise RejectedError(Rejection.BAD_CAPACITY, f"{what} {value!r} is not an integer >= {low}")
    return value  # type: ignore[return-value]


def quote(market: Market, params: Params, resource_class: str, units: int) -> Quote:
    """HIP-004 quote, HMM.md: Algorithm 1 line 3's (worker, price, ETA) for `units` of work.

    The worker is `choose_worker`'s, ΔΨ = units·q_worker, the price `job_price`'s, the ETA
    `eta_ms`'s. Refuses, in order: BAD_IDENTIFIER, UNKNOWN_POOL, BAD_CAPACITY (units not a positive
    integer), NO_WORKER, NO_CAPACITY, POOL_OUT_OF_RANGE (price beyond 2^64 − 1).
    """
    pool = _pool(market, resource_class)
    units = _units(units)
    worker = choose_worker(pool, params, units)
    delta_psi = units * worker.quality_bps
    price, cost, market_fee, risk_fee = job_price(pool, params, delta_psi)
    if price > MAX_WORD:
        raise RejectedError(Rejection.POOL_OUT_OF_RANGE, f"price {price} beyond 2^64 - 1")
    return Quote(
        resource_class=pool.resource_class,
        worker=worker.worker,
        units=units,
        price=price,
        eta_ms=eta_ms(worker, units),
        psi=pool.psi,
        theta=pool.theta,
        delta_psi=delta_psi,
        cost=cost,
        market_fee=market_fee,
        risk_fee=risk_fee,
    )


# ---- supply --------------------------------------------------------------------------------------


def reprice(pool: Pool, workers: immutables.Map[str, WorkerSupply]) -> Pool:
    """HMM.md supply entry (E42): the pool for a new worker table, re-anchored at its price P.

    Ψ, Ψ_idle and R come from `effective_supply`, Θ = ceil(P·Ψ_idle² / (10^4·Ψ)) (0 when Ψ = 0).
    A swap leaves Ψ_idle, so κ, unchanged; a supply change moves κ to P·Ψ_idle'²/10^4, so an idle
    pool keeps the price P and a busy one prices the new utilisation. Refuses POOL_OUT_OF_RANGE
    when Ψ_idle or Θ would exceed 2^64 − 1.
    """
    psi, psi_idle, reserve = effective_supply(workers, pool.reserve_bps)
    theta = _theta(pool.reference_price, psi, psi_idle)
    if psi_idle > MAX_WORD or theta > MAX_WORD:
        raise RejectedError(Rejection.POOL_OUT_OF_RANGE, f"{pool.resource_class!r} beyond 2^64 - 1")
    return replace(pool, psi=psi, psi_idle=psi_idle, reserve=reserve, theta=theta, workers=workers)


def _with_pool(market: Market, pool: Pool) -> Market:
    return Market(pools=market.pools.set(pool.resource_class, pool))


def reference_price(params: Params) -> int:
    """HMM.md pool creation (E41): P in base units, ceil(hmm_reference_price · token_base_units)."""
    return _ceil_div(
        params.hmm_reference_price.numerator * params.token_base_units,
        params.hmm_reference_price.denominator,
    )


def create_pool(
    market: Market, params: Params, resource_class: str, price: int | None = None
) -> Market:
    """HMM.md pool creation (E41): an empty pool for one resource class.

    P is `price` (base units per full-quality capacity unit) or `reference_price(params)`; r is
    params.hmm_reserve_bps. Both stay with the pool. The pool starts with no worker (Ψ = Θ = 0)
    and no shares. Refuses BAD_IDENTIFIER, POOL_EXISTS, POOL_OUT_OF_RANGE (price not in 1..2^64−1).
    """
    if not isinstance(resource_class, str) or not resource_class:
        raise RejectedError(Rejection.BAD_IDENTIFIER, f"resource class {resource_class!r}")
    if resource_class in market.pools:
        raise RejectedError(Rejection.POOL_EXISTS, resource_class)
    p = reference_price(params) if price is None else price
    if not _is_int(p) or not 1 <= p <= MAX_WORD:
        raise RejectedError(Rejection.POOL_OUT_OF_RANGE, f"reference price {p!r}")
    pool = Pool(
        resource_class=resource_class,
        reference_price=p,
        reserve_bps=params.hmm_reserve_bps,
        psi=0,
        psi_idle=0,
        reserve=0,
        theta=0,
        workers=immutables.Map(),
        shares=immutables.Map(),
        total_shares=0,
    )
    return _with_pool(market, pool)


def _quality(value: object) -> int:
    if not _is_int(value) or not 0 <= value <= BPS:  # type: ignore[operator]
        raise RejectedError(
            Rejection.BAD_QUALITY, f"quality {value!r} is not an integer in 0..{BPS}"
        )
    return value  # type: ignore[return-value]


def add_worker(
    market: Market,
    params: Params,
    resource_class: str,
    worker: str,
    capacity: int,
    throughput: int,
    quality_bps: int,
) -> Market:
    """HMM.md supply entry (E42): a worker joins a pool with free capacity, then `reprice`.

    Refuses, in order: BAD_IDENTIFIER, UNKNOWN_POOL, WORKER_EXISTS, BAD_CAPACITY (capacity or
    throughput not a positive integer), BAD_QUALITY (not an integer in 0..10000), POOL_OUT_OF_RANGE.
    """
    pool = _pool(market, resource_class)
    if not isinstance(worker, str) or not worker:
        raise RejectedError(Rejection.BAD_IDENTIFIER, f"worker {worker!r}")
    if worker in pool.workers:
        raise RejectedError(Rejection.WORKER_EXISTS, f"{worker!r} in {resource_class!r}")
    supply = WorkerSupply(
        worker=worker,
        capacity=_units(capacity, "capacity"),
        in_use=0,
        queued_units=0,
        throughput=_units(throughput, "throughput"),
        quality_bps=_quality(quality_bps),
    )
    return _with_pool(market, reprice(pool, pool.workers.set(worker, supply)))


def remove_worker(market: Market, resource_class: str, worker: str) -> Market:
    """HMM.md supply entry (E42): a worker with nothing in use leaves, then `reprice`.

    Refuses, in order: BAD_IDENTIFIER, UNKNOWN_POOL, UNKNOWN_WORKER, WORKER_BUSY (in_use > 0).
    """
    pool = _pool(market, resource_class)
    supply = _worker(pool, worker)
    if supply.in_use > 0:
        raise RejectedError(Rejection.WORKER_BUSY, f"{worker!r} holds {supply.in_use} units")
    return _with_pool(market, reprice(pool, pool.workers.delete(worker)))


def set_quality(market: Market, resource_class: str, worker: str, quality_bps: int) -> Market:
    """HMM.md supply entry (E42): a worker's PoAI quality changes, then `reprice`.

    Refuses, in order: BAD_IDENTIFIER, UNKNOWN_POOL, UNKNOWN_WORKER, BAD_QUALITY, POOL_OUT_OF_RANGE.
    """
    pool = _pool(market, resource_class)
    supply = _worker(pool, worker)
    changed = replace(supply, quality_bps=_quality(quality_bps))
    return _with_pool(market, reprice(pool, pool.workers.set(worker, changed)))


def set_capacity(market: Market, resource_class: str, worker: str, capacity: int) -> Market:
    """HMM.md supply entry (E42): a worker declares a new capacity, then `reprice`.

    Refuses, in order: BAD_IDENTIFIER, UNKNOWN_POOL, UNKNOWN_WORKER, BAD_CAPACITY (not an integer
    ≥ max(1, in_use)), POOL_OUT_OF_RANGE.
    """
    pool = _pool(market, resource_class)
    supply = _worker(pool, worker)
    changed = replace(supply, capacity=_units(capacity, "capacity", max(1, supply.in_use)))
    return _with_pool(market, reprice(pool, pool.workers.set(worker, changed)))


# ---- swaps ---------------------------------------------------------------------------------------


def _kappa_kept(market: Market, result: Market, resource_class: str) -> bool:
    before, after = market.pools[resource_class], result.pools[resource_class]
    return after.psi_idle == before.psi_idle and invariant(after) >= curve_constant(after)


@icontract.ensure(
    lambda market, resource_class, result: _kappa_kept(market, result[0], resource_class),
    "a swap keeps κ and H ≥ κ",
    enabled=CONTRACTS_ON,
    error=InvariantViolation,
)
@icontract.ensure(
    lambda max_price, result: result[1].price <= max_price,
    enabled=CONTRACTS_ON,
    error=InvariantViolation,
)
def buy(
    market: Market, params: Params, resource_class: str, units: int, max_price: int
) -> tuple[Market, Quote]:
    """HIP-004 swap, HMM.md: HMM_SWAP — fill a job of `units` at the current quote.

    Quotes as `quote` does; refuses SLIPPAGE_EXCEEDED when price > max_price (HIP-004's slippage
    bound, on price since the job's size is fixed). Otherwise the chosen worker's in_use and
    queued_units grow by `units` and the pool is repriced: Ψ falls by ΔΨ, κ is kept, Θ rises.
    Returns the new market and the quote that was filled. Refuses, in order: `quote`'s refusals,
    BAD_INPUT (max_price not an integer), SLIPPAGE_EXCEEDED.
    """
    filled = quote(market, params, resource_class, units)
    if not _is_int(max_price):
        raise RejectedError(Rejection.BAD_INPUT, f"max_price {max_price!r} is not an integer")
    if filled.price > max_price:
        raise RejectedError(Rejection.SLIPPAGE_EXCEEDED, f"price {filled.price} > {max_price}")
    pool = market.pools[resource_class]
    supply = pool.workers[filled.worker]
    taken = replace(supply, in_use=supply.in_use + units, queued_units=supply.queued_units + units)
    return _with_pool(market, reprice(pool, pool.workers.set(filled.worker, taken))), filled


@icontract.ensure(
    lambda market, resource_class, result: _kappa_kept(market, result, resource_class),
    "a swap keeps κ and H ≥ κ",
    enabled=CONTRACTS_ON,
    error=InvariantViolation,
)
def release(market: Market, params: Params, resource_class: str, worker: str, units: int) -> Market:
    """HMM.md release (E47): a job ended (settled, refunded or timed out); its capacity returns.

    The worker's in_use falls by `units` and queued_units by min(units, queued_units); the pool is
    repriced on the same κ, so Ψ rises and the price falls back along the curve. No credits are
    paid out: the job's payment went to escrow. `params` is unused (kept for a uniform signature).
    Refuses, in order: BAD_IDENTIFIER, UNKNOWN_POOL, UNKNOWN_WORKER, BAD_CAPACITY (units not an
    integer in 1..in_use).
    """
    del params
    pool = _pool(market, resource_class)
    supply = _worker(pool, worker)
    units = _units(units)
    if units > supply.in_use:
        raise RejectedError(
            Rejection.BAD_CAPACITY, f"{worker!r} holds {supply.in_use} < {units} units"
        )
    freed = replace(
        supply,
        in_use=supply.in_use - units,
        queued_units=supply.queued_units - min(units, supply.queued_units),
    )
    return _with_pool(market, reprice(pool, pool.workers.set(worker, freed)))


# ---- liquidity providers -------------------------------------------------------------------------


def _shares_whole(result: Market, resource_class: str) -> bool:
    pool = result.pools[resource_class]
    return sum(pool.shares.values()) == pool.total_shares


def _amount(value: object, what: str) -> int:
    if not _is_int(value) or value <= 0:  # type: ignore[operator]
        raise RejectedError(
            Rejection.NON_POSITIVE_AMOUNT, f"{what} {value!r} is not a positive integer"
        )
    return value  # type: ignore[return-value]


@icontract.ensure(
    lambda resource_class, result: _shares_whole(result[0], resource_class),
    enabled=CONTRACTS_ON,
    error=InvariantViolation,
)
def add_liquidity(
    market: Market, params: Params, resource_class: str, provider: str, amount: int
) -> tuple[Market, int]:
    """HIP-004 LP shares, HMM.md: an LP's bonded stake enters a pool; returns the shares minted.

    The chain first bonds `amount` base units as the provider's LP stake in the ledger, then
    calls this with the same amount. Shares are minted one per base unit (E46): the stake never
    trades, so pro rata to the pool's bonded liquidity is one for one, and shares always equal
    the stake they stand for. Ψ and Θ do not change: LP stake never moves the price. `params` is
    unused. Refuses, in order: BAD_IDENTIFIER, UNKNOWN_POOL, NON_POSITIVE_AMOUNT, POOL_OUT_OF_RANGE
    (total shares beyond 2^64 − 1).
    """
    del params
    pool = _pool(market, resource_class)
    if not isinstance(provider, str) or not provider:
        raise RejectedError(Rejection.BAD_IDENTIFIER, f"provider {provider!r}")
    minted = _amount(amount, "amount")
    if pool.total_shares + minted > MAX_WORD:
        raise RejectedError(
            Rejection.POOL_OUT_OF_RANGE, f"total shares beyond 2^64 - 1 in {resource_class!r}"
        )
    shares = pool.shares.set(provider, pool.shares.get(provider, 0) + minted)
    grown = replace(pool, shares=shares, total_shares=pool.total_shares + minted)
    return _with_pool(market, grown), minted


@icontract.ensure(
    lambda resource_class, result: _shares_whole(result[0], resource_class),
    enabled=CONTRACTS_ON,
    error=InvariantViolation,
)
def remove_liquidity(
    market: Market, params: Params, resource_class: str, provider: str, shares: int
) -> tuple[Market, int]:
    """HMM.md LP withdrawal (E46): burn an LP's shares; returns the stake owed back (base units).

    Owed = shares (one base unit per share), which the chain then unbonds in the ledger. A
    provider left with no shares is dropped from the pool. `params` is unused. Refuses, in order:
    BAD_IDENTIFIER, UNKNOWN_POOL, NON_POSITIVE_AMOUNT, INSUFFICIENT_SHARES.
    """
    del params
    pool = _pool(market, resource_class)
    if not isinstance(provider, str):
        raise RejectedError(Rejection.BAD_IDENTIFIER, f"provider {provider!r}")
    burned = _amount(shares, "shares")
    held = pool.shares.get(provider, 0)
    if burned > held:
        raise RejectedError(Rejection.INSUFFICIENT_SHARES, f"{provider!r} holds {held} < {burned}")
    left = (
        pool.shares.set(provider, held - burned) if held > burned else pool.shares.delete(provider)
    )
    shrunk = replace(pool, shares=left, total_shares=pool.total_shares - burned)
    return _with_pool(market, shrunk), burned


def lp_weights(market: Market, resource_class: str) -> Mapping[str, int]:
    """HMM.md LP fee weights (E46): each LP's shares in a pool, the weights of Table 5's LP share.

    The ledger divides the LP share of a job's fee in this pool pro rata to these weights; an
    empty mapping means the pool has no LP. Refuses BAD_IDENTIFIER, UNKNOWN_POOL.
    """
    return _pool(market, resource_class).shares
