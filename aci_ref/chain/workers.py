"""RegisterWorker: a worker bonds its capacity stake and presents its TEE identity."""

from __future__ import annotations

from dataclasses import replace

from aci_ref.chain.effects import Effect, Effects
from aci_ref.chain.state import ChainState, PlatformRecord, WorkerInfo
from aci_ref.chain.steps import ban, slash
from aci_ref.economics import staking
from aci_ref.economics.ledger import Role
from aci_ref.economics.slashing import Violation
from aci_ref.errors import RejectedError, Rejection
from aci_ref.events import RegisterWorker
from aci_ref.market import hmm
from aci_ref.poai.evidence import detect_sybil, sybil_offence_id
from aci_ref.poai.tee import verify_registration


def process_register_worker(
    state: ChainState, body: RegisterWorker, sender: str
) -> tuple[ChainState, Effects]:
    """Table 2 row Sybil, §3.5 and Definition 1: bond stake, present a TEE identity.

    The worker starts from the lower of its own record and its platform's (errata E73): a
    banned platform registers no one, and a score follows the machine to a new account. A
    platform presented by two identities at once is one machine posing as many (`detect_sybil`):
    every identity on it is slashed `slash_sybil_bps` and banned, with its platform (E58).
    """
    if body.registration.worker != sender:
        raise RejectedError(Rejection.BAD_INPUT, "registration names another worker")
    previous = state.workers.get(sender)
    if previous is not None and not previous.departed:
        raise RejectedError(Rejection.WORKER_EXISTS, sender)
    if previous is not None and previous.banned:
        raise RejectedError(Rejection.WORKER_BANNED, sender)
    platform = verify_registration(body.registration, state.anchors)
    record = state.platforms.get(platform.hex(), PlatformRecord())
    if record.banned:
        raise RejectedError(Rejection.WORKER_BANNED, f"platform {platform.hex()[:16]} is banned")
    params = state.params
    quality = (
        record.quality_bps if previous is None else min(record.quality_bps, previous.quality_bps)
    )
    stake = body.stake or staking.required_stake(params, Role.WORKER, body.capacity)
    new_ledger = staking.bond(state.ledger, params, sender, Role.WORKER, stake, body.capacity)
    market = hmm.add_worker(
        state.market,
        params,
        body.resource_class,
        sender,
        body.capacity,
        body.throughput,
        quality,
    )
    info = WorkerInfo(
        body.resource_class, platform, body.registration.enclave_cert.subject, quality
    )
    sharing = replace(record, workers=(*record.workers, sender))
    state = replace(
        state,
        ledger=new_ledger,
        market=market,
        workers=state.workers.set(sender, info),
        platforms=state.platforms.set(platform.hex(), sharing),
    )
    effects: list[Effect] = []
    for group in detect_sybil({worker: platform for worker in sharing.workers}):
        for identity in group:
            offence = sybil_offence_id(platform, identity)
            if offence.hex() not in state.ledger.evidence_used:
                state, slashed = slash(state, Violation.SYBIL, identity, offence, None)
                effects += slashed
            state = ban(state, identity)  # even one already slashed to nothing
    return state, tuple(effects)
