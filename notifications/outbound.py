"""HTTP requests to URLs that people give (webhook endpoints, shard base URLs, the dead-letter webhook),
without letting them reach inside the network.

A URL is refused when its scheme is not http(s) or when its host resolves to an address that is not
public: private, loopback, link-local, multicast, reserved, unspecified, shared (CGNAT) or an IPv6
form of one (IPv4-mapped included). ``check_url`` says so when the URL is saved; ``post`` checks again
when it sends, after its own DNS resolution, and connects to the address it checked (no second
lookup, so a DNS answer that changes in between cannot redirect it). Redirects are never followed: a
3xx is returned as the answer. ``OUTBOUND_ALLOWED_NETWORKS`` (CIDRs) lets named internal networks
through, for tests and `make run`'s demo peers only.
"""

import http.client
import ipaddress
import socket
import ssl
import time
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from django.conf import settings

# The most of an answer's body kept (for the attempt's record); the rest is not read.
MAX_BODY = 64 * 1024


class OutboundRefused(Exception):
    """The URL may not be called: a bad scheme, or a host that is (or resolves to) an internal address."""


class OutboundError(Exception):
    """The request did not get an answer: DNS failure, connection refused, reset or timed out."""


@dataclass
class Response:
    status: int
    headers: dict[str, str]
    body: bytes
    elapsed_ms: float
    address: str = ""
    reason: str = field(default="")


def _allowed_networks():
    return [ipaddress.ip_network(n, strict=False) for n in getattr(settings, "OUTBOUND_ALLOWED_NETWORKS", [])]


# Special-purpose blocks that some Python versions count as global.
_ALWAYS_INTERNAL = [ipaddress.ip_network("192.0.0.0/24")]


def address_problem(address: str) -> str | None:
    """Why ``address`` may not be called, as the end of a sentence about it ("an internal address
    (private)", "not a public address"), or None if it may. ``refusal`` makes the whole sentence."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if any(ip in net for net in _allowed_networks() if net.version == ip.version):
        return None
    if ip.version == 6 and ip.ipv4_mapped is not None:
        return address_problem(str(ip.ipv4_mapped))
    if ip.version == 6 and ip.sixtofour is not None:  # 2002::/16 carries an IPv4 address a relay reaches
        return address_problem(str(ip.sixtofour))
    if ip.version == 6 and ip.teredo is not None:
        return "a tunnel address (Teredo)"
    if any(ip in net for net in _ALWAYS_INTERNAL if net.version == ip.version):
        return "an internal address (protocol assignments)"
    for flag in ("is_unspecified", "is_loopback", "is_link_local", "is_multicast", "is_reserved", "is_private"):
        if getattr(ip, flag):
            return f"an internal address ({flag.removeprefix('is_').replace('_', '-')})"
    if not ip.is_global:
        return "not a public address"
    return None


def refusal(host: str, address: str, problem: str) -> str:
    """The sentence a person reads when ``host`` (as written in the URL) is refused because it is, or
    resolves to, ``address``: "10.0.0.5 is an internal address (private); use your server's public
    address", or "hooks.example resolves to 10.0.0.5, an internal address (private)"."""
    if _is_ip(host):
        return f"{host} is {problem}; use your server's public address"
    return f"{host} resolves to {address}, {problem}"


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        return False
    return True


def _parse(url: str):
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise OutboundRefused(f"not a valid URL: {exc}") from None
    if parts.scheme not in ("http", "https"):
        raise OutboundRefused("the URL must start with https:// or http://")
    if not parts.hostname:
        raise OutboundRefused("the URL has no host")
    if parts.username or parts.password:
        raise OutboundRefused("the URL may not carry a user name or password")
    if port == 0:
        raise OutboundRefused("the URL's port must be 1-65535")
    try:
        parts.hostname.encode("idna")  # what the resolver will do with it; a label it cannot encode
    except UnicodeError:
        raise OutboundRefused("the URL's host is not a valid internet name") from None
    return parts, port if port is not None else (443 if parts.scheme == "https" else 80)


def resolve(url: str) -> list[str]:
    """The addresses ``url``'s host resolves to, all checked; raises ``OutboundRefused`` if any is
    internal (a host with one public and one private address is refused) and ``OutboundError`` if the
    name does not resolve."""
    parts, port = _parse(url)
    try:
        infos = socket.getaddrinfo(parts.hostname, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise OutboundError(f"{parts.hostname} does not resolve: {exc}") from None
    addresses = list(dict.fromkeys(info[4][0] for info in infos))
    for address in addresses:
        problem = address_problem(address)
        if problem:
            raise OutboundRefused(refusal(parts.hostname, address, problem))
    return addresses


def check_url(url: str) -> None:
    """For forms and APIs saving a URL: raises ``OutboundRefused`` with a message for the user. A name
    that does not resolve (yet) is accepted; sending checks again."""
    try:
        resolve(url)
    except OutboundError:
        pass


class _PinnedHTTPConnection(http.client.HTTPConnection):
    def __init__(self, host, port, address, timeout):
        super().__init__(host, port, timeout=timeout)
        self._address = address

    def connect(self):
        self.sock = socket.create_connection((self._address, self.port), self.timeout)


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    def __init__(self, host, port, address, timeout):
        super().__init__(host, port, timeout=timeout, context=ssl.create_default_context())
        self._address = address

    def connect(self):
        sock = socket.create_connection((self._address, self.port), self.timeout)
        self.sock = self._context.wrap_socket(sock, server_hostname=self.host)


def post(url: str, body: bytes, headers: dict[str, str], *, timeout: float | None = None) -> Response:
    """POST ``body`` to ``url`` (checked as above) and return the answer, whatever its status; raises
    ``OutboundRefused`` or ``OutboundError``. ``timeout`` (default ``OUTBOUND_TIMEOUT``) bounds the
    connection and each read."""
    parts, port = _parse(url)
    addresses = resolve(url)
    timeout = timeout or settings.OUTBOUND_TIMEOUT
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    connection_class = _PinnedHTTPSConnection if parts.scheme == "https" else _PinnedHTTPConnection
    started = time.monotonic()
    last_error = None
    for address in addresses:
        conn = connection_class(parts.hostname, port, address, timeout)
        try:
            conn.request("POST", path, body=body, headers={"User-Agent": "jobdesk", **headers})
            answer = conn.getresponse()
            data = answer.read(MAX_BODY)
            return Response(status=answer.status, headers={k.lower(): v for k, v in answer.getheaders()}, body=data,
                            elapsed_ms=(time.monotonic() - started) * 1000, address=address, reason=answer.reason)
        except (OSError, http.client.HTTPException) as exc:
            last_error = exc
            if not isinstance(exc, ConnectionRefusedError):
                break  # the request may have reached it: do not send it twice in one attempt
        finally:
            conn.close()
    raise OutboundError(f"{parts.hostname}: {type(last_error).__name__}: {last_error}")
