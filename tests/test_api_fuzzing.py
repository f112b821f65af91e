"""Generated bad input (schemathesis, from the OpenAPI document) against every operation of the API, as
each kind of caller: a guild admin's browser session (with its CSRF token), a guild's API token, a staff
operator's session and nobody at all. Every answer is documented (status, content type, body schema),
never a 5xx, and every 4xx is a JSON body with a message."""

import json

import pytest
import schemathesis
from django.conf import settings as django_settings
from django.test import Client
from django.utils.crypto import get_random_string
from hypothesis import HealthCheck, settings

from project.wsgi import application
from tests.conftest import OPERATORS, make_staff

pytestmark = pytest.mark.django_db(transaction=True)

@pytest.fixture
def api_schema(settings):
    settings.ALLOWED_HOSTS = ["localhost"]
    return schemathesis.openapi.from_wsgi("/api/openapi.json", application)


schema = schemathesis.pytest.from_fixture("api_schema")


def session_headers(user):
    """What a logged-in browser sends: the session cookie, the CSRF cookie and the same token in
    X-CSRFToken (as the control panel's script does)."""
    client = Client()
    client.force_login(user)
    csrf = get_random_string(32)
    session = client.cookies[django_settings.SESSION_COOKIE_NAME].value
    return {"Cookie": f"{django_settings.SESSION_COOKIE_NAME}={session}; {django_settings.CSRF_COOKIE_NAME}={csrf}",
            "X-CSRFToken": csrf}


# schemathesis's lazy schema takes no parametrized fixture: one fixture and one test per caller.
def answer(method, path, headers, body=None):
    """Sanity check that a caller's headers authenticate (else the fuzzing would meet only 401s)."""
    client = Client(HTTP_HOST="localhost")  # api_schema allows only localhost
    if method == "GET":
        return client.get(path, headers=headers).status_code
    return client.post(path, data=json.dumps(body), content_type="application/json", headers=headers).status_code


@pytest.fixture
def guild_admin_session(world, api_schema):
    headers = session_headers(world["admin"])
    export = {"guild": world["mine"].pk, "format": "csv", "start": "2026-01-01", "end": "2026-01-02",
              "metrics": ["messages"]}
    assert answer("POST", "/api/control-panel/analytics/export", headers, export) == 202, "session + CSRF"
    return headers


@pytest.fixture
def guild_token(world, api_schema):
    from project.tenancy import api_token_create

    headers = {"Authorization": f"Bearer {api_token_create(guild=world['mine'], name='fuzz')[1]}"}
    assert answer("GET", "/api/queues/health", headers) == 403, "a valid token, without the right"
    return headers


@pytest.fixture
def staff_session(world, api_schema):
    headers = session_headers(make_staff("fuzz-operator", OPERATORS))
    assert answer("GET", "/api/queues/health", headers) == 200
    assert answer("POST", "/api/jobs", headers, {"job_type": "test.sleep", "payload": {"marker": "f", "seconds": 0}}) == 202
    return headers


CHECKS = [
    schemathesis.checks.not_a_server_error,
    schemathesis.checks.status_code_conformance,
    schemathesis.checks.content_type_conformance,
    schemathesis.checks.response_schema_conformance,
]


FUZZ = settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))


def call_and_judge(case, headers):
    response = case.call(headers=headers)
    assert response.status_code < 500, response.text
    content_type = {k.lower(): v for k, v in response.headers.items()}.get("content-type", [""])
    content_type = content_type[0] if isinstance(content_type, list) else content_type
    if response.status_code >= 400 or case.path != "/api/docs":
        assert content_type.startswith("application/json"), (response.status_code, response.headers, response.text)
    if response.status_code >= 400:
        assert response.json()["message"], response.text
    case.validate_response(response, checks=CHECKS)


@schema.parametrize()
@FUZZ
def test_as_a_guild_admin_session(case, guild_admin_session):
    call_and_judge(case, guild_admin_session)


@schema.parametrize()
@FUZZ
def test_as_a_guild_token(case, guild_token):
    call_and_judge(case, guild_token)


@schema.parametrize()
@FUZZ
def test_as_a_staff_session(case, staff_session):
    call_and_judge(case, staff_session)


@schema.parametrize()
@FUZZ
def test_anonymously(case):
    call_and_judge(case, {})
