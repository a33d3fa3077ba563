"""Subtle tamperings of an honest output, sized against the §3.4 tolerances.

The lazy worker of `aci_ref.poai.workloads:lazy_output` is far from the truth; these tamperings
sit right at the edge of what the matchers allow, so they test the rules rather than the models:

- "nudge": one value moved just past the tolerance (numeric: one logit by ε_num·(1 + margin);
  sampled: one step's distribution until KL = ε_KL·(1 + margin)), with a `within` counterpart
  just inside it (ε·(1 − margin)) that an honest matcher must accept;
- "swap" (sampled only): one generated token replaced by another, with the distributions and the
  later tokens recomputed honestly along the swapped sequence, so only seed pinning can see it;
- "cached": the honest output of another input under the same seed.

Every choice (which logit, which step, which token, which other input) comes from a hash of the
seed. Distances are measured against the worker's honest output (reference variant, one thread)
and checked exactly against the thresholds; honest re-execution noise on other hardware is far
below margin·ε (the `false-positives` experiment measures it), so the verdicts carry over.
"""

from __future__ import annotations

from fractions import Fraction
from typing import Final

import numpy as np

from aci_ref.crypto import sha256
from aci_ref.encoding import canonical_bytes
from aci_ref.errors import RejectedError, Rejection
from aci_ref.params import Params, default_params
from aci_ref.poai.matching import (
    F32,
    Floats,
    OutputKind,
    decode_numeric,
    decode_sampled,
    encode_numeric,
    encode_sampled,
    kl_divergence,
    pinned_choice,
    token_draw,
)
from aci_ref.poai.workloads import CharLmWorkload, Workload, make_input

TAMPERINGS: Final = ("nudge", "swap", "cached")
"""§3.4: the subtle tamperings, in the order the experiment reports them."""

DEFAULT_MARGIN: Final = Fraction(1, 10)
"""How far past (or inside) the tolerance a nudge lands, as a share of the tolerance."""

TAMPER_DOMAIN: Final = "aci-ref/sim/tampering"
_BISECTIONS: Final = 64


def tamperings_for(kind: OutputKind) -> tuple[str, ...]:
    """§3.4: the tamperings that apply to an output kind ("swap" needs generated tokens)."""
    if kind is OutputKind.SAMPLED:
        return TAMPERINGS
    if kind is OutputKind.NUMERIC:
        return ("nudge", "cached")
    return ("cached",)


def choice(seed: int, purpose: str, modulus: int) -> int:
    """ref: tampering — a deterministic pick in [0, modulus) from the seed and a purpose tag."""
    digest = sha256(canonical_bytes({"domain": TAMPER_DOMAIN, "purpose": purpose, "seed": seed}))
    return int.from_bytes(digest, "big") % modulus


def nudged_value(value: float, target: Fraction, *, up: bool, outside: bool) -> np.float32:
    """§3.4 item 3: the float32 nearest `value ± target` on the chosen side of `target`.

    outside: the exact distance is at least `target` (rounded away from `value`); otherwise it
    is at most `target` and non-zero (rounded toward `value`). Refuses (`bad_input`) when no
    such finite float32 exists, e.g. when `target` is below half a unit in the last place.
    """
    old = np.float32(value)
    exact_old = Fraction(float(old))
    sign = 1 if up else -1
    candidate = np.float32(float(exact_old + sign * target))
    away, toward = np.float32(sign * np.inf), old
    with np.errstate(over="ignore"):
        while np.isfinite(candidate) and abs(Fraction(float(candidate)) - exact_old) < target:
            candidate = np.nextafter(candidate, away)
        while not outside and abs(Fraction(float(candidate)) - exact_old) > target:
            candidate = np.nextafter(candidate, toward)
    if not np.isfinite(candidate) or candidate == old:
        raise RejectedError(Rejection.BAD_INPUT, "no float32 at that distance")
    return np.float32(candidate)


def nudge_numeric(
    values: Floats, seed: int, epsilon: Fraction, margin: Fraction, *, within: bool
) -> Floats:
    """§3.4 item 3: `values` with one entry (picked from the seed) moved by ε·(1 ± margin).

    The entry and the direction come from the seed; the result is checked exactly: the moved
    entry is more than ε from its old value (or at most ε for `within`), the others unchanged.
    """
    _check_margin(margin)
    index = choice(seed, "nudge-index", len(values))
    target = epsilon * (1 - margin if within else 1 + margin)
    out = np.array(values, dtype=F32)
    out[index] = nudged_value(
        float(values[index]), target, up=bool(choice(seed, "nudge-sign", 2)), outside=not within
    )
    distance = abs(Fraction(float(out[index])) - Fraction(float(values[index])))
    if (distance <= epsilon) != within or distance == 0:
        raise RejectedError(Rejection.BAD_INPUT, "nudge landed on the wrong side of epsilon")
    return out


def _mix(p: Floats, alpha: float) -> Floats:
    uniform = np.full(p.shape, 1.0 / p.size)
    return ((1.0 - alpha) * p.astype(np.float64) + alpha * uniform).astype(F32)


