"""Consensus signatures: Ed25519 over the canonical CBOR of (domain, payload).

The domain tag keeps a vote of one kind from ever being read as a vote of another. Verification
results are cached by (key, message, signature): the function is pure, so the cache changes nothing
but speed, and lets a simulator run many validators that each verify the same certificate. Every
machine still counts the verifications it asks for (`Stats.verifications`), cached or not, so a
measured cost per transaction is the protocol's, not the cache's.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from aci_ref.crypto import KeyPair, verify_signature
from aci_ref.encoding import canonical_bytes


def signed_bytes(domain: str, payload: Any) -> bytes:
    """The bytes a consensus signature covers: canonical CBOR of [domain, payload]."""
    return canonical_bytes(["aci-ref/consensus/" + domain, payload])


def sign(key: KeyPair, domain: str, payload: Any) -> bytes:
    """A validator's Ed25519 signature over (domain, payload)."""
    return key.sign(signed_bytes(domain, payload))


@lru_cache(maxsize=1 << 18)
def _verify(public: bytes, message: bytes, signature: bytes) -> bool:
    return verify_signature(public, message, signature)


def verify(public: bytes, domain: str, payload: Any, signature: bytes) -> bool:
    """True when `signature` is `public`'s signature over (domain, payload)."""
    return _verify(public, signed_bytes(domain, payload), signature)
