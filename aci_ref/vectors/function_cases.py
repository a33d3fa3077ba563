"""ref: function vectors — inputs for every handler of `aci_ref.vectors.handlers`, and their cases.

Each case is `input.cbor` and either `output.cbor` or, in `meta.json`, the `rejection` the
handler refuses with. The inputs are built here, from the public actor harness where a real
market, ledger or attestation is needed; the outputs are whatever the handler (the code the
chain runs) returns, so the vectors cannot drift from the reference.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from functools import cache
from typing import Any

from aci_ref.chain.jobs import expected_job
from aci_ref.crypto import KeyPair, inclusion_proof, merkle_root, sha256
from aci_ref.economics.ledger import Role
from aci_ref.economics.records import Evidence, Violation
from aci_ref.encoding import canonical_bytes, decode_canonical
from aci_ref.errors import RejectedError
from aci_ref.params import Params
from aci_ref.poai.attestation import Metrics
from aci_ref.poai.profiles import HARDWARE_CLASSES
from aci_ref.poai.tee import TrustAnchors
from aci_ref.sim.world import RESOURCE_CLASS, World, build_world, mlp, world_params
from aci_ref.vectors.chain_cases import RARELY
from aci_ref.vectors.handlers import run_handler
from aci_ref.vectors.tree import VectorCase, slug

Input = dict[str, Any]


def function_case(
    params: Params, runner: str, handler: str, suite: str, name: str, description: str, plain: Input
) -> VectorCase:
    """ref: function vectors — the case of one handler input, with what the handler answers."""
    data = canonical_bytes(plain)
    meta: dict[str, Any] = {"params": "params.cbor"}
    parts: dict[str, Any] = {"input": decode_canonical(data)}
    try:
        parts["output"] = decode_canonical(run_handler(params, runner, handler, data))
    except RejectedError as refused:
        meta["rejection"] = refused.rejection.value
    return VectorCase(runner, handler, suite, slug(name), description, parts, meta)


def _leaves(n: int) -> list[bytes]:
    return [bytes([i]) * (i % 3) + f"leaf {i}".encode() for i in range(n)]


def merkle_inputs() -> Iterator[tuple[str, str, str, str, Input]]:
    for n in range(0, 18):
        yield "root", "sizes", f"{n} leaves", f"root of {n} leaves", {"leaves": _leaves(n)}
    yield "root", "sizes", "one empty leaf", "the empty byte string as one leaf", {"leaves": [b""]}
    for n in (1, 2, 3, 5, 7, 8, 9, 13):
        for index in range(n):
            yield (
                "proof",
                "paths",
                f"{n} leaves index {index}",
                f"audit path of leaf {index} of {n}",
                {"index": index, "leaves": _leaves(n)},
            )
    yield (
        "proof",
        "refused",
        "index past the end",
        "leaf 3 of 3",
        {"index": 3, "leaves": _leaves(3)},
    )
    yield "proof", "refused", "empty tree", "no leaf in an empty tree", {"index": 0, "leaves": []}
    for n, index in ((1, 0), (5, 4), (7, 2), (9, 8), (13, 6)):
        leaves = _leaves(n)
        path = inclusion_proof(leaves, index)
        good: Input = {
            "index": index,
            "leaf": leaves[index],
            "proof": path,
            "root": merkle_root(leaves),
            "size": n,
        }
        yield "verify", "valid", f"{n} leaves index {index}", "a correct proof", good
        if path:
            flipped = [bytes([path[0][0] ^ 1]) + path[0][1:], *path[1:]]
            yield (
                "verify",
                "invalid",
                f"{n} {index} tampered sibling",
                "a sibling changed",
                {
                    **good,
                    "proof": flipped,
                },
            )
            yield (
                "verify",
                "invalid",
                f"{n} {index} short proof",
                "the last sibling dropped",
                {
                    **good,
                    "proof": path[:-1],
                },
            )
        yield (
            "verify",
            "invalid",
            f"{n} {index} wrong size",
            "the tree size is one more",
            {
                **good,
                "size": n + 1,
            },
        )
        yield (
            "verify",
            "invalid",
            f"{n} {index} other leaf",
            "another leaf's data",
            {
                **good,
                "leaf": b"not a leaf",
            },
        )


_CBOR_SAMPLES: tuple[tuple[str, str], ...] = (
    ("small int", "00"),
    ("int 23", "17"),
    ("int 24", "1818"),
    ("int 24 in two bytes", "190018"),
    ("int 1000", "1903e8"),
    ("int 2^32", "1b0000000100000000"),
    ("largest uint64", "1bffffffffffffffff"),
    ("negative one", "20"),
    ("negative 1000", "3903e7"),
    ("smallest int64", "3b7fffffffffffffff"),
    ("bignum 2^64", "c249010000000000000000"),
    ("empty bytes", "40"),
    ("bytes", "4401020304"),
    ("indefinite bytes", "5f42010243030405ff"),
    ("text", "6449455446"),
    ("text with umlaut", "62c3bc"),
    ("empty array", "80"),
    ("array", "83010203"),
    ("indefinite array", "9f0102ff"),
    ("nested array", "8301820203820405"),
    ("map sorted", "a2616101616202"),
    ("map unsorted", "a2616202616101"),
    ("map length-first order", "a2626161016162 02".replace(" ", "")),
    ("map bytewise order", "a261620262616101"),
    ("map with int key", "a10102"),
    ("duplicate map key", "a2616101616102"),
    ("false", "f4"),
    ("true", "f5"),
    ("null", "f6"),
    ("undefined", "f7"),
    ("half float", "f93c00"),
    ("double", "fb3ff199999999999a"),
    ("tag 1 time", "c11a514b67b0"),
    ("simple value 16", "f0"),
    ("truncated", "1903"),
    ("two items", "0001"),
    ("fraction as array", "820103"),
    ("lone surrogate in text", "63eda080"),
    ("64 nested arrays", "81" * 64 + "00"),
    ("65 nested arrays", "81" * 65 + "00"),
    ("5000 nested tags", "c6" * 5000 + "00"),
    ("64 nested arrays around a reserved head", "81" * 63 + "1c"),
)
"""CBOR items, canonical and not, for the encoding runner (hex)."""


def encoding_inputs() -> Iterator[tuple[str, str, str, str, Input]]:
    for name, hexed in _CBOR_SAMPLES:
        plain = {"cbor": bytes.fromhex(hexed)}
        yield "canonical", "items", name, f"canonical form of {hexed}", plain
        yield "strict_decode", "items", name, f"is {hexed} protocol bytes?", plain
    world = _world()
    for label, value in (
        ("chain state", world.state),
        ("job", world.state.jobs[min(world.state.jobs)]),
        ("market", world.state.market),
        ("params", world.params),
    ):
        plain = {"cbor": canonical_bytes(value)}
        yield "strict_decode", "protocol", label, f"the canonical bytes of a {label}", plain


def crypto_inputs() -> Iterator[tuple[str, str, str, str, Input]]:
    from aci_ref.vectors.ed25519_cases import edge_cases

    for case in edge_cases():
        plain = {"message": case.message, "public": case.public, "signature": case.signature}
        yield "ed25519_verify", "edge_cases", case.name, ", ".join(case.flags) or "plain", plain
    for n in (0, 1, 55, 56, 64, 1000):
        data = bytes(i % 251 for i in range(n))
        yield "sha256", "lengths", f"{n} bytes", f"SHA-256 of {n} bytes", {"data": data}


@cache
def _world() -> World:
    """A world with a settled job, a running job and its worker's attestation."""
    world = build_world(world_params(RARELY), label="vectors-functions")
    world.run_job("client-0")
    world.order("client-1")
    return world


