""""Run now" on a schedule says which schedule enqueued which job, with a link to the job, and counts as the
schedule's last run: its "last run at" and "last job" are set, its next run stays."""

from datetime import timedelta

import pytest
from django.urls import reverse

from jobs import schedules
from jobs.models import JobRecord, Schedule
from tests.conftest import OPERATORS, make_staff

pytestmark = pytest.mark.django_db(transaction=True)


def test_run_now_names_the_schedule_links_the_job_and_sets_the_last_run(client):
    Schedule.objects.all().delete()
    schedule = schedules.schedule_save(Schedule(name="Nightly report", job_type="test.sleep",
                                                payload={"marker": "n", "seconds": 0}, cron="0 4 * * *",
                                                timezone="Europe/Paris"))
    next_run = schedule.next_run_at
    assert schedule.last_run_at is None
    client.force_login(make_staff("sched", OPERATORS))

    response = client.post(reverse("admin:jobs_schedule_changelist"),
                           {"action": "run_now", "_selected_action": [schedule.pk]}, follow=True)
    record = JobRecord.objects.get(job_type="test.sleep")
    html = response.content.decode()
    link = reverse("admin:jobs_jobrecord_change", args=[record.pk])
    said = f'Schedule «Nightly report» enqueued job <a href="{link}" title="{record.pk}">{str(record.pk)[:8]}</a>.'
    assert said in html
    assert "schedule(s)" not in html
    schedule.refresh_from_db()
    assert schedule.last_job_id == record.pk and schedule.next_run_at == next_run
    assert schedule.last_run_at is not None and abs(schedule.last_run_at - record.created_at) < timedelta(seconds=5)
    assert "Europe/Paris" in html.split('class="field-last_run_listed"')[1].split("</td>")[0]
