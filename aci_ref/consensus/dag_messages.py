"""Algorithm 3's messages: vertices, acknowledgements, certificates, and the sync that fetches them.

A vertex is one validator's proposal for one round: a batch of opaque transactions and the digests
of certificates of the round before. Every validator that accepts it acknowledges it to its author;
acknowledgements carrying a quorum of stake make a certificate, which is what the DAG is built of.
The functions here check what a message says about itself (shape, signatures, stake); what it
says relative to a validator's DAG is checked by the machine in `dag`.
"""

from __future__ import annotations

from collections.abc import Container, Mapping
from dataclasses import dataclass
from itertools import pairwise
from typing import Any, Final

from aci_ref.consensus.committee import Committee
from aci_ref.consensus.signing import sign, verify
from aci_ref.crypto import HASH_SIZE, KeyPair, sha256
from aci_ref.encoding import canonical_bytes
from aci_ref.errors import Rejection
from aci_ref.params import Params

VERTEX_DOMAIN: Final = "vertex"
ACK_DOMAIN: Final = "ack"
_CERTIFICATE_TAG: Final = "aci-ref/dag/certificate"

Problem = tuple[Rejection, str]
"""Why a message is refused: its code and a detail."""


@dataclass(frozen=True, slots=True)
class Vertex:
    """Algorithm 3 line 1, §4.2: vertex ← (tx, round, author, parents), signed by its author."""

    round: int
    author: str
    parents: tuple[bytes, ...]
    batch: tuple[bytes, ...]
    signature: bytes

    def payload(self) -> tuple[Any, ...]:
        """What the author signs: every field but the signature."""
        return (self.round, self.author, self.parents, self.batch)

    def digest(self) -> bytes:
        """SHA-256 of the vertex's canonical bytes: how acknowledgements name it."""
        return sha256(canonical_bytes(self))


@dataclass(frozen=True, slots=True)
class Ack:
    """Algorithm 3 line 6, §4.2: one validator's acknowledgement of a vertex, sent to its author."""

    vertex: bytes
    round: int
    author: str
    signer: str
    signature: bytes


@dataclass(frozen=True, slots=True)
class Certificate:
    """Algorithm 3 lines 6-7, §4.2: a vertex acknowledged by a quorum of stake.

    `signers` is (signer, acknowledgement signature) pairs sorted by signer. The digest covers the
    vertex only, so two certificates of one vertex (different signer sets) are one DAG node.
    """

    vertex: Vertex
    signers: tuple[tuple[str, bytes], ...]

    def digest(self) -> bytes:
        """The digest parents name: SHA-256 over a tag and the vertex digest."""
        return certificate_digest(self.vertex.digest())


@dataclass(frozen=True, slots=True)
class CertificateRequest:
    """Sync: ask a peer for the certificates of these digests (parents one is missing)."""

    digests: tuple[bytes, ...]


@dataclass(frozen=True, slots=True)
class CertificateReply:
    """Sync: the certificates a peer holds among those requested."""

    certificates: tuple[Certificate, ...]


@dataclass(frozen=True, slots=True)
class Committed:
    """One vertex in the fast path's total order (sequence numbers 0, 1, 2, … without gaps)."""

    sequence: int
    certificate_digest: bytes
    round: int
    author: str
    batch: tuple[bytes, ...]
    anchor_round: int


def certificate_digest(vertex_digest: bytes) -> bytes:
    """The DAG node digest of the certificates of the vertex with this digest."""
    return sha256(canonical_bytes((_CERTIFICATE_TAG, vertex_digest)))


def ack_payload(vertex_digest: bytes, round_: int, author: str, signer: str) -> tuple[Any, ...]:
    """What an acknowledgement signs (so a certificate's signatures can be checked alone)."""
    return (vertex_digest, round_, author, signer)


