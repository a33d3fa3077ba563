"""Theorem 4, §6.2 — Sybil resistance, restated for capacity-proportional stakes and checked.

Assumptions. A worker declaring capacity c bonds max(MinStake, c × u) tokens (Definition 1 and
E14: `worker_min_stake`, `worker_stake_per_capacity_unit` = u), exactly what
`aci_ref.economics.staking:required_stake` asks. An attacker wants a fraction f of the network's
capacity C and may spread it over any number of identities of any capacities. The paper's proof
assumes every identity has the same capacity (then f · N_workers identities are needed); the
reference's attacker is free to choose.

Claim (paper). The attack costs at least f · N_workers · MinStake, linear in f.

What Z3 proves, over all values:
  1. splitting never lowers the stake: max(M, a u) + max(M, b u) ≥ max(M, (a + b) u), so the
     cheapest attack uses one identity (merging), never many;
  2. each identity bonds at least its capacity × u, and these add up: any attack on capacity A
     bonds at least A · u ≥ f · C · u, linear in f whatever the split;
  3. with uniform identities (the paper's case), n ≥ f · N_workers identities each bonding
     s ≥ MinStake cost at least f · N_workers · MinStake;
  4. when every honest worker's capacity c_w satisfies c_w · u ≥ MinStake, (2) gives the
     paper's bound for every split: f · C · u = f · N_workers · c_w · u ≥ f · N_workers · MinStake.
What is checked at the parameters. In the reference network — N_workers = 500 workers (§8.1) of
capacity REFERENCE_WORKER_CAPACITY each — Z3 searches f in (0, 1] and splits into up to three
identities for an attack bonding less than f · N_workers · MinStake. There is one exactly when
c_w · u < MinStake: in particular when u = 0, a single identity declaring any capacity costs only
MinStake (E64).
"""

from __future__ import annotations

from collections.abc import Sequence
from fractions import Fraction
from typing import Final

from aci_ref.economics.ledger import Role
from aci_ref.economics.staking import required_stake
from aci_ref.params import Params
from proofs.result import CheckResult, Lemma, cached_lemmas, lemma_failed, refute
from proofs.smt import Expr, all_of, const, decide, if_then_else, integer, maximum, real

NAME: Final = "T4"
STATEMENT: Final = (
    "Theorem 4: controlling a fraction f of capacity costs at least f·N_workers·MinStake "
    "however the attacker splits it (capacity-proportional stake)"
)

REFERENCE_WORKERS: Final = 500
"""§8.1: the testnet's 500 GPU worker nodes, the network Theorem 4 is instantiated on."""

REFERENCE_WORKER_CAPACITY: Final = 10
"""ref: capacity units of each reference worker. Theorem 4 pictures every worker bonding exactly
MinStake for the same capacity; with Table 6's 10,000 ACI and E14's 1,000 ACI per unit that is a
10-unit worker, the size at which the two terms of the stake rule meet."""

MAX_IDENTITIES: Final = 3
"""Identities in the Z3 search; lemma 1 shows more never lower the cost."""


def sybil_stake(params: Params, capacities: Sequence[int]) -> int:
    """The stake (base units) an attacker bonds for identities of the given capacities, using
    the staking rule itself."""
    return sum(required_stake(params, Role.WORKER, capacity) for capacity in capacities)


def sybil_bound(params: Params, fraction: Fraction) -> Fraction:
    """The bound of Theorem 4: f · N_workers · MinStake for the reference network, in base units."""
    return fraction * REFERENCE_WORKERS * params.tokens(params.worker_min_stake)


def covers_bound_z3(params: Params, fraction: Fraction, capacities: Sequence[int]) -> bool:
    """Z3's verdict on "this split bonds at least f · N_workers · MinStake" (a cross-check of
    the encoding used by the check against `sybil_stake`)."""
    minimum = const(params.worker_min_stake)
    per_unit = const(params.worker_stake_per_capacity_unit)
    cost = const(0)
    for capacity in capacities:
        cost = cost + maximum(minimum, per_unit * capacity)
    bound = const(fraction) * REFERENCE_WORKERS * minimum
    return decide(cost >= bound)


