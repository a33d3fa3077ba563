"""§3.4 Handling non-determinism: how a re-executed output is compared with the worker's.

Three rules, one per kind of output:

- exact: the bytes (equivalently their SHA-256) must be equal (Algorithm 2 line 9 as written);
- numeric (logits, embeddings): element-wise max |claimed − reference| ≤ ε_num (§3.4 item 3);
- sampled (generated tokens): under the seed pinned from the job (§3.4 item 1) the claimed tokens
  must be exactly the tokens the reference model picks along the claimed prefix, and the claimed
  next-token distributions must be within ε_KL of the reference's (§3.4 item 2).

Measures are computed from the decoded float32 values (exactly, in rationals, for the numeric rule;
in float64 for the KL rule) and then compared with the exact `Fraction` thresholds of `Params`.
This module also fixes the byte formats of numeric and sampled outputs and the pinned sampler, so
a worker and a verifier written in any language produce the same bytes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from fractions import Fraction
from typing import Final

import numpy as np
import numpy.typing as npt

from aci_ref.crypto import DRAW_SPACE, sha256
from aci_ref.encoding import canonical_bytes, decode_canonical
from aci_ref.errors import RejectedError, Rejection
from aci_ref.params import Params

SEED_DOMAIN: Final = "aci-ref/poai/seed"
TOKEN_DRAW_DOMAIN: Final = "aci-ref/poai/token-draw"
F32: Final = np.dtype("<f4")

Floats = npt.NDArray[np.float32]


class OutputKind(StrEnum):
    """§3.4: which comparison rule a workload's outputs are held to."""

    EXACT = "exact"
    NUMERIC = "numeric"
    SAMPLED = "sampled"


@dataclass(frozen=True, slots=True)
class MatchResult:
    """Algorithm 2 line 9, §3.4: the outcome of comparing a claimed output with a reference.

    `measure` is the quantity the rule compared with its threshold (max |Δ| for numeric outputs,
    the largest per-step KL for sampled ones, 0 or 1 for exact ones), or None when the outputs are
    not comparable (malformed, mismatched shapes, non-finite values, infinite divergence).
    `rule` names the rule that decided: "hash", "max_abs", "kl", "tokens" or "malformed".
    """

    match: bool
    measure: Fraction | None
    rule: str


# ---- seed pinning (§3.4 item 1) ----------------------------------------------------------------


def seed_from_job(job_id: bytes) -> int:
    """§3.4 item 1: the seed a job's run is pinned to, the first 8 bytes of a domain-tagged hash.

    seed = big-endian integer of SHA-256(canonical {"domain", "job_id"})[0:8], so it fits the
    64-bit seeds of common RNG APIs; worker and verifier derive it from the job alone.
    """
    return int.from_bytes(sha256(canonical_bytes({"domain": SEED_DOMAIN, "job_id": job_id}))[:8])


def token_draw(seed: int, step: int) -> int:
    """§3.4 item 1: the pinned uniform of generation step `step`, an integer in [0, 2^256).

    u = SHA-256(canonical {"domain", "seed", "step"}) read big-endian, i.e. u / 2^256 is uniform
    on [0, 1). Derived from the seed with a hash, not an RNG stream, so any implementation
    reproduces it.
    """
    data = canonical_bytes({"domain": TOKEN_DRAW_DOMAIN, "seed": seed, "step": step})
    return int.from_bytes(sha256(data), "big")


def float32_units(values: Floats) -> list[int]:
    """§3.4 item 1: non-negative finite float32 values as exact integers, in units of 2^-149.

    Every finite float32 is an integer multiple of 2^-149 (the smallest subnormal), so this is
    exact. Refuses negative, infinite and NaN values with `bad_input`.
    """
    bits = np.ascontiguousarray(values, dtype=F32).view("<u4")
    units: list[int] = []
    for word in bits.tolist():
        sign, exponent, fraction = word >> 31, (word >> 23) & 0xFF, word & 0x7FFFFF
        if sign and (exponent or fraction):
            raise RejectedError(Rejection.BAD_INPUT, "negative probability")
        if exponent == 0xFF:
            raise RejectedError(Rejection.BAD_INPUT, "non-finite probability")
        units.append(fraction if exponent == 0 else (fraction | 0x800000) << (exponent - 1))
    return units


