"""spec/ and the code stay in step: every item resolves to a symbol that cites it, or to an open
roadmap step; every parameter is read by the code or reserved for a named roadmap step."""

from __future__ import annotations

import importlib
import inspect
import re
from dataclasses import dataclass, replace
from fractions import Fraction
from pathlib import Path

import pytest

from aci_ref.params import DEFAULT_PARAMS_PATH, default_params, param_names, param_sources

ROOT = Path(__file__).resolve().parents[2]
SPEC = ROOT / "spec"
OPEN_ROADMAP_STEPS = {7, 9}
HEADING = re.compile(r"^## (\S+) · (.+?) — (.+)$")
CODE = re.compile(r"^Code: `([\w.]+):([\w.]+)`\s*$")
ROADMAP = re.compile(r"^Roadmap: (\d+) \((.+)\)\s*$")


@dataclass(frozen=True)
class Item:
    file: str
    ident: str
    citation: str
    code: tuple[str, str] | None
    roadmap: int | None


def spec_items() -> list[Item]:
    items: list[Item] = []
    for path in sorted(SPEC.glob("*.md")):
        if path.name in {"README.md", "errata.md"}:
            continue
        current: dict[str, object] | None = None
        for line in [*path.read_text(encoding="utf-8").splitlines(), "## END · end — end"]:
            heading = HEADING.match(line)
            if heading or line.startswith("## "):
                if current is not None:
                    codes = current["codes"]
                    roads = current["roads"]
                    assert isinstance(codes, list) and isinstance(roads, list)
                    assert len(codes) + len(roads) == 1, (
                        f"{path.name} {current['ident']}: needs exactly one Code: or Roadmap: line"
                    )
                    items.append(
                        Item(
                            path.name,
                            str(current["ident"]),
                            str(current["citation"]),
                            codes[0] if codes else None,
                            roads[0] if roads else None,
                        )
                    )
                assert heading, f"{path.name}: malformed item heading {line!r}"
                current = {"ident": heading[1], "citation": heading[2], "codes": [], "roads": []}
                if heading[1] == "END":
                    current = None
                continue
            if current is None:
                continue
            if code := CODE.match(line):
                current["codes"].append((code[1], code[2]))  # type: ignore[attr-defined]
            elif road := ROADMAP.match(line):
                current["roads"].append(int(road[1]))  # type: ignore[attr-defined]
    return items


ITEMS = spec_items()


def test_spec_has_the_paper_items() -> None:
    idents = {item.ident for item in ITEMS}
    required = {"D1", "D2", "D3", "A1", "A2", "A3", "Eq1", "Eq3", "T1", "T2", "T3", "T4", "P5"}
    required |= {"Tab2", "Tab4", "Tab5", "Tab6", "Tab8"}
    assert required <= idents, f"missing spec items: {sorted(required - idents)}"


def test_item_ids_are_unique() -> None:
    seen = [item.ident for item in ITEMS]
    assert len(seen) == len(set(seen))


@pytest.mark.parametrize("item", ITEMS, ids=lambda item: item.ident)
def test_item_resolves(item: Item) -> None:
    if item.roadmap is not None:
        assert item.roadmap in OPEN_ROADMAP_STEPS, f"{item.ident}: roadmap step {item.roadmap}"
        return
    assert item.code is not None
    module_name, symbol = item.code
    target: object = importlib.import_module(module_name)
    for part in symbol.split("."):
        target = getattr(target, part)
    if inspect.isclass(target) or inspect.isroutine(target):
        doc = inspect.getdoc(target) or ""
    else:
        doc = _constant_doc(module_name, symbol)
    assert doc, f"{item.ident}: {module_name}:{symbol} has no docstring"
    first = doc.strip().splitlines()[0]
    assert item.citation in first, (
        f"{item.ident}: first docstring line {first!r} lacks {item.citation!r}"
    )


def _constant_doc(module_name: str, symbol: str) -> str:
    """A module-level constant's docstring: the string literal right after its assignment."""
    source = Path(importlib.import_module(module_name).__file__ or "").read_text(encoding="utf-8")
    match = re.search(
        rf"^{re.escape(symbol)}\b[^\n]*(?:\n(?!\"\"\")[^\n]*)*?\n\"\"\"(.+?)\"\"\"",
        source,
        re.MULTILINE | re.DOTALL,
    )
    return match[1] if match else ""


def test_every_parameter_is_read_or_reserved() -> None:
    sources = param_sources(DEFAULT_PARAMS_PATH)
    code = "\n".join(
        path.read_text(encoding="utf-8")
        for folder in ("aci_ref", "proofs")
        for path in sorted((ROOT / folder).rglob("*.py"))
        if path.name != "params.py"
    )
    for name in param_names():
        assert name in sources, f"{name} has no source comment in parameters.toml"
        if sources[name].startswith("roadmap:"):
            continue
        assert re.search(rf"\b{name}\b", code), f"parameter {name} is read by no code"


# ---- one home that runs: every cited routine is reached by the chain or the simulator ---------

# Cited routines that neither `chain.apply` nor `aci-ref simulate` calls, each with the reason.
OFF_CHAIN: dict[str, str] = {
    "matmul_gas": "Equation 3 prices AIVM opcodes; the AIVM (roadmap 7) will run it",
    "spot_price": "a read-only view of a pool for reports; quotes price a job with job_price",
    "aggregate_votes": "the off-chain tally: check_vote on each, then tally_votes (the chain's)",
    "reproduce_table8": "an experiment measuring the chain's sampling rule, not a chain step",
    "state_schema": "documents the state's encoding; the encoder runs the same annotations",
    "write_tree": "writes test vectors of the chain's transitions; not itself a chain step",
    "replay_tree": "the differential runner drives another implementation, not the chain",
    "fuzz": "the differential fuzzer drives another implementation, not the chain",
}


