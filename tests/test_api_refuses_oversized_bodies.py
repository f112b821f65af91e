"""Every request body over the API's limit answers 413 JSON before it is parsed or validated, at any size
and whoever sends it; a body without a Content-Length cannot slip past the limit."""

import asyncio
import http.client
import json
import socket
import subprocess
import sys

import pytest
from asgiref.sync import async_to_sync
from django.test import Client

from exports.models import Export
from jobs.models import JobRecord
from project.middleware import MAX_BODY
from project.tenancy import api_token_create
from tests.conftest import free_port, service_env, wait_for

pytestmark = pytest.mark.django_db(transaction=True)

JOBS, EXPORT = "/api/jobs", "/api/control-panel/analytics/export"
# Invalid in every field: were they parsed and validated first, the answer would be a 400 or 422.
INVALID = {JOBS: {"job_type": "", "payload": [1], "priority": "now"},
           EXPORT: {"guild": "not a slug!", "format": 7, "start": "January", "metrics": []}}


def padded(body, size):
    """``body`` as JSON text of exactly ``size`` bytes (trailing whitespace is valid JSON)."""
    text = json.dumps(body)
    assert len(text) <= size
    return text + " " * (size - len(text))


def export_body(world):
    return {"guild": world["mine"].pk, "format": "csv", "start": "2026-01-01", "end": "2026-01-31",
            "metrics": ["messages"]}


def client_for(user):
    client = Client()
    if user is not None:
        client.force_login(user)
    return client


def assert_refused_as_too_large(response):
    assert response.status_code == 413, response.content[:300]
    assert response["Content-Type"].startswith("application/json")
    assert response.json()["error"] == "body_too_large" and "64 KiB" in response.json()["message"]


@pytest.mark.parametrize("size", [MAX_BODY + 1, 65 * 1024 + 1, 3 * 1024 * 1024, 20 * 1024 * 1024])
@pytest.mark.parametrize("path, who", [(JOBS, "staff"), (EXPORT, "admin"), (EXPORT, None)])
def test_a_body_over_the_limit_is_413_json_before_validation(world, staff_user, path, who, size):
    user = staff_user if who == "staff" else world.get(who)
    response = client_for(user).post(path, data=padded(INVALID[path], size), content_type="application/json")
    assert_refused_as_too_large(response)
    assert not JobRecord.objects.exists() and not Export.objects.exists()


def test_a_body_at_the_limit_is_served(world):
    response = client_for(world["admin"]).post(EXPORT, data=padded(export_body(world), MAX_BODY),
                                               content_type="application/json")
    assert response.status_code == 202, response.content


@pytest.fixture
def gunicorn_port():
    """jobdesk under gunicorn, as production runs it: the server that decodes chunked bodies."""
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "gunicorn", "project.wsgi", "-b", f"127.0.0.1:{port}", "-w", "1"],
                            env=service_env(ALLOWED_HOSTS="127.0.0.1"), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_for(lambda: _answers(port), timeout=30, message="gunicorn")
    yield port
    proc.terminate()
    proc.wait(10)


def _answers(port):
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
        return True
    except OSError:
        return False


def chunked_post(port, path, body, headers, piece=8 * 1024):
    """POST ``body`` with ``Transfer-Encoding: chunked`` and no Content-Length; (status, content type, JSON)."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        connection.request("POST", path, body=(body[i:i + piece] for i in range(0, len(body), piece)),
                           headers={"Content-Type": "application/json", **headers}, encode_chunked=True)
    except (BrokenPipeError, ConnectionResetError):
        pass  # refused before the whole body was sent: the answer is waiting
    response = connection.getresponse()
    answer = (response.status, response.getheader("Content-Type"), json.loads(response.read()))
    connection.close()
    return answer


@pytest.mark.parametrize("size", [MAX_BODY + 1, 3 * 1024 * 1024])
def test_a_chunked_body_over_the_limit_is_413_under_gunicorn(world, gunicorn_port, size):
    """A chunked body carries no Content-Length: gunicorn decodes it and the API measures it as it reads."""
    _token, plain = api_token_create(guild=world["mine"], name="chunked")
    status, content_type, content = chunked_post(gunicorn_port, EXPORT, padded(INVALID[EXPORT], size).encode(),
                                                 {"Authorization": f"Bearer {plain}"})
    assert status == 413 and content_type == "application/json", content
    assert content["error"] == "body_too_large"
    assert not Export.objects.exists()


def test_a_broken_chunked_body_is_400_json_under_gunicorn(world, gunicorn_port):
    _token, plain = api_token_create(guild=world["mine"], name="chunked")
    with socket.create_connection(("127.0.0.1", gunicorn_port), timeout=30) as sock:
        sock.sendall(f"POST {EXPORT} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                     f"Authorization: Bearer {plain}\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
                     "zz\r\n{}\r\n0\r\n\r\n".encode())
        answer = b""
        while piece := sock.recv(65536):
            answer += piece
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.split()[1] == b"400" and b"application/json" in head, answer[:300]
    assert b"chunked request body could not be read" in body
    assert not Export.objects.exists()


def test_a_chunked_body_within_the_limit_is_served_under_gunicorn(world, gunicorn_port):
    _token, plain = api_token_create(guild=world["mine"], name="chunked")
    status, _content_type, content = chunked_post(gunicorn_port, EXPORT, padded(export_body(world), MAX_BODY).encode(),
                                                  {"Authorization": f"Bearer {plain}"})
    assert status == 202, content
    assert Export.objects.count() == 1


@pytest.mark.parametrize("size", [MAX_BODY + 1, 3 * 1024 * 1024])
def test_a_body_without_any_length_header_is_measured(size):
    """An ASGI server passes a body with no Content-Length (HTTP/2, or chunked once decoded): its real
    size is checked, in pieces as it arrives."""
    body = padded(INVALID[EXPORT], size).encode()
    status, headers, content = async_to_sync(asgi_post)(EXPORT, body)
    assert status == 413 and headers[b"content-type"].startswith(b"application/json")
    assert json.loads(content)["error"] == "body_too_large"
    assert not Export.objects.exists()


async def asgi_post(path, body, piece=16 * 1024):
    """POST ``body`` to jobdesk's ASGI application in pieces, without a Content-Length header."""
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "2", "method": "POST", "scheme": "http",
             "path": path, "raw_path": path.encode(), "query_string": b"", "root_path": "",
             "headers": [(b"host", b"testserver"), (b"content-type", b"application/json")],
             "client": ("127.0.0.1", 40000), "server": ("testserver", 80)}
    messages = [{"type": "http.request", "body": body[i:i + piece], "more_body": i + piece < len(body)}
                for i in range(0, len(body), piece)]
    sent = []

    async def receive():
        if messages:
            return messages.pop(0)
        await asyncio.Event().wait()  # the client stays connected until the answer is sent

    async def send(message):
        sent.append(message)

    from django.core.asgi import get_asgi_application  # what project/asgi.py serves

    await get_asgi_application()(scope, receive, send)
    start = next(m for m in sent if m["type"] == "http.response.start")
    content = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return start["status"], {k.lower(): v for k, v in start["headers"]}, content
