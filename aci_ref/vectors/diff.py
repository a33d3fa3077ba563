"""ref: differential runner — replay the vectors against an implementation, report the first
divergence with a field-level diff.

The implementation runs as a subprocess speaking the oracle protocol (`aci_ref.vectors.oracle`).
For a chain case the runner loads `pre`, applies each step's event and compares the root, the
effects or the rejection code; at the first difference it asks the implementation for its state
and lists the fields where it differs from the reference's. For a function case it compares the
output bytes or the rejection. Fuzzing (`aci_ref.vectors.fuzz`) feeds generated inputs to both
sides instead and shrinks a divergence to a minimal input.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import selectors
import shlex
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import cbor2

from aci_ref.encoding import canonical_bytes
from aci_ref.vectors.oracle import Session
from aci_ref.vectors.tree import FORMAT_VERSION, read_case

ANSWER_TIMEOUT_S: Final = 60.0
"""How long the runner waits for one answer before it calls the implementation hung."""

MAX_DIFF_LINES: Final = 12


class ImplementationError(Exception):
    """The implementation under test broke the protocol: it died, hung or answered garbage."""


class Implementation:
    """A subprocess speaking the oracle protocol on its stdin and stdout."""

    def __init__(self, command: str, cwd: Path | None = None) -> None:
        self.command = command
        self.process = subprocess.Popen(
            shlex.split(command),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            cwd=cwd,
        )
        self._buffer = b""
        self.hung = False

    def request(self, message: dict[str, Any]) -> dict[str, Any]:
        """Send one request and wait for its one-line answer."""
        assert self.process.stdin is not None and self.process.stdout is not None
        try:
            self.process.stdin.write(json.dumps(message, sort_keys=True).encode() + b"\n")
            self.process.stdin.flush()
        except BrokenPipeError as error:
            raise ImplementationError(f"{self.command!r} closed its input") from error
        line = self._read_line()
        try:
            answer = json.loads(line)
        except json.JSONDecodeError as error:
            raise ImplementationError(f"answer is not JSON: {line[:200]!r}") from error
        if not isinstance(answer, dict):
            raise ImplementationError(f"answer is not an object: {line[:200]!r}")
        return answer

    def _read_line(self) -> bytes:
        assert self.process.stdout is not None
        stream = self.process.stdout
        with selectors.DefaultSelector() as selector:
            selector.register(stream, selectors.EVENT_READ)
            while b"\n" not in self._buffer:
                if not selector.select(ANSWER_TIMEOUT_S):
                    self.hung = True
                    raise ImplementationError(f"no answer within {ANSWER_TIMEOUT_S:.0f} s")
                chunk = os.read(stream.fileno(), 1 << 16)
                if not chunk:
                    raise ImplementationError(f"{self.command!r} exited")
                self._buffer += chunk
        line, _, self._buffer = self._buffer.partition(b"\n")
        return line

    def close(self) -> None:
        """Ask it to quit; kill it if it does not."""
        if self.hung:  # it did not answer before; it will not answer `quit` either
            self.process.kill()
        else:
            with contextlib.suppress(ImplementationError):
                self.request({"op": "quit"})
        for stream in (self.process.stdin, self.process.stdout):
            if stream is not None:
                with contextlib.suppress(OSError):  # a dead process's pipe
                    stream.close()
        try:
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def __enter__(self) -> Implementation:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


@dataclass(frozen=True)
class Divergence:
    """Where the implementation first disagreed with the reference, and how."""

    case: str
    step: int | None
    expected: dict[str, Any]
    got: dict[str, Any]
    fields: tuple[str, ...] = ()

    def report(self) -> str:
        where = self.case if self.step is None else f"{self.case}, step {self.step}"
        lines = [f"first divergence: {where}", f"  expected {_short(self.expected)}"]
        lines.append(f"  got      {_short(self.got)}")
        lines += [f"  {line}" for line in self.fields]
        return "\n".join(lines)


def _short(answer: dict[str, Any]) -> str:
    return json.dumps(
        {k: (v[:24] + "…" if isinstance(v, str) and len(v) > 28 else v) for k, v in answer.items()},
        sort_keys=True,
        ensure_ascii=False,
    )


def field_diff(expected: Any, got: Any, path: str = "") -> Iterator[str]:
    """The paths (`ledger.balances.client-0`) where two decoded CBOR values differ."""
    if type(expected) is not type(got):
        yield f"{path or '<root>'}: expected {_show(expected)}, got {_show(got)}"
    elif isinstance(expected, dict):
        for key in sorted(set(expected) | set(got), key=str):
            where = f"{path}.{key}" if path else str(key)
            if key not in got:
                yield f"{where}: missing (expected {_show(expected[key])})"
            elif key not in expected:
                yield f"{where}: unexpected {_show(got[key])}"
            else:
                yield from field_diff(expected[key], got[key], where)
    elif isinstance(expected, list):
        if len(expected) != len(got):
            yield f"{path}: expected {len(expected)} items, got {len(got)}"
        for i, (a, b) in enumerate(zip(expected, got, strict=False)):
            yield from field_diff(a, b, f"{path}[{i}]")
    elif expected != got:
        yield f"{path or '<root>'}: expected {_show(expected)}, got {_show(got)}"


def _show(value: Any) -> str:
    if isinstance(value, bytes):
        return value.hex()[:32] + ("…" if len(value) > 16 else "")
    text = repr(value)
    return text if len(text) < 60 else text[:57] + "…"


def state_fields(expected: bytes, got_hex: str | None) -> tuple[str, ...]:
    """The first differing fields of two encoded states (or why they cannot be compared)."""
    if got_hex is None:
        return ("the implementation did not dump its state",)
    try:
        got = cbor2.loads(bytes.fromhex(got_hex))
    except (ValueError, cbor2.CBORDecodeError) as error:
        return (f"its state does not decode: {error}",)
    lines = list(field_diff(cbor2.loads(expected), got))
    return tuple(lines[:MAX_DIFF_LINES]) + (
        (f"… {len(lines) - MAX_DIFF_LINES} more",) if len(lines) > MAX_DIFF_LINES else ()
    )


def verdict(answer: dict[str, Any]) -> dict[str, Any]:
    """The part of an answer that must agree: root and effects, output, or rejection."""
    return {k: answer[k] for k in ("effects", "output", "rejection", "root") if k in answer}


def replay_case(impl: Implementation, folder: Path) -> Divergence | None:
    """Replay one vector; the first divergence, or None when the implementation agrees."""
    meta, parts = read_case(folder)
    case = f"{meta['runner']}/{meta['handler']}/{meta['suite']}/{meta['case']}"
    if "pre" in parts:
        return _replay_chain(impl, case, parts)
    if "config" in parts:
        return _replay_replica(impl, case, parts)
    expected: dict[str, Any] = (
        {"rejection": meta["rejection"]}
        if "rejection" in meta
        else {"output": parts["output"].hex()}
    )
    request = {
        "handler": meta["handler"],
        "input": parts["input"].hex(),
        "op": "run",
        "runner": meta["runner"],
    }
    got = verdict(impl.request(request))
    if got == expected:
        return None
    lines: tuple[str, ...] = ()
    if "output" in expected and "output" in got:
        lines = state_fields(parts["output"], got["output"])
    return Divergence(case, None, expected, got, lines)


def _replay_chain(impl: Implementation, case: str, parts: dict[str, bytes]) -> Divergence | None:
    pre = parts["pre"]
    reference = Session()
    want = verdict(reference.handle({"op": "load", "state": pre.hex()}))
    loaded = verdict(impl.request({"op": "load", "state": pre.hex()}))
    if loaded != want:
        return Divergence(case, None, want, loaded, ("loading the pre-state",))
    for index, step in enumerate(cbor2.loads(parts["steps"])):
        expected = {
            k: (v.hex() if isinstance(v, bytes) else v)
            for k, v in step.items()
            if k in ("rejection", "root")
        }
        if "effects" in step:
            expected["effects"] = canonical_bytes(step["effects"]).hex()
        request = {"event": step["event"].hex(), "op": "apply"}
        got = verdict(impl.request(request))
        reference.handle(request)
        if got != expected:
            dumped = impl.request({"op": "dump"}).get("state")
            mine = bytes.fromhex(reference.handle({"op": "dump"})["state"])
            return Divergence(case, index, expected, got, state_fields(mine, dumped))
    # A refused step must leave the state as it was: compare the final state whole, which the
    # per-step answers of a refused step never show.
    dumped = impl.request({"op": "dump"}).get("state")
    mine = bytes.fromhex(reference.handle({"op": "dump"})["state"])
    theirs = bytes.fromhex(dumped) if isinstance(dumped, str) and _is_hex(dumped) else None
    if theirs != mine:
        want = {"root": hashlib.sha256(mine).hexdigest()}
        got = {"root": hashlib.sha256(theirs).hexdigest()} if theirs is not None else {}
        lines = ("the final state differs", *state_fields(mine, dumped))
        return Divergence(case, None, want, got, lines)
    return None


def _is_hex(text: str) -> bool:
    try:
        bytes.fromhex(text)
    except ValueError:
        return False
    return True


def _replay_replica(impl: Implementation, case: str, parts: dict[str, bytes]) -> Divergence | None:
    started = verdict(impl.request({"config": parts["config"].hex(), "op": "replica"}))
    if started:
        return Divergence(case, None, {}, started, ("starting the replica",))
    for index, step in enumerate(cbor2.loads(parts["steps"])):
        request = {"input": canonical_bytes(step["input"]).hex(), "op": "replica_step"}
        expected = {"effects": canonical_bytes(step["effects"]).hex()}
        got = verdict(impl.request(request))
        if got != expected:
            lines: tuple[str, ...] = ()
            if "effects" in got:
                lines = state_fields(bytes.fromhex(expected["effects"]), got["effects"])
            return Divergence(case, index, expected, got, lines)
    return None


def replay_tree(
    impl: Implementation, tree: Path, stop_at_first: bool = True
) -> tuple[int, list[Divergence]]:
    """ref: differential runner — replay every case of the manifest against `impl`.

    Returns (cases run, divergences found); stops at the first unless told otherwise.
    """
    manifest = json.loads((tree / "manifest.json").read_text())
    hello = impl.request({"op": "hello"})
    if hello.get("format") != FORMAT_VERSION:
        raise ImplementationError(f"it speaks format {hello.get('format')!r}, not {FORMAT_VERSION}")
    found: list[Divergence] = []
    ran = 0
    for entry in manifest["cases"]:
        ran += 1
        divergence = replay_case(impl, tree / entry["path"])
        if divergence is not None:
            found.append(divergence)
            if stop_at_first:
                break
    return ran, found
