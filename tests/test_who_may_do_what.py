"""Who may do what: every admin page and action, every control-panel page and action and every HTTP
endpoint, against every kind of caller. The expected answer of each cell is written below, in MATRIX;
nothing is computed from the code under test.

Cells:
    200, 403, 404, 401 ...  the status code
    "login"                 a redirect (302) to a login page (the admin's or the control panel's)
    "302 done", "202 done"  that status, and the write took effect
    "302 kept", "200 kept"  that status, and nothing changed (an admin action the caller may not use: with
                            other actions Django drops it with "No action selected" and redirects, with
                            none at all it shows the job list again)
Every row that writes has an effect check (DOORS[...].effect): for any cell that is not "... done" the
check must find the data as it was; for "... done" it must find the change.

The data is made once per module, inside a transaction rolled back at the end; each test runs inside a
savepoint of it (pytest-django's non-transactional ``django_db``), so a write by one cell never leaks into
the next. No worker runs: enqueued jobs stay queued.
"""

import json
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Callable
from uuid import uuid4

import pytest
from django.conf import settings as django_settings
from django.contrib.auth import get_user_model
from django.db import transaction
from django.test import Client
from django.utils import timezone

from audit.models import AuditEvent
from branding import services as branding_services
from branding.models import BotShard, FanOut, ShardDelivery
from notifications.models import WebhookEndpoint
from notifications.services import webhook_endpoint_create
from exports import services as export_services
from exports.models import Export
from jobs.connection import queue_name, redis_connection
from jobs.enqueue import enqueue
from jobs.models import JobRecord, Schedule, Status
from jobs.queues import paused_queue_names
from project.models import Guild, GuildApiToken, Membership
from project.tenancy import api_token_create
from tests.conftest import OPERATORS, VIEWERS, make_staff

pytestmark = pytest.mark.django_db

ROLES = ("anon", "member", "admin", "other_admin", "token_mine", "token_other", "viewer", "operator",
         "superuser", "metrics_token", "staff")
METRICS_TOKEN = "m12-metrics-token-0123456789"

