"""The adversaries of §6.1 as small, deterministic policies over a `World` (aci_ref.sim.world).

A worker policy answers one job: `respond(world, job_id)` returns the output and attestation the
job's worker submits, and whether it skipped the work. A verifier policy says how one committee
member votes: `verdict(world, verifier, job_id)` returns True or False, or None for the honest
verdict (re-execute and compare). Which jobs a policy skips is decided by a hash of its label and
the job id (`skips`), so a run is reproducible byte for byte and no policy reads a random source.

`ADVERSARIES` lists every adversary with the Table 2 row and the PoAI level expected to catch it;
`aci_ref.sim.adversary_runs` drives the policies through whole epochs of jobs.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from fractions import Fraction
from itertools import islice
from types import MappingProxyType
from typing import Final, Protocol

from aci_ref.crypto import beacon_draw_int, draw_below, sha256
from aci_ref.economics.ledger import Role
from aci_ref.economics.slashing import Violation
from aci_ref.economics.staking import required_stake
from aci_ref.encoding import canonical_bytes
from aci_ref.errors import RejectedError, Rejection
from aci_ref.events import SubmitResult
from aci_ref.params import Params
from aci_ref.poai.attestation import Attestation
from aci_ref.poai.matching import seed_from_job
from aci_ref.poai.tee import Enclave, extract_enclave_key
from aci_ref.poai.workloads import LAZY_MODES, lazy_output
from aci_ref.sim.world import WORKER_CAPACITY, WORKER_THROUGHPUT, Behaviour, WorkerSpec, World, mlp

SKIP_DOMAIN: Final = "aci-ref/sim/adversary/skip"
PICK_DOMAIN: Final = "aci-ref/sim/adversary/pick"
COALITION_DOMAIN: Final = "aci-ref/sim/adversary/coalition"
LAZY_OUTPUTS: Final = ("random", "cached", "copied")
"""§6.1 item 1: what a lazy worker returns — random values, a cached output of another input,
or another worker's output for another job."""
COPY_WINDOW: Final = 16
"""How many of the latest submissions a copying worker chooses from (keeps a pick O(1))."""


@dataclass(frozen=True, slots=True)
class Response:
    """What a worker submits for one job, and whether it skipped the work to make it."""

    output: bytes
    attestation: Attestation
    skipped: bool

    def body(self, job_id: bytes) -> SubmitResult:
        """The SubmitResult event body carrying this response."""
        return SubmitResult(job_id, self.output, self.attestation)


class WorkerPolicy(Protocol):
    """How a worker answers the jobs it is assigned."""

    def respond(self, world: World, job_id: bytes) -> Response: ...


class VerifierPolicy(Protocol):
    """How a verifier votes on a committee: True / False, or None for its honest verdict."""

    def verdict(self, world: World, verifier: str, job_id: bytes) -> bool | None: ...


def skips(label: str, job_id: bytes, delta: Fraction) -> bool:
    """§6.1 item 1 (which jobs): skipped when H(label-tag ‖ job id) / 2^256 < δ, exactly."""
    return draw_below(_tag(SKIP_DOMAIN, label), job_id, delta)


def _tag(domain: str, label: str) -> bytes:
    return sha256(canonical_bytes({"domain": domain, "label": label}))


def _check_rate(delta: Fraction) -> None:
    if not 0 <= delta <= 1:
        raise RejectedError(Rejection.BAD_INPUT, f"a deviation rate is in [0, 1], got {delta}")


def _input_and_seed(world: World, job_id: bytes) -> tuple[bytes, int]:
    return world.job(job_id).spec.input, seed_from_job(job_id)


def _honest(world: World, job_id: bytes) -> Response:
    output, attestation = world.attestation(job_id)
    return Response(output, attestation, False)


@dataclass(frozen=True, slots=True)
class HonestWorker:
    """ref: the control group — runs every job and attests what it ran."""

    def respond(self, world: World, job_id: bytes) -> Response:
        """The honest output under the worker's own enclave."""
        return _honest(world, job_id)


