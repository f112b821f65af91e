"""A person's subscribed browsers get their notifications by Web Push, sent by a real worker to a push
service (here a local HTTP server): encrypted for each browser (aes128gcm, decryptable only with the
browser's key), signed with VAPID for the push service's origin, several notifications written before
the job runs arriving as one push per browser. A push service's 404 or 410 removes that subscription;
a 500 is retried, to that browser only. The guild admin who asked for an export is told when it is ready."""

import json
from datetime import date

import pytest
from django.db import transaction
from werkzeug import Response

from audit.models import AuditEvent
from exports.services import export_request
from jobs.models import JobRecord, Status
from notifications.models import PushMessage, PushSubscription
from notifications.push_services import push_notify, push_subscription_save
from tests.conftest import wait_for
from tests.notifications_fixtures import requests_to
from tests.push_fixtures import Browser, vapid, vapid_claims  # noqa: F401 (fixture)

pytestmark = pytest.mark.django_db(transaction=True)

NOTIFICATION_QUEUES = ("jdtest.notifications.high", "jdtest.notifications", "jdtest.notifications.low")


def subscribe(user, browser, endpoint):
    data = browser.subscription(endpoint)
    return push_subscription_save(user=user, endpoint=data["endpoint"], p256dh=data["keys"]["p256dh"],
                                  auth=data["keys"]["auth"])


def ended(job_type):
    def check():
        jobs = list(JobRecord.objects.filter(job_type=job_type))
        return jobs if jobs and all(j.status in (Status.SUCCEEDED, Status.DEAD) for j in jobs) else None
    return check


def test_notifications_waiting_for_the_job_arrive_as_one_encrypted_signed_push_per_browser(
        vapid, world, httpserver, start_worker, settings):
    admin, member = world["admin"], world["member"]
    laptop, phone, someone_else = Browser(), Browser(), Browser()
    subscribe(admin, laptop, httpserver.url_for("/push/laptop"))
    subscribe(admin, phone, httpserver.url_for("/push/phone"))
    subscribe(member, someone_else, httpserver.url_for("/push/member"))
    httpserver.expect_request("/push/laptop", method="POST").respond_with_data("", status=201)
    httpserver.expect_request("/push/phone", method="POST").respond_with_data("", status=201)

    for n in (1, 2, 3):
        push_notify(user=admin, title=f"Export {n} is ready", body=f"{n}00 rows", url=f"https://jobs.example.com/{n}")
    [job] = JobRecord.objects.filter(job_type="notifications.send_push")
    assert job.payload == {"user_id": admin.pk}, "one job per user while it waits: the three go together"
    start_worker(*NOTIFICATION_QUEUES, env=vapid["env"])

    [job] = wait_for(ended("notifications.send_push"), timeout=60, interval=0.2, message="the push job")
    assert job.status == Status.SUCCEEDED and job.attempts == 1
    assert job.result == {"messages": 3, "sent": 2, "removed": 0, "failed": 0, "retry": 0}
    origin = httpserver.url_for("/").rstrip("/")
    for path, browser in (("/push/laptop", laptop), ("/push/phone", phone)):
        [request] = requests_to(httpserver, path)
        assert request.headers["Content-Encoding"] == "aes128gcm"
        assert request.headers["TTL"] == str(settings.NOTIFICATIONS_PUSH_TTL)
        claims = vapid_claims(request.headers["Authorization"], vapid["public"])
        assert claims["aud"] == origin and claims["sub"] == "mailto:ops@jobs.example.com"
        body = request.get_data()
        assert b"Export 1" not in body, "the body is encrypted"
        messages = browser.decrypt(body)["messages"]
        assert [(m["title"], m["body"], m["url"]) for m in messages] == [
            (f"Export {n} is ready", f"{n}00 rows", f"https://jobs.example.com/{n}") for n in (1, 2, 3)]
        with pytest.raises(Exception):
            someone_else.decrypt(body)
    assert requests_to(httpserver, "/push/member") == [], "another person's browser hears nothing"
    assert all(s.last_success for s in PushSubscription.objects.filter(user=admin))
    assert set(PushMessage.objects.values_list("job_id", flat=True)) == {job.pk}


