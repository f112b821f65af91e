"""A setting with a bad value stops start-up with a message naming it: one line from manage.py
(``manage.py: <message>``, exit status 2), not a traceback."""

import subprocess
import sys
from pathlib import Path

import pytest

BASE_DIR = Path(__file__).resolve().parent.parent
GOOD = {"DEBUG": "false", "SECRET_KEY": "x" * 50, "REDIS_URL": "redis://127.0.0.1:6379/14",
        "DATABASE_URL": "postgres://postgres@127.0.0.1:5432/jobdesk",
           "EXPORTS_ENCRYPTION_KEYS": "k1:" + "QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVoxMjM0NTY=", "PATH": "/usr/bin:/bin"}


def start(**env):
    merged = {**GOOD, **env}
    merged = {k: v for k, v in merged.items() if v is not None}
    return subprocess.run([sys.executable, "manage.py", "check"], cwd=BASE_DIR, env=merged, capture_output=True,
                          text=True, timeout=60)


def test_good_settings_start():
    result = start()
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("name, value", [
    ("QUEUE_MAX_ATTEMPTS", "many"),
    ("QUEUE_MAX_ATTEMPTS", "0"),
    ("QUEUE_CONCURRENCY_EXPORTS", "-2"),
    ("QUEUE_NAMESPACE", "Has Spaces"),
    ("QUEUE_REDIS_URL", "http://localhost:6379"),
    ("DEBUG", "maybe"),
    ("LOG_LEVEL", "LOUD"),
    ("SECRET_KEY", ""),
    ("EXPORTS_ENCRYPTION_KEYS", "k1:c2hvcnQ="),
    ("EXPORTS_ENCRYPTION_KEYS", ""),
    ("EXPORTS_LINK_TTL", "0"),
    ("DATABASE_URL", "garbage"),
    ("DATABASE_URL", "postgress://user:secret@db/jobdesk"),
    ("DATABASE_URL", "postgres://db:port/jobdesk"),
    ("REDIS_URL", "redis://127.0.0.1:abc/3"),
    ("REDIS_URL", "redis://127.0.0.1:6379/notadb"),
    ("REDIS_URL", "redis://127.0.0.1:99999/3"),
    ("REDIS_URL", "unix:///run/redis.sock?db=first"),
    ("QUEUE_REDIS_URL", "redis://127.0.0.1:6379/1/2"),
    ("SENTRY_DSN", "garbage"),
    ("JOBS_TASK_MODULES", "no.such"),
    ("JOBS_TASK_MODULES", "tests.no_such_module"),
    ("JOBS_TASK_MODULES", "../tests"),
    ("JOBS_RELAY_GRACE", "nan"),
    ("JOBS_ROLLUP_LAG", "inf"),
    ("OUTBOUND_TIMEOUT", "-inf"),
])
def test_a_bad_value_stops_start_up_naming_the_setting(name, value):
    result = start(**{name: value})
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert result.stderr.startswith(f"manage.py: {name}"), result.stderr
    assert "secret" not in result.stderr  # a URL's password is never echoed


@pytest.mark.parametrize("name, value, shown", [
    ("JOBS_RELAY_GRACE", "nan", "'nan'"),
    ("BRANDING_RETRY_DELAY", "inf", "'inf'"),
    ("JOBS_TASK_MODULES", "no.such", "'no.such'"),
    ("REDIS_URL", "redis://127.0.0.1:6379/notadb", "'notadb'"),
    ("REDIS_URL", "redis://127.0.0.1:abc/3", "'abc'"),
    ("DATABASE_URL", "garbage", "postgres://"),
    ("SENTRY_DSN", "garbage", "https://<key>@<host>/<project>"),
])
def test_the_message_says_what_was_wrong(name, value, shown):
    result = start(**{name: value})
    assert result.returncode == 2 and shown in result.stderr, result.stderr


@pytest.mark.parametrize("env", [
    {"REDIS_URL": "unix:///tmp/jobdesk-test/redis.sock?db=0"},  # make run's private Redis
    {"REDIS_URL": "redis://127.0.0.1:6379"},
    {"REDIS_URL": "rediss://user:pw@127.0.0.1:6380/3/"},
    {"SENTRY_DSN": "https://public@o1.ingest.sentry.io/123"},
    {"JOBS_TASK_MODULES": "tests.jobtypes, tests.jobtypes"},
    {"JOBS_RELAY_GRACE": "2.5"},
])
def test_good_values_still_start(env):
    result = start(**env)
    assert result.returncode == 0, result.stderr


def test_a_task_module_whose_own_import_fails_shows_that_error(tmp_path):
    """Only a missing JOBS_TASK_MODULES module is a setting to fix; a module that exists but fails to import
    is a bug in it, shown with its traceback and the import it lacks."""
    (tmp_path / "tasks_needing_a_missing_library.py").write_text("import no_such_library_xyz\n")
    result = start(JOBS_TASK_MODULES="tasks_needing_a_missing_library", PYTHONPATH=str(tmp_path))
    assert result.returncode == 1
    assert "Traceback" in result.stderr and "No module named 'no_such_library_xyz'" in result.stderr
    assert "manage.py: JOBS_TASK_MODULES" not in result.stderr


def test_redis_url_is_required():
    result = start(REDIS_URL=None)
    assert result.returncode != 0 and "QUEUE_REDIS_URL" in result.stderr


def test_vapid_keys_are_checked_at_start_up():
    from notifications.vapid_keys import generate_key_pair

    public, private = generate_key_pair()
    other_public, _ = generate_key_pair()
    assert start(VAPID_PUBLIC_KEY=public, VAPID_PRIVATE_KEY=private).returncode == 0
    for env, name in [({"VAPID_PUBLIC_KEY": public}, "VAPID_PUBLIC_KEY"),
                      ({"VAPID_PUBLIC_KEY": other_public, "VAPID_PRIVATE_KEY": private}, "VAPID_PUBLIC_KEY"),
                      ({"VAPID_PUBLIC_KEY": public, "VAPID_PRIVATE_KEY": "c2hvcnQ"}, "VAPID_PRIVATE_KEY"),
                      ({"VAPID_SUBJECT": "ops@example.com"}, "VAPID_SUBJECT"),
                      ({"NOTIFICATIONS_PUSH_RATE": "fast"}, "NOTIFICATIONS_PUSH_RATE")]:
        result = start(**env)
        assert result.returncode != 0 and name in result.stderr, env
