"""The admin speaks to staff in words, never in Python: a job's backoff ("exponential: 2 s, ×2 each
attempt, at most 1 h, with jitter"), its attempts' retry delays with their unit, a bulk action's filter
("status: dead, type: …"), a schedule's times in its own named time zone and what is wrong with its
interval, and the sidebar's names ("Webhook deliveries"; no raw "django_rq" app)."""

from datetime import datetime, timedelta, timezone

import pytest
from django.utils import timezone as dj_timezone

from branding.tasks import SettingsBackoff
from jobs import schedules
from jobs.admin_display import backoff_in_words, seconds_in_words
from jobs.backoff import Exponential, Fixed
from jobs.enqueue import enqueue
from jobs.models import JobAttempt, JobRecord, Outcome, Schedule, Status
from project.models import Guild
from tests.conftest import OPERATORS, make_staff

pytestmark = pytest.mark.django_db

JOBS = "/admin/jobs/jobrecord/"


def custom_backoff(attempt):
    return 3


@pytest.mark.parametrize("policy, words", [
    (Exponential(), "exponential: 2 s, ×2 each attempt, at most 1 h, with jitter"),
    (Exponential(base=1, factor=1.5, cap=90, jitter=False), "exponential: 1 s, ×1.5 each attempt, at most 90 s, no jitter"),
    (Fixed(5), "fixed: 5 s"),
    (Fixed(600), "fixed: 10 min"),
    (SettingsBackoff(), "custom: branding.tasks.SettingsBackoff"),
    (custom_backoff, "custom: tests.test_admin_speaks_plainly.custom_backoff"),
])
def test_a_backoff_reads_in_words(policy, words):
    assert backoff_in_words(policy) == words


@pytest.mark.parametrize("seconds, words", [(60.0, "1 min"), (37.48, "37.5 s"), (1.0, "1 s"), (90, "90 s"),
                                           (7200, "2 h"), (None, "-")])
def test_a_delay_has_its_unit(seconds, words):
    assert seconds_in_words(seconds) == words


def test_the_job_page_shows_the_backoff_and_retry_delays_in_words(client, staff_user):
    own = enqueue("test.sleep", {"marker": "b", "seconds": 0},
                  backoff={"type": "exponential", "base": 2, "factor": 2, "cap": 3600, "jitter": True})
    typed = enqueue("test.always_fails", {"marker": "b"})
    start = dj_timezone.now() - timedelta(minutes=5)
    JobAttempt.objects.create(record=typed, number=1, queue=typed.queue, correlation_id=typed.correlation_id,
                              started_at=start, ended_at=start + timedelta(seconds=1), outcome=Outcome.FAILED,
                              retry_delay=60.0)
    client.force_login(staff_user)

    page = client.get(f"{JOBS}{own.pk}/change/").content.decode()
    assert "backoff exponential: 2 s, ×2 each attempt, at most 1 h, with jitter (this job&#x27;s)" in page
    assert "Exponential(" not in page
    page = client.get(f"{JOBS}{typed.pk}/change/").content.decode()
    assert "backoff fixed: 1 s (the type&#x27;s)" in page and "Fixed(" not in page
    assert "Retry delay" in page or "retry delay" in page
    assert '<div class="readonly">60 s</div>' in page and "60.0" not in page


def test_the_bulk_page_says_its_filters_in_words(client):
    guild = Guild.objects.create(name="The Guild", slug="the-guild")
    client.force_login(make_staff("olga", OPERATORS))
    page = client.get("/admin/jobs/jobrecord/bulk/?status__exact=dead&job_type=demo.broken_branding"
                      f"&last_error_type=jobs.errors.PermanentError&guild={guild.pk}").content.decode()
    assert ("Filters: status: <b>dead</b>, type: <b>demo.broken_branding</b>, guild: <b>The Guild</b>, "
            "error type: <b>jobs.errors.PermanentError</b>") in page
    assert "status__exact=" not in page.split('id="bulk-filters"')[1].split("</p>")[0]


def test_a_schedules_times_are_shown_in_its_named_time_zone(client, staff_user):
    Schedule.objects.all().delete()
    schedule = schedules.schedule_save(Schedule(name="Paris at four", job_type="test.sleep",
                                                payload={"marker": "p", "seconds": 0}, cron="0 4 * * *",
                                                timezone="Europe/Paris"))
    Schedule.objects.filter(pk=schedule.pk).update(next_run_at=datetime(2026, 12, 8, 3, 0, tzinfo=timezone.utc),
                                                   last_run_at=datetime(2026, 7, 1, 2, 0, tzinfo=timezone.utc))
    client.force_login(staff_user)
    listed = client.get("/admin/jobs/schedule/").content.decode()
    # The list names the zone beside (its time zone column); each time carries its abbreviation.
    assert '<span title="2026-12-08 03:00:00 UTC; Europe/Paris">2026-12-08 04:00 CET</span>' in listed
    assert "2026-07-01 04:00 CEST" in listed
    assert "Dec. 8, 2026, 3 a.m." not in listed
    page = client.get(f"/admin/jobs/schedule/{schedule.pk}/change/").content.decode()
    assert "2026-12-08 04:00 CET (Europe/Paris)" in page and "2026-07-01 04:00 CEST (Europe/Paris)" in page


@pytest.mark.parametrize("interval", ["0", "-5"])
def test_an_interval_below_one_second_is_named_as_such(client, staff_user, interval):
    client.force_login(staff_user)
    response = client.post("/admin/jobs/schedule/add/", {
        "name": "too fast", "job_type": "test.sleep", "payload": '{"marker": "m", "seconds": 0}', "cron": "",
        "interval_seconds": interval, "timezone": "UTC", "enabled": "on"})
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert errors == {"interval_seconds": ["The interval must be at least 1 second."]}
    assert not Schedule.objects.filter(name="too fast").exists()


def test_the_sidebar_names_read_as_words(client, staff_user):
    client.force_login(staff_user)
    index = client.get("/admin/")
    page = index.content.decode()
    assert "Webhook deliveries" in page and "deliverys" not in page.lower()
    labels = [app["app_label"] for app in index.context["app_list"]]
    assert "django_rq" not in labels, "django-rq's own admin entry is off (RQ_SHOW_ADMIN_LINK = False)"