def test_gone_and_unknown_subscriptions_are_removed_and_a_failing_push_service_is_retried(
        vapid, world, httpserver, start_worker):
    admin = world["admin"]
    browsers = {name: Browser() for name in ("gone", "unknown", "flaky", "fine")}
    subscriptions = {name: subscribe(admin, b, httpserver.url_for(f"/push/{name}")) for name, b in browsers.items()}
    httpserver.expect_request("/push/gone").respond_with_response(Response("", status=410))
    httpserver.expect_request("/push/unknown").respond_with_response(Response("", status=404))
    httpserver.expect_oneshot_request("/push/flaky").respond_with_data("overloaded", status=500)
    httpserver.expect_request("/push/flaky").respond_with_data("", status=201)
    httpserver.expect_request("/push/fine").respond_with_data("", status=201)
    push_notify(user=admin, title="Export ready")
    start_worker(*NOTIFICATION_QUEUES, env=vapid["env"])

    [job] = wait_for(ended("notifications.send_push"), timeout=60, interval=0.2, message="the push job")
    assert job.status == Status.SUCCEEDED and job.attempts == 2, "the 500 was retried"
    assert {name: len(requests_to(httpserver, f"/push/{name}")) for name in browsers} == {
        "gone": 1, "unknown": 1, "flaky": 2, "fine": 1}, "the retry goes only to the browser that failed"
    flaky_bodies = [browsers["flaky"].decrypt(r.get_data()) for r in requests_to(httpserver, "/push/flaky")]
    assert flaky_bodies[0]["messages"] == flaky_bodies[1]["messages"]
    assert set(PushSubscription.objects.values_list("endpoint", flat=True)) == {
        subscriptions["flaky"].endpoint, subscriptions["fine"].endpoint}
    removed = AuditEvent.objects.filter(action="push_subscription.removed")
    assert sorted(e.data["status"] for e in removed) == [404, 410]
    assert {e.resource_id for e in removed} == {str(subscriptions["gone"].pk), str(subscriptions["unknown"].pk)}


def test_the_admin_who_asked_for_an_export_is_pushed_when_it_is_ready(vapid, world, httpserver, start_worker):
    admin = world["admin"]
    browser = Browser()
    subscribe(admin, browser, httpserver.url_for("/push/admin"))
    httpserver.expect_request("/push/admin").respond_with_data("", status=201)
    with transaction.atomic():
        export, _ = export_request(guild=world["mine"], user=admin, format="csv", start=date(2026, 1, 1),
                                   end=date(2026, 1, 31), metrics=["messages"])
    start_worker(env={**vapid["env"], "SITE_URL": "https://jobs.example.com"})

    wait_for(lambda: requests_to(httpserver, "/push/admin"), timeout=60, interval=0.2, message="the push")
    [request] = requests_to(httpserver, "/push/admin")
    [message] = browser.decrypt(request.get_data())["messages"]
    assert message["title"] == "Your CSV export is ready"
    assert message["body"].startswith("Mine: ") and "2026-01-01 to 2026-01-31" in message["body"]
    assert message["url"] == "https://jobs.example.com/panel/mine/"
    push_job = JobRecord.objects.get(job_type="notifications.send_push")
    assert push_job.correlation_id == JobRecord.objects.get(pk=export.job_id).correlation_id


def test_nothing_is_queued_for_a_person_without_a_subscription_or_when_push_is_off(vapid, world, settings):
    assert push_notify(user=world["member"], title="hello") is None
    subscribe(world["member"], Browser(), "https://push.example.com/abc")
    settings.VAPID_PUBLIC_KEY = settings.VAPID_PRIVATE_KEY = ""
    assert push_notify(user=world["member"], title="hello") is None
    assert not JobRecord.objects.filter(job_type="notifications.send_push").exists()
    assert not PushMessage.objects.exists()


def test_the_push_job_type_is_internal_unique_per_user_and_rate_limited():
    from jobs import registry

    job_type = registry.get("notifications.send_push")
    assert job_type.internal
    assert str(job_type.rate_limit) == "100/s"
    assert job_type.unique.describe() == "one per user_id while waiting"
    assert json.loads(json.dumps(job_type.payload(user_id=3).model_dump())) == {"user_id": 3}


def test_a_message_whose_job_was_lost_is_swept_into_a_job(vapid, world):
    from datetime import timedelta

    from django.utils import timezone

    from notifications.push_services import push_messages_sweep

    subscribe(world["admin"], Browser(), "https://push.example.com/abc")
    lost = PushMessage.objects.create(user=world["admin"], title="lost")  # its enqueue never happened
    assert push_messages_sweep() == 0, "too young: its job may still be coming"
    assert push_messages_sweep(now=timezone.now() + timedelta(minutes=2)) == 1
    [job] = JobRecord.objects.filter(job_type="notifications.send_push")
    assert job.payload == {"user_id": world["admin"].pk} and lost.job_id is None


def test_the_rate_comes_from_notifications_push_rate():
    import subprocess
    import sys

    from tests.conftest import BASE_DIR, service_env

    result = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c",
         "from jobs import registry; print(registry.get('notifications.send_push').rate_limit)"],
        cwd=BASE_DIR, env=service_env(NOTIFICATIONS_PUSH_RATE="600/m"), capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "600/m"
