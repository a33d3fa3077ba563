"""Table 9 three ways: the AIVM under our schedule, the Solidity twin on a real EVM, the paper.

The AIVM column runs the bundled marketplace contract as `CallContract` events through
`chain.apply` in a small world; its gas comes from a schedule the reference wrote
(`spec/aivm.md`, `[aivm]` of the parameters), split by opcode (`ContractCalled.opcode_gas`; the
rest is plain instructions). The EVM column runs `Marketplace.sol` on py-evm
(`aci_ref.aivm.evm_market`): gas from the EVM's own Cancun schedule, per transaction, the 21,000
intrinsic included — nothing we wrote. The paper's columns are Table 9 as printed. Where py-evm is
absent the EVM column is empty, never estimated.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from functools import cache
from typing import Any, Final

from aci_ref.chain.contracts import CALL_BASE
from aci_ref.errors import Rejection
from aci_ref.params import Params


@dataclass(frozen=True, slots=True)
class PaperRow:
    """One row of Table 9 as the paper prints it (thousands of gas rounded as printed)."""

    operation: str
    aci_gas: int
    l2_gas: int
    savings_pct: int


TABLE9: Final = (
    PaperRow("job submission", 42_000, 147_000, 71),
    PaperRow("settlement", 28_000, 89_000, 69),
    PaperRow("dispute resolution", 120_000, 412_000, 71),
    PaperRow("HMM swap", 35_000, 118_000, 70),
    PaperRow("stake / unstake", 21_000, 67_000, 69),
)
"""Table 9, §8.4: gas of five operations on ACI and on an unnamed Ethereum L2, as printed."""

OPERATIONS: Final = (
    ("job submission", "job submission"),
    ("settlement", "settlement"),
    ("dispute resolution", "dispute resolution"),
    ("HMM swap", "HMM swap"),
    ("stake", "stake / unstake"),
    ("unstake", "stake / unstake"),
)
"""(our operation, the Table 9 row it is compared with): Table 9's stake/unstake is two calls."""


@dataclass(frozen=True, slots=True)
class AivmRow:
    """One operation as a marketplace `CallContract`: its entry point, gas and gas by opcode."""

    operation: str
    entry: str
    gas: int
    opcode_gas: Mapping[str, int] = field(default_factory=dict)
    detail: str = ""

    @property
    def instruction_gas(self) -> int:
        """The gas of plain WebAssembly instructions: the call's gas less its opcodes'."""
        return self.gas - sum(self.opcode_gas.values())


@dataclass(frozen=True, slots=True)
class GasTableRow:
    """One line of the three-way table."""

    operation: str
    aivm: AivmRow
    evm_gas: int | None
    evm_detail: str
    paper: PaperRow
    evm_execution_gas: int | None = None
    evm_groups: Mapping[str, int] = field(default_factory=dict)

    @property
    def evm_over_aivm(self) -> float | None:
        """How many times the EVM's gas the AIVM's is (None without an EVM figure)."""
        return None if self.evm_gas is None else self.evm_gas / self.aivm.gas

    @property
    def savings_pct(self) -> float | None:
        """1 − AIVM / EVM, in percent: Table 9's "Savings", as measured, call with transaction.

        Both sides include a per-call charge: the AIVM's `aivm_gas_call_base`, the EVM's 21,000
        intrinsic plus its calldata.
        """
        return None if self.evm_gas is None else 100 * (1 - self.aivm.gas / self.evm_gas)

    @property
    def execution_savings_pct(self) -> float | None:
        """The same, execution only: AIVM gas less its call base over the EVM's execution gas."""
        if not self.evm_execution_gas:
            return None
        executed = self.aivm.gas - self.aivm.opcode_gas.get(CALL_BASE, 0)
        return 100 * (1 - executed / self.evm_execution_gas)


def _called(effects: Sequence[object], entry: str) -> AivmRow:
    from aci_ref.chain.effects import ContractCalled, ContractReverted

    for effect in effects:
        if isinstance(effect, ContractReverted):
            raise AssertionError(f"{entry} reverted: {effect.reason}")
        if isinstance(effect, ContractCalled):
            return AivmRow("", entry, effect.gas_used, dict(effect.opcode_gas))
    raise AssertionError(f"{entry} left no ContractCalled")


