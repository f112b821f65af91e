"""VAPID key pairs as Web Push uses them: base64url (no padding) of the raw P-256 keys, the public one
the 65-byte uncompressed point a browser takes as ``applicationServerKey``, the private one the 32-byte
secret. Imports nothing of Django: ``project.settings`` checks the configured pair with it at start-up,
and ``make run`` generates a pair with it."""

import base64

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec


def b64url_decode(value: str) -> bytes:
    value = value.strip()
    return base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))


def b64url_encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def public_raw(key: ec.EllipticCurvePublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)


def generate_key_pair() -> tuple[str, str]:
    """A new ``(public, private)`` pair, both base64url."""
    key = ec.generate_private_key(ec.SECP256R1())
    private = key.private_numbers().private_value.to_bytes(32, "big")
    return b64url_encode(public_raw(key.public_key())), b64url_encode(private)


def check_key_pair(public: str, private: str) -> str | None:
    """Why the pair cannot be used (naming the setting), or None when the private key is a P-256 secret
    whose public key is ``public``."""
    try:
        private_bytes = b64url_decode(private)
    except (ValueError, TypeError):
        return "VAPID_PRIVATE_KEY: not base64url"
    if len(private_bytes) != 32:
        return f"VAPID_PRIVATE_KEY: must be the 32-byte raw P-256 key as base64url, got {len(private_bytes)} bytes"
    try:
        public_bytes = b64url_decode(public)
    except (ValueError, TypeError):
        return "VAPID_PUBLIC_KEY: not base64url"
    if len(public_bytes) != 65 or public_bytes[0] != 4:
        return "VAPID_PUBLIC_KEY: must be the 65-byte uncompressed P-256 point as base64url"
    try:
        key = ec.derive_private_key(int.from_bytes(private_bytes, "big"), ec.SECP256R1())
    except ValueError:
        return "VAPID_PRIVATE_KEY: not a valid P-256 key"
    if public_raw(key.public_key()) != public_bytes:
        return "VAPID_PUBLIC_KEY: is not the public key of VAPID_PRIVATE_KEY"
    return None