# ---------------------------------------------------------------------------------------------------
# The matrix. Columns (in ROLES order):
#   anon     anonymous                      tok_m  Bearer token of the guild "mine"
#   member   member of "mine"               tok_o  Bearer token of the guild "other"
#   admin    admin of "mine"                viewer staff in "Job viewers"
#   o_adm    owner of "other"               oper   staff in "Job operators"
#   super    superuser                      metr   Bearer $METRICS_TOKEN
#   staff    staff in no role: being staff alone grants nothing
# ---------------------------------------------------------------------------------------------------
L = "login"
MATRIX = {
    #                            anon  member admin  o_adm  tok_m  tok_o  viewer      oper        super       metr  staff
    # --- Django admin: pages
    "admin-index":              (L,    L,     L,     L,     L,     L,     200,        200,        200,        L, 200 ),
    "admin-job-list":           (L,    L,     L,     L,     L,     L,     200,        200,        200,        L, 403 ),
    "admin-job-page":           (L,    L,     L,     L,     L,     L,     200,        200,        200,        L, 403 ),
    "admin-job-history":        (L,    L,     L,     L,     L,     L,     200,        200,        200,        L, 403 ),
    "admin-job-add-page":       (L,    L,     L,     L,     L,     L,     403,        403,        403,        L, 403 ),
    "admin-job-delete-page":    (L,    L,     L,     L,     L,     L,     403,        403,        200,        L, 403 ),
    "admin-queues":             (L,    L,     L,     L,     L,     L,     200,        200,        200,        L, 403 ),
    "admin-dead-letters":       (L,    L,     L,     L,     L,     L,     200,        200,        200,        L, 403 ),
    "admin-bulk-page":          (L,    L,     L,     L,     L,     L,     200,        200,        200,        L, 403 ),
    "admin-workers":            (L,    L,     L,     L,     L,     L,     200,        200,        200,        L, 403 ),
    "admin-job-live":           (L,    L,     L,     L,     L,     L,     200,        200,        200,        L, 403 ),
    "admin-job-list-live":      (L,    L,     L,     L,     L,     L,     200,        200,        200,        L, 403 ),
    "admin-schedule-list":      (L,    L,     L,     L,     L,     L,     200,        200,        200,        L, 403 ),
    "admin-schedule-page":      (L,    L,     L,     L,     L,     L,     200,        200,        200,        L, 403 ),
    "admin-schedule-add-page":  (L,    L,     L,     L,     L,     L,     403,        200,        200,        L, 403 ),
    "admin-audit-list":         (L,    L,     L,     L,     L,     L,     200,        200,        200,        L, 403 ),
    "admin-audit-event":        (L,    L,     L,     L,     L,     L,     200,        200,        200,        L, 403 ),
    "admin-audit-delete-page":  (L,    L,     L,     L,     L,     L,     403,        403,        403,        L, 403 ),
    "admin-rollup-list":        (L,    L,     L,     L,     L,     L,     200,        200,        200,        L, 403 ),
    "admin-guild-list":         (L,    L,     L,     L,     L,     L,     403,        403,        200,        L, 403 ),
    "admin-guild-page":         (L,    L,     L,     L,     L,     L,     403,        403,        200,        L, 403 ),
    "admin-token-list":         (L,    L,     L,     L,     L,     L,     403,        403,        200,        L, 403 ),
    "admin-user-list":          (L,    L,     L,     L,     L,     L,     403,        403,        200,        L, 403 ),
    "admin-group-list":         (L,    L,     L,     L,     L,     L,     403,        403,        200,        L, 403 ),
    "admin-webhook-list":       (L,    L,     L,     L,     L,     L,     200,        200,        200,        L, 403 ),
    "admin-webhook-page":       (L,    L,     L,     L,     L,     L,     200,        200,        200,        L, 403 ),
    "admin-webhook-add-page":   (L,    L,     L,     L,     L,     L,     403,        403,        200,        L, 403 ),
    "admin-webhook-delivery-list": (L, L,     L,     L,     L,     L,     200,        200,        200,        L, 403 ),
    "admin-fanout-list":        (L,    L,     L,     L,     L,     L,     200,        200,        200,        L, 403 ),
    "admin-fanout-page":        (L,    L,     L,     L,     L,     L,     200,        200,        200,        L, 403 ),
    "admin-botshard-list":      (L,    L,     L,     L,     L,     L,     200,        200,        200,        L, 403 ),
    "admin-botshard-add-page":  (L,    L,     L,     L,     L,     L,     403,        403,        200,        L, 403 ),
    "admin-botshard-page":      (L,    L,     L,     L,     L,     L,     200,        200,        200,        L, 403 ),
    "django-rq-home":           (L,    L,     L,     L,     L,     L,     200,        200,        200,        L, 403 ),
    "django-rq-queue":          (L,    L,     L,     L,     L,     L,     200,        200,        200,        L, 403 ),
    "django-rq-job":            (L,    L,     L,     L,     L,     L,     200,        200,        200,        L, 403 ),
    "django-rq-stats-json":     (401,  401,   401,   401,   401,   401,   200,        200,        200,        401, 403 ),
    "django-rq-metrics":        (401,  401,   401,   401,   401,   401,   200,        200,        200,        401, 403 ),
    # django-rq's own copy of its dashboard inside the admin, which only asked "staff?", is not there at all
    "django-rq-admin-copy":     (L,    L,     L,     L,     L,     L,     404,        404,        404,        L, 404 ),
    # --- Django admin: actions (writes)
    "admin-retry":              (L,    L,     L,     L,     L,     L,     "200 kept", "302 done", "302 done", L, 403 ),
    "admin-requeue-now":        (L,    L,     L,     L,     L,     L,     "200 kept", "302 done", "302 done", L, 403 ),
    "admin-cancel":             (L,    L,     L,     L,     L,     L,     "200 kept", "302 done", "302 done", L, 403 ),
    "admin-job-page-retry":     (L,    L,     L,     L,     L,     L,     403,        "302 done", "302 done", L, 403 ),
    "admin-job-page-requeue":   (L,    L,     L,     L,     L,     L,     403,        "302 done", "302 done", L, 403 ),
    "admin-job-page-cancel":    (L,    L,     L,     L,     L,     L,     403,        "302 done", "302 done", L, 403 ),
    "admin-delete-selected":    (L,    L,     L,     L,     L,     L,     "200 kept", "302 kept", "302 done", L, 403 ),
    "admin-delete-job":         (L,    L,     L,     L,     L,     L,     403,        403,        "302 done", L, 403 ),
    "admin-pause-queue":        (L,    L,     L,     L,     L,     L,     403,        "302 done", "302 done", L, 403 ),
    "admin-bulk-retry":         (L,    L,     L,     L,     L,     L,     403,        "302 done", "302 done", L, 403 ),
    "admin-bulk-delete":        (L,    L,     L,     L,     L,     L,     403,        403,        "302 done", L, 403 ),
    "admin-schedule-add":       (L,    L,     L,     L,     L,     L,     403,        "302 done", "302 done", L, 403 ),
    "admin-schedule-change":    (L,    L,     L,     L,     L,     L,     403,        "302 done", "302 done", L, 403 ),
    "admin-schedule-change-internal": (L, L,  L,     L,     L,     L,     403,        "302 kept", "302 kept", L, 403 ),
    "admin-schedule-delete":    (L,    L,     L,     L,     L,     L,     403,        "302 done", "302 done", L, 403 ),
    "admin-audit-delete":       (L,    L,     L,     L,     L,     L,     403,        403,        403,        L, 403 ),
    "admin-token-revoke":       (L,    L,     L,     L,     L,     L,     403,        403,        "302 done", L, 403 ),
    "admin-user-add":           (L,    L,     L,     L,     L,     L,     403,        403,        "302 done", L, 403 ),
    "admin-webhook-delete":     (L,    L,     L,     L,     L,     L,     403,        403,        "302 done", L, 403 ),
    "admin-fanout-retry":       (L,    L,     L,     L,     L,     L,     "200 kept", "302 done", "302 done", L, 403 ),
    "django-rq-requeue":        (L,    L,     L,     L,     L,     L,     403,        "302 done", "302 done", L, 403 ),
    "django-rq-requeue-all":    (L,    L,     L,     L,     L,     L,     403,        "302 done", "302 done", L, 403 ),
    "django-rq-delete-job":     (L,    L,     L,     L,     L,     L,     403,        403,        "302 done", L, 403 ),
    "django-rq-empty-queue":    (L,    L,     L,     L,     L,     L,     403,        403,        "302 done", L, 403 ),
    "django-rq-bulk-delete":    (L,    L,     L,     L,     L,     L,     403,        403,        "302 done", L, 403 ),
    "django-rq-admin-copy-delete": (L, L,     L,     L,     L,     L,     404,        404,        404,        L, 404 ),
    # --- Control panel
    "panel-guilds":             (L,    200,   200,   200,   L,     L,     200,        200,        200,        L, 200 ),
    "panel-mine":               (L,    200,   200,   404,   L,     L,     404,        404,        404,        L, 404 ),
    "panel-other":              (L,    404,   404,   200,   L,     L,     404,        404,        404,        L, 404 ),
    "panel-export":             (L,    403,   "302 done", 404, L,   L,     404,        404,        404,        L, 404 ),
    "panel-retry-export":       (L,    403,   "302 done", 404, L,   L,     404,        404,        404,        L, 404 ),
    "panel-download":           (L,    200,   200,   404,   L,     L,     404,        404,        404,        L, 404 ),
    "panel-guild-settings":     (L,    200,   200,   404,   L,     L,     404,        404,        404,        L, 404 ),
    "panel-guild-settings-save": (L,   403,   "302 done", 404, L,   L,     404,        404,        404,        L, 404 ),
    "login-page":               (200,  200,   200,   200,   200,   200,   200,        200,        200,        200, 200 ),
    "panel-branding":           (L,    200,   200,   404,   L,     L,     404,        404,        404,        L, 404 ),
    "panel-branding-other":     (L,    404,   404,   200,   L,     L,     404,        404,        404,        L, 404 ),
    "panel-branding-save":      (L,    403,   "302 done", 404, L,   L,     404,        404,        404,        L, 404 ),
    "panel-branding-status":    (L,    200,   200,   404,   L,     L,     404,        404,        404,        L, 404 ),
    "panel-branding-retry":     (L,    403,   "302 done", 404, L,   L,     404,        404,        404,        L, 404 ),
    "panel-webhooks":           (L,    403,   200,   404,   L,     L,     404,        404,        404,        L, 404 ),
    "panel-webhook-add":        (L,    403,   "201 done", 404, L,   L,     404,        404,        404,        L, 404 ),
    "panel-webhook-delete":     (L,    403,   "302 done", 404, L,   L,     404,        404,        404,        L, 404 ),
    "panel-webhook-disable":    (L,    403,   "302 done", 404, L,   L,     404,        404,        404,        L, 404 ),
    "panel-audit-trail":        (L,    403,   200,   404,   L,     L,     404,        404,        404,        L, 404 ),
    "panel-audit-trail-other":  (L,    404,   404,   200,   L,     L,     404,        404,        404,        L, 404 ),
    # --- JSON API
    "api-enqueue":              (401,  403,   403,   403,   403,   403,   403,        "202 done", "202 done", 403, 403 ),
    "api-enqueue-internal":     (401,  403,   403,   403,   403,   403,   403,        403,        403,        403, 403 ),
    "api-job-of-mine":          (401,  200,   200,   404,   200,   404,   200,        200,        200,        403, 404 ),
    "api-job-of-other":         (401,  404,   404,   200,   404,   200,   200,        200,        200,        403, 404 ),
    "api-job-of-no-guild":      (401,  404,   404,   404,   404,   404,   200,        200,        200,        403, 404 ),
    "api-queues-health":        (401,  403,   403,   403,   403,   403,   200,        200,        200,        200, 403 ),
    "api-export":               (401,  403,   "202 done", 404, "202 done", 404, 404,   404,        404,        403, 404 ),
    "api-guild-settings":       (401,  403,   "200 done", 404, "200 done", 404, 404,   404,        404,        403, 404 ),
    "api-openapi":              (200,  200,   200,   200,   200,   200,   200,        200,        200,        200, 200 ),
    "api-docs":                 (200,  200,   200,   200,   200,   200,   200,        200,        200,        200, 200 ),
    "api-unknown-path":         (404,  404,   404,   404,   404,   404,   404,        404,        404,        404, 404 ),
    "api-branding-save":        (401,  403,   "202 done", 404, "202 done", 404, 404,   404,        404,        403, 404 ),
    "api-fan-out-of-mine":      (401,  200,   200,   404,   200,   404,   200,        200,        200,        403, 404 ),
    "api-fan-out-of-other":     (401,  404,   404,   200,   404,   200,   200,        200,        200,        403, 404 ),
    "metrics":                  (401,  403,   403,   403,   401,   401,   200,        200,        200,        200, 403 ),
    "healthz":                  (200,  200,   200,   200,   200,   200,   200,        200,        200,        200, 200 ),
    "readyz":                   (200,  200,   200,   200,   200,   200,   200,        200,        200,        200, 200 ),
}


