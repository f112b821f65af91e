"""Redis carries only JSON jobs that call the ledger runner; anything else is never executed."""

import pytest
from rq import Queue
from rq.serializers import JSONSerializer

from jobs.connection import get_queue
from jobs.enqueue import enqueue
from jobs.models import JobRecord, Status

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_pickled_job_in_the_queue_is_not_executed(tmp_path, start_worker, clean_redis):
    target = tmp_path / "pwned"
    name = get_queue(enqueue("test.sleep", {"marker": "after", "seconds": 0}).queue).name
    # Someone with access to Redis pushes a pickled job: os.system would create the file.
    Queue(name, connection=clean_redis).enqueue("os.system", f"touch {target}")
    enqueue("test.sleep", {"marker": "after2", "seconds": 0})

    worker = start_worker(name, burst=True)
    assert worker.wait(60) is not None

    assert not target.exists()
    assert JobRecord.objects.filter(status=Status.SUCCEEDED).count() == 2, "the worker survived and ran the rest"


def test_a_json_job_for_another_function_is_refused(tmp_path, start_worker, clean_redis):
    target = tmp_path / "pwned"
    name = get_queue(enqueue("test.sleep", {"marker": "ok", "seconds": 0}).queue).name
    job = Queue(name, connection=clean_redis, serializer=JSONSerializer).enqueue("os.system", f"touch {target}")

    start_worker(name, burst=True).wait(60)

    assert not target.exists()
    assert job.id in Queue(name, connection=clean_redis).failed_job_registry.get_job_ids()
    assert JobRecord.objects.get().status == Status.SUCCEEDED


def test_jobs_are_stored_as_json(clean_redis):
    record = enqueue("test.sleep", {"marker": "json", "seconds": 0})
    import json
    import zlib

    data = clean_redis.hget(f"rq:job:{record.pk}", "data")
    decoded = json.loads(zlib.decompress(data))
    assert decoded[0] == "jobs.runner.run_job" and decoded[2] == [str(record.pk)]
    assert "marker" not in json.dumps(decoded), "the payload stays in the ledger, only the id travels"
