"""ref: consensus vectors — inputs for the handlers of `aci_ref.vectors.consensus_handlers`:
certificates of every shape, votes, vertices, acknowledgements and checkpoint items.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from typing import Any

from aci_ref.consensus import dag_messages as dag
from aci_ref.consensus import hotstuff_messages as hs
from aci_ref.consensus.committee import Validator
from aci_ref.crypto import KeyPair, sha256
from aci_ref.params import default_params
from aci_ref.vectors.function_cases import function_case
from aci_ref.vectors.tree import VectorCase

Plain = dict[str, Any]


# ---- inputs ------------------------------------------------------------------------------------

NAMES = ("validator-a", "validator-b", "validator-c", "validator-d")
KEYS = {name: KeyPair.from_label(f"vectors/{name}") for name in NAMES}


def _validators(stakes: tuple[int, ...] = (1, 1, 1, 1)) -> list[Validator]:
    return [Validator(n, KEYS[n].public, s) for n, s in zip(NAMES, stakes, strict=True)]


def _inputs() -> Iterator[tuple[str, str, str, Plain]]:
    committee = _validators()
    block = hs.Block(3, sha256(b"parent"), (b"tx-1", b"tx-2"), 1_000, NAMES[0], 4)
    digest = hs.block_digest(block)
    yield "block_digest", "blocks", "a block", {"block": block}
    votes = {n: hs.sign_vote(KEYS[n], n, hs.Phase.PREPARE, 4, digest).signature for n in NAMES}
    full = hs.certify(hs.Phase.PREPARE, 4, digest, votes)
    three = hs.certify(hs.Phase.PREPARE, 4, digest, {n: votes[n] for n in NAMES[:3]})
    two = hs.certify(hs.Phase.PREPARE, 4, digest, {n: votes[n] for n in NAMES[:2]})
    forged = replace(three, signers=((three.signers[0][0], bytes(64)), *three.signers[1:]))
    doubled = replace(three, signers=(three.signers[0], three.signers[0], three.signers[1]))
    stranger = replace(three, signers=(*three.signers[:2], ("outsider", three.signers[2][1])))
    other_view = replace(three, view=5)
    for name, qc in (
        ("four of four", full),
        ("three of four", three),
        ("two of four", two),
        ("one forged signature", forged),
        ("a signer twice", doubled),
        ("a non member", stranger),
        ("signatures of another view", other_view),
        ("genesis", hs.GENESIS_QC),
    ):
        yield "qc", "certificates", name, {"qc": qc, "validators": committee}
    weighted = _validators((5, 1, 1, 1))
    yield "qc", "stake", "two signers with most stake", {"qc": two, "validators": weighted}
    vote = hs.sign_vote(KEYS[NAMES[1]], NAMES[1], hs.Phase.COMMIT, 7, digest)
    yield "vote", "votes", "valid", {"validators": committee, "vote": vote}
    yield (
        "vote",
        "votes",
        "other phase",
        {
            "validators": committee,
            "vote": replace(vote, phase=hs.Phase.PREPARE),
        },
    )
    yield (
        "vote",
        "votes",
        "other signer name",
        {
            "validators": committee,
            "vote": replace(vote, signer=NAMES[2]),
        },
    )
    first = dag.sign_vertex(KEYS[NAMES[0]], 1, NAMES[0], (), (b"tx",))
    yield "vertex", "vertices", "round one", {"validators": committee, "vertex": first}
    parents = tuple(sorted(sha256(n.encode()) for n in NAMES[:3]))
    later = dag.sign_vertex(KEYS[NAMES[1]], 2, NAMES[1], parents, ())
    yield "vertex", "vertices", "round two", {"validators": committee, "vertex": later}
    for name, vertex in (
        ("round one with parents", replace(first, parents=parents[:1])),
        ("round two without parents", replace(later, parents=())),
        ("unsorted parents", replace(later, parents=tuple(reversed(parents)))),
        ("changed batch", replace(first, batch=(b"other",))),
        ("unknown author", replace(first, author="outsider")),
    ):
        yield "vertex", "refused", name, {"validators": committee, "vertex": vertex}
    acks = {n: dag.sign_ack(KEYS[n], first, n).signature for n in NAMES[:3]}
    certificate = dag.certify(first, acks)
    yield (
        "certificate",
        "certificates",
        "three acks",
        {
            "certificate": certificate,
            "validators": committee,
        },
    )
    bad_ack = replace(certificate, signers=((NAMES[0], bytes(64)), *certificate.signers[1:]))
    short = replace(certificate, signers=certificate.signers[:2])
    unsorted = replace(certificate, signers=tuple(reversed(certificate.signers)))
    for name, cert in (("forged ack", bad_ack), ("two acks", short), ("unsorted", unsorted)):
        yield "certificate", "refused", name, {"certificate": cert, "validators": committee}
    for first_sequence, n in ((0, 0), (0, 1), (0, 5), (17, 3), (100, 8)):
        items = [f"item {i}".encode() for i in range(n)]
        yield (
            "checkpoint_root",
            "roots",
            f"{n} items from {first_sequence}",
            {
                "first_sequence": first_sequence,
                "items": items,
            },
        )


def consensus_cases() -> Iterator[VectorCase]:
    """Every consensus vector (written by the same `function_case` as the other runners)."""
    params = default_params()
    for handler, suite, name, plain in _inputs():
        description = f"{handler.replace('_', ' ')}: {name}"
        yield function_case(params, "consensus", handler, suite, name, description, plain)