def sign_vertex(
    key: KeyPair, round_: int, author: str, parents: tuple[bytes, ...], batch: tuple[bytes, ...]
) -> Vertex:
    """A vertex signed by `key` (its author's)."""
    unsigned = Vertex(round_, author, parents, batch, b"")
    return Vertex(round_, author, parents, batch, sign(key, VERTEX_DOMAIN, unsigned.payload()))


def sign_ack(key: KeyPair, vertex: Vertex, signer: str) -> Ack:
    """`signer`'s acknowledgement of `vertex`."""
    digest = vertex.digest()
    payload = ack_payload(digest, vertex.round, vertex.author, signer)
    return Ack(digest, vertex.round, vertex.author, signer, sign(key, ACK_DOMAIN, payload))


def certify(vertex: Vertex, acks: dict[str, bytes]) -> Certificate:
    """The certificate of `vertex` from (signer -> acknowledgement signature)."""
    return Certificate(vertex, tuple(sorted(acks.items())))


def batch_bytes(batch: tuple[bytes, ...]) -> int:
    """The canonical size of a batch: the array head plus each transaction's encoding."""
    return len(canonical_bytes(len(batch))) + sum(len(canonical_bytes(tx)) for tx in batch)


def fill_batch(mempool: tuple[bytes, ...], max_txs: int, max_bytes: int) -> tuple[bytes, ...]:
    """The longest prefix of the mempool that fits a batch (first come, first proposed)."""
    size = 0
    count = 0
    for tx in mempool[:max_txs]:
        grown = size + len(canonical_bytes(tx))
        if grown + len(canonical_bytes(count + 1)) > max_bytes:
            break
        size, count = grown, count + 1
    return mempool[:count]


# ---- checks on a message alone ---------------------------------------------------------------


def digest_tuple(value: object) -> bool:
    """True for a tuple of 32-byte digests."""
    return type(value) is tuple and all(type(d) is bytes and len(d) == HASH_SIZE for d in value)


def vertex_shape(vertex: object) -> str | None:
    """None when `vertex` is a Vertex with fields of the right types, else what is wrong."""
    if type(vertex) is not Vertex:
        return "not a vertex"
    if type(vertex.round) is not int or vertex.round < 1:
        return "a vertex round is an integer from 1"
    if type(vertex.author) is not str or type(vertex.signature) is not bytes:
        return "author is text, signature bytes"
    if not digest_tuple(vertex.parents):
        return "parents are a tuple of 32-byte digests"
    if type(vertex.batch) is not tuple or any(type(tx) is not bytes for tx in vertex.batch):
        return "a batch is a tuple of byte strings"
    return None


def certificate_shape(certificate: object) -> str | None:
    """None when `certificate` is a Certificate with well-typed fields, else what is wrong."""
    if type(certificate) is not Certificate:
        return "not a certificate"
    problem = vertex_shape(certificate.vertex)
    if problem is not None:
        return problem
    signers = certificate.signers
    if type(signers) is not tuple or not all(
        type(pair) is tuple and len(pair) == 2 and type(pair[0]) is str and type(pair[1]) is bytes
        for pair in signers
    ):
        return "signers are (name, signature) pairs"
    return None


def ack_shape(ack: object) -> str | None:
    """None when `ack` is an Ack with well-typed fields, else what is wrong."""
    if type(ack) is not Ack:
        return "not an acknowledgement"
    if type(ack.vertex) is not bytes or len(ack.vertex) != HASH_SIZE:
        return "an acknowledgement names a 32-byte vertex digest"
    if type(ack.round) is not int or type(ack.author) is not str or type(ack.signer) is not str:
        return "round is an integer, author and signer text"
    if type(ack.signature) is not bytes:
        return "signature is bytes"
    return None


