"""Branding fan-out and webhooks end to end (``make bench-fanout``): one save fanned out to 50 shards and
1,000 webhook deliveries, through real worker processes, to local HTTP peers that verify every signature.

What it does, on its own PostgreSQL database (``jobdesk_fanout_bench``, made afresh) and its own
redis-server (a free port on 127.0.0.1, no persistence, stopped when the bench ends):

1. starts ``--shards`` shards, one ``ThreadingHTTPServer`` each on 127.0.0.1, that verify the signature
   (``notifications.signing.verify``) of every snapshot and keep the newest version per guild, and one
   webhook receiver that verifies the deliveries' signatures;
2. registers the shards (``BotShard``) and a guild with one webhook endpoint subscribed to
   ``export.ready``; starts the workers as production does (``manage.py jobs_workers`` for the branding
   and notifications domains, ``--workers`` processes in all);
3. counts the rows of the ledger tables (jobs, audit, branding, notifications), then, in one transaction,
   saves the guild's branding (the fan-out: parent, one child per shard, the batch callback) and
   publishes ``--deliveries`` ``export.ready`` events (one delivery and its job each);
4. waits until every shard holds the version, the fan-out's parent job has succeeded and the receiver
   has every delivery, and prints: time to all delivered (from the commit), deliveries per second
   (shard deliveries + webhook deliveries), and ledger rows written per delivery (rows after minus rows
   before, over the deliveries), with the rows per table.

Every request goes to 127.0.0.1 only (``OUTBOUND_ALLOWED_NETWORKS=127.0.0.1/32``). Bounded: the bench
gives up after ``--timeout`` seconds. ``--quick``: 10 shards and 100 deliveries.

Last run (2026-12-07, 2 cores, loaded: load average 8–9; README "Branding" has the table): 50 shards and
1,000 webhooks, 2 workers: fan-out applied and its parent succeeded 6.6 s after the commit, all delivered
after 80.5 s, 13 deliveries/s, 7.02 ledger rows per delivery (3.06 of them audit events).
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(BASE_DIR))

from bench.common import PrivateRedis, bench_environment, create_database  # noqa: E402

DATABASE = "jobdesk_fanout_bench"
APPLY_PATH = "/api/bot/branding/apply"
# The tables the ledger writes to, by app: what "ledger rows per delivery" counts.
APPS = ("jobs", "audit", "branding", "notifications")


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--shards", type=int, default=50)
    parser.add_argument("--deliveries", type=int, default=1000, help="webhook deliveries")
    parser.add_argument("--workers", type=int, default=2, help="worker processes in all (split between the "
                        "branding and notifications domains)")
    parser.add_argument("--timeout", type=float, default=600)
    parser.add_argument("--quick", action="store_true", help="10 shards, 100 deliveries")
    args = parser.parse_args(argv)
    if args.quick:
        args.shards, args.deliveries = 10, 100
    if args.workers < 2:
        parser.error("--workers: at least 2 (one per domain)")
    return args


class Peer:
    """An HTTP server on 127.0.0.1 that verifies each request's signature and counts what it accepted."""

    def __init__(self, name, secret, on_body):
        from notifications.signing import SignatureError, verify

        self.name, self.secret = name, secret
        self.accepted = 0
        self.refused = 0
        self.lock = threading.Lock()
        peer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                try:
                    verify(peer.secret, self.headers, body)
                except SignatureError:
                    with peer.lock:
                        peer.refused += 1
                    return self._answer(401, b"bad signature")
                status = on_body(peer, json.loads(body))
                self._answer(status, b"{}")

            def _answer(self, status, body):
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self):
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


def shard_applies(peer, snapshot):
    with peer.lock:
        held = peer.held.get(snapshot["guild_id"], 0)
        if snapshot["version"] < held:
            return 409
        peer.held[snapshot["guild_id"]] = snapshot["version"]
        peer.accepted += 1
    return 200


def receiver_takes(peer, body):
    with peer.lock:
        peer.accepted += 1
        peer.ids.add(body["id"])
    return 200


def row_counts():
    from django.apps import apps
    from django.db import connection

    counts = {}
    with connection.cursor() as cursor:
        for app in APPS:
            for model in apps.get_app_config(app).get_models():
                table = model._meta.db_table
                cursor.execute(f'SELECT COUNT(*) FROM "{table}"')
                counts[table] = cursor.fetchone()[0]
    return counts


