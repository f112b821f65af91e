"""Schedules: validated like any enqueue, enqueued once per tick however many schedulers run, on their
grid however late the scheduler comes, and an edit applies at the next tick without a restart. Two real
``rqscheduler`` processes: tests/test_two_schedulers_one_job_per_tick.py."""

from datetime import datetime, timedelta, timezone

import pytest
from django.core.exceptions import ValidationError

from jobs import schedules
from jobs.models import Schedule

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def no_builtin_schedules():
    Schedule.objects.all().delete()  # the built-in ones would join in when a test moves the clock


def make(**kwargs):
    spec = {"name": "s", "job_type": "test.sleep", "payload": {"marker": "s", "seconds": 0}, "cron": "* * * * *"}
    return schedules.schedule_save(Schedule(**{**spec, **kwargs}))


@pytest.mark.parametrize("kwargs, field", [
    ({"cron": "every minute"}, "cron"),
    ({"cron": "* * * *"}, "cron"),
    ({"cron": "", "interval_seconds": None}, "cron"),
    ({"cron": "* * * * *", "interval_seconds": 60}, "cron"),
    ({"payload": {"marker": "s", "seconds": "soon"}}, "payload"),
    ({"payload": {"marker": "s", "secondz": 2}}, "payload"),  # a typo is refused, not run with the default
    ({"job_type": "no.such.type"}, "job_type"),
    ({"timezone": "Mars/Olympus"}, "timezone"),
    ({"timezone": "Europe"}, "timezone"),  # a folder of the zone database, not a zone
    ({"timezone": "America/Argentina"}, "timezone"),
    ({"cron": "0 0 30 2 *"}, "cron"),  # valid fields, but no such day: it would never fire
    ({"cron": "0 0 31 4 *"}, "cron"),
])
def test_a_schedule_that_could_not_run_is_refused_naming_the_field(kwargs, field):
    with pytest.raises(ValidationError) as caught:
        make(**kwargs)
    assert field in caught.value.message_dict
    assert not Schedule.objects.exists()


def test_the_messages_say_what_to_give():
    with pytest.raises(ValidationError) as caught:
        make(cron="", interval_seconds=None)
    assert caught.value.message_dict["cron"] == ["give a cron expression or an interval"]
    with pytest.raises(ValidationError) as caught:
        make(payload={"marker": "s", "secondz": 2})
    assert "payload.secondz: unknown field" in caught.value.message_dict["payload"][0]


@pytest.mark.parametrize("field, value, said", [
    ("timezone", "Europe", "unknown time zone"),
    ("timezone", "America/Argentina", "unknown time zone"),
    ("cron", "0 0 30 2 *", "never fires"),
    ("cron", "0 0 31 4 *", "never fires"),
    ("payload", "[" * 5000 + "]" * 5000, "JSON"),
    ("payload", '{"marker": "m", "seconds": ' + "9" * 5000 + "}", "JSON"),
], ids=["zone-folder", "zone-subfolder", "feb-30", "apr-31", "nested-5000", "int-5000-digits"])
def test_the_schedule_form_shows_an_unusable_value_as_an_error_on_its_field(client, django_user_model, field, value,
                                                                           said):
    client.force_login(django_user_model.objects.create_superuser("root", "root@example.com", "pw-root-1"))
    data = {"name": "bad", "job_type": "test.sleep", "payload": '{"marker": "m", "seconds": 0}',
            "cron": "*/5 * * * *", "interval_seconds": "", "timezone": "UTC", "enabled": "on", field: value}
    response = client.post("/admin/jobs/schedule/add/", data)
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert list(errors) == [field] and said in errors[field][0]
    assert not Schedule.objects.exists()


def test_run_now_enqueues_the_job_at_once_and_keeps_the_next_run(client):
    from django.urls import reverse

    from jobs.models import JobRecord
    from tests.conftest import make_staff

    schedule = make(interval_seconds=3600, cron="")
    next_run = schedule.next_run_at
    internal = Schedule.objects.create(name="internal", job_type="jobs.prune", payload={}, interval_seconds=3600,
                                       next_run_at=next_run)
    client.force_login(make_staff("sched", "Job operators"))
    response = client.post(reverse("admin:jobs_schedule_changelist"),
                           {"action": "run_now", "_selected_action": [schedule.pk, internal.pk]}, follow=True)
    text = response.content.decode()
    assert "Schedule «s» enqueued job" in text and "Not run — internal" in text
    record = JobRecord.objects.get()
    assert (record.job_type, record.payload["marker"]) == ("test.sleep", "s")
    assert record.correlation_id.startswith(f"schedule-{schedule.pk}-now-")
    schedule.refresh_from_db()
    assert schedule.next_run_at == next_run and schedule.last_job_id == record.pk


def test_cron_runs_in_the_schedule_time_zone():
    schedule = Schedule(cron="0 2 * * *", timezone="Europe/Paris")
    after = datetime(2026, 7, 1, 12, 0, tzinfo=timezone.utc)
    assert schedules.next_run(schedule, after) == datetime(2026, 7, 2, 0, 0, tzinfo=timezone.utc)


def test_each_due_tick_is_enqueued_once_even_when_two_schedulers_race():
    schedule = make(interval_seconds=60, cron="")
    tick = schedule.next_run_at
    now = tick + timedelta(seconds=1)

    first = schedules.run_due_schedules(now=now)
    second = schedules.run_due_schedules(now=now)

    assert len(first) == 1 and second == []
    schedule.refresh_from_db()
    assert schedule.next_run_at > now and schedule.last_job_id == first[0].pk
    assert first[0].correlation_id == f"schedule-{schedule.pk}-{int(tick.timestamp())}"


def test_a_late_tick_keeps_an_interval_schedule_on_its_grid():
    schedule = make(interval_seconds=60, cron="")
    tick = schedule.next_run_at

    schedules.run_due_schedules(now=tick + timedelta(seconds=7))  # the scheduler came 7 s late
    schedule.refresh_from_db()
    assert schedule.next_run_at == tick + timedelta(seconds=60)

    schedules.run_due_schedules(now=tick + timedelta(seconds=150))  # no scheduler for 90 s: runs once
    schedule.refresh_from_db()
    assert schedule.next_run_at == tick + timedelta(seconds=180)


def test_an_edit_takes_effect_at_the_next_tick():
    schedule = make(interval_seconds=3600, cron="")
    schedule.interval_seconds = 5
    schedules.schedule_save(schedule)
    assert schedule.next_run_at <= datetime.now(timezone.utc) + timedelta(seconds=6)
    schedule.enabled = False
    schedules.schedule_save(schedule)
    assert schedules.run_due_schedules(now=datetime.now(timezone.utc) + timedelta(hours=2)) == []
