"""ref: proofs — lemmas shared by Theorem 3 and Proposition 5 (the worst case over δ and T).

Both statements compare an expected slash, Slash · (1 − y^n), against savings that grow linearly
in n (n deviating jobs with y = 1 − α, or n epochs with y the per-epoch miss probability). Two
facts about y^n for y in [0, 1], each an induction on n whose step Z3 proves over the reals:

- Worst case. (1 − y^n) / n is non-increasing in n ≥ 1. With F(n) = y^n ((n + 1) − n y): F(0) = 1
  and F(n + 1) ≤ F(n) (the difference is −(n + 1) y^n (1 − y)^2), so F(n) ≤ 1, which rearranges
  to (1 − y^(n+1)) / (n + 1) ≤ (1 − y^n) / n. Hence "Slash · (1 − y^n) ≥ n · c for every n ≤ M"
  holds iff it holds at n = M: the fully lazy worker (δ = 1) and the longest horizon are the
  binding cases.
- Union bound (Bernoulli). 1 − y^n ≤ n (1 − y): detection over n chances is at most n times the
  detection of one, so savings counted over a horizon can never be cheaper to cover than savings
  counted until detection.
"""

from __future__ import annotations

from proofs.result import Lemma
from proofs.smt import between, real


def worst_case_lemmas() -> list[Lemma]:
    """The two steps of the worst-case argument (valid for every real n ≥ 0)."""
    y, x, n = real("y"), real("x"), real("n")
    unit = between(y, 0, 1)
    return [
        Lemma(
            "F is non-increasing",
            "x = y^n >= 0, 0 <= y <= 1, n >= 0 imply y x ((n+2) - (n+1) y) <= x ((n+1) - n y)",
            (unit & (x >= 0) & (n >= 0)).implies(
                y * x * ((n + 2) - (n + 1) * y) <= x * ((n + 1) - n * y)
            ),
        ),
        Lemma(
            "F <= 1 gives the ratio",
            "0 <= x, y <= 1, n >= 1, x ((n+1) - n y) <= 1 imply n (1 - y x) <= (n+1)(1 - x)",
            (unit & between(x, 0, 1) & (n >= 1) & (x * ((n + 1) - n * y) <= 1)).implies(
                n * (1 - y * x) <= (n + 1) * (1 - x)
            ),
        ),
    ]


def union_bound_lemma() -> Lemma:
    """The step of Bernoulli's inequality 1 − y^n ≤ n (1 − y) (base: 0 ≤ 0)."""
    y, x, n = real("y"), real("x"), real("n")
    return Lemma(
        "union bound",
        "0 <= y <= 1, 0 <= x <= 1, n >= 0, 1 - x <= n (1 - y) imply 1 - y x <= (n+1)(1 - y)",
        (between(y, 0, 1) & between(x, 0, 1) & (n >= 0) & (1 - x <= n * (1 - y))).implies(
            1 - y * x <= (n + 1) * (1 - y)
        ),
    )
