"""A job over its type's rate limit waits queued, parked in RQ's scheduled registry: its page tells staff on
call that it is held by the limit and until when, not "waiting for its run time" like a delayed job."""

import pytest
from rq.job import Job as RQJob
from rq.serializers import JSONSerializer

from jobs.enqueue import enqueue
from jobs.models import JobRecord, Status
from project.models import Guild
from tests.conftest import make_staff, wait_for

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_job_held_by_its_rate_limit_says_so_on_its_page(client, start_worker, clean_redis):
    guild = Guild.objects.create(name="Held", slug="held")
    records = [enqueue("test.rate_2_per_4s_per_guild", {"marker": "held-page"}, guild=guild) for _ in range(3)]
    start_worker()
    wait_for(lambda: JobRecord.objects.filter(pk__in=[r.pk for r in records], status=Status.SUCCEEDED).count() == 2,
             timeout=20, message="the first two jobs of the window")
    [third] = JobRecord.objects.filter(pk__in=[r.pk for r in records], status=Status.QUEUED)
    wait_for(lambda: RQJob.fetch(str(third.pk), connection=clean_redis,
                                 serializer=JSONSerializer).get_status() == "scheduled",
             timeout=5, message="the third job parked")

    client.force_login(make_staff("ops", "Job viewers"))
    page = client.get(f"/admin/jobs/jobrecord/{third.pk}/change/").content.decode()
    assert "held by its type&#x27;s rate limit until" in page or "held by its type's rate limit until" in page, page
    assert "waiting for its run time" not in page
