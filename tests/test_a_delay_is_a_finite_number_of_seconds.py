"""A delay is a finite number of seconds from 0 to 30 days, the same in code (``enqueue``) as through the API:
``inf``, ``nan``, a bool, 1e12 s or a longer timedelta is a ``JobError`` naming ``delay`` (not an
OverflowError from the date arithmetic), and nothing is written."""

import json
from datetime import timedelta

import pytest

from jobs.enqueue import MAX_DELAY, enqueue, enqueue_many
from jobs.errors import JobError
from jobs.models import JobRecord

pytestmark = pytest.mark.django_db(transaction=True)

PAYLOAD = {"marker": "later", "seconds": 0}
LONGEST = 30 * 86400


@pytest.mark.parametrize("delay", [float("inf"), float("-inf"), float("nan"), 1e12, 10**400, -1, LONGEST + 1,
                                   True, "60", timedelta(days=31), timedelta(seconds=-1), timedelta.max])
def test_an_unusable_delay_is_refused_naming_it(delay, clean_redis):
    with pytest.raises(JobError) as caught:
        enqueue("test.sleep", PAYLOAD, delay=delay)
    assert caught.value.field == "delay" and "30 days" in caught.value.message
    with pytest.raises(JobError) as caught:
        enqueue_many("test.sleep", [PAYLOAD], delay=delay)
    assert caught.value.field == "delay"
    assert not JobRecord.objects.exists() and not clean_redis.keys("rq:job:*")


@pytest.mark.parametrize("delay", [0, 0.5, LONGEST, float(LONGEST), MAX_DELAY])
def test_a_delay_up_to_30_days_is_taken(delay):
    record = enqueue("test.sleep", PAYLOAD, delay=delay)
    seconds = delay.total_seconds() if isinstance(delay, timedelta) else delay
    if seconds:
        assert abs((record.run_at - record.created_at).total_seconds() - seconds) < 1e-3
    else:
        assert record.run_at is None


def test_the_api_takes_the_same_delays(client, staff_user):
    client.force_login(staff_user)

    def post(delay):
        return client.post("/api/jobs", content_type="application/json",
                           data=json.dumps({"job_type": "test.sleep", "payload": PAYLOAD, "delay": delay}))

    assert post(LONGEST).status_code == 202
    refused = post(LONGEST + 1)
    assert refused.status_code == 422 and "delay" in json.dumps(refused.json())
    assert MAX_DELAY.total_seconds() == LONGEST
