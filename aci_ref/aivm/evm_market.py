"""Table 9, §8.4: the marketplace's operations on a real EVM, measured on its Solidity twin.

`Marketplace.sol` does in EVM code what our chain does for each Table 9 operation (the HMM
curve and worker choice, escrow, Level 1 with three secp256k1 signatures where our chain checks
three Ed25519 ones, Table 5's split, the tally, stake and unbonding). `TwinWorld` sets up the
same world as `aci_ref.sim.world.build_world` (clients, validators, verifiers, an LP, workers of
capacity 4 in one pool, the MLP model) on py-evm; `measure_market` runs one job through it and
reports each operation's receipt gas. Setup transactions are not measured.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace
from fractions import Fraction
from functools import lru_cache
from typing import Any, Final

from aci_ref.aivm.evm import Contract, EvmChain, Receipt, deploy
from aci_ref.aivm.evm_abi import encode_args, entry
from aci_ref.chain.state import PlatformRecord
from aci_ref.crypto import sha256
from aci_ref.market.hmm import reference_price
from aci_ref.market.jobs import sla_bounds
from aci_ref.params import Params
from aci_ref.poai.attestation import honest_metrics
from aci_ref.poai.matching import seed_from_job
from aci_ref.poai.profiles import HARDWARE_CLASSES
from aci_ref.poai.tee import WORKER_PROGRAM, measurement_of
from aci_ref.poai.verification import min_duration_ms
from aci_ref.poai.workloads import lazy_output
from aci_ref.sim.world import (
    BUDGET_TOKENS,
    CLIENT_TOKENS,
    RESOURCE_CLASS,
    SLA_MS,
    WORKER_CAPACITY,
    WORKER_THROUGHPUT,
    mlp,
    world_params,
)

OPERATIONS: Final = (
    "job submission",
    "settlement",
    "dispute resolution",
    "HMM swap",
    "stake",
    "unstake",
)
"""Table 9's rows, stake/unstake split in two."""
POOL_ID: Final = 0
VERIFIER_ROLE: Final = 1
SECP256K1_ORDER: Final = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141


@dataclass(frozen=True, slots=True)
class EvmRow:
    """Table 9, §8.4: one operation on py-evm, the receipt's gas (21,000 intrinsic included).

    `execution_gas` is what is left after the intrinsic and calldata charges (net of refunds);
    `gas_by_group` splits it by opcode group (`aci_ref.aivm.evm.GROUPS`), summing to it.
    """

    operation: str
    evm_gas: int
    detail: str
    execution_gas: int = 0
    gas_by_group: tuple[tuple[str, int], ...] = ()


def twin_config(params: Params) -> list[Any]:
    """ref: EVM twin (§8.4) — the twin's constructor `Config` from the protocol parameters."""
    shortest, longest = sla_bounds(params)
    quality, sampling = Fraction(params.quality_threshold), Fraction(params.sampling_rate)
    minimums = [
        params.tokens(params.validator_min_stake),
        params.tokens(params.verifier_min_stake),
        params.tokens(params.worker_min_stake),
        params.tokens(params.lp_min_stake),
    ]
    return [
        params.hmm_market_fee_bps,
        params.hmm_risk_fee_bps,
        quality.numerator,
        quality.denominator,
        PlatformRecord().quality_bps,
        params.hmm_reserve_bps,
        params.fee_validators_bps,
        params.fee_verifiers_bps,
        params.fee_lps_bps,
        params.fee_burn_bps,
        params.metrics_flops_tolerance_bps,
        params.timeout_sla_multiple,
        shortest,
        longest,
        params.max_input_bytes,
        sampling.numerator,
        sampling.denominator,
        params.verification_committee_size,
        params.verification_quorum_bps,
        params.slash_wrong_output_bps,
        params.slash_reporter_reward_bps,
        params.unbonding_delay_ms,
        params.tokens(params.worker_stake_per_capacity_unit),
        minimums,
    ]


# ---- secp256k1 stand-ins for the Ed25519 keys of the simulation -----------------------------


def secret_of(label: str) -> bytes:
    """ref: EVM twin keys (§8.4) — a deterministic secp256k1 secret for `label`.

    SHA-256 of the label, re-hashed in the rare case it is not a valid scalar.
    """
    seed = f"aci-ref/evm/{label}".encode()
    while not 0 < int.from_bytes(digest := hashlib.sha256(seed).digest(), "big") < SECP256K1_ORDER:
        seed = digest
    return digest


@lru_cache(maxsize=4096)
def address_of(secret: bytes) -> bytes:
    """ref: EVM twin keys (§8.4) — a secret's address (remembered: a curve multiplication)."""
    from eth_keys.datatypes import PrivateKey

    return bytes(PrivateKey(secret).public_key.to_canonical_address())


