"""ref: proofs — a small typed layer over Z3, so no untyped solver value leaks into the checks.

Every statement in `proofs/` is built from `Expr` (an arithmetic term over reals and integers) and
`Formula` (a boolean term). Constants enter as exact rationals (`Fraction` or `int`), never as
floats. `prove` asks Z3 whether a formula is valid (its negation unsatisfiable) and returns a
model of the negation when it is not; `solve` asks for a model of a formula. Every query carries a
timeout, and "unknown" is reported as such, never as a proof.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any, Final, Literal

import z3

from aci_ref.errors import InvariantViolation

Number = int | Fraction

DEFAULT_TIMEOUT_MS: Final = 10_000
"""Per-query budget; every statement here is decided in milliseconds, the rest is headroom."""

MAX_CONSTANT_BITS: Final = 8_000
"""Constants are written to Z3 as decimal text; `proofs.model` rounds anything larger first."""

APPROXIMATION_DIGITS: Final = 30
"""Digits kept when a model value is an irrational algebraic number (nonlinear lemmas only)."""


def _term(value: Expr | Number) -> Any:
    if isinstance(value, Expr):
        return value.term
    if isinstance(value, bool):
        raise InvariantViolation("booleans are not numbers here")
    if isinstance(value, int):
        return z3.IntVal(value)
    if max(value.numerator.bit_length(), value.denominator.bit_length()) > MAX_CONSTANT_BITS:
        raise InvariantViolation("constant too large for Z3 text: enclose it with proofs.model")
    return z3.RealVal(f"{value.numerator}/{value.denominator}")


class Expr:
    """An arithmetic term; operators build larger terms, comparisons build `Formula`s."""

    __slots__ = ("term",)

    def __init__(self, term: Any) -> None:
        self.term = term

    def __add__(self, other: Expr | Number) -> Expr:
        return Expr(self.term + _term(other))

    def __radd__(self, other: Number) -> Expr:
        return Expr(_term(other) + self.term)

    def __sub__(self, other: Expr | Number) -> Expr:
        return Expr(self.term - _term(other))

    def __rsub__(self, other: Number) -> Expr:
        return Expr(_term(other) - self.term)

    def __mul__(self, other: Expr | Number) -> Expr:
        return Expr(self.term * _term(other))

    def __rmul__(self, other: Number) -> Expr:
        return Expr(_term(other) * self.term)

    def __truediv__(self, other: Expr | Number) -> Expr:
        return Expr(
            z3.ToReal(self.term) / _term(other) if _is_int(self.term) else self.term / _term(other)
        )

    def __neg__(self) -> Expr:
        return Expr(-self.term)

    def __le__(self, other: Expr | Number) -> Formula:
        return Formula(self.term <= _term(other))

    def __lt__(self, other: Expr | Number) -> Formula:
        return Formula(self.term < _term(other))

    def __ge__(self, other: Expr | Number) -> Formula:
        return Formula(self.term >= _term(other))

    def __gt__(self, other: Expr | Number) -> Formula:
        return Formula(self.term > _term(other))

    def eq(self, other: Expr | Number) -> Formula:
        """The formula `self = other` (`==` keeps its Python meaning)."""
        return Formula(self.term == _term(other))

    def __repr__(self) -> str:
        return f"Expr({self.term})"


def _is_int(term: Any) -> bool:
    return bool(z3.is_int(term))


class Formula:
    """A boolean term: `&`, `|`, `~`, `implies` and `iff` combine formulas."""

    __slots__ = ("term",)

    def __init__(self, term: Any) -> None:
        self.term = term

    def __and__(self, other: Formula) -> Formula:
        return Formula(z3.And(self.term, other.term))

    def __or__(self, other: Formula) -> Formula:
        return Formula(z3.Or(self.term, other.term))

    def __invert__(self) -> Formula:
        return Formula(z3.Not(self.term))

    def implies(self, other: Formula) -> Formula:
        """`self ⇒ other`."""
        return Formula(z3.Implies(self.term, other.term))

    def iff(self, other: Formula) -> Formula:
        """`self ⇔ other`."""
        return Formula(self.term == other.term)

    def __repr__(self) -> str:
        return f"Formula({self.term})"


def real(name: str) -> Expr:
    """A real-valued unknown."""
    return Expr(z3.Real(name))


def integer(name: str) -> Expr:
    """An integer-valued unknown."""
    return Expr(z3.Int(name))


def const(value: Number) -> Expr:
    """An exact constant (a `Fraction` stays a rational, an `int` an integer)."""
    return Expr(_term(value))


def all_of(formulas: Iterable[Formula]) -> Formula:
    """The conjunction (true when empty)."""
    return Formula(z3.And(*[f.term for f in formulas]))


def any_of(formulas: Iterable[Formula]) -> Formula:
    """The disjunction (false when empty)."""
    return Formula(z3.Or(*[f.term for f in formulas]))


def if_then_else(condition: Formula, then: Expr | Number, otherwise: Expr | Number) -> Expr:
    """The term `then` where `condition` holds, else `otherwise`."""
    return Expr(z3.If(condition.term, _term(then), _term(otherwise)))


def maximum(left: Expr | Number, right: Expr | Number) -> Expr:
    """max(left, right) as a term."""
    a, b = _term(left), _term(right)
    return Expr(z3.If(a >= b, a, b))


def floor(value: Expr) -> Expr:
    """⌊value⌋ as an integer term."""
    return Expr(z3.ToInt(value.term) if not _is_int(value.term) else value.term)


def between(value: Expr, low: Number, high: Number) -> Formula:
    """low ≤ value ≤ high."""
    return (value >= low) & (value <= high)


def power(base: Expr, exponent: int) -> Expr:
    """base^exponent as a product of terms (exponentiation by squaring), exponent ≥ 0.

    With a constant base Z3 folds the product to one exact rational; with an unknown base the
    term is a polynomial of that degree (keep it small: nonlinear arithmetic is costly).
    """
    if exponent < 0:
        raise InvariantViolation("negative exponent")
    result: Expr = const(1)
    square = base
    while exponent:
        if exponent & 1:
            result = result * square
        exponent >>= 1
        if exponent:
            square = square * square
    return result


def constant_value(value: Expr) -> Fraction:
    """The exact rational Z3 computes for a closed term (no unknowns)."""
    folded = z3.simplify(value.term)
    if not (z3.is_rational_value(folded) or z3.is_int_value(folded)):
        raise InvariantViolation(f"not a closed rational term: {value}")
    return _rational(folded)


def _rational(term: Any) -> Fraction:
    if z3.is_int_value(term):
        return Fraction(int(term.as_long()))
    if z3.is_rational_value(term):
        return Fraction(int(term.numerator_as_long()), int(term.denominator_as_long()))
    if z3.is_algebraic_value(term):
        return _rational(term.approx(APPROXIMATION_DIGITS))
    raise InvariantViolation(f"model value {term} is not a number")


Status = Literal["sat", "unsat", "unknown"]


@dataclass(frozen=True, slots=True)
class Outcome:
    """What Z3 answered: a model (name → exact value) when `status` is "sat"."""

    status: Status
    model: Mapping[str, Fraction] = field(default_factory=dict)
    reason: str = ""

    @property
    def sat(self) -> bool:
        return self.status == "sat"

    @property
    def unsat(self) -> bool:
        return self.status == "unsat"


def solve(
    formula: Formula, *, timeout_ms: int = DEFAULT_TIMEOUT_MS, report: Sequence[Expr] = ()
) -> Outcome:
    """Look for values of the unknowns that make `formula` true; each unknown in `report` gets a
    value in the model even when the formula leaves it free."""
    # A fresh context per query: Z3's heuristics depend on the history of its context, and a
    # verdict must not depend on which checks ran before.
    context = z3.Context()
    solver = z3.Solver(ctx=context)
    solver.set("timeout", timeout_ms)
    solver.add(formula.term.translate(context))
    answer = solver.check()
    if answer == z3.unsat:
        return Outcome("unsat")
    if answer == z3.unknown:
        return Outcome("unknown", reason=str(solver.reason_unknown()))
    model = solver.model()
    values = {decl.name(): _rational(model[decl]) for decl in model.decls() if decl.arity() == 0}
    for unknown in report:
        term = unknown.term.translate(context)
        values[str(unknown.term)] = _rational(model.eval(term, model_completion=True))
    return Outcome("sat", dict(sorted(values.items())))


def prove(formula: Formula, *, timeout_ms: int = DEFAULT_TIMEOUT_MS) -> Outcome:
    """Ask whether `formula` holds for all values: "unsat" means proved, "sat" carries a
    counterexample (a model of its negation)."""
    return solve(~formula, timeout_ms=timeout_ms)


def decide(formula: Formula, *, timeout_ms: int = DEFAULT_TIMEOUT_MS) -> bool:
    """The truth of a closed formula (no unknowns), as Z3 evaluates it; InvariantViolation when
    Z3 cannot decide it (a closed rational formula always can, so that is a bug, not an input)."""
    folded = z3.simplify(formula.term)
    if z3.is_true(folded):
        return True
    if z3.is_false(folded):
        return False
    outcome = prove(formula, timeout_ms=timeout_ms)
    if outcome.status == "unknown":
        raise InvariantViolation(f"Z3 could not decide a closed formula: {outcome.reason}")
    return outcome.unsat


def pinned(values: Mapping[str, Fraction], unknowns: Iterable[Expr]) -> Formula:
    """Fix each of `unknowns` to its value in `values` (a model), by name."""
    constraints = []
    for unknown in unknowns:
        name = str(unknown.term)
        constraints.append(unknown.eq(values[name]) if name in values else const(1) >= 0)
    return all_of(constraints)
