""""Act on every matching job" says how many of the matching jobs each action applies to, and offers no
action that applies to none of them: 301 queued jobs are not offered "Retry 301 jobs" (a retry applies to
finished jobs only, so it would skip them all)."""

from datetime import timedelta

import pytest
from django.utils import timezone

from jobs.enqueue import enqueue_many
from jobs.models import JobRecord, Status
from tests.conftest import OPERATORS, make_staff

pytestmark = pytest.mark.django_db

BULK = "/admin/jobs/jobrecord/bulk/"


def buttons(html):
    """The action buttons' labels, in order."""
    parts = html.split('<button type="submit" name="action"')[1:]
    return [part.split(">", 1)[1].split("</button>")[0] for part in parts]


def test_queued_jobs_are_not_offered_a_retry(client):
    enqueue_many("test.sleep", [{"marker": f"q{i}", "seconds": 0} for i in range(4)])
    client.force_login(make_staff("olga", OPERATORS))
    html = client.get(BULK + "?status__exact=queued").content.decode()
    assert "4 jobs match." in html
    assert buttons(html) == ["Cancel 4 jobs"], "retry and requeue would skip every one of them"
    assert "Retry applies to finished jobs (succeeded, dead, canceled): 0 of these, so it is not offered." in html
    assert "Requeue applies to pending jobs and those waiting out a delay or backoff: 0 of these" in html


def test_a_mixed_selection_says_how_many_each_action_applies_to(client):
    records = enqueue_many("test.sleep", [{"marker": f"m{i}", "seconds": 0} for i in range(5)])
    JobRecord.objects.filter(pk__in=[r.pk for r in records[:2]]).update(status=Status.DEAD, dead_at=timezone.now())
    JobRecord.objects.filter(pk=records[2].pk).update(status=Status.RETRYING,
                                                      run_at=timezone.now() + timedelta(minutes=5))
    client.force_login(make_staff("olga", OPERATORS))
    html = client.get(BULK + "?job_type=test.sleep").content.decode()
    assert "5 jobs match." in html
    assert buttons(html) == ["Retry 2 of 5 jobs", "Requeue 1 of 5 jobs", "Cancel 3 of 5 jobs"]


def test_the_dead_letters_retry_all_keeps_its_one_button(client):
    records = enqueue_many("test.sleep", [{"marker": f"d{i}", "seconds": 0} for i in range(3)])
    JobRecord.objects.filter(pk__in=[r.pk for r in records]).update(status=Status.DEAD, dead_at=timezone.now())
    client.force_login(make_staff("olga", OPERATORS))
    html = client.get(BULK + "?status__exact=dead&job_type=test.sleep&action=retry").content.decode()
    assert buttons(html) == ["Retry 3 jobs"]
    assert "Retry applies to finished jobs (succeeded, dead, canceled): all 3 of these." in html
