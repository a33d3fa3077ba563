"""ref: consensus handlers — the checks a validator makes on a vertex, a certificate, a vote and a
quorum certificate, and the checkpoint output root, as vector handlers (inputs and outputs are
CBOR maps).

A committee travels as its sorted list of validators ({name, public_key, stake}); a refused
message carries the code the reference refuses it with (`bad_signature` where only a signature
fails). Each handler calls the check `aci_ref.consensus` runs on every message it receives.
"""

from __future__ import annotations

from typing import Any

from aci_ref.consensus import checkpoint
from aci_ref.consensus import dag_messages as dag
from aci_ref.consensus import hotstuff_messages as hs
from aci_ref.consensus.committee import Committee, Validator
from aci_ref.decoding import from_plain
from aci_ref.errors import RejectedError, Rejection
from aci_ref.params import Params

Plain = dict[str, Any]


def _committee(plain: Plain) -> Committee:
    listed = plain.get("validators")
    if not isinstance(listed, list):
        raise RejectedError(Rejection.BAD_INPUT, "validators is a list")
    return Committee(tuple(from_plain(Validator, v) for v in listed))


def _refuse(problem: tuple[Rejection, str] | None) -> None:
    if problem is not None:
        raise RejectedError(*problem)


def qc_check(params: Params, plain: Plain) -> Plain:
    """§4.3: a quorum certificate's validity (`hotstuff_messages:check_qc`)."""
    problem, checked = hs.check_qc(from_plain(hs.QC, plain.get("qc")), _committee(plain))
    _refuse(problem)
    return {"signatures_checked": checked, "valid": True}


def vote_check(params: Params, plain: Plain) -> Plain:
    """§4.3: one HotStuff vote's signature by a member."""
    vote = from_plain(hs.Vote, plain.get("vote"))
    return {"valid": hs.check_vote_signature(vote, _committee(plain))}


def vertex_check(params: Params, plain: Plain) -> Plain:
    """Algorithm 3: a vertex's parent list and its author's signature."""
    vertex = from_plain(dag.Vertex, plain.get("vertex"))
    committee = _committee(plain)
    _refuse(dag.check_parent_list(vertex, committee))
    if not dag.check_vertex_signature(vertex, committee):
        raise RejectedError(Rejection.BAD_SIGNATURE, "the author's signature fails")
    return {"digest": vertex.digest(), "valid": True}


def certificate_check(params: Params, plain: Plain) -> Plain:
    """Algorithm 3 lines 6–7: a certificate's signer set and every acknowledgement."""
    certificate = from_plain(dag.Certificate, plain.get("certificate"))
    committee = _committee(plain)
    _refuse(dag.check_signer_set(certificate, committee))
    failed = dag.check_certificate_signatures(certificate, committee)
    if failed is not None:
        raise RejectedError(Rejection.BAD_SIGNATURE, failed)
    return {"digest": certificate.digest(), "valid": True}


def checkpoint_root(params: Params, plain: Plain) -> Plain:
    """§4.4 item 2: the output root of ordered items numbered from `first_sequence`."""
    first = plain.get("first_sequence")
    items = plain.get("items")
    if type(first) is not int or not isinstance(items, list):
        raise RejectedError(Rejection.BAD_INPUT, "first_sequence and items")
    if not all(type(item) is bytes for item in items):
        raise RejectedError(Rejection.BAD_INPUT, "items are bytes")
    return {"root": checkpoint.output_root(first, tuple(items))}


def block_digest(params: Params, plain: Plain) -> Plain:
    """§4.3: the digest a settlement block is voted on by."""
    return {"digest": hs.block_digest(from_plain(hs.Block, plain.get("block")))}


CONSENSUS_HANDLERS = {
    ("consensus", "block_digest"): block_digest,
    ("consensus", "certificate"): certificate_check,
    ("consensus", "checkpoint_root"): checkpoint_root,
    ("consensus", "qc"): qc_check,
    ("consensus", "vertex"): vertex_check,
    ("consensus", "vote"): vote_check,
}