def _running(world: World) -> bytes:
    from aci_ref.market.jobs import JobStatus

    return next(
        bytes.fromhex(k)
        for k, job in sorted(world.state.jobs.items())
        if job.status is JobStatus.EXECUTING
    )


def economics_inputs() -> Iterator[tuple[str, str, str, str, Input]]:
    for amount in (0, 1, 4, 5, 99, 100, 101, 10**4 - 1, 10**4, 10**4 + 7, 123_456_789, 2**63 - 1):
        yield (
            "fee_split",
            "amounts",
            f"amount {amount}",
            f"Table 5 split of {amount}",
            {"amount": amount},
        )
    yield "fee_split", "refused", "negative", "a negative fee", {"amount": -1}
    world = _world()
    ledger = world.state.ledger
    worker = world.workers[0]
    for violation, role, who in (
        (Violation.WRONG_OUTPUT, Role.WORKER, worker),
        (Violation.INVALID_ATTESTATION, Role.WORKER, worker),
        (Violation.TIMEOUT, Role.WORKER, worker),
        (Violation.FALSE_ACCUSATION, Role.VERIFIER, world.verifiers[0]),
        (Violation.WRONG_OUTPUT, Role.VERIFIER, world.verifiers[0]),
        (Violation.TIMEOUT, Role.WORKER, "client-0"),
    ):
        evidence = Evidence(
            violation, who, role, sha256(f"{violation}/{who}".encode()), "validator-0"
        )
        yield (
            "slash",
            "table2",
            f"{violation} {role} {who}",
            f"{violation} by {who}",
            {
                "evidence": evidence,
                "ledger": ledger,
            },
        )
    used = Evidence(Violation.TIMEOUT, worker, Role.WORKER, bytes(32), None)
    yield (
        "slash",
        "refused",
        "zero evidence id",
        "evidence id of zeros",
        {
            "evidence": used,
            "ledger": ledger,
        },
    )


