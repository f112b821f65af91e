"""django-rq's dashboard does not read as "the scheduler is down" while jobdesk's runs: no "No running cron
schedulers" (jobdesk uses rq's cron as little as rq-scheduler's entries) and no empty "Scheduler PID" column
(django-rq cannot know it with rq-scheduler installed). In their place, a line that jobdesk's schedules live
in the admin's Schedules (linked), and those schedules with their times in their own zones."""

from datetime import datetime, timezone

import pytest
from django.test import Client

from jobs.models import Schedule

pytestmark = pytest.mark.django_db


def test_the_dashboard_points_to_jobdesks_schedules_instead(staff_user):
    Schedule.objects.all().delete()
    Schedule.objects.create(name="nightly-report", job_type="test.flaky", payload={"marker": "m", "fail_times": 0},
                            cron="0 4 * * *", timezone="Europe/Paris",
                            next_run_at=datetime(2026, 12, 8, 3, 0, tzinfo=timezone.utc))
    client = Client()
    client.force_login(staff_user)
    html = client.get("/admin/django-rq/").content.decode()
    assert "Cron Schedulers" not in html and "No running cron schedulers" not in html
    assert "Scheduler PID" not in html and "RQ Scheduler" not in html and "NOHOST" not in html
    assert 'id="jobdesk-schedules-link" href="/admin/jobs/schedule/"' in html
    assert "live in its ledger" in html and "manage.py rqscheduler" in html
    assert "nightly-report" in html and "2026-12-08 04:00 Europe/Paris" in html
    for column in ("Queued Jobs", "Failed Jobs", "Scheduled Jobs", "Workers"):
        assert column in html
    assert "View as JSON" in html
