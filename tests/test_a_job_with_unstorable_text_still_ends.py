"""A job whose result or error holds text the database cannot store (a NUL, half a surrogate pair: binary
data read as text), or a result that is not JSON (a NaN, a date), still ends as it should, with that text
made storable (U+FFFD) and that result kept as its ``repr``, instead of failing the write of its own end
and staying ``running``."""

import pytest

from jobs.enqueue import enqueue
from jobs.models import JobAttempt, JobRecord, Status
from tests.conftest import wait_for

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_result_with_a_nul_is_stored_and_the_job_succeeds(start_worker):
    record = enqueue("test.unstorable", {"marker": "ok"})
    start_worker()
    wait_for(lambda: JobRecord.objects.get(pk=record.pk).status in (Status.SUCCEEDED, Status.DEAD), timeout=30,
             message="the job to end")
    record.refresh_from_db()
    assert record.status == Status.SUCCEEDED and record.attempts == 1
    assert "nul" in record.result["text"] and "\x00" not in record.result["text"]
    assert JobAttempt.objects.get(record=record).outcome == "succeeded"


@pytest.mark.parametrize("marker, kept", [("nan", "{'ratio': nan}"), ("object", "{'when': datetime.date(2026, 12, 7)}")])
def test_a_result_that_is_not_json_is_kept_as_its_repr(start_worker, marker, kept):
    record = enqueue("test.unstorable", {"marker": marker})
    start_worker()
    wait_for(lambda: JobRecord.objects.get(pk=record.pk).status in (Status.SUCCEEDED, Status.DEAD), timeout=30,
             message="the job to end")
    record.refresh_from_db()
    assert (record.status, record.result) == (Status.SUCCEEDED, kept)


def test_an_error_with_a_nul_is_recorded_retried_and_dead(start_worker):
    record = enqueue("test.unstorable", {"marker": "fail"})
    start_worker()
    wait_for(lambda: JobRecord.objects.get(pk=record.pk).status == Status.DEAD, timeout=30,
             message="the job to die after its two attempts")
    record.refresh_from_db()
    assert record.attempts == 2 and record.last_error_type == "ValueError"
    assert "bad byte" in record.last_error and "\x00" not in record.last_error
    assert [a.outcome for a in JobAttempt.objects.filter(record=record).order_by("number")] == ["failed", "failed"]
