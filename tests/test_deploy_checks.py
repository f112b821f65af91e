"""``manage.py check --deploy`` is clean under production settings."""

import subprocess
import sys

from tests.conftest import BASE_DIR


def test_check_deploy_is_clean_under_production_settings():
    env = {"PATH": "/usr/bin:/bin", "DEBUG": "false", "SECRET_KEY": "k3y-" + "x1y2z3" * 10,
           "ALLOWED_HOSTS": "jobs.example.com", "REDIS_URL": "redis://127.0.0.1:6379/14",
           "DATABASE_URL": "postgres://postgres@127.0.0.1:5432/jobdesk",
           "EXPORTS_ENCRYPTION_KEYS": "k1:" + "QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVoxMjM0NTY="}
    result = subprocess.run([sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
                            cwd=BASE_DIR, env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout
