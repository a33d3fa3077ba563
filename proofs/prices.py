"""ref: quoted price range (errata E68) — the prices the HMM can quote for one job, derived.

The incentive checks (Theorem 3, Proposition 5) weigh a worker's fee income against the slash
that awaits it, so they need to know what a job can cost. The paper never says; the reference's
market does (spec/hmm.md). The chain creates every pool at the parameters' reference price P
(`aci_ref.chain` calls `create_pool` without a price) and reserve rate r; a job of u units quoted
to a worker of quality q (bps) has size ΔΨ = u · q and pays (H2, H13)

    cost + ceil(cost · f_m / 10^4) + ceil(cost · λ_r · ΔΨ / (10^4 · Ψ)),
    cost = ceil(P · Ψ_idle² · ΔΨ / (10^4 · Ψ · (Ψ − ΔΨ))).

The bounds below use the market's own functions on constructed pools, never a copy of these
formulas; the argument for why they bound every quote is this:

- Lowest. Ψ ≤ Ψ_idle, so the exact cost exceeds the idle spot price P times ΔΨ / 10^4, and
  ΔΨ ≥ 1 · q_min (E44: a quote names a worker with quality_bps > 0 and ≥ quality_threshold):
  cost ≥ ⌊P · q_min / 10^4⌋ + 1; the fees only grow with the cost, and the risk fee is at least
  one base unit when λ_r > 0. An idle pool large enough quotes exactly that.
- Highest. After the fill Ψ − ΔΨ ≥ R ≥ r · C / 10^4, so the exact cost is below the full
  pool's spot price, the surge cap P · ((10^4 + r) / r)² (E41: 9 P at r = 50 %), times
  ΔΨ / 10^4 ≤ u_max: with S = cap · u_max, cost ≤ Ĉ = ceil(S). The exact cost is also at most
  S · R / (R + ΔΨ) while the risk fee's share is ΔΨ / Ψ ≤ ΔΨ / (R + ΔΨ), so a quote whose cost
  is k units below Ĉ has a risk fee below λ_r · (k + 1) ≤ k + 1 (λ_r ≤ 10^4 bps): each unit of
  cost a smaller pool saves buys at most one unit of risk fee, and no quote exceeds
  Ĉ + ceil(Ĉ · f_m / 10^4) + 1 (no "+ 1" when λ_r = 0). A full pool large enough quotes exactly
  that.

"Large enough" is found by doubling the worker's capacity until the quote reaches the bound;
`attained` then says whether the market quotes it in a pool its range (2^64 − 1, H1) admits.
Prices are per job, in ACI (base units / token_base_units).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from fractions import Fraction
from functools import lru_cache
from typing import Final

import immutables

from aci_ref.errors import InvariantViolation, ParamsError, RejectedError, Rejection
from aci_ref.market import hmm
from aci_ref.params import BPS, Params
from proofs.model import decimal, show

LARGEST_MODEL_UNITS: Final = 2
"""ref: the most capacity units one job takes: the largest `units` of a model the chain's
genesis registers (`aci_ref.sim.simulate.MODEL_UNITS`, "charlm-d32-l2": 2). A job takes its
model's units (`aci_ref.chain`), so no quote is for more. Kept here rather than imported,
because importing the simulation loads the workloads' torch; a test pins the two together."""

MAX_DOUBLINGS: Final = 512
"""Capacity doublings before giving up on reaching a bound (the argument above says it is
reached; 2^512 units is far past any need, so hitting this means the market's formulas changed)."""

_CLASS: Final = "price-range"
_WORKER: Final = "w"


@dataclass(frozen=True, slots=True)
class PriceEnd:
    """One end of the range: the market's price (base units) for a job of `units` units at
    quality `quality_bps`, in a pool of one worker of `capacity` units, with its parts."""

    price: int
    cost: int
    market_fee: int
    risk_fee: int
    units: int
    quality_bps: int
    capacity: int
    busy: bool
    attained: bool


@dataclass(frozen=True, slots=True)
class PriceRange:
    """ref: quoted price range (errata E68) — what one job can cost, in ACI.

    Every quote for a job of 1..`dearest.units` units lies in [low, high]; `cheapest` and
    `dearest` say where each end is quoted; `surge` is the full pool's spot price over P.
    """

    low: Fraction
    high: Fraction
    cheapest: PriceEnd
    dearest: PriceEnd
    surge: Fraction


