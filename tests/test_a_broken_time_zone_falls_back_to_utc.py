"""A time zone stored around the forms' checks (a hand-written row, a zone this host's database lacks) shows
times in UTC: the guild's pages, its settings page (where it is fixed) and django-rq's dashboard answer,
where they answered 500."""

import pytest
from django.contrib.auth.models import User
from django.utils import timezone

from jobs.models import Schedule
from project.models import Guild

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("page", ["", "audit/", "branding/", "branding/status/", "webhooks/", "settings/"])
def test_every_guild_page_answers_with_a_zone_the_host_does_not_know(client, world, page):
    Guild.objects.filter(pk=world["mine"].pk).update(time_zone="Mars/Olympus")
    client.force_login(world["admin"])
    answer = client.get(f"/panel/{world['mine'].slug}/{page}")
    assert answer.status_code == 200, answer.status_code


@pytest.mark.parametrize("zone", ["", "/UTC", "../etc/passwd", "Europe", "Mars/Olympus"])
def test_django_rq_dashboard_answers_with_a_schedules_broken_zone(client, zone):
    Schedule.objects.create(name="broken zone", job_type="jobs.prune", payload={}, cron="0 * * * *", timezone=zone,
                            next_run_at=None, last_run_at=timezone.now())
    client.force_login(User.objects.create_superuser("root", "root@example.com", "pw-root-1"))
    page = client.get("/admin/django-rq/")
    assert page.status_code == 200
    assert "UTC" in page.content.decode()