# ---------------------------------------------------------------------------------------------------
# The data every cell runs against (made once per module, rolled back at its end).
# ---------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def w(django_db_setup, django_db_blocker):
    with django_db_blocker.unblock():
        atomic = transaction.atomic()
        atomic.__enter__()
        try:
            yield _build_world()
        finally:
            transaction.set_rollback(True)
            atomic.__exit__(None, None, None)


def _build_world():
    """Like conftest's ``world`` (two guilds, an admin and a member of "mine", the owner of "other"),
    plus the staff roles, the guilds' tokens and jobs, exports and a schedule to act on."""
    User = get_user_model()
    mine = Guild.objects.create(name="Mine", slug="mine")
    other = Guild.objects.create(name="Other", slug="other")
    users = {}
    for name, guild, role in [("admin", mine, "admin"), ("member", mine, "member"), ("other_admin", other, "owner")]:
        users[name] = User.objects.create_user(f"m12-{name}")
        Membership.objects.create(user=users[name], guild=guild, role=role)
    users["viewer"] = make_staff("m12-viewer", VIEWERS)
    users["operator"] = make_staff("m12-operator", OPERATORS)
    users["superuser"] = User.objects.create_superuser("m12-superuser", "su@example.com", None)
    users["staff"] = User.objects.create_user("m12-staff", is_staff=True)  # in no group, holding no permission
    tokens = {"token_mine": api_token_create(guild=mine, name="mine")[1],
              "token_other": api_token_create(guild=other, name="other")[1],
              "metrics_token": METRICS_TOKEN}
    spare_token = api_token_create(guild=other, name="spare")[0]

    job_mine = enqueue("test.sleep", {"marker": "m12-mine", "seconds": 0}, guild=mine)
    job_other = enqueue("test.sleep", {"marker": "m12-other", "seconds": 0}, guild=other)
    job_delayed = enqueue("test.sleep", {"marker": "m12-delayed", "seconds": 0}, guild=mine, delay=3600)
    job_dead = enqueue("test.always_fails", {"marker": "m12-dead"})  # a system job: no guild
    JobRecord.objects.filter(pk=job_dead.pk).update(status=Status.DEAD, attempts=3, dead_at=timezone.now(),
                                                    last_error_type="ValueError", last_error="boom")
    failed_export = Export.objects.create(guild=mine, format="csv", start="2026-01-01", end="2026-01-31",
                                          metrics=["messages"])
    export_job = enqueue("exports.generate", {"export_id": failed_export.pk}, guild=mine)
    JobRecord.objects.filter(pk=export_job.pk).update(status=Status.DEAD, attempts=3, dead_at=timezone.now())
    Export.objects.filter(pk=failed_export.pk).update(job=export_job)
    ready_export = Export.objects.create(guild=mine, format="csv", start="2026-02-01", end="2026-02-28",
                                         metrics=["messages"], file_name="exports/m12-not-read.enc",
                                         completed_at=timezone.now())
    schedule = Schedule.objects.create(name="m12-nightly", job_type="test.sleep",
                                       payload={"marker": "m12-cron", "seconds": 0}, cron="0 3 * * *")
    retention_schedule = Schedule.objects.create(name="m12-audit-retention", job_type="audit.apply_retention",
                                                 payload={}, cron="0 4 * * *")
    # Branding: a shard, a fan-out of each guild, and one of "mine" that failed at its shard (to retry).
    shard = BotShard.objects.create(shard_id=1, base_url="https://93.184.215.14/", signing_secret="m12-shard-secret-0123")
    fan_out_other, _ = branding_services.branding_save(guild=other, footer_text="theirs")
    failed_fan_out, _ = branding_services.branding_save(guild=mine, footer_text="mine")
    JobRecord.objects.filter(pk=failed_fan_out.job_id).update(status=Status.DEAD, attempts=1, dead_at=timezone.now())
    FanOut.objects.filter(pk=failed_fan_out.pk).update(status=FanOut.Status.FAILED)
    ShardDelivery.objects.create(fan_out=failed_fan_out, shard=shard, status=ShardDelivery.Status.FAILED, error="HTTP 400")
    endpoint, _ = webhook_endpoint_create(guild=mine, url="https://93.184.215.14/m12", events=["job.dead"])
    sessions = {}
    for role, user in users.items():  # logged in once: each test only sends the session cookie
        client = Client()
        client.force_login(user)
        sessions[role] = client.cookies[django_settings.SESSION_COOKIE_NAME].value
    return SimpleNamespace(
        mine=mine, other=other, users=users, sessions=sessions, tokens=tokens, spare_token=spare_token,
        job_mine=job_mine, job_other=job_other, job_delayed=job_delayed, job_dead=job_dead, export_job=export_job,
        failed_export=failed_export, ready_export=ready_export, schedule=schedule,
        retention_schedule=retention_schedule,
        event=AuditEvent.objects.order_by("pk").first(),
        download_url=f"/panel/downloads/{export_services.download_token(ready_export)}/",
        exports_before=Export.objects.count(),
        shard=shard, fan_out_mine=failed_fan_out, fan_out_other=fan_out_other, endpoint=endpoint,
        brandings_before=FanOut.objects.count(), endpoints_before=WebhookEndpoint.objects.count(),
    )


