"""A correlation ID opens its whole story in the admin, in time order: the API request's enqueue, the
job's attempts, its failure, a staff member's retry and the attempt that succeeds, and the child jobs
that carry the same ID. Staff see it from any event of the audit list; people who are not staff do not."""

import json

import pytest

from audit.models import AuditEvent
from jobs.enqueue import enqueue
from jobs.models import JobRecord, Status
from project import correlation
from tests.conftest import OPERATORS, VIEWERS, make_staff, wait_for

pytestmark = pytest.mark.django_db(transaction=True)

CID = "req-timeline-7d3e2c1b-0001"
STAFF_CID = "req-staff-retry-9f8e7d6c-01"


def position(entries, predicate, after=-1, what=""):
    """The index of the first entry after ``after`` that matches."""
    for index, entry in enumerate(entries):
        if index > after and predicate(entry):
            return index
    pytest.fail(f"no {what or 'matching entry'} after position {after}: " +
                "; ".join(f"{e.kind}:{e.name}:{e.summary}" for e in entries))


def test_the_timeline_of_an_api_call_its_jobs_a_failure_and_a_staff_retry_in_order(client, world, start_worker):
    client.force_login(world["admin"])
    response = client.post("/api/control-panel/analytics/export", content_type="application/json",
                           headers={"X-Correlation-ID": CID},
                           data=json.dumps({"guild": world["mine"].pk, "format": "csv", "start": "2026-04-01",
                                            "end": "2026-04-30", "metrics": ["messages"]}))
    assert response.status_code == 202, response.content
    export_job = JobRecord.objects.get(pk=response.json()["id"])
    assert export_job.correlation_id == CID
    JobRecord.objects.filter(pk=export_job.pk).update(max_attempts=1)  # its first failure is final
    with correlation.bind(CID):  # more work of the same request: a job that enqueues a child job
        parent = enqueue("test.spawn_child", {"marker": "timeline"}, actor=world["admin"], guild=world["mine"])

    # The export's storage is unwritable for this worker: the attempt fails and the job is dead.
    broken = start_worker(env={"MEDIA_ROOT": "/dev/null/no-media-here"})
    wait_for(lambda: JobRecord.objects.filter(pk=export_job.pk, status=Status.DEAD).exists(), timeout=40,
             message="the export to fail")
    child = wait_for(lambda: JobRecord.objects.filter(parent=parent, status=Status.SUCCEEDED).first(), timeout=30,
                     message="the child job")
    broken.stop()

    operator = make_staff("timeline-operator", OPERATORS)
    client.force_login(operator)
    retried = client.post("/admin/jobs/jobrecord/", {"action": "retry_selected", "index": "0",
                                                     "_selected_action": [str(export_job.pk)]},
                          headers={"X-Correlation-ID": STAFF_CID})
    assert retried.status_code == 302, retried.content[:1000]
    start_worker()
    wait_for(lambda: JobRecord.objects.filter(pk=export_job.pk, status=Status.SUCCEEDED).exists(), timeout=40,
             message="the retried export to succeed")

    viewer = make_staff("timeline-viewer", VIEWERS)
    client.force_login(viewer)
    listing = client.get("/admin/audit/auditevent/", {"q": CID})
    url = f"/admin/audit/auditevent/timeline/{CID}/"
    assert listing.status_code == 200 and url in listing.content.decode()
    page = client.get(url)
    assert page.status_code == 200
    entries = page.context["entries"]
    assert [e.at for e in entries] == sorted(e.at for e in entries), "in time order"

    export_id = str(export_job.pk)
    on_export = lambda kind, name=None, summary="": (lambda e: e.kind == kind and str(e.job_id) == export_id and (
        name is None or e.name == name) and summary in e.summary)
    created = position(entries, on_export("job"), what="the export job")
    enqueued = position(entries, on_export("event", "job.enqueued"), created, "the enqueue")
    assert entries[enqueued].actor == world["admin"], "the request's person"
    first_start = position(entries, on_export("attempt", summary="started"), enqueued, "attempt 1")
    assert entries[first_start].name == "attempt 1 of exports.generate"
    running = position(entries, on_export("event", "job.running"), enqueued, "job.running")
    failed = position(entries, on_export("attempt", summary="failed"), max(first_start, running), "the failure")
    dead = position(entries, on_export("event", "job.dead"), running, "job.dead")
    retry = position(entries, on_export("event", "job.queued"), max(dead, failed), "the staff retry")
    assert entries[retry].actor == operator and "retried by staff" in entries[retry].summary
    second = position(entries, lambda e: e.name == "attempt 2 of exports.generate", retry, "attempt 2")
    position(entries, on_export("event", "job.succeeded"), second, "job.succeeded")

    for job in (parent, child):  # the child jobs of the same request are in it too
        position(entries, lambda e, pk=str(job.pk): e.kind == "job" and str(e.job_id) == pk, what=f"job {job.pk}")
    assert {job.pk for job in page.context["jobs"]} == {export_job.pk, parent.pk, child.pk}
    assert "child of" in next(e.summary for e in entries if e.kind == "job" and e.job_id == child.pk)
    position(entries, lambda e: e.kind == "event" and e.name == "test.child", what="the child's own event")

    html = page.content.decode()
    assert html.index("job.enqueued") < html.index("job.dead") < html.index("retried by staff")
    assert AuditEvent.objects.filter(correlation_id=CID, action="job.queued", actor=operator).count() == 1


def test_only_staff_may_open_a_timeline(client, world):
    url = f"/admin/audit/auditevent/timeline/{CID}/"
    for user in (None, world["admin"]):  # anonymous, a guild admin who is not staff
        if user:
            client.force_login(user)
        response = client.get(url)
        assert response.status_code == 302 and "/login/" in response["Location"]
    client.force_login(world["staff"])  # staff without a role: no view permission on the audit log
    assert client.get(url).status_code == 403
    client.force_login(make_staff("timeline-viewer", VIEWERS))
    page = client.get("/admin/audit/auditevent/timeline/unknown-cid-0000/")
    assert page.status_code == 200 and "Nothing carries this correlation ID" in page.content.decode()