def _reached() -> set[object]:
    """Code objects called while a small simulation and a few chain stories run."""
    import sys

    from aci_ref.economics.ledger import Role
    from aci_ref.events import Unbond, WithdrawLiquidity
    from aci_ref.sim.consensus_sim import ConsensusSetup, simulate_consensus
    from aci_ref.sim.simulate import SimConfig, simulate
    from aci_ref.sim.world import WorkerSpec, build_world, world_params

    called: set[object] = set()

    def profile(frame: object, event: str, arg: object) -> None:
        if event == "call":
            called.add(frame.f_code)  # type: ignore[attr-defined]

    params = replace(default_params(), sampling_rate=Fraction(1, 4))
    sys.setprofile(profile)
    try:
        simulate(SimConfig(jobs=60, workers=5, sybil_workers=2, verifiers=6, params=params))
        simulate_consensus(SimConfig(jobs=3, params=params), setup=ConsensusSetup(4, 1))
        world = build_world(world_params(), workers=(WorkerSpec("honest-0", stake_multiple=2),))
        world.time_out(world.order("client-0"))
        world.seal(advance_ms=world.params.epoch_duration_ms)
        bonded = world.state.ledger.stakes["honest-0/worker"].bonded
        world.act("honest-0", Unbond(Role.WORKER, bonded))
        shares = world.state.market.pools["cpu-small"].shares["lp-0"]
        world.act("lp-0", WithdrawLiquidity("cpu-small", shares))
        auditor = WorkerSpec("auditor-0", "lazy", auditor=True)
        audit = build_world(world_params(Fraction(1)), workers=(auditor,))
        probe = audit.order("client-0")
        audit.submit(probe, behaviour="lazy")
        audit.seal()
        audit.vote(audit.job(probe).committee[0], probe, accept=True)
        audit.reveal(probe)
        audit.review(probe)
        from aci_ref.aivm.bundled import bundled_contracts
        from aci_ref.aivm.opcodes import OPCODES
        from aci_ref.aivm.vm import call, load_contract

        source = bundled_contracts()["ledger_demo"]
        contract = load_contract(params, "ledger_demo", source, OPCODES)
        calls = (("increment", [1]), ("square", [2]), ("softmax", [1, 4]), ("norm", [1, 4]))
        more = (("alloc", [1, 4]), ("hash", [4]), ("verify", [4]), ("kl", [1, 4]), ("infer", [1]))
        for function, args in (*calls, *more):
            call(params, contract, OPCODES, {}, function, args, 100_000)
        import wasmtime

        from aci_ref.encoding import canonical_bytes
        from aci_ref.events import CallContract, CastVote, SubmitResult
        from aci_ref.poai.votes import sign_vote
        from aci_ref.sim.world import MODEL_ID, SLA_MS

        market = bytes(wasmtime.wat2wasm(bundled_contracts()["marketplace"]))
        shop = build_world(world_params(), contracts=(("marketplace", market),))
        data = bytes([len(MODEL_ID)]) + MODEL_ID.encode() + shop.new_input()
        body = CallContract("marketplace", "submitJob", (SLA_MS, 10**6, 10**6), data, 10**6)
        shop.act("client-0", body)
        (ordered,) = [bytes.fromhex(k) for k in shop.state.jobs]
        output, attestation = shop.attestation(ordered)
        result = canonical_bytes(SubmitResult(ordered, output, attestation))
        check = CallContract("marketplace", "checkResult", (), result, 10**6)
        shop.act("client-1", check)
        settle = CallContract("marketplace", "settleJob", (), result, 10**6)
        shop.act(shop.job(ordered).worker, settle)
        staker = shop.verifiers[0]
        for op in ("stake", "unstake"):
            shop.act(staker, CallContract("marketplace", op, (1, 1000), b"", 10**6))
        voting = build_world(world_params(Fraction(1)), contracts=(("marketplace", market),))
        sampled = voting.order("client-0")
        voting.submit(sampled)
        voting.seal()
        (member,) = voting.job(sampled).committee
        ballot = sign_vote(voting.keys[member], sampled, member, True, None)
        data = canonical_bytes(CastVote(ballot))
        voting.act(member, CallContract("marketplace", "castVote", (), data, 10**6))
        from aci_ref.aivm.gas_table import gas_table

        gas_table(default_params(), with_evm=False)
    finally:
        sys.setprofile(None)
    return called


@pytest.fixture(scope="module")
def reached() -> set[object]:
    return _reached()


ROUTINES = [
    item
    for item in ITEMS
    if item.code is not None
    and item.code[0].startswith("aci_ref")
    and inspect.isfunction(
        getattr(importlib.import_module(item.code[0]), item.code[1].split(".")[0], None)
    )
]


@pytest.mark.parametrize("item", ROUTINES, ids=lambda item: item.ident)
def test_cited_routine_is_the_code_that_runs(item: Item, reached: set[object]) -> None:
    assert item.code is not None
    module_name, symbol = item.code
    if symbol in OFF_CHAIN:
        return
    target = getattr(importlib.import_module(module_name), symbol)
    code = inspect.unwrap(target).__code__
    assert code in reached, f"{item.ident}: {module_name}:{symbol} is cited but never runs"
