"""The reference side of the oracle protocol: every request is answered, nothing escapes."""

from __future__ import annotations

import copy
import io
import json
from dataclasses import replace
from fractions import Fraction

import cbor2
import pytest

from aci_ref.chain.state import state_root
from aci_ref.consensus.transactions import encode_transaction
from aci_ref.encoding import canonical_bytes
from aci_ref.events import Transfer
from aci_ref.sim.world import build_world, world_params
from aci_ref.vectors.oracle import Session, serve


def test_a_session_loads_applies_and_dumps() -> None:
    world = build_world(world_params(Fraction(1, 2)), label="oracle")
    session = Session()
    assert session.handle({"op": "load", "state": canonical_bytes(world.state).hex()}) == {
        "root": state_root(world.state).hex()
    }
    event = world.sign("client-0", Transfer("client-1", 5))
    answer = session.handle({"op": "apply", "event": encode_transaction(event).hex()})
    world.apply(event)
    assert answer["root"] == state_root(world.state).hex()
    again = session.handle({"op": "apply", "event": encode_transaction(event).hex()})
    assert again == {"rejection": "replayed_event"}
    dumped = session.handle({"op": "dump"})
    assert dumped == {"state": canonical_bytes(world.state).hex()}


def test_bad_requests_are_answered_not_raised() -> None:
    session = Session()
    assert "error" in session.handle({"op": "apply", "event": "00"})
    assert "error" in session.handle({"op": "dump"})
    assert "error" in session.handle({"op": "fly"})
    assert "error" in session.handle({"op": "load", "state": "zz"})
    assert session.handle({"op": "load", "state": "a0"}) == {"rejection": "bad_input"}
    assert session.handle({"op": "load", "state": "1818ff"}) == {
        "rejection": "encoding_not_canonical"
    }
    assert session.handle({"op": "run", "runner": "no", "handler": "such", "input": "a0"}) == {
        "rejection": "bad_input"
    }
    assert session.handle({"op": "run", "runner": "merkle", "handler": "root", "input": "a0"}) == {
        "rejection": "bad_input"
    }


def test_serve_answers_line_by_line_until_quit() -> None:
    requests = ['{"op": "hello"}', "not json", "[1]", '{"op": "quit"}', '{"op": "hello"}']
    out = io.StringIO()
    assert serve(io.StringIO("\n".join(requests) + "\n"), out) == 0
    answers = [json.loads(line) for line in out.getvalue().splitlines()]
    assert answers[0] == {"format": 1, "name": "aci-ref"}
    assert "error" in answers[1] and "error" in answers[2]
    assert answers[3] == {}
    assert len(answers) == 4


def test_a_replica_session_answers_each_step_and_refuses_what_it_cannot_read() -> None:
    from aci_ref.vectors.replica_cases import record_run

    config, steps = record_run("replica-a", decisions=1)
    session = Session()
    assert "error" in session.handle({"op": "replica_step", "input": "a0"})
    assert session.handle({"op": "replica", "config": canonical_bytes(config).hex()}) == {}
    for step in steps:
        answer = session.handle(
            {"op": "replica_step", "input": canonical_bytes(step["input"]).hex()}
        )
        assert answer == {"effects": canonical_bytes(step["effects"]).hex()}
    odd = {
        "kind": "Deliver",
        "value": {"message": {"kind": "Gossip", "value": {}}, "now_ms": 1, "sender": "x"},
    }
    for bad in ({"kind": "Nap", "value": {}}, odd, {"kind": "Start"}):
        answer = session.handle({"op": "replica_step", "input": canonical_bytes(bad).hex()})
        assert answer == {"rejection": "bad_input"}
    stranger = replace(config, seed=bytes(32))
    assert session.handle({"op": "replica", "config": canonical_bytes(stranger).hex()}) == {
        "rejection": "not_validator"
    }


def test_load_refuses_states_the_chain_could_never_reach() -> None:
    world = build_world(world_params(Fraction(1, 2)), label="oracle-bad")
    plain = cbor2.loads(canonical_bytes(world.state))
    changes = (
        (("ledger", "balances", "client-0"), 1, "bad_input"),  # a token from nowhere
        (("params", "aivm_wasm_stack_bytes"), None, "params_out_of_range"),
        (("params", "fee_worker_bps"), None, "params_fee_shares_not_whole"),
    )
    for path, extra, code in changes:
        bad = copy.deepcopy(plain)
        *outer, last = path
        holder = bad
        for key in outer:
            holder = holder[key]
        holder[last] = holder[last] + extra if extra is not None else 0
        data = canonical_bytes(bad).hex()
        assert Session().handle({"op": "load", "state": data}) == {"rejection": code}, path


def test_a_bug_of_the_reference_is_reported_and_the_session_goes_on(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from aci_ref.vectors import oracle

    def broken(session: Session, request: dict[str, object]) -> dict[str, object]:
        raise ZeroDivisionError("planted")

    monkeypatch.setitem(oracle.OPS, "hello", broken)
    session = Session()
    assert session.handle({"op": "hello"}) == {"internal": "ZeroDivisionError: planted"}
    assert "error" in session.handle({"op": "dump"})


def test_hostile_lines_are_answered() -> None:
    lines = ["[" * 100_000, '{"op": ' + "1" * 5000 + "}", '{"op": "quit"}']
    out = io.StringIO()
    assert serve(io.StringIO("\n".join(lines) + "\n"), out) == 0
    answers = [json.loads(line) for line in out.getvalue().splitlines()]
    assert "error" in answers[0] and "error" in answers[1] and answers[2] == {}