def sign(secret: bytes, digest: bytes) -> tuple[int, bytes, bytes]:
    """ref: EVM twin keys (§8.4) — (v, r, s) of `digest`, with the low s the twin accepts."""
    from eth_keys.datatypes import PrivateKey

    signed = PrivateKey(secret).sign_msg_hash(digest)
    v, r, s = signed.v, signed.r, signed.s
    if s > SECP256K1_ORDER // 2:
        v, s = v ^ 1, SECP256K1_ORDER - s
    return 27 + v, r.to_bytes(32, "big"), s.to_bytes(32, "big")


def statement(domain: str, *fields: tuple[str, Any]) -> bytes:
    """ref: EVM twin keys (§8.4) — keccak256(abi.encode(keccak256(domain), fields...)).

    What every signer of the twin signs: the EVM stand-in for our domain-tagged CBOR.
    """
    from eth_hash.auto import keccak

    types = [{"type": "bytes32"}] + [{"type": kind} for kind, _ in fields]
    values = [keccak(domain.encode())] + [value for _, value in fields]
    return bytes(keccak(encode_args(types, values)))


@lru_cache(maxsize=1024)
def certificate(
    issuer: bytes, subject: bytes, measurement: bytes, enclave: bool
) -> tuple[bytes, bytes, bytes, tuple[int, bytes, bytes]]:
    """§3.2 (EVM twin): a platform (vendor → platform) or enclave (platform → enclave) cert."""
    domain = "aci-ref/tee/enclave" if enclave else "aci-ref/tee/platform"
    issuer_address, subject_address = address_of(issuer), address_of(subject)
    digest = statement(
        domain, ("address", issuer_address), ("address", subject_address), ("bytes32", measurement)
    )
    return issuer_address, subject_address, measurement, sign(issuer, digest)


# ---- the world ------------------------------------------------------------------------------


