"""Commands an engineer runs in a shell: ``jobs_status`` prints the queues table; ``jobs_enqueue`` enqueues
with the API's validation and permissions, and refuses (non-zero exit, a message) what the API refuses."""

import io
import subprocess
import sys

import pytest
from django.core.management import CommandError, call_command

from jobs.enqueue import enqueue
from jobs.models import JobRecord
from tests.conftest import BASE_DIR, make_staff, service_env

pytestmark = pytest.mark.django_db(transaction=True)


def run(*args):
    out, err = io.StringIO(), io.StringIO()
    call_command(*args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_jobs_status_prints_a_row_per_queue_with_its_counts():
    for _ in range(3):
        enqueue("test.sleep", {"marker": "status", "seconds": 0})
    out, _ = run("jobs_status")
    header, *rows = out.splitlines()
    assert header.split()[:6] == ["queue", "waiting", "running", "scheduled", "retrying", "dead"]
    default = next(row.split() for row in rows if row.split()[0] == "jdtest.default")
    assert default[1] == "3" and default[-1] == "no-worker", default
    assert len(rows) == 15  # five domains, three priorities each


def test_jobs_enqueue_enqueues_as_a_staff_member_with_the_right():
    operator = make_staff("opal", "Job operators")
    out, err = run("jobs_enqueue", "test.sleep", "--payload", '{"marker": "cli", "seconds": 0}', "--user", "opal",
                   "--priority", "1")
    record = JobRecord.objects.get(pk=out.strip())
    assert (record.job_type, record.actor, record.priority, record.payload["marker"]) == (
        "test.sleep", operator, "high", "cli")
    assert "enqueued" in err and record.correlation_id in err


@pytest.mark.parametrize("args, message", [
    (["test.sleep", "--payload", '{"marker": "x", "seconds": 0}', "--user", "vic"], "needs the permission"),
    (["jobs.bulk_action", "--payload", "{}", "--user", "opal"], "internal"),
    (["test.sleep", "--payload", '{"marker": "x", "seconds": "soon"}', "--user", "opal"], "payload.seconds"),
    (["test.sleep", "--payload", "{not json", "--user", "opal"], "--payload: not JSON"),
    (["test.sleep", "--payload", "[1]", "--user", "opal"], "must be a JSON object"),
    (["test.sleep", "--user", "nobody"], "no active staff member"),
    (["no.such_type", "--user", "opal"], "no.such_type"),
    (["test.sleep", "--payload", '{"marker": "x", "seconds": 0}', "--user", "opal", "--guild", "nope"], "--guild"),
])
def test_jobs_enqueue_refuses_what_the_api_refuses(args, message):
    make_staff("opal", "Job operators")
    make_staff("vic", "Job viewers")
    with pytest.raises(CommandError, match=message):
        run("jobs_enqueue", *args)
    assert not JobRecord.objects.exists()


def test_a_refusal_exits_non_zero_with_the_message_in_a_shell():
    make_staff("vic", "Job viewers")
    done = subprocess.run([sys.executable, str(BASE_DIR / "manage.py"), "jobs_enqueue", "test.sleep", "--payload",
                           '{"marker": "x", "seconds": 0}', "--user", "vic"], cwd=BASE_DIR, env=service_env(),
                          capture_output=True, text=True, timeout=60)
    assert done.returncode != 0 and "needs the permission" in done.stderr