# ---------------------------------------------------------------------------------------------------
# RQ's side, for django-rq's views (Redis is emptied before each test, so each cell makes its own).
# ---------------------------------------------------------------------------------------------------


def rq_queue():
    from jobs.connection import get_queue

    return get_queue(queue_name("default"))


def rq_index():
    """The default queue's index in django-rq's URLs (its own order, not the settings')."""
    from django_rq.settings import get_queues_list

    return [config["name"] for config in get_queues_list()].index(queue_name("default"))


def rq_job_id(w):
    return f"m12-rq-{w.job_dead.pk}"


def rq_waiting_job(w):
    """An RQ job waiting in the default queue."""
    rq_queue().enqueue_call("tests.jobtypes.flaky", job_id=rq_job_id(w), kwargs={})


def rq_failed_job(w):
    """An RQ job in the default queue's failed registry (what django-rq's requeue acts on)."""
    queue = rq_queue()
    job = queue.enqueue_call("tests.jobtypes.flaky", job_id=rq_job_id(w), kwargs={})
    queue.remove(job)
    queue.failed_job_registry.add(job, ttl=3600, exc_string="boom")


def rq_waiting(w):
    return rq_job_id(w) in rq_queue().get_job_ids()


def rq_exists(w):
    return bool(redis_connection().exists(f"rq:job:{rq_job_id(w)}"))


# ---------------------------------------------------------------------------------------------------
# The doors: what each row of the matrix asks, and how a write is seen to have taken effect.
# ---------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Door:
    method: str
    url: Callable
    data: Callable | None = None        # form fields, or the JSON body when json=True
    json: bool = False
    effect: Callable | None = None      # True once the write took effect; None for reads
    prepare: Callable | None = None     # sets up Redis before the request
    headers: dict = field(default_factory=dict)