class TwinWorld:
    """ref: EVM twin (§8.4) — `build_world`'s actors and genesis around one `Marketplace`.

    Names are the world's (client-0, validator-0, verifier-0, lp-0, and the workers); each has a
    secp256k1 key from its label. `sampling_rate` overrides the parameter, as `world_params`.
    """

    def __init__(
        self,
        params: Params | None = None,
        *,
        workers: tuple[str, ...] = ("honest-0", "honest-1"),
        trace: bool = False,
        label: str = "twin",
        extra: tuple[str, ...] = (),
    ) -> None:
        self.params = world_params() if params is None else params
        self.label = label
        names = ["client-0", "client-1", "validator-0", "validator-1", "lp-0", *extra]
        names += [f"verifier-{i}" for i in range(5)] + list(workers)
        self.keys = {name: secret_of(f"{label}/{name}") for name in names}
        self.names = {address_of(secret): name for name, secret in self.keys.items()}
        self.vendor = secret_of(f"{label}/vendor")
        self.chain = EvmChain(tuple(self.keys.values()), trace=trace)
        self.market: Contract = deploy(self.chain, "Marketplace", twin_config(self.params))
        self.workload = mlp()
        self.model = self.workload.h_model
        self.setup: dict[str, int] = {}
        self.hardware = hardware = HARDWARE_CLASSES[RESOURCE_CLASS]
        tokens = self.params.tokens
        self.operate("trust", address_of(self.vendor), measurement_of(WORKER_PROGRAM))
        price = reference_price(self.params)
        self.operate(
            "createPool", POOL_ID, price, hardware.peak_flops_per_ms, hardware.memory_bytes
        )
        profile, rule = self.workload.profile(), self.workload.input_rule()
        spec = [POOL_ID, 1, profile.flops_per_input, profile.weight_bytes, rule.length, True]
        self.operate("registerModel", self.model, spec)
        for client in ("client-0", "client-1"):
            self.operate("mint", self.address(client), tokens(CLIENT_TOKENS))
        for role, prefix, minimum in (
            (0, "validator", self.params.validator_min_stake),
            (1, "verifier", self.params.verifier_min_stake),
        ):
            for name in (n for n in names if n.startswith(prefix)):
                self.operate("mint", self.address(name), tokens(2 * minimum))
                receipt = self.market.transact("stake", role, tokens(minimum), key=self.keys[name])
                self.setup.setdefault(f"first {prefix} bond", receipt.gas_used)
        self.operate("mint", self.address("lp-0"), tokens(10 * self.params.lp_min_stake))
        lp_stake = tokens(5 * self.params.lp_min_stake)
        self.market.transact("depositLiquidity", POOL_ID, lp_stake, key=self.keys["lp-0"])
        for worker in workers:
            self.register(worker)
        self.inputs: dict[int, bytes] = {}

    def address(self, name: str) -> bytes:
        return address_of(self.keys[name])

    def actor(self, name: str) -> str:
        """`name`, given a key and gas money first if the world does not know it yet."""
        if name not in self.keys:
            self.keys[name] = secret_of(f"{self.label}/{name}")
            self.names[address_of(self.keys[name])] = name
            self.chain.fund(self.keys[name])
        return name

    def operate(self, function: str, *args: Any) -> Receipt:
        """A genesis step, sent by the operator (the deployer)."""
        return self.market.transact(function, *args)

    def enclave_chain(self, worker: str) -> tuple[bytes, Any, Any]:
        """The worker's enclave secret and its two certificates (vendor → platform → enclave)."""
        platform = secret_of(f"{self.label}/platform/{worker}")
        enclave = secret_of(f"{self.label}/enclave/{worker}")
        measurement = measurement_of(WORKER_PROGRAM)
        return (
            enclave,
            certificate(self.vendor, platform, b"\x00" * 32, enclave=False),
            certificate(platform, enclave, measurement, enclave=True),
        )

    def register(
        self,
        worker: str,
        capacity: int = WORKER_CAPACITY,
        throughput: int = WORKER_THROUGHPUT,
        pool: int = POOL_ID,
    ) -> Receipt:
        """RegisterWorker in `pool`: funded as `build_world` funds it, bonded at its required
        stake, with a registration proof signed by its enclave."""
        needed = max(
            self.params.worker_min_stake, capacity * self.params.worker_stake_per_capacity_unit
        )
        self.operate("mint", self.address(worker), self.params.tokens(3 * needed))
        enclave, platform_cert, enclave_cert = self.enclave_chain(worker)
        proof = sign(
            enclave, statement("aci-ref/tee/registration", ("address", self.address(worker)))
        )
        return self.market.transact(
            "registerWorker",
            pool,
            capacity,
            throughput,
            0,
            platform_cert,
            enclave_cert,
            list(proof),
            key=self.keys[worker],
        )

    def submit(
        self, client: str = "client-0", max_price: int | None = None, *, quote_only: bool = False
    ) -> tuple[int, Receipt]:
        """submitJob (or requestQuote) of a fresh input at the world's SLA and budget."""
        bound = self.params.tokens(BUDGET_TOKENS) if max_price is None else max_price
        data = self.workload.make_input(len(self.inputs) + 1)
        function = "requestQuote" if quote_only else "submitJob"
        args = (self.model, data, SLA_MS, bound)
        receipt = self.market.transact(function, *args, key=self.keys[client])
        job_id = int.from_bytes(receipt.output[:32], "big")
        self.inputs[job_id] = data
        return job_id, receipt

    def job(self, job_id: int) -> dict[str, Any]:
        """The twin's record of a job, by field name."""
        names = [o["name"] for o in entry(self.market.compiled.abi, "function", "jobs")["outputs"]]
        return dict(zip(names, self.market.read("jobs", job_id), strict=True))

    def result(
        self, job_id: int, behaviour: str = "honest", signer: bytes | None = None, **fields: Any
    ) -> tuple[str, bytes, list[Any]]:
        """(worker, output, attestation) for `job_id`: honest, or lazy (a wrong output under a
        genuine attestation); `fields` override the statement, `signer` the enclave key."""
        job = self.job(job_id)
        worker = self.names[job["worker"]]
        seed = seed_from_job(job_id.to_bytes(32, "big"))
        data = self.inputs[job_id]
        if behaviour == "honest":
            output = self.workload.run(data, seed)
        else:
            output = lazy_output(self.workload, data, "random", seed)
        profile = self.workload.profile()
        metrics = honest_metrics(profile)
        claim: dict[str, Any] = {
            "jobId": job_id,
            "hInput": job["inputHash"],
            "hOutput": sha256(output),
            "hModel": self.model,
            "tStartMs": job["escrowedAtMs"],
            "durationMs": min_duration_ms(profile.flops_per_input, self.hardware) + 1,
            "flops": metrics.flops,
            "memoryBytes": metrics.memory_bytes,
            "gpuUtilBps": metrics.gpu_util_bps,
        }
        claim.update(fields)
        words = ("uint256", *["bytes32"] * 3, *["uint64"] * 5)
        digest = statement("aci-ref/poai/attestation", *zip(words, claim.values(), strict=True))
        enclave, platform_cert, enclave_cert = self.enclave_chain(worker)
        seal = sign(enclave if signer is None else signer, digest)
        return worker, output, [platform_cert, enclave_cert, *claim.values(), list(seal)]

    def vote(self, voter: str, job_id: int, accept: bool) -> list[Any]:
        """`voter`'s signed verdict on `job_id`."""
        digest = statement(
            "aci-ref/poai/vote",
            ("uint256", job_id),
            ("address", self.address(voter)),
            ("bool", accept),
        )
        return list(sign(self.keys[voter], digest))

    def settle(self, job_id: int, behaviour: str = "honest", **fields: Any) -> Receipt:
        """settleJob by the job's worker with its (honest or lazy) result."""
        worker, output, attestation = self.result(job_id, behaviour, **fields)
        return self.market.transact("settleJob", job_id, output, attestation, key=self.keys[worker])

    def decide(self, job_id: int, accept: bool) -> Receipt:
        """The first committee member's vote on a sampled job (with one member, it decides)."""
        name = self.names[self.market.read("committeeMember", job_id, 0)[0]]
        vote = self.vote(name, job_id, accept)
        return self.market.transact("castVote", job_id, accept, vote, key=self.keys[name])


