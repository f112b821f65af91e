"""What the API answers a caller it cannot serve: without valid credentials 401 JSON with a
``WWW-Authenticate`` challenge (never "CSRF check Failed"); with valid credentials but without the right,
403 JSON saying which right is missing; a logged-in session's write without its CSRF token is refused.

Every client here enforces CSRF, as a browser's requests meet it."""

import json

import pytest
from django.test import Client

from jobs.enqueue import enqueue
from jobs.models import JobRecord
from project.tenancy import api_token_create, api_token_revoke

pytestmark = pytest.mark.django_db(transaction=True)

JOB = {"job_type": "test.sleep", "payload": {"marker": "m", "seconds": 0}}
METRICS_TOKEN = "metrics-secret-token-1"


@pytest.fixture
def endpoints(world):
    """Each endpoint with a body it would accept from a caller with the right."""
    job = enqueue("test.sleep", {"marker": "seen", "seconds": 0}, guild=world["mine"])
    export = {"guild": world["mine"].pk, "format": "csv", "start": "2026-01-01", "end": "2026-01-31",
              "metrics": ["messages"]}
    return [("post", "/api/jobs", JOB), ("post", "/api/control-panel/analytics/export", export),
            ("get", f"/api/jobs/{job.pk}", None), ("get", "/api/queues/health", None)]


def call(client, method, path, body=None, **headers):
    if method == "post":
        return client.post(path, data=json.dumps(body), content_type="application/json", headers=headers)
    return client.get(path, headers=headers)


def logged_in(user):
    """A browser session: logged in, holding the CSRF cookie the login page set."""
    client = Client(enforce_csrf_checks=True)
    client.get("/accounts/login/")
    client.force_login(user)
    return client


def csrf(client):
    return {"X-CSRFToken": client.cookies["csrftoken"].value}


@pytest.mark.parametrize("authorization", [None, "Bearer jdt_not-a-real-token", "Bearer wrong", "Basic Zm9vOmJhcg=="])
def test_no_valid_credentials_is_401_with_a_challenge(endpoints, settings, authorization):
    settings.METRICS_TOKEN = METRICS_TOKEN
    headers = {"Authorization": authorization} if authorization else {}
    for method, path, body in endpoints:
        response = call(Client(enforce_csrf_checks=True), method, path, body, **headers)
        assert response.status_code == 401, (path, response.content)
        assert response["Content-Type"].startswith("application/json")
        assert response.json()["error"] == "unauthenticated" and "CSRF" not in response.json()["message"]
        assert response["WWW-Authenticate"].startswith('Bearer realm="jobdesk"')
        assert ('error="invalid_token"' in response["WWW-Authenticate"]) == bool(authorization)
    assert JobRecord.objects.count() == 1


def test_a_revoked_guild_token_is_401(world):
    token, plain = api_token_create(guild=world["mine"], name="old")
    api_token_revoke(token)
    response = Client().get("/api/queues/health", headers={"Authorization": f"Bearer {plain}"})
    assert response.status_code == 401 and response.has_header("WWW-Authenticate")


def test_a_guild_token_is_told_what_it_may_not_do(world):
    _token, plain = api_token_create(guild=world["mine"], name="ci")
    client = Client(enforce_csrf_checks=True)
    auth = {"Authorization": f"Bearer {plain}"}
    health = client.get("/api/queues/health", headers=auth)
    assert health.status_code == 403 and health.json()["message"] == "staff or the metrics token only"
    enqueue_ = call(client, "post", "/api/jobs", JOB, **auth)
    assert enqueue_.status_code == 403 and enqueue_.json()["message"] == "staff only"
    assert not JobRecord.objects.exists()


def test_the_metrics_token_reads_queue_health_and_nothing_else(endpoints, settings):
    settings.METRICS_TOKEN = METRICS_TOKEN
    auth = {"Authorization": f"Bearer {METRICS_TOKEN}"}
    for method, path, body in endpoints:
        response = call(Client(enforce_csrf_checks=True), method, path, body, **auth)
        expected = 200 if path == "/api/queues/health" else 403
        assert response.status_code == expected, (path, response.content)
        if expected == 403:
            assert response.json()["error"] == "forbidden" and response.json()["message"]
    assert JobRecord.objects.count() == 1


def test_a_user_who_is_not_staff_is_told_staff_only(world):
    client = logged_in(world["member"])
    enqueue_ = call(client, "post", "/api/jobs", JOB, **csrf(client))
    assert enqueue_.status_code == 403 and enqueue_.json()["message"] == "staff only"
    health = client.get("/api/queues/health")
    assert health.status_code == 403 and health.json()["message"] == "staff or the metrics token only"
    assert not JobRecord.objects.exists()


def test_a_session_write_needs_its_csrf_token(django_user_model):
    client = logged_in(django_user_model.objects.create_superuser("root", "root@example.com", "pw-root-1"))
    refused = call(client, "post", "/api/jobs", JOB)
    assert refused.status_code == 403 and refused.json()["error"] == "csrf_failed"
    assert "CSRF" in refused.json()["message"]
    assert not JobRecord.objects.exists()
    forged = call(client, "post", "/api/jobs", JOB, **{"X-CSRFToken": "x" * 32})
    assert forged.status_code == 403 and forged.json()["error"] == "csrf_failed"
    accepted = call(client, "post", "/api/jobs", JOB, **csrf(client))
    assert accepted.status_code == 202, accepted.content
    assert JobRecord.objects.count() == 1


def test_a_token_records_its_last_use_at_most_once_a_minute(world, endpoints):
    """Staff see when a token was last used (to find the stale ones); recorded on use, at most one write a
    minute per token, so that every request does not pay a commit for it."""
    from datetime import timedelta

    from django.utils import timezone

    from project.models import GuildApiToken

    token, plain = api_token_create(guild=world["mine"], name="cron")
    auth = {"Authorization": f"Bearer {plain}"}
    _method, path, body = endpoints[1]  # the export endpoint, which guild tokens may call
    assert call(Client(), "post", path, body, **auth).status_code == 202
    first = GuildApiToken.objects.get(pk=token.pk).last_used_at
    assert first is not None and timezone.now() - first < timedelta(seconds=30)
    assert call(Client(), "post", path, body, **auth).status_code == 202
    assert GuildApiToken.objects.get(pk=token.pk).last_used_at == first
    GuildApiToken.objects.filter(pk=token.pk).update(last_used_at=first - timedelta(minutes=2))
    assert call(Client(), "post", path, body, **auth).status_code == 202
    assert GuildApiToken.objects.get(pk=token.pk).last_used_at > first
