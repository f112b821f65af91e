"""With ``SENTRY_DSN`` set, a failing job reaches Sentry once, when it is dead (not at each attempt that
will be retried), with its own exception and tagged with its correlation ID, job id and job type; a job
that fails once and then succeeds sends nothing. A local HTTP server stands in for Sentry's ingest
endpoint and the test reads the envelopes the worker sends."""

import gzip
import json

import pytest

from jobs.enqueue import enqueue
from jobs.models import JobRecord, Status
from tests.conftest import wait_for

pytestmark = pytest.mark.django_db(transaction=True)


def events(httpserver):
    found = []
    for request, _ in list(httpserver.log):
        body = request.get_data()
        if request.headers.get("Content-Encoding") == "gzip":
            body = gzip.decompress(body)
        lines = body.split(b"\n")
        for header, payload in zip(lines[1::2], lines[2::2]):
            if header.strip() and json.loads(header).get("type") == "event":
                found.append(json.loads(payload))
    return found


def test_a_dead_job_is_reported_once_with_its_tags(httpserver, start_worker):
    httpserver.expect_request("/api/1/envelope/", method="POST").respond_with_json({})
    dsn = f"http://public@127.0.0.1:{httpserver.port}/1"
    start_worker(env={"SENTRY_DSN": dsn})

    recovered = enqueue("test.flaky", {"marker": "sentry-flaky", "fail_times": 1}, correlation_id="cid-sentry-flaky")
    dead = enqueue("test.always_fails", {"marker": "sentry-dead"}, correlation_id="cid-sentry-dead")
    wait_for(lambda: JobRecord.objects.filter(pk=dead.pk, status=Status.DEAD).exists(), timeout=40,
             message="the failing job dead after its three attempts")
    wait_for(lambda: JobRecord.objects.filter(pk=recovered.pk, status=Status.SUCCEEDED).exists(), timeout=20)
    wait_for(lambda: events(httpserver), timeout=20, message="an event at Sentry")
    # Whatever else is in flight arrives within a few seconds; there must be nothing else.
    wait_for(lambda: False, timeout=3, fail=False)

    sent = events(httpserver)
    assert len(sent) == 1, [e.get("exception", {}).get("values", [{}])[-1].get("type") for e in sent]
    event = sent[0]
    assert event["tags"]["correlation_id"] == "cid-sentry-dead"
    assert event["tags"]["job_id"] == str(dead.pk) and event["tags"]["job_type"] == "test.always_fails"
    exception = event["exception"]["values"][-1]
    assert exception["type"] != "JobDied", "the job's own exception, not the runner's wrapper"
    assert JobRecord.objects.get(pk=dead.pk).last_error_type.endswith(exception["type"])
