"""genesis: the opening state; a malformed configuration is a typed refusal."""

from __future__ import annotations

import dataclasses

import pytest

from aci_ref.chain import Account, Genesis, genesis
from aci_ref.chain.state import VERIFICATION_POOL
from aci_ref.crypto import KeyPair
from aci_ref.errors import RejectedError, Rejection
from aci_ref.params import default_params
from aci_ref.poai.tee import WORKER_PROGRAM, TrustAnchors, measurement_of


def config(*accounts: Account) -> Genesis:
    key = KeyPair.from_label("genesis/sequencer")
    anchors = TrustAnchors.of(
        [KeyPair.from_label("genesis/vendor").public], [measurement_of(WORKER_PROGRAM)]
    )
    opening = (Account("sequencer", key.public, 0), *accounts)
    return Genesis(default_params(), opening, "sequencer", anchors, (), ("cpu-small",))


ALICE = KeyPair.from_label("genesis/alice").public


def test_a_well_formed_configuration_opens() -> None:
    state = genesis(config(Account("alice", ALICE, 5)))
    assert state.ledger.balances["alice"] == 5


@pytest.mark.parametrize(
    ("account", "code"),
    [
        (Account("alice", ALICE, 2**64), Rejection.BAD_INPUT),
        (Account("alice", ALICE, -1), Rejection.NON_POSITIVE_AMOUNT),
        (Account("alice", b"abc", 5), Rejection.BAD_KEY),
        (Account("alice", None, 5), Rejection.BAD_INPUT),  # type: ignore[arg-type]
        (Account("alice", ALICE, True), Rejection.BAD_INPUT),
        (Account("al/ice", ALICE, 5), Rejection.BAD_IDENTIFIER),
    ],
    ids=["wide-balance", "negative", "short-key", "no-key", "bool-balance", "slash-in-name"],
)
def test_a_malformed_account_is_refused(account: Account, code: Rejection) -> None:
    with pytest.raises(RejectedError) as refused:
        genesis(config(account))
    assert refused.value.rejection is code


def test_a_list_for_a_tuple_is_refused() -> None:
    bad = dataclasses.replace(config(), accounts=list(config().accounts))  # type: ignore[arg-type]
    with pytest.raises(RejectedError) as refused:
        genesis(bad)
    assert refused.value.rejection is Rejection.BAD_INPUT


def test_balances_whose_sum_is_too_wide_are_refused() -> None:
    big = 2**63 - 1
    with pytest.raises(RejectedError) as refused:
        genesis(
            config(
                Account("alice", ALICE, big), Account("bob", KeyPair.from_label("b").public, big)
            )
        )
    assert refused.value.rejection is Rejection.BAD_INPUT


def test_an_account_posing_as_the_verification_pool_is_refused() -> None:
    with pytest.raises(RejectedError) as refused:
        genesis(config(Account(VERIFICATION_POOL, ALICE, 0)))
    assert refused.value.rejection is Rejection.BAD_INPUT


@pytest.mark.parametrize("commitments", [(b"short",), (bytes(32), bytes(32)), [bytes(32)]])
def test_malformed_probe_commitments_are_refused(commitments: object) -> None:
    bad = dataclasses.replace(config(), probe_commitments=commitments)
    with pytest.raises(RejectedError) as refused:
        genesis(bad)
    assert refused.value.rejection is Rejection.BAD_INPUT