def pinned_choice(probs: Floats, u: int) -> int:
    """§3.4 item 1: inverse-CDF sampling, exact: the first i with u·W < (w_0 + … + w_i)·2^256.

    `probs` is one step's float32 distribution (weights w_i, need not sum to exactly 1: W is their
    sum) and `u` a pinned draw in [0, 2^256). All arithmetic is on integers, so the choice does
    not depend on summation order or float rounding. Refuses an all-zero distribution.
    """
    weights = float32_units(probs)
    total = sum(weights)
    if total == 0:
        raise RejectedError(Rejection.BAD_INPUT, "distribution with no mass")
    target = u * total
    running = 0
    for index, weight in enumerate(weights):
        running += weight
        if target < running * DRAW_SPACE:
            return index
    raise RejectedError(Rejection.BAD_INPUT, "draw outside [0, 2^256)")


# ---- output formats ----------------------------------------------------------------------------


def encode_numeric(values: Floats) -> bytes:
    """§3.4 item 3: a numeric output's bytes — its float32 values, little-endian, in order."""
    return np.ascontiguousarray(values, dtype=F32).tobytes()


def decode_numeric(data: bytes) -> Floats:
    """§3.4 item 3: the float32 values of a numeric output; refuses a ragged length."""
    if len(data) % 4:
        raise RejectedError(Rejection.BAD_INPUT, "numeric output is not whole float32 values")
    return np.frombuffer(data, dtype=F32).astype(np.float32)


@dataclass(frozen=True, slots=True)
class SampledOutput:
    """§3.4 items 1–2: generated token ids and the next-token distribution of every step."""

    tokens: tuple[int, ...]
    probs: Floats  # shape (len(tokens), vocab)


def encode_sampled(tokens: Sequence[int], probs: Floats) -> bytes:
    """§3.4 items 1–2: canonical {"probs": float32 LE bytes (steps × vocab), "tokens", "vocab"}."""
    table = np.ascontiguousarray(probs, dtype=F32)
    if table.ndim != 2 or table.shape[0] != len(tokens):
        raise RejectedError(Rejection.BAD_INPUT, "one distribution per generated token")
    return canonical_bytes(
        {"probs": table.tobytes(), "tokens": list(tokens), "vocab": int(table.shape[1])}
    )


def decode_sampled(data: bytes) -> SampledOutput:
    """§3.4 items 1–2: decode and check a sampled output; refuses malformed ones (`bad_input`)."""
    value = decode_canonical(data)
    if not isinstance(value, dict) or set(value) != {"probs", "tokens", "vocab"}:
        raise RejectedError(Rejection.BAD_INPUT, "sampled output needs probs, tokens, vocab")
    probs, tokens, vocab = value["probs"], value["tokens"], value["vocab"]
    if not (isinstance(vocab, int) and vocab > 0 and isinstance(tokens, list)):
        raise RejectedError(Rejection.BAD_INPUT, "bad vocab or tokens")
    if not all(isinstance(t, int) and 0 <= t < vocab for t in tokens):
        raise RejectedError(Rejection.BAD_INPUT, "token outside the vocabulary")
    if not isinstance(probs, bytes) or len(probs) != 4 * vocab * len(tokens):
        raise RejectedError(Rejection.BAD_INPUT, "probs do not cover steps × vocab")
    table = np.frombuffer(probs, dtype=F32).astype(np.float32).reshape(len(tokens), vocab)
    return SampledOutput(tuple(tokens), table)


# ---- the three rules ---------------------------------------------------------------------------


def exact_match(claimed: bytes, reference: bytes) -> MatchResult:
    """Algorithm 2 line 9: h'_output = h_output, i.e. the bytes are equal (measure 0 or 1)."""
    same = sha256(claimed) == sha256(reference)
    return MatchResult(same, Fraction(0 if same else 1), "hash")