def nudge_distribution(p: Floats, epsilon: Fraction, margin: Fraction, *, within: bool) -> Floats:
    """§3.4 item 2: a float32 q = (1 − α)·p + α·uniform with KL(p ‖ q) just past / inside ε.

    KL(p ‖ q_α) grows with α (it is convex in α and 0 at α = 0), so α is bisected on the very
    measure the matcher computes (`kl_divergence` of the float32 q). The result satisfies,
    exactly, KL ≥ ε·(1 + margin), or 0 < KL ≤ ε·(1 − margin) for `within`. Refuses
    (`bad_input`) a distribution too close to uniform to be pushed past ε.
    """
    _check_margin(margin)
    target = epsilon * (1 - margin if within else 1 + margin)

    def measure(alpha: float) -> Fraction:
        return Fraction(kl_divergence(p, _mix(p, alpha)))

    if measure(1.0) < target:
        raise RejectedError(Rejection.BAD_INPUT, "distribution too close to uniform to nudge")
    low, high = 0.0, 1.0  # measure(low) < target <= measure(high)
    for _ in range(_BISECTIONS):
        middle = (low + high) / 2
        if measure(middle) < target:
            low = middle
        else:
            high = middle
    alpha = low if within else high
    reached = measure(alpha)
    if (reached <= target) != within or reached == 0:
        raise RejectedError(Rejection.BAD_INPUT, "no distribution at that divergence")
    return _mix(p, alpha)


def _check_margin(margin: Fraction) -> None:
    if not 0 < margin < 1:
        raise RejectedError(Rejection.BAD_INPUT, f"margin must lie in (0, 1), got {margin}")


def _nudged(
    honest: bytes, kind: OutputKind, seed: int, params: Params, margin: Fraction, within: bool
) -> bytes:
    if kind is OutputKind.NUMERIC:
        values = decode_numeric(honest)
        return encode_numeric(
            nudge_numeric(values, seed, params.epsilon_num, margin, within=within)
        )
    out = decode_sampled(honest)
    first = choice(seed, "nudge-step", len(out.tokens))
    probs = np.array(out.probs, dtype=F32)
    # A step whose pinned token survives the nudge, so only the divergence test judges it (the
    # token check reads the claimed distribution, errata E93); the chosen step if none does.
    count = len(out.tokens)
    chosen: tuple[int, Floats] | None = None
    for offset in range(count):
        step = (first + offset) % count
        candidate = nudge_distribution(probs[step], params.epsilon_kl, margin, within=within)
        chosen = chosen or (step, candidate)
        if pinned_choice(candidate, token_draw(seed, step)) == out.tokens[step]:
            chosen = (step, candidate)
            break
    assert chosen is not None  # a sampled output has at least one token
    probs[chosen[0]] = chosen[1]
    return encode_sampled(out.tokens, probs)


def _swapped(workload: CharLmWorkload, data: bytes, seed: int, truth: bytes) -> bytes:
    """One token swapped; later tokens and all distributions honest along the swapped sequence."""
    honest = decode_sampled(truth)
    step = choice(seed, "swap-step", len(honest.tokens))
    original = honest.tokens[step]
    others = np.array(honest.probs[step], dtype=F32)
    others[original] = 0
    draw = choice(seed, "swap-token", 1 << 256)
    token = pinned_choice(others, draw) if others.any() else (original + 1) % others.size
    tokens = [*honest.tokens[:step], token, *honest.tokens[step + 1 :]]
    for later in range(step + 1, len(tokens)):  # the honest pinned pick after the swapped prefix
        replay = workload.reference_output(data, seed, encode_sampled(tokens, honest.probs))
        tokens[later] = decode_sampled(replay).tokens[later]
    final = decode_sampled(
        workload.reference_output(data, seed, encode_sampled(tokens, honest.probs))
    )
    return encode_sampled(tokens, final.probs)


def _cached(workload: Workload, data: bytes, seed: int) -> bytes:
    index = choice(seed, "cached-input", 1 << 31)
    while (other := make_input(workload, index)) == data:
        index += 1
    return workload.run(other, seed)


def tampered_output(
    workload: Workload,
    data: bytes,
    seed: int,
    how: str,
    *,
    margin: Fraction = DEFAULT_MARGIN,
    within: bool = False,
    params: Params | None = None,
    honest: bytes | None = None,
) -> bytes:
    """§3.4: the output a subtly dishonest worker returns for (`data`, `seed`) instead of the truth.

    `how` is one of `tamperings_for(workload.kind)`; `within` (nudge only) asks for the
    counterpart just inside the tolerance, which must be accepted. Thresholds come from `params`
    (the defaults when None). `honest` may pass the worker's honest output `workload.run(data,
    seed)` when the caller has it already, to save a run. Refuses an unknown or inapplicable
    tampering with `bad_input`.
    """
    if how not in tamperings_for(workload.kind):
        raise RejectedError(Rejection.BAD_INPUT, f"no {how!r} tampering for {workload.kind}")
    if within and how != "nudge":
        raise RejectedError(Rejection.BAD_INPUT, "only a nudge has a within counterpart")
    chosen = default_params() if params is None else params
    if how == "cached":
        return _cached(workload, data, seed)
    truth = workload.run(data, seed) if honest is None else honest
    if how == "nudge":
        return _nudged(truth, workload.kind, seed, chosen, margin, within)
    if not isinstance(workload, CharLmWorkload):
        raise RejectedError(Rejection.BAD_INPUT, "swap needs a token-generating workload")
    return _swapped(workload, data, seed, truth)