def _lemmas() -> list[Lemma]:
    m, u, a, b = real("M"), real("u"), real("a"), real("b")
    big_c, c, big_a = real("C"), real("c"), real("A")
    f, n, s, workers, cap = real("f"), integer("n"), real("s"), integer("N_w"), real("c_w")
    nonneg = all_of([m >= 0, u >= 0, a >= 0, b >= 0])
    return [
        Lemma(
            "splitting never cheaper",
            "M, u, a, b >= 0 imply max(M, a u) + max(M, b u) >= max(M, (a+b) u)",
            nonneg.implies(maximum(m, a * u) + maximum(m, b * u) >= maximum(m, (a + b) * u)),
        ),
        Lemma(
            "stake covers capacity",
            "max(M, a u) >= a u",
            nonneg.implies(maximum(m, a * u) >= a * u),
        ),
        Lemma(
            "capacity bounds add up",
            "C >= u A and c >= u a imply C + c >= u (A + a)",
            ((big_c >= u * big_a) & (c >= u * a)).implies(big_c + c >= u * (big_a + a)),
        ),
        Lemma(
            "uniform identities (paper)",
            "n >= f N_w, s >= M >= 0, f >= 0, N_w >= 0 imply n s >= f N_w M",
            all_of([n >= f * workers, s >= m, m >= 0, f >= 0, workers >= 0]).implies(
                n * s >= f * workers * m
            ),
        ),
        Lemma(
            "capacity bound gives the paper's bound",
            "A >= f N_w c_w, cost >= u A, c_w u >= M >= 0, f, N_w, u >= 0 imply cost >= f N_w M",
            all_of(
                [
                    big_a >= f * workers * cap,
                    big_c >= u * big_a,
                    cap * u >= m,
                    m >= 0,
                    f >= 0,
                    workers >= 0,
                    u >= 0,
                ]
            ).implies(big_c >= f * workers * m),
        ),
    ]


lemma_outcome = cached_lemmas(_lemmas)
"""Prove Theorem 4's lemmas once per process (None when all hold)."""


def check_theorem4(params: Params) -> CheckResult:
    """Theorem 4, §6.2: Sybil cost at `params`, any split into identities.

    Lemmas as in the module docstring; instance: Z3 looks for f ∈ (0, 1] and up to three
    identities covering f · C whose stakes sum below f · N_workers · MinStake.
    """
    failure = lemma_outcome()
    if failure is not None:
        return lemma_failed(NAME, STATEMENT, True, failure)
    minimum, per_unit = params.worker_min_stake, params.worker_stake_per_capacity_unit
    capacity_total = REFERENCE_WORKERS * REFERENCE_WORKER_CAPACITY
    f = real("fraction")
    sizes = [integer(f"capacity_{i + 1}") for i in range(MAX_IDENTITIES)]
    cost: Expr = const(0)
    for size in sizes:
        cost = cost + if_then_else(size >= 1, maximum(minimum, size * per_unit), 0)
    total: Expr = const(0)
    for size in sizes:
        total = total + size
    domain = all_of([f > 0, f <= 1, sizes[0] >= 1, total >= f * capacity_total])
    domain = domain & all_of([size >= 0 for size in sizes])
    claim = cost >= f * REFERENCE_WORKERS * minimum
    prefer = f.eq(Fraction(1, 2)) & all_of([size.eq(0) for size in sizes[1:]])
    found = refute(domain, claim, [f, *sizes], prefer)
    counterexample = None
    if found.model is not None:
        fraction = found.model["fraction"]
        split = [int(found.model.get(f"capacity_{i + 1}", 0)) for i in range(MAX_IDENTITIES)]
        used = [size for size in split if size >= 1]
        counterexample = {
            "fraction": str(fraction) if fraction.denominator != 1 else int(fraction),
            "identities": len(used),
            "capacities": ",".join(str(size) for size in used),
            "network_capacity": capacity_total,
            "attack_stake_tokens": sybil_stake(params, used) // params.token_base_units,
            "paper_bound_tokens": str(sybil_bound(params, fraction) / params.token_base_units),
        }
    detail = (
        f"reference network {REFERENCE_WORKERS} × {REFERENCE_WORKER_CAPACITY} units; per-unit "
        f"stake {per_unit} × {REFERENCE_WORKER_CAPACITY} = {per_unit * REFERENCE_WORKER_CAPACITY} "
        f"vs MinStake {minimum}; lemmas proved; {found.reason}"
    )
    return CheckResult(NAME, STATEMENT, found.holds, True, counterexample, detail)