def measure_aivm(params: Params) -> list[AivmRow]:
    """Run each Table 9 operation once through the marketplace contract; its row, in order.

    The world: every job sampled (`sampling_rate` = 1) so settlement leads to a committee, and
    one lazy worker, whose output the committee rejects, so the job goes to arbitration.
    Job submission is `submitJob`; the HMM swap is `swapJob` on a job `quoteJob` quoted;
    settlement is `settleJob` with an honest result; dispute resolution is the arbiter's vote
    that decides the disputed job; stake and unstake bond and unbond 1,000 base units.
    """
    from dataclasses import replace

    import wasmtime

    from aci_ref.aivm.bundled import bundled_contracts
    from aci_ref.encoding import canonical_bytes
    from aci_ref.events import CallContract, CastVote, SubmitResult
    from aci_ref.market.jobs import JobStatus
    from aci_ref.poai.votes import sign_vote
    from aci_ref.sim.world import MODEL_ID, SLA_MS, build_world, workers_of

    market = bytes(wasmtime.wat2wasm(bundled_contracts()["marketplace"]))
    w = build_world(
        replace(params, sampling_rate=Fraction(1)),
        label="gas-table",
        contracts=(("marketplace", market),),
        workers=workers_of("honest", "lazy"),
    )
    gas = min(10**6, params.aivm_gas_limit)  # ample for each; several fit one block
    header = bytes([len(MODEL_ID)]) + MODEL_ID.encode()

    def run(sender: str, entry: str, args: tuple[int, ...], data: bytes) -> AivmRow:
        effects = w.act(sender, CallContract("marketplace", entry, args, data, gas))
        return _called(effects, entry)

    rows: list[AivmRow] = []
    budget = 10**6
    submitted = run("client-0", "submitJob", (SLA_MS, budget, budget), header + w.new_input())
    rows.append(replace(submitted, operation="job submission"))
    run("client-1", "quoteJob", (SLA_MS, budget), header + w.new_input())
    quoted = next(k for k, j in w.state.jobs.items() if j.status is JobStatus.QUOTED)
    swapped = run("client-1", "swapJob", (budget,), bytes.fromhex(quoted))
    rows.append(replace(swapped, operation="HMM swap"))
    settled: AivmRow | None = None
    disputed: bytes | None = None
    for key in sorted(w.state.jobs):
        job_id = bytes.fromhex(key)
        honest = w.job(job_id).worker.startswith("honest")
        output, attestation = w.attestation(job_id, behaviour="honest" if honest else "lazy")
        data = canonical_bytes(SubmitResult(job_id, output, attestation))
        row = run(w.job(job_id).worker, "settleJob", (), data)
        if honest and settled is None:
            settled = replace(row, operation="settlement")
        if not honest:
            disputed = job_id
    if settled is None or disputed is None:
        raise AssertionError("the world did not give one honest and one lazy job")
    rows.insert(1, settled)
    w.seal()
    votes: list[AivmRow] = []
    while w.job(disputed).status in (JobStatus.VERIFYING, JobStatus.DISPUTED):
        job = w.job(disputed)
        voted = {v.verifier for v in job.votes}
        member = next(m for m in w.members(disputed) if m not in voted)
        right = w.output_correct(disputed)  # every vote honest: the committee rejects, a dispute
        ballot = sign_vote(
            w.keys[member], disputed, member, right, None if right else Rejection.OUTPUT_MISMATCH
        )
        data = canonical_bytes(CastVote(ballot))
        votes.append(replace(run(member, "castVote", (), data), detail=job.status.value))
    arbitration = [v for v in votes if v.detail == JobStatus.DISPUTED.value]
    deciding = (arbitration or votes)[-1]
    detail = (
        f"the arbiters' deciding vote ({len(arbitration)} arbiter and"
        f" {len(votes) - len(arbitration)} committee votes: {sum(v.gas for v in votes):,} gas)"
    )
    rows.insert(2, replace(deciding, operation="dispute resolution", detail=detail))
    staker = w.verifiers[-1]
    for operation in ("stake", "unstake"):
        rows.append(replace(run(staker, operation, (1, 1000), b""), operation=operation))
    return rows


@cache
def _evm_rows() -> dict[str, Any]:
    """The twin's rows: the EVM's schedule is not ours to change, so one run serves every call."""
    from aci_ref.aivm.evm_market import measure_market

    return {r.operation: r for r in measure_market()}


def gas_table(params: Params, *, with_evm: bool = True) -> list[GasTableRow]:
    """Table 9, §8.4 (measured): each operation on the AIVM, on the EVM twin, and as printed.

    The EVM column is filled when `with_evm` and py-evm is installed; else it is None.
    """
    from aci_ref.aivm import evm

    aivm_rows = {row.operation: row for row in measure_aivm(params)}
    evm_rows = _evm_rows() if with_evm and evm.runtime_available() else {}
    paper = {row.operation: row for row in TABLE9}
    table: list[GasTableRow] = []
    for operation, printed in OPERATIONS:
        twin = evm_rows.get(operation)
        if twin is None:
            table.append(GasTableRow(operation, aivm_rows[operation], None, "", paper[printed]))
            continue
        table.append(
            GasTableRow(
                operation,
                aivm_rows[operation],
                twin.evm_gas,
                twin.detail,
                paper[printed],
                twin.execution_gas,
                dict(twin.gas_by_group),
            )
        )
    return table