@dataclass(frozen=True, slots=True)
class LazyWorker:
    """§6.1 item 1: skips δ of its jobs and returns a random, cached or copied output.

    `careful` keeps honest-looking metrics, so Level 1 passes and only a sampled re-execution
    (Level 2) finds the job wrong; a careless one claims no compute at all, which Level 1's
    metrics check refuses and a validator can report (Table 2 row Invalid attestation).
    """

    delta: Fraction
    mode: str = "random"
    careful: bool = True
    label: str = "lazy"

    def __post_init__(self) -> None:
        _check_rate(self.delta)
        if self.mode not in LAZY_OUTPUTS:
            raise RejectedError(Rejection.BAD_INPUT, f"unknown lazy output {self.mode!r}")

    def skips(self, job_id: bytes) -> bool:
        """§6.1 item 1: whether this worker skips `job_id` (by hash, reproducible)."""
        return skips(self.label, job_id, self.delta)

    def wrong_output(self, world: World, job_id: bytes) -> bytes:
        """§6.1 item 1: the output a skipped job gets instead of a run of the model."""
        data, seed = _input_and_seed(world, job_id)
        if self.mode == "copied":
            copied = copied_output(world, job_id, self.label)
            if copied is not None:
                return copied
            return lazy_output(mlp(), data, "cached", seed)
        return lazy_output(mlp(), data, self.mode, seed)

    def respond(self, world: World, job_id: bytes) -> Response:
        """§6.1 item 1: honest on 1 − δ of the jobs, a wrong output on the rest."""
        if not self.skips(job_id):
            return _honest(world, job_id)
        behaviour = Behaviour.LAZY if self.careful else Behaviour.CARELESS
        wrong = self.wrong_output(world, job_id)
        output, attestation = world.attestation(job_id, behaviour=behaviour, output=wrong)
        return Response(output, attestation, True)


def copied_output(world: World, job_id: bytes, label: str) -> bytes | None:
    """§6.1 item 1 ("copied"): another worker's submitted output for another job, or None.

    Chosen by hash among the latest `COPY_WINDOW` submissions the world recorded.
    """
    worker = world.job(job_id).worker
    candidates = [
        event.body.output
        for key, event in islice(reversed(world.submissions.items()), COPY_WINDOW)
        if key != job_id.hex() and event.sender != worker and isinstance(event.body, SubmitResult)
    ]
    if not candidates:
        return None
    pick = beacon_draw_int(_tag(PICK_DOMAIN, label), job_id) % len(candidates)
    return candidates[pick]


@dataclass(frozen=True, slots=True)
class ColludingWorkers:
    """§6.1 item 2: `members` agree on one deterministic wrong answer per input.

    A member skipping a job returns the coalition's shared output for the job's input, so equal
    inputs get equal wrong outputs whichever member serves them (consistent but incorrect), under
    a genuine attestation with honest metrics: only Level 2 can tell.
    """

    members: frozenset[str]
    delta: Fraction = Fraction(1)
    label: str = "coalition"

    def __post_init__(self) -> None:
        _check_rate(self.delta)
        if not self.members:
            raise RejectedError(Rejection.BAD_INPUT, "a coalition needs members")

    @property
    def seed(self) -> int:
        """The coalition's secret seed: its wrong answers depend on the input and this only."""
        return int.from_bytes(_tag(COALITION_DOMAIN, self.label)[:8]) >> 1

    def shared_output(self, data: bytes) -> bytes:
        """§6.1 item 2: the answer every member gives for `data` when it skips."""
        return mlp().random_output(data, self.seed)

    def respond(self, world: World, job_id: bytes) -> Response:
        """§6.1 item 2: a member's answer — the shared wrong one on δ of its jobs."""
        job = world.job(job_id)
        if job.worker not in self.members:
            raise RejectedError(Rejection.BAD_INPUT, f"{job.worker} is not in the coalition")
        if not skips(self.label, job_id, self.delta):
            return _honest(world, job_id)
        wrong = self.shared_output(job.spec.input)
        output, attestation = world.attestation(job_id, behaviour=Behaviour.LAZY, output=wrong)
        return Response(output, attestation, True)


@dataclass(frozen=True, slots=True)
class TeeAttacker:
    """§6.1 item 4, DESIGN §4: holds its enclave's extracted key and forges attestations.

    On δ of its jobs it runs a cheaper shortcut (`mode`, one of `LAZY_MODES`) and signs, with
    the extracted key, a statement with honest metrics and a plausible duration: the certificate
    chain is genuine, so Level 1 accepts it; only re-execution (Level 2) can catch it.
    """

    delta: Fraction = Fraction(1)
    mode: str = "cheap"
    label: str = "tee"

    def __post_init__(self) -> None:
        _check_rate(self.delta)
        if self.mode not in LAZY_MODES:
            raise RejectedError(Rejection.BAD_INPUT, f"unknown lazy mode {self.mode!r}")

    def forger(self, world: World, worker: str) -> Enclave:
        """§6.1 item 4: a signer built from the extracted key and the genuine certificates."""
        genuine = world.enclaves[worker]
        key = extract_enclave_key(genuine)
        return Enclave(genuine.platform_cert, genuine.enclave_cert, key)

    def respond(self, world: World, job_id: bytes) -> Response:
        """§6.1 item 4: a forged attestation of a shortcut output on δ of the jobs."""
        if not skips(self.label, job_id, self.delta):
            return _honest(world, job_id)
        data, seed = _input_and_seed(world, job_id)
        wrong = lazy_output(mlp(), data, self.mode, seed)
        signer = self.forger(world, world.job(job_id).worker)
        output, attestation = world.attestation(
            job_id, behaviour=Behaviour.LAZY, enclave=signer, output=wrong
        )
        return Response(output, attestation, True)


