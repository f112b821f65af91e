"""Staff ask for an audit report of a period in the admin, see it listed, and download its CSV (the
rollup's rows of that period: day, guild, action, count). Asking and downloading need the role's
permission: a "Job viewers" staff member is refused; a bad period is a form error naming the field."""

import csv
import io
from datetime import date

import pytest

from audit.models import AuditEvent, AuditReport, AuditRollup
from jobs.models import JobRecord, Status
from project.models import Guild
from tests.conftest import OPERATORS, VIEWERS, make_staff, wait_for

pytestmark = pytest.mark.django_db(transaction=True)

REPORTS = "/admin/audit/auditreport/"


def rollup_rows():
    mine, other = Guild.objects.create(name="Mine", slug="mine"), Guild.objects.create(name="Other", slug="other")
    for day, guild, action, count in [
        (date(2026, 3, 31), mine, "export.downloaded", 99),        # before the period
        (date(2026, 4, 1), mine, "export.downloaded", 3),
        (date(2026, 4, 1), None, "jobs.pruned", 1),
        (date(2026, 4, 15), other, "webhook.delivered", 12),
        (date(2026, 4, 30), mine, "job.enqueued", 7),
        (date(2026, 5, 1), other, "job.enqueued", 50),             # after it
    ]:
        AuditRollup.objects.create(day=day, guild=guild, action=action, count=count)
    return mine, other


def test_an_operator_requests_sees_and_downloads_the_report(client, start_worker):
    mine, other = rollup_rows()
    operator = make_staff("report-operator", OPERATORS)
    client.force_login(operator)
    assert client.get(f"{REPORTS}add/").status_code == 200
    response = client.post(f"{REPORTS}add/", {"start": "2026-04-01", "end": "2026-04-30"})
    assert response.status_code == 302, response.content[:2000]
    report = AuditReport.objects.get()
    assert (report.start, report.end, report.requested_by) == (date(2026, 4, 1), date(2026, 4, 30), operator)
    job = JobRecord.objects.get(pk=report.job_id)
    assert job.job_type == "audit.report" and job.actor == operator
    assert AuditEvent.objects.filter(action="audit.report_requested", actor=operator,
                                     resource_id=str(report.pk)).exists()

    start_worker("jdtest.audit")
    wait_for(lambda: JobRecord.objects.filter(pk=job.pk, status=Status.SUCCEEDED).exists(), timeout=30,
             message="the report job")
    listing = client.get(REPORTS).content.decode()
    download = f"{REPORTS}{report.pk}/download/"
    assert download in listing

    response = client.get(download)
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    assert 'filename="audit-report-2026-04-01-2026-04-30.csv"' in response["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert rows == [
        ["day", "guild_id", "guild", "action", "count"],
        ["2026-04-01", str(mine.pk), "mine", "export.downloaded", "3"],
        ["2026-04-01", "", "", "jobs.pruned", "1"],
        ["2026-04-15", str(other.pk), "other", "webhook.delivered", "12"],
        ["2026-04-30", str(mine.pk), "mine", "job.enqueued", "7"],
    ]
    assert AuditEvent.objects.filter(action="audit.report_downloaded", actor=operator,
                                     resource_id=str(report.pk)).count() == 1


def test_a_viewer_without_the_permission_is_refused(client):
    rollup_rows()
    report = AuditReport.objects.create(start=date(2026, 4, 1), end=date(2026, 4, 30), file_name="audit-reports/x.csv")
    viewer = make_staff("report-viewer", VIEWERS)
    client.force_login(viewer)
    assert client.get(f"{REPORTS}{report.pk}/download/").status_code == 403
    assert client.get(REPORTS).status_code == 403
    assert client.post(f"{REPORTS}add/", {"start": "2026-04-01", "end": "2026-04-30"}).status_code == 403
    assert AuditReport.objects.count() == 1 and not JobRecord.objects.filter(job_type="audit.report").exists()
    assert not AuditEvent.objects.filter(action="audit.report_downloaded").exists()
    assert client.get("/admin/audit/auditrollup/").status_code == 200, "the rollup itself they may see"

    client.logout()
    response = client.get(f"{REPORTS}{report.pk}/download/")
    assert response.status_code == 302 and "/login/" in response["Location"]


@pytest.mark.parametrize("start, end, field", [
    ("2026-04-30", "2026-04-01", "end"),
    ("2025-01-01", "2026-04-01", "end"),
    ("not-a-date", "2026-04-01", "start"),
])
def test_a_bad_period_is_a_form_error_naming_the_field(client, start, end, field):
    client.force_login(make_staff("report-operator", OPERATORS))
    response = client.post(f"{REPORTS}add/", {"start": start, "end": end})
    assert response.status_code == 200
    assert field in response.context["adminform"].form.errors
    assert not AuditReport.objects.exists() and not JobRecord.objects.filter(job_type="audit.report").exists()


def test_a_report_not_ready_yet_is_not_offered(client):
    report = AuditReport.objects.create(start=date(2026, 4, 1), end=date(2026, 4, 30))
    client.force_login(make_staff("report-operator", OPERATORS))
    assert f"{report.pk}/download/" not in client.get(REPORTS).content.decode()
    assert client.get(f"{REPORTS}{report.pk}/download/").status_code == 404


def test_a_superuser_deletes_a_report_with_its_file(client, staff_user):
    from django.core.files.base import ContentFile
    from django.core.files.storage import default_storage

    name = default_storage.save("audit-reports/to-delete.csv", ContentFile(b"day\n"))
    report = AuditReport.objects.create(start=date(2026, 4, 1), end=date(2026, 4, 30), file_name=name)
    client.force_login(staff_user)
    assert client.post(f"{REPORTS}{report.pk}/delete/", {"post": "yes"}).status_code == 302
    assert not AuditReport.objects.exists() and not default_storage.exists(name)
    assert AuditEvent.objects.filter(action="audit.report_deleted", actor=staff_user).exists()
