"""ref: proofs — what a check returns, and the two ways a check uses Z3.

A check first proves its lemmas (statements over all values, independent of the parameters):
each is a formula Z3 must find valid, so a lemma that fails comes back with a model of its
negation. It then checks the instance at the parameters: a claim over the remaining unknowns
(how many colluders, what price, which split of capacity...) whose constants come from `Params`.
`refute` looks for a point that breaks the claim and re-checks any point it finds against the
exact enclosures of the long constants, so a reported counterexample is never an artefact of
rounding.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction
from functools import cache
from typing import Final

from proofs.model import show
from proofs.smt import Expr, Formula, Outcome, pinned, prove, solve

Counterexample = dict[str, int | str | bool]
"""A JSON-able assignment that breaks a statement: names to ints, exact rationals as "n/d"
text, or booleans."""


@dataclass(frozen=True, slots=True)
class CheckResult:
    """ref: proofs — one statement checked at one set of parameters.

    `holds` is the verdict; a statement that does not hold carries a `counterexample` whenever
    one exists (None only when Z3 could not decide, which `detail` then says). `must_hold` marks
    the properties the protocol relies on; the other checks test the paper's printed claims,
    some of which are wrong for every parameter file (the errata).
    """

    name: str
    statement: str
    holds: bool
    must_hold: bool
    counterexample: Counterexample | None
    detail: str


@dataclass(frozen=True, slots=True)
class Lemma:
    """A statement over all values that Z3 must find valid (one step of an induction, or a
    closed algebraic fact)."""

    name: str
    text: str
    formula: Formula


@dataclass(frozen=True, slots=True)
class LemmaFailure:
    """The first lemma Z3 did not prove, with its counterexample (None when undecided)."""

    lemma: Lemma
    counterexample: Counterexample | None
    reason: str


def exact_values(model: Mapping[str, Fraction]) -> Counterexample:
    """A Z3 model as a JSON-able dict of exact values."""
    return {name: show(value) for name, value in model.items()}


def prove_lemmas(lemmas: Sequence[Lemma]) -> LemmaFailure | None:
    """Prove each lemma in turn; the first that fails is returned with Z3's model."""
    for lemma in lemmas:
        outcome = prove(lemma.formula)
        if outcome.unsat:
            continue
        if outcome.sat:
            return LemmaFailure(lemma, exact_values(outcome.model), "refuted")
        return LemmaFailure(lemma, None, f"undecided ({outcome.reason})")
    return None


def cached_lemmas(build: Callable[[], Sequence[Lemma]]) -> Callable[[], LemmaFailure | None]:
    """Prove a parameter-independent lemma list once per process."""

    @cache
    def outcome() -> LemmaFailure | None:
        return prove_lemmas(build())

    return outcome


def lemma_failed(name: str, statement: str, must_hold: bool, failure: LemmaFailure) -> CheckResult:
    """The result of a check whose lemmas did not all prove."""
    return CheckResult(
        name=name,
        statement=statement,
        holds=False,
        must_hold=must_hold,
        counterexample=failure.counterexample,
        detail=f"lemma {failure.lemma.name!r} {failure.reason}: {failure.lemma.text}",
    )


@dataclass(frozen=True, slots=True)
class Refutation:
    """What `refute` found: `holds`, or a model breaking the claim, or "undecided"."""

    holds: bool
    model: Mapping[str, Fraction] | None
    reason: str


UNDECIDED: Final = "undecided"


def refute(
    domain: Formula, claim: Formula, witnesses: Sequence[Expr], prefer: Formula | None = None
) -> Refutation:
    """Look for a point of `domain` where `claim` is false.

    `domain` bounds every unknown, including each long constant by its enclosure. A model found
    is re-checked with the `witnesses` (the decision unknowns) pinned and the enclosed constants
    free again: it counts as a counterexample only if the claim fails for every value inside
    the enclosures. When the claim can fail, `prefer` (a readable corner, say the highest price)
    is tried next, so the counterexample sits there when one does.
    """
    found: Outcome = solve(domain & ~claim, report=witnesses)
    if found.unsat:
        return Refutation(True, None, "proved")
    if found.sat and prefer is not None:
        cornered = solve(domain & ~claim & prefer, report=witnesses)
        found = cornered if cornered.sat else found
    if not found.sat:
        return Refutation(False, None, f"{UNDECIDED} ({found.reason})")
    recheck = solve(domain & claim & pinned(found.model, witnesses))
    if recheck.unsat:
        return Refutation(False, found.model, "refuted")
    return Refutation(
        False, None, f"{UNDECIDED} (the violation lies within rounding of a constant)"
    )
