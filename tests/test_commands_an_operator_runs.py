"""Commands an engineer runs in a shell: ``jobs_status`` prints the queues table; ``jobs_enqueue`` enqueues
with the API's validation and permissions, and refuses (non-zero exit, a message) what the API refuses.
Every command given bad input exits non-zero with one line naming the option, never a traceback."""

import io
import subprocess
import sys

import pytest
from django.core.management import CommandError, call_command

from jobs.enqueue import enqueue
from jobs.models import JobRecord
from project.models import Guild, GuildApiToken
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


DEEP_PAYLOAD = '{"marker": ' + "[" * 5000 + "]" * 5000 + ', "seconds": 0}'


@pytest.mark.parametrize("args, message", [
    (["--delay", "inf"], "--delay: must be a number of seconds from 0 to 2592000"),
    (["--delay", "nan"], "--delay: must be a number of seconds from 0 to 2592000"),
    (["--delay", "1e12"], "--delay: must be a number of seconds from 0 to 2592000"),
    (["--delay", "-1"], "--delay: must be a number of seconds from 0 to 2592000"),
    (["--delay", "soon"], "--delay: must be a number, got 'soon'"),
    (["--priority", "\u00b2"], "--priority: unknown priority"),
    (["--priority", "9" * 5000], "--priority: .* is out of range"),
    (["--priority", "3000000"], "--priority: 3000000 is out of range"),
    (["--payload", DEEP_PAYLOAD], "--payload: nested too deeply"),
])
def test_jobs_enqueue_names_the_option_it_cannot_use(args, message):
    make_staff("opal", "Job operators")
    base = ["test.sleep", "--payload", '{"marker": "x", "seconds": 0}', "--user", "opal"]
    with pytest.raises(CommandError, match=message):
        run("jobs_enqueue", *base, *args)
    assert not JobRecord.objects.exists()


@pytest.mark.parametrize("args, message", [
    (["jobs_prune", "--batch", "99999999999999999999"], "--batch: must be a whole number from 1 to 100000"),
    (["jobs_prune", "--batch", "0"], "--batch: must be a whole number from 1 to 100000"),
    (["jobs_prune", "--batch", "many"], "--batch: must be a whole number from 1 to 100000, got 'many'"),
    (["jobs_reconcile", "--waiting-grace", "inf"], "--waiting-grace: must be a number of seconds from 0 to 86400"),
    (["jobs_reconcile", "--waiting-grace", "nan"], "--waiting-grace: must be a number of seconds from 0 to 86400"),
    (["jobs_reconcile", "--running-grace", "1e20"], "--running-grace: must be a number of seconds from 0 to 86400"),
    (["jobs_reconcile", "--running-grace", "-1"], "--running-grace: must be a number of seconds from 0 to 86400"),
    (["jobs_relay", "--older-than", "inf"], "--older-than: must be a number of seconds from 0 to 86400"),
    (["jobs_relay", "--older-than", "nan"], "--older-than: must be a number of seconds from 0 to 86400"),
    (["jobs_relay", "--older-than", "1e20"], "--older-than: must be a number of seconds from 0 to 86400"),
    (["jobs_relay", "--older-than", "-5"], "--older-than: must be a number of seconds from 0 to 86400"),
    (["rqworker", "nosuchqueue", "--burst"], r"unknown queue\(s\) nosuchqueue \(known: jdtest.default.high, "),
    (["rqworker", "--burst"], r"give the queues to work on \(known: jdtest.default.high, "),
])
def test_maintenance_commands_name_the_option_they_cannot_use(args, message):
    with pytest.raises(CommandError, match=message):
        run(*args)


def test_maintenance_commands_take_their_bounds():
    assert "removed 0 job record(s)" in run("jobs_prune", "--batch", "100000")[0]
    assert "dispatched 0" in run("jobs_relay", "--older-than", "86400")[0]
    assert "0 lost running job(s)" in run("jobs_reconcile", "--waiting-grace", "0", "--running-grace", "86400")[0]


def test_guild_token_refuses_a_name_longer_than_it_keeps():
    Guild.objects.create(name="Mine", slug="mine")
    with pytest.raises(CommandError, match="name: at most 100 characters, got 200"):
        run("guild_token", "mine", "n" * 200)
    assert not GuildApiToken.objects.exists()
    out, _ = run("guild_token", "mine", "n" * 100)
    assert GuildApiToken.objects.get().name == "n" * 100 and out.strip()


@pytest.mark.parametrize("args, option", [
    (["jobs_enqueue", "test.sleep", "--payload", '{"marker": "x", "seconds": 0}', "--user", "opal", "--delay", "inf"],
     "--delay"),
    (["jobs_enqueue", "test.sleep", "--payload", '{"marker": "x", "seconds": 0}', "--user", "opal", "--delay", "soon"],
     "--delay"),
    (["jobs_enqueue", "test.sleep", "--payload", '{"marker": "x", "seconds": 0}', "--user", "opal", "--priority",
      "\u00b2"], "--priority"),
    (["jobs_enqueue", "test.sleep", "--payload", DEEP_PAYLOAD, "--user", "opal"], "--payload"),
    (["jobs_prune", "--batch", "99999999999999999999"], "--batch"),
    (["jobs_reconcile", "--waiting-grace", "nan"], "--waiting-grace"),
    (["jobs_relay", "--older-than", "1e20"], "--older-than"),
    (["rqworker", "nosuchqueue", "--burst"], "nosuchqueue"),
    (["guild_token", "mine", "n" * 200], "at most 100 characters"),
])
def test_bad_input_in_a_shell_is_one_line_and_a_non_zero_exit(args, option):
    make_staff("opal", "Job operators")
    Guild.objects.create(name="Mine", slug="mine")
    done = subprocess.run([sys.executable, str(BASE_DIR / "manage.py"), *args], cwd=BASE_DIR, env=service_env(),
                          capture_output=True, text=True, timeout=60)
    assert done.returncode != 0
    assert "Traceback" not in done.stderr and len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert done.stderr.startswith("CommandError: ") and option in done.stderr, done.stderr
    assert not JobRecord.objects.exists()