@dataclass(frozen=True, slots=True)
class SubtleTamperer:
    """§3.4, §6.1 item 1: changes δ of its outputs just enough to fail the §3.4 match.

    Uses `aci_ref.sim.tampering` ("nudge": one logit just beyond ε_num; "swap": one sampled
    token; "cached": another input's answer), imported when first used. Level 1 passes; a sampled
    re-execution catches it.
    """

    how: str = "nudge"
    delta: Fraction = Fraction(1)
    label: str = "tamper"

    def __post_init__(self) -> None:
        _check_rate(self.delta)

    def respond(self, world: World, job_id: bytes) -> Response:
        """§3.4: a tampered output on δ of the jobs, under a genuine attestation."""
        from aci_ref.sim import tampering

        if self.how not in tampering.TAMPERINGS:
            raise RejectedError(Rejection.BAD_INPUT, f"unknown tampering {self.how!r}")
        if not skips(self.label, job_id, self.delta):
            return _honest(world, job_id)
        data, seed = _input_and_seed(world, job_id)
        wrong = tampering.tampered_output(mlp(), data, seed, self.how, params=world.params)
        output, attestation = world.attestation(job_id, behaviour=Behaviour.LAZY, output=wrong)
        return Response(output, attestation, True)


@dataclass(frozen=True, slots=True)
class SybilAttacker:
    """§6.1 item 3, Table 2 row Sybil: `identities` worker identities on one TEE platform.

    `specs` is what the attacker can afford to run: many identities, one machine (one platform
    key), which the chain detects at registration. `distinct_specs` is what Theorem 4 prices:
    one certified machine per identity. `merged_spec` is one identity declaring the capacity
    (and throughput) of all of them.
    """

    identities: int
    platform: str = "sybil-machine"
    capacity: int = WORKER_CAPACITY
    prefix: str = "sybil"

    def __post_init__(self) -> None:
        if self.identities < 1:
            raise RejectedError(Rejection.BAD_INPUT, "a Sybil attacker needs an identity")

    def names(self) -> tuple[str, ...]:
        """The identities' worker names."""
        return tuple(f"{self.prefix}-{i}" for i in range(self.identities))

    def specs(self) -> tuple[WorkerSpec, ...]:
        """Table 2 row Sybil: every identity presents the same platform."""
        return tuple(
            WorkerSpec(n, capacity=self.capacity, platform=self.platform) for n in self.names()
        )

    def distinct_specs(self) -> tuple[WorkerSpec, ...]:
        """Theorem 4, §6.2: one certified platform per identity (each its own machine)."""
        return tuple(WorkerSpec(n, capacity=self.capacity) for n in self.names())

    def merged_spec(self) -> WorkerSpec:
        """Theorem 4 (E64): one identity with the capacity and throughput of all of them."""
        return WorkerSpec(
            f"{self.prefix}-merged",
            capacity=self.identities * self.capacity,
            platform=self.platform,
            throughput=self.identities * WORKER_THROUGHPUT,
        )

    def stake_needed(self, params: Params) -> int:
        """Definition 1: the stake the identities bond together (each its required stake)."""
        return self.identities * required_stake(params, Role.WORKER, self.capacity)


@dataclass(frozen=True, slots=True)
class HonestVerifier:
    """ref: the control group — re-executes and votes its verdict."""

    def verdict(self, world: World, verifier: str, job_id: bytes) -> bool | None:
        """None: vote the honest re-execution's verdict."""
        return None


@dataclass(frozen=True, slots=True)
class LazyVerifier:
    """DESIGN §3 (the verifier's dilemma): votes accept without re-executing."""

    def verdict(self, world: World, verifier: str, job_id: bytes) -> bool | None:
        """Always accept; no model is run."""
        return True