def status_of(pk):
    return JobRecord.objects.filter(pk=pk).values_list("status", flat=True).first()


def admin_action(action, pk_attr, confirmed=False):
    def data(w):
        pk = str(getattr(w, pk_attr).pk)
        if confirmed:  # what the confirmation page posts back
            return {"action": action, "_selected_action": [pk], "confirmed": "yes"}
        return {"action": action, "_selected_action": [pk], "index": "0"}
    return data


JOBS = "/admin/jobs/jobrecord/"
SCHEDULE_FORM = {"name": "m12-added", "job_type": "test.sleep", "payload": '{"marker": "m12-x", "seconds": 0}',
                 "cron": "30 4 * * *", "interval_seconds": "", "timezone": "UTC", "enabled": "on"}
EXPORT_FORM = {"format": "csv", "start": "2026-03-01", "end": "2026-03-31", "metrics": ["messages"]}


def zone_of(guild):
    return Guild.objects.values_list("time_zone", flat=True).get(pk=guild.pk)


def new_exports(w):
    return Export.objects.count() > w.exports_before


DOORS = {
    "admin-index": Door("GET", lambda w: "/admin/"),
    "admin-job-list": Door("GET", lambda w: JOBS),
    "admin-job-page": Door("GET", lambda w: f"{JOBS}{w.job_dead.pk}/change/"),
    "admin-job-history": Door("GET", lambda w: f"{JOBS}{w.job_dead.pk}/history/"),
    "admin-job-add-page": Door("GET", lambda w: f"{JOBS}add/"),
    "admin-job-delete-page": Door("GET", lambda w: f"{JOBS}{w.job_dead.pk}/delete/"),
    "admin-queues": Door("GET", lambda w: f"{JOBS}queues/"),
    "admin-dead-letters": Door("GET", lambda w: f"{JOBS}dead-letters/"),
    "admin-bulk-page": Door("GET", lambda w: f"{JOBS}bulk/?status__exact=dead"),
    "admin-workers": Door("GET", lambda w: f"{JOBS}workers/"),
    "admin-job-live": Door("GET", lambda w: f"{JOBS}{w.job_mine.pk}/live/"),
    "admin-job-list-live": Door("GET", lambda w: f"{JOBS}live-rows/?ids={w.job_mine.pk},{w.job_other.pk}"),
    "admin-schedule-list": Door("GET", lambda w: "/admin/jobs/schedule/"),
    "admin-schedule-page": Door("GET", lambda w: f"/admin/jobs/schedule/{w.schedule.pk}/change/"),
    "admin-schedule-add-page": Door("GET", lambda w: "/admin/jobs/schedule/add/"),
    "admin-audit-list": Door("GET", lambda w: "/admin/audit/auditevent/"),
    "admin-audit-event": Door("GET", lambda w: f"/admin/audit/auditevent/{w.event.pk}/change/"),
    "admin-audit-delete-page": Door("GET", lambda w: f"/admin/audit/auditevent/{w.event.pk}/delete/"),
    "admin-rollup-list": Door("GET", lambda w: "/admin/audit/dailyjobrollup/"),
    "admin-guild-list": Door("GET", lambda w: "/admin/project/guild/"),
    "admin-guild-page": Door("GET", lambda w: f"/admin/project/guild/{w.mine.pk}/change/"),
    "admin-token-list": Door("GET", lambda w: "/admin/project/guildapitoken/"),
    "admin-user-list": Door("GET", lambda w: "/admin/auth/user/"),
    "admin-group-list": Door("GET", lambda w: "/admin/auth/group/"),
    "admin-webhook-list": Door("GET", lambda w: "/admin/notifications/webhookendpoint/"),
    "admin-webhook-page": Door("GET", lambda w: f"/admin/notifications/webhookendpoint/{w.endpoint.pk}/change/"),
    "admin-webhook-add-page": Door("GET", lambda w: "/admin/notifications/webhookendpoint/add/"),
    "admin-webhook-delivery-list": Door("GET", lambda w: "/admin/notifications/webhookdelivery/"),
    "admin-fanout-list": Door("GET", lambda w: "/admin/branding/fanout/"),
    "admin-fanout-page": Door("GET", lambda w: f"/admin/branding/fanout/{w.fan_out_mine.pk}/change/"),
    "admin-botshard-list": Door("GET", lambda w: "/admin/branding/botshard/"),
    "admin-botshard-add-page": Door("GET", lambda w: "/admin/branding/botshard/add/"),
    "admin-botshard-page": Door("GET", lambda w: f"/admin/branding/botshard/{w.shard.pk}/change/"),
    "django-rq-home": Door("GET", lambda w: "/admin/django-rq/"),
    "django-rq-queue": Door("GET", lambda w: f"/admin/django-rq/queues/{rq_index()}/"),
    "django-rq-job": Door("GET", lambda w: f"/admin/django-rq/queues/{rq_index()}/{rq_job_id(w)}/",
                          prepare=rq_waiting_job),
    "django-rq-stats-json": Door("GET", lambda w: "/admin/django-rq/stats.json"),
    "django-rq-metrics": Door("GET", lambda w: "/admin/django-rq/metrics"),
    "django-rq-admin-copy": Door("GET", lambda w: "/admin/django_rq/dashboard/"),

    "admin-retry": Door("POST", lambda w: JOBS, admin_action("retry_selected", "job_dead"),
                        effect=lambda w: status_of(w.job_dead.pk) == Status.QUEUED),
    "admin-requeue-now": Door("POST", lambda w: JOBS, admin_action("requeue_selected", "job_delayed"),
                              effect=lambda w: JobRecord.objects.get(pk=w.job_delayed.pk).run_at is None),
    "admin-cancel": Door("POST", lambda w: JOBS, admin_action("cancel_selected", "job_mine", confirmed=True),
                         effect=lambda w: status_of(w.job_mine.pk) == Status.CANCELED),
    "admin-job-page-retry": Door("POST", lambda w: f"{JOBS}{w.job_dead.pk}/act/",
                                 lambda w: {"action": "retry", "confirmed": "yes"},
                                 effect=lambda w: status_of(w.job_dead.pk) == Status.QUEUED),
    "admin-job-page-requeue": Door("POST", lambda w: f"{JOBS}{w.job_delayed.pk}/act/",
                                   lambda w: {"action": "requeue", "confirmed": "yes"},
                                   effect=lambda w: JobRecord.objects.get(pk=w.job_delayed.pk).run_at is None),
    "admin-job-page-cancel": Door("POST", lambda w: f"{JOBS}{w.job_mine.pk}/act/",
                                  lambda w: {"action": "cancel", "confirmed": "yes"},
                                  effect=lambda w: status_of(w.job_mine.pk) == Status.CANCELED),
    "admin-delete-selected": Door("POST", lambda w: JOBS, admin_action("delete_selected", "job_dead", confirmed=True),
                                  effect=lambda w: status_of(w.job_dead.pk) is None),
    "admin-delete-job": Door("POST", lambda w: f"{JOBS}{w.job_dead.pk}/delete/", lambda w: {"post": "yes"},
                             effect=lambda w: status_of(w.job_dead.pk) is None),
    "admin-pause-queue": Door("POST", lambda w: f"{JOBS}queues/",
                              lambda w: {"queue": queue_name("default"), "action": "pause"},
                              effect=lambda w: queue_name("default") in paused_queue_names()),
    "admin-bulk-retry": Door("POST", lambda w: f"{JOBS}bulk/",
                             lambda w: {"action": "retry", "confirmed": "yes", "status__exact": "dead"},
                             effect=lambda w: JobRecord.objects.filter(job_type="jobs.bulk_action").exists()),
    "admin-bulk-delete": Door("POST", lambda w: f"{JOBS}bulk/",
                              lambda w: {"action": "delete", "confirmed": "yes", "status__exact": "dead"},
                              effect=lambda w: JobRecord.objects.filter(job_type="jobs.bulk_action").exists()),
    "admin-schedule-add": Door("POST", lambda w: "/admin/jobs/schedule/add/", lambda w: SCHEDULE_FORM,
                               effect=lambda w: Schedule.objects.filter(name="m12-added").exists()),
    "admin-schedule-change": Door("POST", lambda w: f"/admin/jobs/schedule/{w.schedule.pk}/change/",
                                  lambda w: {**SCHEDULE_FORM, "name": w.schedule.name, "enabled": ""},
                                  effect=lambda w: not Schedule.objects.get(pk=w.schedule.pk).enabled),
    # A built-in schedule of an internal type: its payload (a retention's "days": what it deletes) is fixed
    # for everyone; the rest of the form saves.
    "admin-schedule-change-internal": Door(
        "POST", lambda w: f"/admin/jobs/schedule/{w.retention_schedule.pk}/change/",
        lambda w: {"name": w.retention_schedule.name, "job_type": "audit.apply_retention", "payload": '{"days": 1}',
                   "cron": "", "interval_seconds": "60", "timezone": "UTC", "enabled": "on"},
        effect=lambda w: Schedule.objects.get(pk=w.retention_schedule.pk).payload == {"days": 1}),
    "admin-schedule-delete": Door("POST", lambda w: f"/admin/jobs/schedule/{w.schedule.pk}/delete/",
                                  lambda w: {"post": "yes"},
                                  effect=lambda w: not Schedule.objects.filter(pk=w.schedule.pk).exists()),
    "admin-audit-delete": Door("POST", lambda w: f"/admin/audit/auditevent/{w.event.pk}/delete/",
                               lambda w: {"post": "yes"},
                               effect=lambda w: not AuditEvent.objects.filter(pk=w.event.pk).exists()),
    "admin-token-revoke": Door("POST", lambda w: "/admin/project/guildapitoken/",
                               lambda w: {"action": "revoke", "_selected_action": [str(w.spare_token.pk)], "index": "0"},
                               effect=lambda w: GuildApiToken.objects.get(pk=w.spare_token.pk).revoked_at is not None),
    "admin-user-add": Door("POST", lambda w: "/admin/auth/user/add/",
                           lambda w: {"username": "m12-newcomer", "password1": "Zx-long-pass-9182",
                                      "password2": "Zx-long-pass-9182", "usable_password": "true"},
                           effect=lambda w: get_user_model().objects.filter(username="m12-newcomer").exists()),
    "admin-webhook-delete": Door("POST", lambda w: f"/admin/notifications/webhookendpoint/{w.endpoint.pk}/delete/",
                                 lambda w: {"post": "yes"},
                                 effect=lambda w: not WebhookEndpoint.objects.filter(pk=w.endpoint.pk).exists()),
    "admin-fanout-retry": Door("POST", lambda w: "/admin/branding/fanout/",
                               lambda w: {"action": "retry_failed_shards", "_selected_action": [str(w.fan_out_mine.pk)],
                                          "index": "0"},
                               effect=lambda w: status_of(w.fan_out_mine.job_id) == Status.QUEUED),
    "django-rq-requeue": Door("POST", lambda w: f"/admin/django-rq/queues/{rq_index()}/{rq_job_id(w)}/requeue/",
                              lambda w: {}, prepare=rq_failed_job, effect=rq_waiting),
    "django-rq-requeue-all": Door("POST", lambda w: f"/admin/django-rq/queues/{rq_index()}/requeue-all/",
                                  lambda w: {}, prepare=rq_failed_job, effect=rq_waiting),
    "django-rq-delete-job": Door("POST", lambda w: f"/admin/django-rq/queues/{rq_index()}/{rq_job_id(w)}/delete/",
                                 lambda w: {}, prepare=rq_waiting_job, effect=lambda w: not rq_exists(w)),
    "django-rq-empty-queue": Door("POST", lambda w: f"/admin/django-rq/queues/{rq_index()}/empty/",
                                  lambda w: {}, prepare=rq_waiting_job, effect=lambda w: not rq_waiting(w)),
    "django-rq-bulk-delete": Door("POST", lambda w: f"/admin/django-rq/queues/actions/{rq_index()}/",
                                  lambda w: {"action": "delete", "job_ids": [rq_job_id(w)]},
                                  prepare=rq_waiting_job, effect=lambda w: not rq_exists(w)),
    "django-rq-admin-copy-delete": Door(
        "POST", lambda w: f"/admin/django_rq/dashboard/queues/{rq_index()}/{rq_job_id(w)}/delete/", lambda w: {},
        prepare=rq_waiting_job, effect=lambda w: not rq_exists(w)),

    "panel-guilds": Door("GET", lambda w: "/panel/"),
    "panel-mine": Door("GET", lambda w: "/panel/mine/"),
    "panel-other": Door("GET", lambda w: "/panel/other/"),
    "panel-export": Door("POST", lambda w: "/panel/mine/", lambda w: EXPORT_FORM, effect=new_exports),
    "panel-retry-export": Door("POST", lambda w: f"/panel/mine/exports/{w.failed_export.pk}/retry/", lambda w: {},
                               effect=lambda w: status_of(w.export_job.pk) == Status.QUEUED),
    "panel-download": Door("GET", lambda w: w.download_url),
    "panel-guild-settings": Door("GET", lambda w: "/panel/mine/settings/"),
    "panel-guild-settings-save": Door("POST", lambda w: "/panel/mine/settings/", lambda w: {"time_zone": "Asia/Tokyo"},
                                      effect=lambda w: zone_of(w.mine) == "Asia/Tokyo"),
    "login-page": Door("GET", lambda w: "/accounts/login/"),
    "panel-branding": Door("GET", lambda w: "/panel/mine/branding/"),
    "panel-branding-other": Door("GET", lambda w: "/panel/other/branding/"),
    "panel-branding-save": Door("POST", lambda w: "/panel/mine/branding/",
                                lambda w: {"display_name": "m12 bot", "color": "#123456", "footer_text": "",
                                           "icon_url": ""},
                                effect=lambda w: FanOut.objects.count() > w.brandings_before),
    "panel-branding-status": Door("GET", lambda w: "/panel/mine/branding/status/"),
    "panel-branding-retry": Door("POST", lambda w: f"/panel/mine/branding/fan-outs/{w.fan_out_mine.pk}/retry/",
                                 lambda w: {}, effect=lambda w: status_of(w.fan_out_mine.job_id) == Status.QUEUED),
    "panel-webhooks": Door("GET", lambda w: "/panel/mine/webhooks/"),
    "panel-webhook-add": Door("POST", lambda w: "/panel/mine/webhooks/",
                              lambda w: {"url": "https://93.184.215.14/m12-added", "events": ["job.dead"]},
                              effect=lambda w: WebhookEndpoint.objects.count() > w.endpoints_before),
    "panel-webhook-delete": Door("POST", lambda w: f"/panel/mine/webhooks/{w.endpoint.pk}/delete/", lambda w: {},
                                 effect=lambda w: not WebhookEndpoint.objects.filter(pk=w.endpoint.pk).exists()),
    "panel-webhook-disable": Door("POST", lambda w: f"/panel/mine/webhooks/{w.endpoint.pk}/enable/",
                                  lambda w: {"enabled": "0"},
                                  effect=lambda w: not WebhookEndpoint.objects.get(pk=w.endpoint.pk).enabled),
    "panel-audit-trail": Door("GET", lambda w: "/panel/mine/audit/"),
    "panel-audit-trail-other": Door("GET", lambda w: "/panel/other/audit/"),

    "api-enqueue": Door("POST", lambda w: "/api/jobs", json=True,
                        data=lambda w: {"job_type": "test.sleep", "payload": {"marker": "m12-api", "seconds": 0}},
                        effect=lambda w: JobRecord.objects.filter(payload__marker="m12-api").exists()),
    "api-enqueue-internal": Door("POST", lambda w: "/api/jobs", json=True,
                                 data=lambda w: {"job_type": "jobs.bulk_action",
                                                 "payload": {"action": "delete", "filters": {}}},
                                 effect=lambda w: JobRecord.objects.filter(job_type="jobs.bulk_action").exists()),
    "api-job-of-mine": Door("GET", lambda w: f"/api/jobs/{w.job_mine.pk}"),
    "api-job-of-other": Door("GET", lambda w: f"/api/jobs/{w.job_other.pk}"),
    "api-job-of-no-guild": Door("GET", lambda w: f"/api/jobs/{w.job_dead.pk}"),
    "api-queues-health": Door("GET", lambda w: "/api/queues/health"),
    "api-export": Door("POST", lambda w: "/api/control-panel/analytics/export", json=True,
                       data=lambda w: {"guild": w.mine.pk, "format": "csv", "start": "2026-04-01",
                                       "end": "2026-04-30", "metrics": ["messages"]},
                       effect=new_exports),
    "api-guild-settings": Door("POST", lambda w: "/api/control-panel/guild/settings", json=True,
                               data=lambda w: {"guild": "mine", "time_zone": "Asia/Tokyo"},
                               effect=lambda w: zone_of(w.mine) == "Asia/Tokyo"),
    "api-openapi": Door("GET", lambda w: "/api/openapi.json"),
    "api-docs": Door("GET", lambda w: "/api/docs"),
    "api-unknown-path": Door("GET", lambda w: f"/api/no-such-thing/{uuid4()}"),
    "metrics": Door("GET", lambda w: "/metrics"),
    "healthz": Door("GET", lambda w: "/healthz"),
    "readyz": Door("GET", lambda w: "/readyz"),
    "api-branding-save": Door("POST", lambda w: "/api/control-panel/domain-branding", json=True,
                              data=lambda w: {"guild": w.mine.pk, "display_name": "m12 api"},
                              effect=lambda w: FanOut.objects.count() > w.brandings_before),
    "api-fan-out-of-mine": Door("GET", lambda w: f"/api/control-panel/domain-branding/fan-outs/{w.fan_out_mine.pk}"),
    "api-fan-out-of-other": Door("GET", lambda w: f"/api/control-panel/domain-branding/fan-outs/{w.fan_out_other.pk}"),
}