def numeric_match(claimed: bytes, reference: bytes, epsilon_num: Fraction) -> MatchResult:
    """§3.4 item 3: approximate matching, max_i |claimed_i − reference_i| ≤ ε_num, exactly.

    Both outputs are decoded as float32 vectors; every value is converted to its exact rational
    (a float32 is a dyadic rational), so the measure is exact and the comparison with ε_num has no
    rounding. Different lengths, an empty vector or a non-finite value make the outputs
    incomparable: no match, measure None.
    """
    try:
        mine, theirs = decode_numeric(claimed), decode_numeric(reference)
    except RejectedError:
        return MatchResult(False, None, "malformed")
    if mine.shape != theirs.shape or mine.size == 0:
        return MatchResult(False, None, "malformed")
    if not (np.isfinite(mine).all() and np.isfinite(theirs).all()):
        return MatchResult(False, None, "malformed")
    worst = max(
        abs(Fraction(a) - Fraction(b)) for a, b in zip(mine.tolist(), theirs.tolist(), strict=True)
    )
    return MatchResult(worst <= epsilon_num, worst, "max_abs")


def kl_divergence(reference: Floats, worker: Floats) -> float:
    """§3.4 item 2: KL(reference ‖ worker) in nats, of one step's two distributions.

    Both are normalised to sum 1 in float64 first (so a worker cannot shrink the divergence by
    inflating its weights); terms with reference mass 0 count 0; a worker mass of 0 where the
    reference has mass gives infinity. Rounding can leave a tiny negative sum: it is read as 0.
    """
    p = reference.astype(np.float64)
    q = worker.astype(np.float64)
    p, q = p / p.sum(), q / q.sum()
    support = p > 0
    if np.any(q[support] == 0):
        return float("inf")
    terms = p[support] * (np.log(p[support]) - np.log(q[support]))
    return max(0.0, float(terms.sum()))


def distribution_match(claimed: bytes, reference: bytes, epsilon_kl: Fraction) -> MatchResult:
    """§3.4 item 2: distribution matching — max over steps of KL(reference ‖ worker) ≤ ε_KL.

    `reference` is the verifier's re-execution along the claimed tokens (teacher forcing) with the
    job's pinned seed; its tokens are the pinned draws from the worker's claimed distributions
    (errata E93). The claimed tokens must equal them at every step (§3.4 item 1: seed pinning
    leaves the worker no choice of token given its distribution); then the largest per-step
    KL(reference ‖ worker) must be at most ε_KL, so the distribution itself was not chosen. The
    direction weighs the worker's errors by what the true model expects: a worker that drops or
    starves tokens the model considers likely is penalised without bound, which the reverse
    direction would not do. Malformed or shape-mismatched outputs do not match (measure None).
    """
    try:
        mine, theirs = decode_sampled(claimed), decode_sampled(reference)
    except RejectedError:
        return MatchResult(False, None, "malformed")
    if mine.probs.shape != theirs.probs.shape:
        return MatchResult(False, None, "malformed")
    rows_ok = all(
        np.isfinite(t).all() and (t >= 0).all() and t.sum() > 0 for t in mine.probs
    ) and all(np.isfinite(t).all() and (t >= 0).all() and t.sum() > 0 for t in theirs.probs)
    if not rows_ok or not mine.tokens:
        return MatchResult(False, None, "malformed")
    worst = max(kl_divergence(ref, own) for ref, own in zip(theirs.probs, mine.probs, strict=True))
    measure = Fraction(worst) if np.isfinite(worst) else None
    if mine.tokens != theirs.tokens:
        return MatchResult(False, measure, "tokens")
    return MatchResult(measure is not None and measure <= epsilon_kl, measure, "kl")


def compare_outputs(
    kind: OutputKind, claimed: bytes, reference: bytes, params: Params
) -> MatchResult:
    """Algorithm 2 line 9, §3.4: compare a claimed output with a re-executed reference by kind.

    exact → `exact_match`; numeric → `numeric_match` with `epsilon_num`; sampled →
    `distribution_match` with `epsilon_kl`.
    """
    if kind is OutputKind.EXACT:
        return exact_match(claimed, reference)
    if kind is OutputKind.NUMERIC:
        return numeric_match(claimed, reference, params.epsilon_num)
    return distribution_match(claimed, reference, params.epsilon_kl)