def check_parent_list(vertex: Vertex, committee: Committee) -> Problem | None:
    """Parents sorted and distinct, none in round 1, at most one per validator."""
    parents = vertex.parents
    if vertex.round == 1 and parents:
        return Rejection.BAD_PARENTS, "a round-1 vertex has no parents"
    if vertex.round > 1 and not parents:
        return Rejection.BAD_PARENTS, "a vertex after round 1 names parents"
    if any(a >= b for a, b in pairwise(parents)):
        return Rejection.BAD_PARENTS, "parents must be sorted and distinct"
    if len(parents) > committee.size:
        return Rejection.BAD_PARENTS, "more parents than validators"
    return None


def check_vertex_signature(vertex: Vertex, committee: Committee) -> bool:
    """True when the author (a member) signed the vertex."""
    author = committee.member(vertex.author)
    return author is not None and verify(
        author.public_key, VERTEX_DOMAIN, vertex.payload(), vertex.signature
    )


def check_signer_set(certificate: Certificate, committee: Committee) -> Problem | None:
    """Sorted distinct members holding a quorum of stake (signatures are checked separately)."""
    names = [name for name, _ in certificate.signers]
    for first, second in pairwise(names):
        if first == second:
            return Rejection.DUPLICATE_SIGNER, f"{first} signs twice"
        if first > second:
            return Rejection.BAD_INPUT, "signers must be sorted by name"
    for name in names:
        if committee.member(name) is None:
            return Rejection.NOT_VALIDATOR, f"signer {name!r} is not a validator"
    if not committee.is_quorum(names):
        return Rejection.UNDERSIGNED_CERTIFICATE, f"{len(names)} signers lack a quorum of stake"
    return None


def check_ack_signature(ack: Ack, committee: Committee) -> bool:
    """True when the signer (a member) signed this acknowledgement."""
    signer = committee.member(ack.signer)
    payload = ack_payload(ack.vertex, ack.round, ack.author, ack.signer)
    return signer is not None and verify(signer.public_key, ACK_DOMAIN, payload, ack.signature)


def check_certificate_signatures(certificate: Certificate, committee: Committee) -> str | None:
    """None when every listed signature is its signer's acknowledgement of the vertex."""
    vertex = certificate.vertex
    digest = vertex.digest()
    for name, signature in certificate.signers:
        member = committee.member(name)
        payload = ack_payload(digest, vertex.round, vertex.author, name)
        if member is None or not verify(member.public_key, ACK_DOMAIN, payload, signature):
            return f"{name}'s acknowledgement does not verify"
    return None


# ---- checks against a validator's view ---------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DagConfig:
    """Who a fast-path validator is: the committee, its own name and key, and the parameters."""

    committee: Committee
    name: str
    key: KeyPair
    params: Params


def horizon(config: DagConfig, last_committed_round: int) -> int:
    """The garbage-collection horizon: rounds below it are forgotten, their order fixed."""
    return max(0, last_committed_round - config.params.gc_depth_rounds)


def check_vertex(
    config: DagConfig, vertex: Vertex, low: int, high: int
) -> tuple[Problem | None, int]:
    """Check a vertex alone and against the round window [low, high]; also verifications done."""
    problem = vertex_shape(vertex)
    if problem is not None:
        return (Rejection.BAD_INPUT, problem), 0
    if config.committee.member(vertex.author) is None:
        return (Rejection.NOT_VALIDATOR, f"author {vertex.author!r}"), 0
    if vertex.round < low:
        return (Rejection.STALE_ROUND, f"round {vertex.round} is below the horizon {low}"), 0
    if vertex.round > high:
        return (Rejection.FUTURE_ROUND, f"round {vertex.round} is beyond {high}"), 0
    params = config.params
    if (
        len(vertex.batch) > params.max_batch_txs
        or batch_bytes(vertex.batch) > params.max_batch_bytes
    ):
        return (Rejection.OVERSIZED_BATCH, f"{len(vertex.batch)} transactions"), 0
    parent_problem = check_parent_list(vertex, config.committee)
    if parent_problem is not None:
        return parent_problem, 0
    if not check_vertex_signature(vertex, config.committee):
        return (Rejection.BAD_SIGNATURE, f"vertex of {vertex.author} round {vertex.round}"), 1
    return None, 1


