"""A schedule enqueues its job type on its own, every tick, so a staff member may schedule only the types
they may enqueue by hand: the admin's Schedule form offers those alone, and an internal type (bulk
actions, audit retention, audit writes) posted anyway is refused on the job_type field. The built-in
schedules of internal types (the nightly rollup, audit retention) stay editable (cron, enabled), but
their type cannot be changed."""

import json

import pytest
from django.contrib.auth.models import Permission

from jobs.models import Schedule

pytestmark = pytest.mark.django_db(transaction=True)

ADD = "/admin/jobs/schedule/add/"
INTERNAL = ["audit.apply_retention", "audit.record_event", "audit.rollup", "jobs.bulk_action"]


def staff(django_user_model, username, *codenames):
    user = django_user_model.objects.create_user(username, password=f"pw-{username}-1", is_staff=True)
    user.user_permissions.add(*Permission.objects.filter(content_type__app_label="jobs", codename__in=codenames))
    return user


@pytest.fixture
def scheduler(django_user_model):
    """Staff who may manage schedules and enqueue non-internal types by hand (what "Job operators" get)."""
    return staff(django_user_model, "scheduler", "view_schedule", "add_schedule", "change_schedule",
                 "enqueue_jobrecord")


def form_data(**overrides):
    return {"name": "Every five minutes", "job_type": "test.sleep", "payload": json.dumps({"marker": "s", "seconds": 0}),
            "cron": "*/5 * * * *", "interval_seconds": "", "timezone": "UTC", "enabled": "on", **overrides}


def offered(client, url):
    response = client.get(url)
    assert response.status_code == 200
    return [value for value, _label in response.context["adminform"].form.fields["job_type"].choices]


def test_the_form_offers_and_schedules_only_the_types_the_staff_member_may_enqueue(client, scheduler, django_user_model):
    client.force_login(scheduler)
    types = offered(client, ADD)
    assert "test.sleep" in types and "test.flaky" in types
    assert not set(INTERNAL) & set(types), "internal types are never offered"
    assert "exports.delete_expired" not in types
    assert client.post(ADD, form_data()).status_code == 302, "an offered type is scheduled"
    assert Schedule.objects.get(name="Every five minutes").job_type == "test.sleep"

    client.force_login(staff(django_user_model, "schedules_only", "view_schedule", "add_schedule"))
    assert offered(client, ADD) == [], "without the permission to enqueue, nothing to schedule"


@pytest.mark.parametrize("job_type, payload", [
    ("jobs.bulk_action", {"action": "delete", "filters": {}}),
    ("audit.apply_retention", {"days": 1}),
    ("audit.record_event", {"action": "forged", "resource_type": "x", "resource_id": "1"}),
])
def test_an_internal_type_posted_anyway_is_refused_on_its_field(client, scheduler, job_type, payload):
    client.force_login(scheduler)
    response = client.post(ADD, form_data(job_type=job_type, payload=json.dumps(payload)))
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert list(errors) == ["job_type"]
    assert f"{job_type} is not a job type you may schedule" in errors["job_type"][0]
    assert not Schedule.objects.exists()


def test_a_built_in_schedule_of_an_internal_type_stays_editable_but_keeps_its_type(client, scheduler):
    rollup = Schedule.objects.create(name="Nightly job rollup", job_type="audit.rollup", payload={},
                                     cron="0 2 * * *", timezone="UTC", enabled=True)
    url = f"/admin/jobs/schedule/{rollup.pk}/change/"
    client.force_login(scheduler)
    assert offered(client, url) == ["audit.rollup"], "shown, fixed"

    response = client.post(url, form_data(name="Nightly job rollup", job_type="test.sleep", payload="{}",
                                          cron="0 4 * * *", enabled=""))

    assert response.status_code == 302, response.context and response.context["adminform"].form.errors
    rollup.refresh_from_db()
    assert (rollup.job_type, rollup.cron, rollup.enabled) == ("audit.rollup", "0 4 * * *", False)