def test_every_door_has_a_row_and_every_row_a_door():
    assert set(MATRIX) == set(DOORS)
    assert all(len(row) == len(ROLES) for row in MATRIX.values())


def client_for(w, role, **kwargs):
    client = Client(**kwargs)
    if role in w.sessions:
        client.cookies[django_settings.SESSION_COOKIE_NAME] = w.sessions[role]
    elif role in w.tokens:
        client.defaults["HTTP_AUTHORIZATION"] = f"Bearer {w.tokens[role]}"
    return client


def expectation(cell):
    """(status, took_effect) from a cell of the matrix."""
    if cell == L:
        return 302, False
    if isinstance(cell, int):
        return cell, False
    status, effect = cell.split()
    assert effect in ("done", "kept"), cell
    return int(status), effect == "done"


CASES = [(role, door) for door in MATRIX for role in ROLES]


@pytest.mark.parametrize("role, door", CASES, ids=[f"{role}-{door}" for role, door in CASES])
def test_who_may_do_what(w, role, door, settings):
    settings.METRICS_TOKEN = METRICS_TOKEN
    spec, cell = DOORS[door], MATRIX[door][ROLES.index(role)]
    status, took_effect = expectation(cell)
    if spec.prepare:
        spec.prepare(w)
    client = client_for(w, role)
    url = spec.url(w)
    if spec.method == "GET":
        response = client.get(url)
    elif spec.json:
        response = client.post(url, data=json.dumps(spec.data(w)), content_type="application/json")
    else:
        response = client.post(url, data=spec.data(w))
    body = response.content[:600] if not response.streaming else b"<streamed>"
    assert response.status_code == status, (cell, response.status_code, response.get("Location"), body)
    if cell == L:
        assert "/login/" in response["Location"], response["Location"]
    if spec.effect is not None:
        assert spec.effect(w) is took_effect, f"{role} on {door}: expected {'a change' if took_effect else 'no change'}"
    if url.startswith("/api/") and status >= 400:
        assert response["Content-Type"].startswith("application/json"), body
        assert response.json()["message"], body
        if status == 401:
            assert response["WWW-Authenticate"].startswith("Bearer"), response.headers


