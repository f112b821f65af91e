"""A setting with a bad value stops start-up with a message naming it."""

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
])
def test_a_bad_value_stops_start_up_naming_the_setting(name, value):
    result = start(**{name: value})
    assert result.returncode != 0
    assert name in result.stderr


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