def _row(operation: str, receipt: Receipt, detail: str) -> EvmRow:
    groups = tuple(receipt.groups.items())
    return EvmRow(operation, receipt.gas_used, detail, receipt.execution_gas, groups)


def measure_market(params: Params | None = None) -> list[EvmRow]:
    """Table 9, §8.4: each operation on the twin, one receipt each, in `OPERATIONS` order.

    Two worlds, as `tests/aivm/test_marketplace.py` has them: the default one (no job sampled),
    for submission, swap, settlement and stake; and one whose every job is sampled, with one lazy
    worker and a one-member committee, for the vote that decides a dispute. In each, one job first
    runs its whole life unmeasured, so the contract's running totals (burn, reward pools, job
    counter) exist as on any chain in use; a first-ever operation's extra cost is in `detail`.
    """
    base = world_params() if params is None else params
    plain = TwinWorld(base, trace=True, label="twin")
    client, verifier = plain.keys["client-0"], plain.keys["verifier-0"]
    first, first_submit = plain.submit()
    first_settle = plain.settle(first)
    job, submitted = plain.submit()
    quoted, _ = plain.submit(quote_only=True)
    swapped = plain.market.transact("swap", quoted, plain.job(quoted)["budget"], key=client)
    settled = plain.settle(job)
    top_up = plain.params.tokens(plain.params.verifier_min_stake)
    staked = plain.market.transact("stake", VERIFIER_ROLE, top_up, key=verifier)
    unstaked = plain.market.transact("unstake", VERIFIER_ROLE, top_up, key=verifier)

    audited = TwinWorld(
        replace(base, sampling_rate=Fraction(1)), workers=("lazy-0",), trace=True, label="votes"
    )
    warm, _ = audited.submit()
    audited.settle(warm)
    first_vote = audited.decide(warm, True)
    disputed, _ = audited.submit()
    drawn = audited.settle(disputed, "lazy")
    convicted = audited.decide(disputed, False)
    honest, _ = audited.submit()
    audited.settle(honest)
    accepted = audited.decide(honest, True)
    workers = len(("honest-0", "honest-1"))
    return [
        _row(
            "job submission",
            submitted,
            f"submitJob: HMM quote over the pool's {workers} workers, require(price <= maxPrice), "
            "escrow from the client's balance, the buy on the curve, a new job record (input "
            f"hashed by the SHA-256 precompile); the contract's first job cost "
            f"{first_submit.gas_used:,}",
        ),
        _row(
            "settlement",
            settled,
            "settleJob of an unsampled job: 3 ecrecover (vendor -> platform, platform -> enclave, "
            "the attestation), SHA-256 of the output, HASH_COMPARE, freshness and metrics, then "
            "escrow released by Table 5 and the units back on the curve (our chain releases at "
            f"the block's draw, E102); the first settlement ever cost {first_settle.gas_used:,}",
        ),
        _row(
            "dispute resolution",
            convicted,
            "castVote that decides against the worker: ecrecover of the vote, committee "
            "membership, stake-weighted tally at the quorum, then the client refunded, the "
            "worker slashed for a wrong output and the accuser's reward; an accepting deciding "
            f"vote cost {accepted.gas_used:,} (the first ever {first_vote.gas_used:,}); settling a "
            f"sampled job (Level 1 and the committee draw) cost {drawn.gas_used:,}",
        ),
        _row(
            "HMM swap",
            swapped,
            "swap of a quoted job (AcceptQuote): re-quote on the curve as it is, require(price <= "
            "maxPrice), the buy along the curve and the escrow lock",
        ),
        _row(
            "stake",
            staked,
            "a bonded verifier bonds more; a first bond (new position, committee candidate "
            f"list) cost {plain.setup['first verifier bond']:,}",
        ),
        _row(
            "unstake",
            unstaked,
            "the same amount leaves the role into the unbonding queue with its release time",
        ),
    ]