def min_quality_bps(params: Params) -> int:
    """The lowest quality_bps of a worker a quote may name (E44): > 0 and ≥ quality_threshold."""
    scaled = params.quality_threshold * BPS
    return max(1, -(-scaled.numerator // scaled.denominator))


def _empty_pool(params: Params) -> hmm.Pool:
    try:
        return hmm.create_pool(hmm.Market(), params, _CLASS).pools[_CLASS]
    except RejectedError as error:
        raise ParamsError(
            Rejection.PARAMS_OUT_OF_RANGE, "hmm_reference_price", str(error)
        ) from error


def _pool(params: Params, quality: int, capacity: int, in_use: int) -> hmm.Pool:
    """The chain's pool holding one worker with `in_use` of its units taken, derived by the
    market's `effective_supply` and `curve_constant` without the range check of `reprice`
    (the bounds hold for every pool, admitted or not)."""
    pool = _empty_pool(params)
    supply = hmm.WorkerSupply(_WORKER, capacity, in_use, in_use, 1, quality)
    workers = immutables.Map({_WORKER: supply})
    psi, psi_idle, reserve = hmm.effective_supply(workers, pool.reserve_bps)
    shaped = replace(pool, psi=psi, psi_idle=psi_idle, reserve=reserve, workers=workers)
    kappa = hmm.curve_constant(shaped)
    return replace(shaped, theta=-(-kappa.numerator // (kappa.denominator * psi)))


def _attained(params: Params, end: PriceEnd) -> bool:
    """Whether the market, through its checked operations, quotes `end.price` in that pool."""
    in_use = end.capacity - end.units if end.busy else 0
    try:
        market = hmm.create_pool(hmm.Market(), params, _CLASS)
        market = hmm.add_worker(market, params, _CLASS, _WORKER, end.capacity, 1, end.quality_bps)
        pool = market.pools[_CLASS]
        taken = replace(pool.workers[_WORKER], in_use=in_use, queued_units=in_use)
        pool = hmm.reprice(pool, pool.workers.set(_WORKER, taken))
        quoted = hmm.quote(
            hmm.Market(pools=market.pools.set(_CLASS, pool)), params, _CLASS, end.units
        )
    except RejectedError as error:
        if error.rejection is Rejection.POOL_OUT_OF_RANGE:
            return False
        raise
    if quoted.price != end.price:
        raise InvariantViolation(f"quote {quoted.price} differs from job_price {end.price}")
    return True


def _extreme(params: Params, quality: int, units: int, busy: bool, target_cost: int) -> PriceEnd:
    """Double the worker's capacity until the job's cost is `target_cost` and its risk fee at
    most one unit: from there on the price is the bound of the module docstring."""
    capacity = units
    for _ in range(MAX_DOUBLINGS):
        pool = _pool(params, quality, capacity, capacity - units if busy else 0)
        price, cost, market_fee, risk_fee = hmm.job_price(pool, params, units * quality)
        if cost == target_cost and risk_fee <= 1:
            end = PriceEnd(price, cost, market_fee, risk_fee, units, quality, capacity, busy, False)
            return replace(end, attained=_attained(params, end))
        capacity *= 2
    raise InvariantViolation(f"no pool of up to 2^{MAX_DOUBLINGS} units reaches cost {target_cost}")


@lru_cache(maxsize=256)
def price_range(params: Params, units: int = LARGEST_MODEL_UNITS) -> PriceRange:
    """ref: quoted price range (errata E68) — the lowest and highest price, in ACI, that the
    HMM can quote for one job of 1..`units` units at `params` (see the module docstring)."""
    if units < 1:
        raise RejectedError(Rejection.BAD_CAPACITY, f"units {units} is not an integer >= 1")
    quality = min_quality_bps(params)
    idle_spot = hmm.spot_price(_pool(params, quality, 1, 0))
    cheapest_cost = idle_spot * quality / BPS
    cheapest = _extreme(params, quality, 1, False, int(cheapest_cost) + 1)
    # One full-quality unit, fully in use: R = r exactly, so this is the surge cap itself.
    full_spot = hmm.spot_price(_pool(params, BPS, 1, 1))
    dearest_cost = full_spot * units
    ceiling = -(-dearest_cost.numerator // dearest_cost.denominator)
    dearest = _extreme(params, BPS, units, True, ceiling)
    scale = params.token_base_units
    return PriceRange(
        low=Fraction(cheapest.price, scale),
        high=Fraction(dearest.price, scale),
        cheapest=cheapest,
        dearest=dearest,
        surge=full_spot / idle_spot,
    )


def price_text(prices: PriceRange) -> str:
    """The range as the checks' details print it."""
    return (
        f"HMM quotes {decimal(prices.low, 6)}–{decimal(prices.high, 6)} ACI per job "
        f"(1–{prices.dearest.units} units, surge {show(prices.surge)}× P)"
    )
