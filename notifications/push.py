"""Web Push on the wire (RFC 8030, 8291, 8292): one encrypted POST to a browser's push service.

The body is encrypted for the browser with pywebpush (``aes128gcm``: only the browser holding the
subscription's private key can read it); the request carries a VAPID ``Authorization: vapid t=<JWT>,k=<public
key>`` signed with ``VAPID_PRIVATE_KEY`` for the push service's origin (``aud``), the ``TTL`` a push service
keeps it for an offline browser, and ``Urgency``. The endpoint URL comes from a browser, so it is sent
through ``notifications.outbound`` (no internal addresses, no redirects followed), never with pywebpush's
own HTTP client.
"""

import functools
import time
from urllib.parse import urlsplit

from django.conf import settings
from py_vapid import Vapid02
from pywebpush import WebPusher

from notifications import outbound

# The most plaintext one push carries: push services take 4096-byte bodies; aes128gcm adds 86 bytes of
# header and 17 per record.
MAX_PLAINTEXT = 3000
# How long a VAPID token is valid (push services refuse more than 24 hours).
TOKEN_SECONDS = 12 * 3600


def enabled() -> bool:
    return bool(settings.VAPID_PUBLIC_KEY and settings.VAPID_PRIVATE_KEY)


@functools.lru_cache(maxsize=4)
def _vapid(private_key: str) -> Vapid02:
    return Vapid02.from_raw(private_key.encode())


def audience(endpoint: str) -> str:
    """The push service's origin, the VAPID token's ``aud``."""
    parts = urlsplit(endpoint)
    return f"{parts.scheme}://{parts.netloc.rsplit('@', 1)[-1]}"


def vapid_headers(endpoint: str) -> dict[str, str]:
    claims = {"sub": settings.VAPID_SUBJECT, "aud": audience(endpoint), "exp": int(time.time()) + TOKEN_SECONDS}
    return _vapid(settings.VAPID_PRIVATE_KEY).sign(claims)


def encrypt(*, endpoint: str, p256dh: str, auth: str, data: bytes) -> bytes:
    pusher = WebPusher({"endpoint": endpoint, "keys": {"p256dh": p256dh, "auth": auth}})
    return pusher.encode(data, content_encoding="aes128gcm")["body"]


def send(subscription, data: bytes, *, urgency: str = "normal") -> outbound.Response:
    """POST ``data`` (at most ``MAX_PLAINTEXT`` bytes) to ``subscription`` and return the answer, whatever
    its status; raises ``outbound.OutboundRefused`` or ``outbound.OutboundError`` as ``outbound.post`` does."""
    body = encrypt(endpoint=subscription.endpoint, p256dh=subscription.p256dh, auth=subscription.auth, data=data)
    headers = {"Content-Type": "application/octet-stream", "Content-Encoding": "aes128gcm",
               "TTL": str(settings.NOTIFICATIONS_PUSH_TTL), "Urgency": urgency,
               **vapid_headers(subscription.endpoint)}
    return outbound.post(subscription.endpoint, body, headers)