# ---------------------------------------------------------------------------------------------------
# CSRF on the session API: a logged-in browser session must send its CSRF token; tokens need none.
# ---------------------------------------------------------------------------------------------------
EXPORT = "/api/control-panel/analytics/export"


def export_body(w):
    return json.dumps({"guild": w.mine.pk, "format": "csv", "start": "2026-05-01", "end": "2026-05-31",
                       "metrics": ["messages"]})


def csrf_token_of(client):
    client.get("/admin/login/")  # any page with a form sets the CSRF cookie
    return client.cookies[django_settings.CSRF_COOKIE_NAME].value


def test_a_guild_admins_session_without_csrf_token_is_refused(w):
    client = client_for(w, "admin", enforce_csrf_checks=True)
    response = client.post(EXPORT, data=export_body(w), content_type="application/json")
    assert response.status_code == 403, response.content
    assert response.json()["error"] == "csrf_failed"
    assert not new_exports(w)
    token = csrf_token_of(client)
    response = client.post(EXPORT, data=export_body(w), content_type="application/json",
                           headers={"X-CSRFToken": token})
    assert response.status_code == 202, response.content
    assert new_exports(w)


def test_a_staff_session_enqueueing_without_csrf_token_is_refused(w):
    client = client_for(w, "operator", enforce_csrf_checks=True)
    body = json.dumps({"job_type": "test.sleep", "payload": {"marker": "m12-csrf", "seconds": 0}})
    response = client.post("/api/jobs", data=body, content_type="application/json")
    assert response.status_code == 403 and response.json()["error"] == "csrf_failed", response.content
    assert not JobRecord.objects.filter(payload__marker="m12-csrf").exists()


def test_a_guild_token_needs_no_csrf_token(w):
    client = client_for(w, "token_mine", enforce_csrf_checks=True)
    response = client.post(EXPORT, data=export_body(w), content_type="application/json")
    assert response.status_code == 202, response.content


def test_the_control_panel_form_without_csrf_token_is_refused(w):
    client = client_for(w, "admin", enforce_csrf_checks=True)
    response = client.post("/panel/mine/", EXPORT_FORM)
    assert response.status_code == 403
    assert not new_exports(w)