def main(argv=None):
    args = parse_args(argv)
    workdir = tempfile.mkdtemp(prefix="jobdesk-bench-fanout-")
    redis = PrivateRedis(workdir)
    redis.start()
    branding_workers = args.workers // 2
    bench_environment(DATABASE, 0, OUTBOUND_ALLOWED_NETWORKS="127.0.0.1/32", QUEUE_NAMESPACE="jdfanout",
                      BRANDING_SHARD_TIMEOUT="10", QUEUE_CONCURRENCY_BRANDING=branding_workers,
                      QUEUE_CONCURRENCY_NOTIFICATIONS=args.workers - branding_workers,
                      JOBS_TASK_MODULES="")
    os.environ["REDIS_URL"] = os.environ["QUEUE_REDIS_URL"] = redis.url
    create_database(DATABASE, fresh=True)
    manage = [sys.executable, str(BASE_DIR / "manage.py")]
    subprocess.run([*manage, "migrate", "-v", "0"], check=True, cwd=BASE_DIR)

    import django

    django.setup()
    from django.db import transaction

    from branding import services as branding_services
    from branding.models import BotShard, FanOut, ShardDelivery
    from jobs.models import JobRecord, Status
    from notifications import services as notification_services
    from notifications.models import WebhookDelivery
    from project.models import Guild

    shards = []
    for number in range(args.shards):
        peer = Peer(f"shard {number}", f"bench-shard-secret-{number:04d}-0123456789", shard_applies)
        peer.held = {}
        shards.append(peer)
        BotShard.objects.create(shard_id=number, base_url=peer.url, signing_secret=peer.secret)
    guild = Guild.objects.create(name="Bench guild", slug="bench")
    receiver = Peer("webhook receiver", "", receiver_takes)
    receiver.ids = set()
    # Loopback is allowed here (OUTBOUND_ALLOWED_NETWORKS), as make run does; production refuses it.
    _endpoint, receiver.secret = notification_services.webhook_endpoint_create(
        guild=guild, url=receiver.url + "/hook", events=["export.ready"])

    log_dir = Path(workdir)
    pool_log = open(log_dir / "workers.log", "w")
    pool = subprocess.Popen([*manage, "jobs_workers", "--domains", "branding,notifications"], cwd=BASE_DIR,
                            stdout=pool_log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        time.sleep(3)  # the workers import Django and the job modules before they take work
        before = row_counts()
        started = time.monotonic()
        with transaction.atomic():
            fan_out, _ = branding_services.branding_save(guild=guild, display_name="Bench bot", color="#5865f2",
                                                         footer_text="bench")
            for n in range(args.deliveries):
                notification_services.event_publish(guild=guild, event="export.ready",
                                                    data={"export_id": n, "n": n})
        committed = time.monotonic()
        fan_out_done = webhooks_done = None
        while time.monotonic() - started < args.timeout:
            now = time.monotonic()
            if fan_out_done is None and all(p.held.get(guild.pk) == fan_out.version for p in shards) and \
                    JobRecord.objects.filter(pk=fan_out.job_id, status=Status.SUCCEEDED).exists():
                fan_out_done = now - committed
            if webhooks_done is None and len(receiver.ids) >= args.deliveries and not \
                    WebhookDelivery.objects.filter(status=WebhookDelivery.Status.PENDING).exists():
                webhooks_done = now - committed
            if fan_out_done is not None and webhooks_done is not None:
                break
            time.sleep(0.05)
        else:
            raise SystemExit(f"gave up after {args.timeout}s: shards applied "
                             f"{sum(p.held.get(guild.pk) == fan_out.version for p in shards)}/{args.shards}, "
                             f"webhooks received {len(receiver.ids)}/{args.deliveries} (logs: {log_dir})")
        total = max(fan_out_done, webhooks_done)
        # The last rows (the parent's finish, audit events) are written just before the checks above pass.
        time.sleep(1)
        after = row_counts()
    finally:
        os.killpg(pool.pid, 15)
        try:
            pool.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(pool.pid, 9)
        pool_log.close()
        for peer in [*shards, receiver]:
            peer.stop()
        redis.stop()

    deliveries = args.shards + args.deliveries
    written = {table: after[table] - before[table] for table in after if after[table] != before[table]}
    fan_out = FanOut.objects.get(pk=fan_out.pk)
    parent = JobRecord.objects.get(pk=fan_out.job_id)
    refused = sum(p.refused for p in [*shards, receiver])
    print(f"bench/fanout.py: {args.shards} shards, {args.deliveries} webhook deliveries, {args.workers} worker "
          f"processes (jobs_workers: branding {branding_workers}, notifications {args.workers - branding_workers})")
    print(f"  enqueue (one transaction: the save and {args.deliveries} events): {committed - started:.2f} s")
    print(f"  fan-out: every shard applied and the parent job succeeded after {fan_out_done:.2f} s "
          f"({fan_out.summary}; parent {parent.status}, {parent.attempts} attempts)")
    print(f"  webhooks: all {args.deliveries} received after {webhooks_done:.2f} s "
          f"({args.deliveries / webhooks_done:.0f} deliveries/s)")
    print(f"  time to all delivered: {total:.2f} s; deliveries per second: {deliveries / total:.0f} "
          f"({deliveries} deliveries: {args.shards} to shards, {args.deliveries} webhooks)")
    print(f"  ledger rows written per delivery: {sum(written.values()) / deliveries:.2f} "
          f"({sum(written.values())} rows)")
    for table, rows in sorted(written.items(), key=lambda item: -item[1]):
        print(f"    {table:36} {rows:6}  ({rows / deliveries:.2f} per delivery)")
    print(f"  signatures refused by the peers: {refused}; shard deliveries failed: "
          f"{ShardDelivery.objects.filter(fan_out=fan_out).exclude(status='applied').count()}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