def market_inputs() -> Iterator[tuple[str, str, str, str, Input]]:
    market = _world().state.market
    for units in (1, 2, 7, 50, 10**6):
        yield (
            "quote",
            "units",
            f"{units} units",
            f"quote for {units} units",
            {
                "market": market,
                "resource_class": RESOURCE_CLASS,
                "units": units,
            },
        )
    yield (
        "quote",
        "refused",
        "unknown pool",
        "no such resource class",
        {
            "market": market,
            "resource_class": "tpu-huge",
            "units": 1,
        },
    )
    yield (
        "quote",
        "refused",
        "zero units",
        "a job of no units",
        {
            "market": market,
            "resource_class": RESOURCE_CLASS,
            "units": 0,
        },
    )
    for units, bound in ((1, 10**12), (3, 10**12), (1, 1)):
        yield (
            "buy",
            "swaps",
            f"{units} units bound {bound}",
            "fill at the quote",
            {
                "market": market,
                "max_price": bound,
                "resource_class": RESOURCE_CLASS,
                "units": units,
            },
        )


def poai_inputs() -> Iterator[tuple[str, str, str, str, Input]]:
    world = _world()
    job_id = _running(world)
    job = world.job(job_id)
    base = {
        "anchors": world.state.anchors,
        "expected": expected_job(world.state, job),
        "hardware": RESOURCE_CLASS,
        "profile": mlp().profile(),
    }
    stranger = next(w for w in world.workers if w != job.worker)
    forger = KeyPair.from_label("vectors/forger")
    variants: dict[str, tuple[bytes, Any]] = {
        "honest": world.attestation(job_id),
        "lazy output": world.attestation(job_id, behaviour="lazy"),
        "careless metrics": world.attestation(job_id, behaviour="careless"),
        "wrong job": world.attestation(job_id, job_id=sha256(b"another job")),
        "wrong input": world.attestation(job_id, h_input=sha256(b"another input")),
        "wrong model": world.attestation(job_id, h_model=sha256(b"another model")),
        "started before escrow": world.attestation(job_id, t_start_ms=job.escrowed_at_ms - 1),
        "ended after deadline": world.attestation(job_id, duration_ms=job.deadline_ms),
        "foreign enclave": world.attestation(job_id, enclave=world.enclaves[stranger]),
        "flops off": world.attestation(job_id, metrics=Metrics(1, 10**6, 5_000)),
    }
    hardware = HARDWARE_CLASSES[RESOURCE_CLASS]
    variants["faster than the hardware"] = world.attestation(job_id, duration_ms=0)
    flops = mlp().profile().flops_per_input
    variants["more memory than the hardware"] = world.attestation(
        job_id, metrics=Metrics(flops, hardware.memory_bytes + 1, 5_000)
    )
    output, attestation = world.attestation(job_id)
    variants["output not attested"] = (output + b"\x00", attestation)
    variants["forged signature"] = (output, replace(attestation, signature=forger.sign(b"x")))
    platform = replace(attestation.platform_cert, signature=forger.sign(b"x"))
    variants["forged platform certificate"] = (output, replace(attestation, platform_cert=platform))
    for name, (made, attested) in variants.items():
        plain = {**base, "attestation": attested, "output": made}
        yield "level1", "attestations", name, f"Level 1 on an attestation: {name}", plain
    anchors = world.state.anchors
    for name, changed in (
        ("measurement not allowed", TrustAnchors.of(anchors.vendor_roots, [])),
        ("vendor not trusted", TrustAnchors.of([], anchors.measurements)),
    ):
        plain = {**base, "anchors": changed, "attestation": attestation, "output": output}
        yield "level1", "anchors", name, f"Level 1 under other trust anchors: {name}", plain
    for i in range(12):
        beacon = sha256(f"vectors/beacon/{i}".encode())
        yield (
            "sampling",
            "draws",
            f"draw {i}",
            "u = SHA-256(beacon ‖ job) / 2^256 < rate",
            {
                "beacon": beacon,
                "job_id": job_id,
            },
        )


def function_cases(params: Params) -> Iterator[VectorCase]:
    """Every function vector, runner by runner."""
    sources = (
        ("crypto", crypto_inputs),
        ("economics", economics_inputs),
        ("encoding", encoding_inputs),
        ("hmm", market_inputs),
        ("merkle", merkle_inputs),
        ("poai", poai_inputs),
    )
    for runner, inputs in sources:
        for handler, suite, name, description, plain in inputs():
            yield function_case(params, runner, handler, suite, name, description, plain)