@dataclass(frozen=True, slots=True)
class MaliciousVerifier:
    """§6.1 item 5 (on a committee): accuses outputs whatever they are.

    It votes reject on every job of `targets` (every job when empty); arbitration, which
    re-executes, finds an honest output right and slashes the accuser (E11).
    """

    targets: frozenset[str] = frozenset()

    def verdict(self, world: World, verifier: str, job_id: bytes) -> bool | None:
        """Reject the targets' jobs; vote honestly on the others."""
        worker = world.job(job_id).worker
        return False if not self.targets or worker in self.targets else None


@dataclass(frozen=True, slots=True)
class ColludingVerifiers:
    """§6.1 items 2 and 5: verifiers that accept their partner workers' outputs, right or wrong.

    On a verification committee or in arbitration, a member votes accept on any job of
    `partners` and honestly on every other job. It decides a job only where the coalition's
    stake reaches the committee's quorum (or, in arbitration, blocks one).
    """

    members: frozenset[str]
    partners: frozenset[str]

    def verdict(self, world: World, verifier: str, job_id: bytes) -> bool | None:
        """Accept the partners' jobs; vote honestly on the others."""
        if verifier in self.members and world.job(job_id).worker in self.partners:
            return True
        return None


@dataclass(frozen=True, slots=True)
class AdversaryInfo:
    """ref: adversary registry entry — what it does and what should catch it.

    `violation` is the Table 2 row (or errata row, E11, E90) expected to slash it and `level`
    the PoAI level that finds it (0: deadline monitoring, outside Algorithm 2).
    """

    role: str
    summary: str
    violation: Violation | None
    level: int | None
    caught_by: str


_W, _V = "worker", "verifier"
_ROWS: Final = (
    ("lazy-careless", _W, "skips δ of its jobs, claims impossible metrics (careless LazyWorker)",
     Violation.INVALID_ATTESTATION, 1, "Level 1 metrics check; a validator reports it (50 %)"),
    ("lazy-careful", _W, "skips δ of its jobs with honest-looking metrics (LazyWorker)",
     Violation.WRONG_OUTPUT, 2, "Level 2 re-execution when sampled, arbitration (100 %, ban)"),
    ("colluding-workers", _W, "k workers give one shared wrong answer per input",
     Violation.WRONG_OUTPUT, 2, "Level 2 per member, independently of the others (Theorem 3)"),
    ("tee-attacker", _W, "forges attestations with its extracted enclave key (TeeAttacker)",
     Violation.WRONG_OUTPUT, 2, "Level 1 passes; Level 2 re-execution when sampled (Theorem 2)"),
    ("subtle-tamperer", _W, "moves an output just past the §3.4 tolerance (SubtleTamperer)",
     Violation.WRONG_OUTPUT, 2, "Level 2 comparison at ε_num / ε_KL when sampled"),
    ("sybil", _W, "many worker identities on one TEE platform (SybilAttacker)",
     Violation.SYBIL, 1, "registration: a platform shared by two identities slashes both (100 %)"),
    ("colluding-verifiers", _V, "accept their partner workers' outputs (ColludingVerifiers)",
     Violation.MISSED_FAULT, 2, "decide only holding a quorum; slashed if arbitration convicts"),
    ("lazy-verifier", _V, "accepts without re-executing (LazyVerifier)",
     Violation.MISSED_FAULT, 2, "a revealed planted probe or a convicting arbitration (E90)"),
    ("malicious-verifier", _V, "accuses honest outputs (MaliciousVerifier)",
     Violation.FALSE_ACCUSATION, 2, "arbitration re-executes, accepts, slashes the accuser (E11)"),
)  # fmt: skip

ADVERSARIES: Final[Mapping[str, AdversaryInfo]] = MappingProxyType(
    {row[0]: AdversaryInfo(*row[1:]) for row in _ROWS}
)
"""ref: adversaries (§6.1, DESIGN §6) — every adversary policy by name, with what catches it."""


__all__ = [
    "ADVERSARIES",
    "LAZY_OUTPUTS",
    "AdversaryInfo",
    "ColludingVerifiers",
    "ColludingWorkers",
    "HonestVerifier",
    "HonestWorker",
    "LazyVerifier",
    "LazyWorker",
    "MaliciousVerifier",
    "Response",
    "SubtleTamperer",
    "SybilAttacker",
    "TeeAttacker",
    "VerifierPolicy",
    "WorkerPolicy",
    "copied_output",
    "skips",
]
