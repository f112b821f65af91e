"""Fixtures of the Web Push tests: a VAPID key pair made for the test (this process's settings and the
workers' environment), and browsers: a P-256 key pair and an auth secret per subscription, which decrypt
what a push service would hand them."""

import json
import os
import time

import http_ece
import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from notifications.vapid_keys import b64url_decode, b64url_encode, generate_key_pair, public_raw


@pytest.fixture
def vapid(settings):
    public, private = generate_key_pair()
    settings.VAPID_PUBLIC_KEY, settings.VAPID_PRIVATE_KEY = public, private
    settings.VAPID_SUBJECT = "mailto:ops@jobs.example.com"
    settings.OUTBOUND_ALLOWED_NETWORKS = ["127.0.0.1/32"]
    return {"public": public, "private": private,
            "env": {"VAPID_PUBLIC_KEY": public, "VAPID_PRIVATE_KEY": private,
                    "VAPID_SUBJECT": "mailto:ops@jobs.example.com", "OUTBOUND_ALLOWED_NETWORKS": "127.0.0.1/32",
                    "NOTIFICATIONS_PUSH_BACKOFF": "1"}}


class Browser:
    """What a browser keeps of a subscription: its private key and auth secret."""

    def __init__(self):
        self.key = ec.generate_private_key(ec.SECP256R1())
        self.auth_secret = os.urandom(16)
        self.p256dh = b64url_encode(public_raw(self.key.public_key()))
        self.auth = b64url_encode(self.auth_secret)

    def subscription(self, endpoint):
        return {"endpoint": endpoint, "keys": {"p256dh": self.p256dh, "auth": self.auth}}

    def decrypt(self, body: bytes) -> dict:
        return json.loads(http_ece.decrypt(body, private_key=self.key, auth_secret=self.auth_secret,
                                           version="aes128gcm"))


def vapid_claims(authorization: str, public_key: str) -> dict:
    """The claims of a ``vapid t=<JWT>,k=<key>`` header, after checking that ``k`` is ``public_key`` and
    that the JWT is ES256-signed by it; fails the test otherwise."""
    scheme, _, params = authorization.partition(" ")
    assert scheme == "vapid", authorization
    parts = dict(p.split("=", 1) for p in params.split(","))
    assert parts["k"] == public_key
    header_b64, payload_b64, signature_b64 = parts["t"].split(".")
    assert json.loads(b64url_decode(header_b64)) == {"typ": "JWT", "alg": "ES256"}
    signature = b64url_decode(signature_b64)
    assert len(signature) == 64
    key = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), b64url_decode(public_key))
    der = encode_dss_signature(int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big"))
    try:
        key.verify(der, f"{header_b64}.{payload_b64}".encode(), ec.ECDSA(hashes.SHA256()))
    except InvalidSignature:
        pytest.fail("the VAPID token's signature does not verify with the VAPID public key")
    claims = json.loads(b64url_decode(payload_b64))
    assert time.time() < claims["exp"] <= time.time() + 24 * 3600
    return claims

