"""Signatures on jobdesk's outbound requests (the bot's shards, webhooks, dead-letter alerts).

A request carries two headers:

- ``X-Jobdesk-Timestamp``: Unix seconds when it was signed;
- ``X-Jobdesk-Signature``: ``v1=<hex>``, HMAC-SHA256 with the receiver's secret over
  ``<timestamp>.<raw body>``.

A receiver checks both with ``verify`` (standard library only, so the bot can copy this module as it
is): the signature must match in constant time and the timestamp be within ``tolerance`` seconds of its
clock, which makes a captured request useless after that. Several ``v1=`` values, comma-separated,
let a sender sign with an old and a new secret while a secret is rotated.
"""

import hashlib
import hmac
import time

TIMESTAMP_HEADER = "X-Jobdesk-Timestamp"
SIGNATURE_HEADER = "X-Jobdesk-Signature"
SCHEME = "v1"
TOLERANCE = 300


class SignatureError(Exception):
    """The request is not signed by someone holding the secret, or is too old or too new."""


def _digest(secret: str | bytes, timestamp: str, body: bytes) -> str:
    key = secret.encode() if isinstance(secret, str) else secret
    return hmac.new(key, timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()


def sign(secret: str | bytes, body: bytes, *, timestamp: int | None = None) -> dict[str, str]:
    """The headers that sign ``body`` (the exact bytes sent) with ``secret``."""
    stamp = str(int(time.time() if timestamp is None else timestamp))
    return {TIMESTAMP_HEADER: stamp, SIGNATURE_HEADER: f"{SCHEME}={_digest(secret, stamp, body)}"}


def verify(secret: str | bytes, headers, body: bytes, *, tolerance: int = TOLERANCE, now: float | None = None) -> int:
    """Check a received request's signature; returns its timestamp, raises ``SignatureError`` if it
    does not hold. ``headers`` is any mapping with case-insensitive keys, or a plain dict."""
    def header(name):
        value = headers.get(name)
        if value is None:
            value = next((v for k, v in headers.items() if k.lower() == name.lower()), None)
        return value

    stamp, signature = header(TIMESTAMP_HEADER), header(SIGNATURE_HEADER)
    if not stamp or not signature:
        raise SignatureError(f"missing {TIMESTAMP_HEADER} or {SIGNATURE_HEADER}")
    if not (stamp.isascii() and stamp.isdigit() and len(stamp) < 20):
        raise SignatureError(f"{TIMESTAMP_HEADER} is not a whole number of seconds")
    sent_at = int(stamp)
    if abs((time.time() if now is None else now) - sent_at) > tolerance:
        raise SignatureError(f"{TIMESTAMP_HEADER} is more than {tolerance} s away from now")
    expected = _digest(secret, stamp, body).encode()
    offered = [part.strip()[len(SCHEME) + 1:] for part in signature.split(",") if part.strip().startswith(f"{SCHEME}=")]
    # bytes: compare_digest refuses a str with anything but ASCII in it (TypeError, not a refusal)
    if not any(hmac.compare_digest(expected, value.encode("utf-8", "replace")) for value in offered):
        raise SignatureError("signature does not match")
    return sent_at
