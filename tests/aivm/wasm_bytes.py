"""WebAssembly binaries taken apart and padded by hand, independently of the host's own reader."""

from __future__ import annotations

from aci_ref.aivm.engine import WASM_HEADER


def leb128(value: int) -> bytes:
    """The unsigned LEB128 encoding of `value`."""
    out = bytearray()
    while True:
        byte, value = value & 0x7F, value >> 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def custom_section(payload_bytes: int, name: bytes = b"pad") -> bytes:
    """A custom section named `name` holding `payload_bytes` filler bytes."""
    content = leb128(len(name)) + name + b"\xaa" * payload_bytes
    return b"\x00" + leb128(len(content)) + content


def code_section(wasm: bytes) -> tuple[int, int, int]:
    """Where the code section's id byte sits, where its payload starts, and its size."""
    at = len(WASM_HEADER)
    while at < len(wasm):
        kind, start, at = wasm[at], at, at + 1
        size = shift = 0
        while True:
            byte, at = wasm[at], at + 1
            size, shift = size | (byte & 0x7F) << shift, shift + 7
            if byte < 0x80:
                break
        if kind == 10:
            return start, at, size
        at += size
    return at, at, 0
