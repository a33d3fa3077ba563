"""ref: mutants — deliberately broken builds of the reference, for testing the runner itself.

`aci-ref serve-oracle --mutant NAME` serves the protocol with one rule broken. The differential
runner must find each one, on the vectors and by fuzzing, and shrink it; if it cannot, the vectors
or the fuzzer have a hole. Nothing outside that flag ever applies a mutant.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Final

from aci_ref import crypto, events
from aci_ref.economics import fees
from aci_ref.errors import RejectedError
from aci_ref.params import BPS, Params


def _fee_rounding() -> None:
    """Validators' share rounded up instead of down; the worker absorbs the difference."""
    original = fees.fee_split

    def mutated(params: Params, amount: int) -> fees.FeeSplit:
        right = original(params, amount)
        validators = -(-amount * params.fee_validators_bps // BPS)
        moved = validators - right.validators
        return fees.FeeSplit(
            right.worker - moved, validators, right.verifiers, right.lps, right.burned
        )

    fees.fee_split = mutated


def _skip_signature() -> None:
    """Events are admitted without checking their sender's signature."""
    setattr(events, "verify_signature", lambda public, message, signature: True)  # noqa: B010


def _merkle_split() -> None:
    """Merkle trees split in the middle instead of at the largest power of two below n."""
    crypto._split = lambda n: (n + 1) // 2


def _refusal_moves_state() -> None:
    """A refused event is answered with its code, yet the state still moves (one block up)."""
    from aci_ref.vectors import oracle

    original = oracle.OPS["apply"]

    def mutated(session: oracle.Session, request: oracle.Request) -> oracle.Request:
        before = session.state
        try:
            return original(session, request)
        except RejectedError:
            if before is not None:
                session.state = replace(before, height=before.height + 1)
            raise

    oracle.OPS["apply"] = mutated


MUTANTS: Final[dict[str, Callable[[], None]]] = {
    "fee-rounding": _fee_rounding,
    "merkle-split": _merkle_split,
    "refusal-moves-state": _refusal_moves_state,
    "skip-signature": _skip_signature,
}
"""ref: mutants — each broken rule, by the name `--mutant` takes."""
