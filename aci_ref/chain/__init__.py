"""The whole protocol as one pure transition: `apply(state, signed_event) -> (state, effects)`.

`chain` composes the economics (ledger, stakes, fees, slashing), the market (HMM pools and the
job lifecycle of Algorithm 1) and Proof of AI (Algorithm 2). It reads no clock, socket, random
source or environment: time and randomness arrive in block steps (`SealBlock`). A
refused event raises `RejectedError` and the state passed in is untouched.

Modules: `state` (what the chain holds), `effects` (what it tells the world), `transition`
(admission, the `PROCESSORS` table, `genesis`), `steps` (slash, settle, refund, quality) and one
module per event family: `stake`, `workers`, `jobs`, `block`, `votes`, `evidence`. `invariants`
recomputes from scratch what must hold of every state.

Ordering comes from one of two places. Under consensus (`aci_ref.consensus`), the fast path
and the settlement path order the signed events and every decided settlement block runs
`chain.block:seal_block` with its certified time and threshold beacon. Without it, a sequencer
account signs `SealBlock` events: a single trusted key, kept for tests and the quick simulator.
"""

from aci_ref.chain.effects import (
    Assigned,
    Attested,
    ContractCalled,
    ContractReverted,
    DisputeOpened,
    Effect,
    Effects,
    Expired,
    ProbeRevealed,
    QualityChanged,
    Quoted,
    Refunded,
    RefundReason,
    Sampled,
    Settled,
    Slashed,
    VerifiersPaid,
)
from aci_ref.chain.state import (
    Account,
    ChainState,
    Genesis,
    ModelInfo,
    PlatformRecord,
    WorkerInfo,
)
from aci_ref.chain.steps import active_stakes
from aci_ref.chain.transition import PROCESSORS, apply, genesis

__all__ = [
    "PROCESSORS",
    "Account",
    "Assigned",
    "Attested",
    "ChainState",
    "ContractCalled",
    "ContractReverted",
    "DisputeOpened",
    "Effect",
    "Effects",
    "Expired",
    "Genesis",
    "ModelInfo",
    "PlatformRecord",
    "ProbeRevealed",
    "QualityChanged",
    "Quoted",
    "RefundReason",
    "Refunded",
    "Sampled",
    "Settled",
    "Slashed",
    "VerifiersPaid",
    "WorkerInfo",
    "active_stakes",
    "apply",
    "genesis",
]