def check_certificate(
    config: DagConfig, certificate: Certificate, low: int, high: int, held: bytes | None
) -> tuple[Problem | None, int]:
    """Check a certificate alone; `held` is the digest of the node this DAG has in its slot."""
    problem = certificate_shape(certificate)
    if problem is not None:
        return (Rejection.BAD_INPUT, problem), 0
    signers = check_signer_set(certificate, config.committee)
    if signers is not None:
        return signers, 0
    if held is not None:
        if held == certificate.digest():
            return (Rejection.DUPLICATE_MESSAGE, "certificate already in the DAG"), 0
        return (Rejection.EQUIVOCATION, "another certified vertex holds this slot"), 0
    verdict, count = check_vertex(config, certificate.vertex, low, high)
    if verdict is not None:
        return verdict, count
    bad = check_certificate_signatures(certificate, config.committee)
    count += len(certificate.signers)
    if bad is not None:
        return (Rejection.BAD_SIGNATURE, bad), count
    return None, count


def resolve_parents(
    config: DagConfig, vertex: Vertex, index: Mapping[bytes, tuple[int, str]], low: int
) -> tuple[Problem | None, list[bytes]]:
    """Parents against the DAG: a problem, or the digests still missing (empty when all known).

    A parent below the horizon was collected: it counts as present (its order is fixed), and the
    quorum of parent stake is then taken on trust from the certificate's signers.
    """
    if vertex.round == 1:
        return None, []
    authors: list[str] = []
    missing: list[bytes] = []
    collected = vertex.round - 1 < low
    for parent in vertex.parents:
        slot = index.get(parent)
        if slot is None:
            if not collected:
                missing.append(parent)
            continue
        if slot[0] != vertex.round - 1:
            return (Rejection.BAD_PARENTS, f"a parent of round {slot[0]}"), []
        authors.append(slot[1])
    if missing or collected:
        return None, missing
    if not config.committee.is_quorum(authors):
        return (Rejection.BAD_PARENTS, "parents lack a quorum of stake"), []
    return None, []


def check_ack(
    config: DagConfig,
    ack: object,
    low: int,
    own: Mapping[int, Vertex],
    certified: Container[int],
    votes: Mapping[int, Mapping[str, bytes]],
) -> tuple[Problem | None, int]:
    """Is `ack` a new, valid acknowledgement of one of our vertices still gathering them?

    `own` holds our vertices by round, `certified` the rounds whose vertex already has its
    certificate, `votes` the acknowledgements gathered so far.
    """
    problem = ack_shape(ack)
    if problem is not None:
        return (Rejection.BAD_INPUT, problem), 0
    assert isinstance(ack, Ack)
    if config.committee.member(ack.signer) is None:
        return (Rejection.NOT_VALIDATOR, f"signer {ack.signer!r}"), 0
    if ack.author != config.name:
        return (Rejection.BAD_INPUT, "an acknowledgement of another author's vertex"), 0
    if ack.round < low:
        return (Rejection.STALE_ROUND, f"acknowledgement of round {ack.round}"), 0
    mine = own.get(ack.round)
    if mine is None or mine.digest() != ack.vertex:
        return (Rejection.BAD_INPUT, "acknowledges no vertex of ours"), 0
    if ack.round in certified:
        return (Rejection.DUPLICATE_MESSAGE, "that vertex is already certified"), 0
    if ack.signer in votes.get(ack.round, {}):
        return (Rejection.DUPLICATE_MESSAGE, f"{ack.signer} already acknowledged"), 0
    if not check_ack_signature(ack, config.committee):
        return (Rejection.BAD_SIGNATURE, f"acknowledgement by {ack.signer}"), 1
    return None, 1
