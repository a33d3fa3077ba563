"""The network simulator: determinism, and each fault doing what it says, on a toy gossip node."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from aci_ref.consensus.io import (
    Broadcast,
    ClientTx,
    Deliver,
    Effects,
    Input,
    Program,
    Send,
    SetTimer,
    Start,
    TimerFired,
)
from aci_ref.sim.faults import Crash, DelayWindow, Faults, Link, PartitionWindow, RoundPartition
from aci_ref.sim.network import ClientTxAt, Network, Scenario, simulate

# ---- a toy machine: every `period` ms it broadcasts ("tick", name, count), `ticks` times ------


@dataclass(frozen=True, slots=True)
class Got:
    """Report: a message `message` from `sender` arrived when the local clock read `local_ms`."""

    local_ms: int
    sender: str
    message: Any


@dataclass(frozen=True, slots=True)
class Ticked:
    """Report: timer `key` fired when the local clock read `local_ms`."""

    local_ms: int
    count: int


@dataclass(frozen=True, slots=True)
class Began:
    """Report: Start at local time `local_ms` with `count` ticks already done (the durable part)."""

    local_ms: int
    count: int


@dataclass(frozen=True, slots=True)
class Toy:
    count: int = 0
    received: int = 0


def toy(name: str, ticks: int = 3, period: int = 100, send_to: str | None = None) -> Program[Toy]:
    """A gossip node: ticks broadcast (or send to `send_to`) a counter; client txs are relayed."""

    def out(message: Any) -> Any:
        return Broadcast(message) if send_to is None else Send(send_to, message)

    def step(state: Toy, event: Input) -> tuple[Toy, Effects]:
        if isinstance(event, Start):
            timer = (SetTimer("tick", event.now_ms + period),) if state.count < ticks else ()
            return state, (Began(event.now_ms, state.count), *timer)
        if isinstance(event, TimerFired):
            count = state.count + 1
            again = (SetTimer("tick", event.now_ms + period),) if count < ticks else ()
            message = ("tick", name, count)
            return replace(state, count=count), (Ticked(event.now_ms, count), out(message), *again)
        if isinstance(event, Deliver):
            got = Got(event.now_ms, event.sender, event.message)
            return replace(state, received=state.received + 1), (got,)
        if isinstance(event, ClientTx):
            return state, (out(("tx", event.tx)),)
        return state, ()

    return Program(Toy, step, lambda state: replace(state, received=0))


def programs(names: tuple[str, ...] = ("v1", "v2", "v3"), **kwargs: Any) -> dict[str, Program[Toy]]:
    return {name: toy(name, **kwargs) for name in names}


def got(result: Any, address: str) -> list[tuple[int, Got]]:
    return [(t, e) for t, e in result.outputs[address] if isinstance(e, Got)]


# ---- determinism -------------------------------------------------------------------------------

NOISY = Faults(jitter_ms=40, drop_probability=0.2, duplicate_probability=0.2)


def run_noisy(seed: int) -> Any:
    names = tuple(f"v{i}" for i in range(1, 7))
    return simulate(programs(names, ticks=5), Scenario(faults=NOISY, seed=seed, end_ms=2_000))


def test_same_seed_same_trace_and_different_seeds_differ() -> None:
    first, again, other = run_noisy(7), run_noisy(7), run_noisy(8)
    assert first.trace_digest == again.trace_digest
    assert first.outputs == again.outputs and first.counters == again.counters
    assert first.trace_digest != other.trace_digest


@given(st.integers(0, 2**32))
@settings()
def test_any_seed_replays_exactly(seed: int) -> None:
    assert run_noisy(seed).trace_digest == run_noisy(seed).trace_digest


def test_kept_trace_and_digest_agree_and_digest_can_be_off() -> None:
    scenario = Scenario(faults=NOISY, seed=3, end_ms=1_000)
    kept = Network(programs(), scenario, keep_trace=True)
    kept.run()
    assert kept.trace and kept.trace_digest() == simulate(programs(), scenario).trace_digest
    quiet = Network(programs(), scenario, digest=False)
    assert quiet.run().outputs == kept.result().outputs


# ---- latency, jitter, links, extra delay --------------------------------------------------------


def test_base_latency_and_per_link_latency() -> None:
    faults = Faults(base_latency_ms=7, links=(Link("v1", "v3", 30),))
    result = simulate(programs(ticks=1), Scenario(faults=faults, end_ms=1_000))
    assert [t for t, e in got(result, "v2") if e.sender == "v1"] == [107]
    assert [t for t, e in got(result, "v3") if e.sender == "v1"] == [130]


def test_an_explicit_jitter_schedule_reorders() -> None:
    # v1 ticks at 100 and 200: the first message takes 10 + 150, the second 10 + 0.
    nodes = {"v1": toy("v1", ticks=2, send_to="v2"), "v2": toy("v2", ticks=0)}
    faults = Faults(jitter_schedule=(150, 0))
    result = simulate(nodes, Scenario(faults=faults, end_ms=1_000))
    assert [(t, e.message[2]) for t, e in got(result, "v2")] == [(210, 2), (260, 1)]


def test_extra_delay_applies_inside_its_window_only() -> None:
    faults = Faults(delays=(DelayWindow(150, 250, 500, senders=("v1",)),))
    result = simulate(programs(ticks=3), Scenario(faults=faults, end_ms=2_000))
    assert [t for t, e in got(result, "v2") if e.sender == "v1"] == [110, 310, 710]
    assert [t for t, e in got(result, "v1") if e.sender == "v2"] == [110, 210, 310]


# ---- drops and duplicates -----------------------------------------------------------------------


def test_drop_probability_one_drops_everything_and_counts_it() -> None:
    result = simulate(programs(), Scenario(faults=Faults(drop_probability=1.0), end_ms=1_000))
    counters = result.counters
    assert counters.sent == 3 * 3 * 2 and counters.delivered == 0
    assert counters.dropped_by["random"] == counters.sent == counters.dropped
    assert not any(got(result, a) for a in result.outputs)


def test_partial_drops_lose_some_but_not_all() -> None:
    faults = Faults(drop_probability=0.5)
    result = simulate(programs(ticks=20), Scenario(faults=faults, seed=1, end_ms=5_000))
    counters = result.counters
    assert 0 < counters.dropped_by["random"] < counters.sent
    assert counters.delivered + counters.dropped == counters.sent


def test_duplication_delivers_twice() -> None:
    faults = Faults(duplicate_probability=1.0)
    result = simulate(programs(), Scenario(faults=faults, end_ms=1_000))
    assert result.counters.duplicated == result.counters.sent == 18
    assert result.counters.delivered == 36
    messages = [e.message for _, e in got(result, "v2")]
    assert all(messages.count(m) == 2 for m in messages)


# ---- partitions -------------------------------------------------------------------------------

SPLIT = (("v1",), ("v2", "v3"))


def test_a_partition_window_drops_crossing_messages_while_it_lasts() -> None:
    faults = Faults(partitions=(PartitionWindow(0, 250, SPLIT),))
    result = simulate(programs(), Scenario(faults=faults, end_ms=1_000))
    assert [t for t, e in got(result, "v2") if e.sender == "v1"] == [310]
    assert [t for t, e in got(result, "v3") if e.sender == "v2"] == [110, 210, 310]
    assert result.counters.dropped_by["partition"] == 2 * 2 * 2


def test_a_holding_partition_delivers_when_it_heals() -> None:
    faults = Faults(partitions=(PartitionWindow(0, 250, SPLIT, hold=True),))
    result = simulate(programs(), Scenario(faults=faults, end_ms=1_000))
    assert [t for t, e in got(result, "v2") if e.sender == "v1"] == [260, 260, 310]
    assert result.counters.held == 2 * 2 * 2 and result.counters.dropped == 0


def test_an_address_in_no_group_is_isolated() -> None:
    faults = Faults(partitions=(PartitionWindow(0, 10_000, (("v1", "v2"),)),))
    result = simulate(programs(), Scenario(faults=faults, end_ms=1_000))
    assert not got(result, "v3") and got(result, "v1")


def test_round_partitions_cut_by_the_message_round_not_by_time() -> None:
    # The toy's tick count stands for the round: round 1 is split, round 2 is whole, round 3 has
    # no entry (whole); `message_round` returning None (client relays) is never cut.
    faults = Faults(
        round_partitions=(RoundPartition(1, SPLIT), RoundPartition(2, (("v1", "v2", "v3"),)))
    )
    scenario = Scenario(faults=faults, end_ms=1_000, client_txs=(ClientTxAt(50, "v1", b"x"),))

    def message_round(message: Any) -> int | None:
        return message[2] if message[0] == "tick" else None

    result = simulate(programs(), scenario, message_round=message_round)
    from_v1 = [e.message for _, e in got(result, "v2") if e.sender == "v1"]
    assert from_v1 == [("tx", b"x"), ("tick", "v1", 2), ("tick", "v1", 3)]
    assert ("tick", "v2", 1) in [e.message for _, e in got(result, "v3")]
    assert result.counters.dropped_by["round"] == 4


# ---- crashes -----------------------------------------------------------------------------------


def test_crash_then_recover_keeps_durable_state_and_loses_the_rest() -> None:
    crash = Crash("v1", at_ms=150, restart_ms=420)
    result = simulate(programs(), Scenario(faults=Faults(crashes=(crash,)), end_ms=2_000))
    v1 = result.outputs["v1"]
    assert [(t, e) for t, e in v1 if isinstance(e, Began)] == [
        (0, Began(0, 0)),
        (420, Began(420, 1)),
    ]
    # the tick due at 200 was lost in the crash; after restart it ticks twice more, from count 1
    assert [(t, e.count) for t, e in v1 if isinstance(e, Ticked)] == [(100, 1), (520, 2), (620, 3)]
    assert [t for t, _ in got(result, "v1")] == [110, 110]  # those of 210 and 310 arrived down
    assert result.counters.dropped_by["down"] == 4
    assert result.states["v1"].count == 3


def test_restart_with_amnesia_starts_from_nothing() -> None:
    crash = Crash("v1", at_ms=150, restart_ms=420, amnesia=True)
    result = simulate(programs(), Scenario(faults=Faults(crashes=(crash,)), end_ms=2_000))
    began = [e for _, e in result.outputs["v1"] if isinstance(e, Began)]
    assert began == [Began(0, 0), Began(420, 0)]
    ticks = [(t, e.count) for t, e in result.outputs["v1"] if isinstance(e, Ticked)]
    assert ticks == [(100, 1), (520, 1), (620, 2), (720, 3)]


def test_a_crash_without_restart_silences_the_node_and_loses_its_client_txs() -> None:
    faults = Faults(crashes=(Crash("v2", at_ms=50),))
    scenario = Scenario(faults=faults, end_ms=1_000, client_txs=(ClientTxAt(60, "v2", b"lost"),))
    result = simulate(programs(), scenario)
    assert not result.up["v2"] and result.counters.lost_client_txs == 1
    assert not [e for _, e in got(result, "v1") if e.sender == "v2"]


# ---- clock skew ---------------------------------------------------------------------------------


def test_skewed_node_sees_its_local_time_and_its_timers_fire_on_time() -> None:
    faults = Faults(skew_ms=(("v2", 1_000), ("v3", -40)))
    result = simulate(programs(ticks=1), Scenario(faults=faults, end_ms=1_000))
    v2 = result.outputs["v2"]
    assert (0, Began(1_000, 0)) in v2
    assert (100, Ticked(1_100, 1)) in v2  # set at local 1100 = virtual 100
    assert [(t, e.local_ms) for t, e in got(result, "v2") if e.sender == "v1"] == [(110, 1_110)]
    assert [(t, e.local_ms) for t, e in got(result, "v3") if e.sender == "v1"] == [(110, 70)]


# ---- twins -------------------------------------------------------------------------------------


def test_twins_share_a_name_and_both_receive_what_is_sent_to_it() -> None:
    nodes = {
        "v1": toy("v1", ticks=1),
        "v1'": toy("v1", ticks=0),
        "v2": toy("v2", ticks=1, send_to="v1"),
    }
    scenario = Scenario(nodes=(("v1", "v1"), ("v1'", "v1"), ("v2", "v2")), end_ms=1_000)
    result = simulate(nodes, scenario)
    assert [e.message for _, e in got(result, "v1")] == [("tick", "v2", 1)]
    # the twin gets v2's Send to "v1" and v1's broadcast, whose sender reads "v1"
    assert sorted((e.sender, e.message) for _, e in got(result, "v1'")) == [
        ("v1", ("tick", "v1", 1)),
        ("v2", ("tick", "v2", 1)),
    ]


def test_sending_to_an_unknown_name_is_counted() -> None:
    nodes = {"v1": toy("v1", ticks=1, send_to="nobody")}
    result = simulate(nodes, Scenario(end_ms=1_000))
    assert result.counters.dropped_by["unknown"] == 1


# ---- client load, hooks, bounds ---------------------------------------------------------------


def test_client_txs_and_hooks() -> None:
    seen: list[tuple[int, str, Any]] = []
    steps: list[tuple[int, str]] = []
    scenario = Scenario(end_ms=1_000, client_txs=(ClientTxAt(5, "v3", b"job"),))
    result = simulate(
        programs(ticks=0),
        scenario,
        observe=lambda t, a, e: seen.append((t, a, e)),
        after_step=lambda t, a, s, e: steps.append((t, a)),
    )
    assert (15, "v1", Got(15, "v3", ("tx", b"job"))) in seen
    assert len(steps) == result.steps == 3 + 1 + 2
    assert len(seen) == sum(len(v) for v in result.outputs.values())


def test_runs_stop_at_end_time_or_step_limit_and_resume() -> None:
    network = Network(programs(ticks=100), Scenario())
    assert network.run(end_ms=250).now_ms == 250
    at_end = network.steps
    assert network.run(max_steps=at_end + 5).steps == at_end + 5
    before = network.steps
    network.run(end_ms=100_000)
    assert network.steps > before and network.states["v1"].count == 100


def test_a_flood_is_bounded_by_the_queue_limit() -> None:
    scenario = Scenario(end_ms=10_000, max_in_flight=10)
    result = simulate(programs(("a", "b", "c", "d", "e", "f"), ticks=5, period=1), scenario)
    assert result.counters.dropped_by["overflow"] > 0


def test_a_hundred_nodes_run_in_bounded_time() -> None:
    names = tuple(f"v{i:03}" for i in range(100))
    faults = Faults(jitter_ms=20, drop_probability=0.01)
    result = simulate(programs(names, ticks=3), Scenario(faults=faults, end_ms=1_000))
    assert result.counters.delivered + result.counters.dropped == 100 * 99 * 3
