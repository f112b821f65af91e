"""User-given URLs (webhooks, shards, the dead-letter webhook) never reach inside the network: refused
when saved and again when sent, after DNS, connecting to the address that was checked; redirects are
not followed. Only the networks named in ``OUTBOUND_ALLOWED_NETWORKS`` (here, the test's own peer on
127.0.0.1) get through."""

import socket

import pytest

from notifications import outbound, signing


@pytest.mark.parametrize("url, problem", [
    ("http://127.0.0.1:8080/hook", "loopback"),
    ("http://localhost/hook", "loopback"),  # a name that resolves to 127.0.0.1 / ::1
    ("http://[::1]/hook", "loopback"),
    ("http://[::ffff:127.0.0.1]/hook", "loopback"),
    ("http://10.1.2.3/hook", "private"),
    ("http://192.168.0.10/hook", "private"),
    ("http://169.254.169.254/latest/meta-data", "link-local"),  # cloud metadata
    ("http://[fe80::1]/hook", "link-local"),
    ("http://224.0.0.1/hook", "multicast"),
    ("http://0.0.0.0/hook", "unspecified"),
    ("http://100.64.1.1/hook", "public"),  # shared address space (CGNAT)
    ("http://192.0.0.192/hook", "internal"),  # IETF protocol assignments, global to some Pythons
    ("http://[2002:7f00:1::1]/hook", "loopback"),  # 6to4 around 127.0.0.1
    ("http://[2002:a9fe:a9fe::1]/hook", "link-local"),  # 6to4 around the cloud metadata address
    ("http://[2001:0:4136:e378:8000:63bf:3fff:fdd2]/hook", "Teredo"),
    ("ftp://example.com/hook", "https://"),
    ("http://user:pw@example.com/hook", "password"),
    ("http:///hook", "no host"),
    ("https://example.com:0/hook", "port"),
    ("https://" + "\u00fc" * 63 + ".com/hook", "not a valid internet name"),  # a label IDNA cannot encode
    ("https://a\ue000.com/hook", "not a valid internet name"),
])
def test_internal_addresses_and_bad_urls_are_refused_when_saved(url, problem, settings):
    settings.OUTBOUND_ALLOWED_NETWORKS = []
    with pytest.raises(outbound.OutboundRefused, match=problem):
        outbound.check_url(url)


def test_a_public_address_is_accepted(settings):
    settings.OUTBOUND_ALLOWED_NETWORKS = []
    outbound.check_url("https://93.184.215.14/hook")  # an IP literal: no DNS needed
    outbound.check_url("https://no-such-host.invalid/hook")  # not resolvable yet: checked again when sent


def test_sending_checks_again_and_connects_to_the_checked_address(httpserver, settings, monkeypatch):
    settings.OUTBOUND_ALLOWED_NETWORKS = []
    httpserver.expect_request("/hook").respond_with_data("ok")
    with pytest.raises(outbound.OutboundRefused, match="loopback"):
        outbound.post(httpserver.url_for("/hook"), b"{}", {})
    assert not httpserver.log, "nothing reached the internal peer"

    # Allowed explicitly, the same peer answers. The name is looked up once, and the connection goes to
    # the address that lookup gave: a rebinding DNS answer (internal the first time, then elsewhere)
    # never gets a second lookup to take effect. The stand-in resolver answers for that one name only.
    settings.OUTBOUND_ALLOWED_NETWORKS = ["127.0.0.1/32"]
    answers = iter(["127.0.0.1", "10.9.9.9"])
    lookups = []
    real_getaddrinfo = socket.getaddrinfo

    def rebinding_getaddrinfo(host, port, *args, **kwargs):
        if host != "rebind.example":
            return real_getaddrinfo(host, port, *args, **kwargs)
        lookups.append(host)
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (next(answers), port))]

    monkeypatch.setattr(socket, "getaddrinfo", rebinding_getaddrinfo)
    answer = outbound.post(f"http://rebind.example:{httpserver.port}/hook", b'{"a": 1}',
                           {"Content-Type": "application/json"})
    assert (answer.status, answer.body, answer.address) == (200, b"ok", "127.0.0.1")
    assert lookups == ["rebind.example"]
    request, _ = httpserver.log[0]
    assert request.data == b'{"a": 1}' and request.headers["Host"] == f"rebind.example:{httpserver.port}"


def test_a_redirect_is_not_followed(httpserver, settings):
    settings.OUTBOUND_ALLOWED_NETWORKS = ["127.0.0.1/32"]
    httpserver.expect_request("/hook").respond_with_data("", status=302,
                                                         headers={"Location": "http://169.254.169.254/"})
    answer = outbound.post(httpserver.url_for("/hook"), b"{}", {})
    assert answer.status == 302 and answer.headers["location"] == "http://169.254.169.254/"
    assert len(httpserver.log) == 1


def test_a_peer_that_does_not_answer_in_time_is_an_outbound_error(settings):
    settings.OUTBOUND_ALLOWED_NETWORKS = ["127.0.0.1/32"]
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(1)
        port = silent.getsockname()[1]
        with pytest.raises(outbound.OutboundError, match="timed out"):
            outbound.post(f"http://127.0.0.1:{port}/hook", b"{}", {}, timeout=0.5)


def test_a_signature_verifies_with_the_helper_and_nothing_else():
    body = b'{"version": 3}'
    headers = signing.sign("s3cret", body, timestamp=1_700_000_000)
    assert signing.verify("s3cret", headers, body, now=1_700_000_010) == 1_700_000_000
    lowercase = {k.lower(): v for k, v in headers.items()}
    assert signing.verify("s3cret", lowercase, body, now=1_700_000_010)
    for secret, sent, now in [("other", body, 1_700_000_010), ("s3cret", body + b" ", 1_700_000_010),
                              ("s3cret", body, 1_700_000_000 + signing.TOLERANCE + 1)]:
        with pytest.raises(signing.SignatureError):
            signing.verify(secret, headers, sent, now=now)
    rotated = {**headers, signing.SIGNATURE_HEADER: "v1=00ff," + headers[signing.SIGNATURE_HEADER]}
    assert signing.verify("s3cret", rotated, body, now=1_700_000_010)
    with pytest.raises(signing.SignatureError, match="missing"):
        signing.verify("s3cret", {}, body)


@pytest.mark.parametrize("signature, stamp", [
    ("v1=é", "1700000000"),                    # compare_digest raised TypeError on a non-ASCII str
    ("v1=" + "ü" * 64, "1700000000"),
    ("v1=00ff", "١٧٠٠٠٠٠٠٠٠"),                 # Arabic-Indic digits: int() reads them, the sender never writes them
    ("v1=00ff", " 1700000000 "),
    ("v1=00ff", "9" * 5000),
])
def test_a_malformed_signature_is_refused_not_a_crash(signature, stamp):
    """The bot copies ``verify`` and catches ``SignatureError``: anything a stranger sends is that."""
    headers = {signing.TIMESTAMP_HEADER: stamp, signing.SIGNATURE_HEADER: signature}
    with pytest.raises(signing.SignatureError):
        signing.verify("s3cret", headers, b"{}", now=1_700_000_010)
