"""An API client that sends one export request several times at once with the same Idempotency-Key (a
retrying HTTP library, a double click) gets one export and one job, whatever the timing: the key is a
database constraint per guild, not a check before the insert. The same key with a different request is
refused with 422 naming Idempotency-Key (as Stripe does), instead of silently answering with the first
export."""

import json
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
from django.db import connections
from django.test import Client

from exports.models import Export
from jobs.models import JobRecord
from project.tenancy import api_token_create

pytestmark = pytest.mark.django_db(transaction=True)

EXPORT = "/api/control-panel/analytics/export"
THREADS = 8


def body(guild, **overrides):
    return {"guild": guild.pk, "format": "csv", "start": "2026-01-01", "end": "2026-01-31",
            "metrics": ["messages"], **overrides}


def post(data, token, key, raw=None):
    return Client().post(EXPORT, data=raw or json.dumps(data), content_type="application/json",
                         headers={"Authorization": f"Bearer {token}", "Idempotency-Key": key})


def post_at_once(requests):
    """Send ``(data, token, key)`` requests from as many threads, released together by a barrier."""
    barrier = threading.Barrier(len(requests))

    def send(request):
        try:
            barrier.wait(timeout=30)
            return post(*request)
        finally:
            connections.close_all()  # each thread's own database connection

    with ThreadPoolExecutor(len(requests)) as pool:
        return list(pool.map(send, requests))


@pytest.fixture
def token(world):
    return api_token_create(guild=world["mine"], name="ci")[1]


def test_concurrent_requests_with_one_key_make_one_export_and_one_job(world, token):
    for round_ in range(3):
        key = f"export-2026-01-{round_}"
        responses = post_at_once([(body(world["mine"]), token, key)] * THREADS)
        assert [r.status_code for r in responses] == [202] * THREADS, [r.content for r in responses]
        assert {r.json()["id"] for r in responses} == {str(Export.objects.get(idempotency_key=key).job_id)}
    assert Export.objects.count() == 3
    assert JobRecord.objects.filter(job_type="exports.generate").count() == 3


def test_concurrent_requests_with_one_key_and_different_bodies_make_one_export(world, token):
    months = [("2026-01-01", "2026-01-31"), ("2026-02-01", "2026-02-28")] * (THREADS // 2)
    responses = post_at_once([(body(world["mine"], start=s, end=e), token, "race-key") for s, e in months])
    codes = sorted(r.status_code for r in responses)
    assert Export.objects.count() == 1 and JobRecord.objects.count() == 1
    winner = Export.objects.get()
    assert codes == sorted([202] * (THREADS // 2) + [422] * (THREADS // 2)), "the losing body is refused"
    refused = [r.json() for r in responses if r.status_code == 422]
    assert all(r["field"] == "Idempotency-Key" and r["error"] == "conflict" for r in refused)
    assert {r.json()["id"] for r in responses if r.status_code == 202} == {str(winner.job_id)}


def test_the_same_key_with_a_different_body_answers_422_naming_the_key(world, token):
    first = post(body(world["mine"]), token, "export-q1")
    assert first.status_code == 202
    same_again = post(None, token, "export-q1",
                      raw=json.dumps(body(world["mine"]), indent=2, sort_keys=True))  # other layout, same request
    assert same_again.status_code == 202 and same_again.json()["id"] == first.json()["id"]

    other_body = post(body(world["mine"], format="jsonl"), token, "export-q1")

    assert other_body.status_code == 422
    error = other_body.json()
    assert error["error"] == "conflict" and error["field"] == "Idempotency-Key"
    assert "export-q1" in error["message"] and "different request" in error["message"]
    assert Export.objects.count() == 1 and JobRecord.objects.count() == 1


def test_a_key_belongs_to_its_guild_and_expires_after_24_hours(world, token):
    other_token = api_token_create(guild=world["other"], name="ci")[1]
    mine = post(body(world["mine"]), token, "nightly")
    other = post(body(world["other"]), other_token, "nightly")
    assert mine.status_code == other.status_code == 202 and mine.json()["id"] != other.json()["id"]

    Export.objects.filter(guild=world["mine"]).update(created_at=Export.objects.get(guild=world["mine"]).created_at
                                                      - timedelta(hours=25))
    later = post(body(world["mine"], format="xlsx"), token, "nightly")
    assert later.status_code == 202 and later.json()["id"] != mine.json()["id"], "an expired key starts afresh"
    assert Export.objects.filter(guild=world["mine"]).count() == 2
