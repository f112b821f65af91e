"""The audit log is evidence, so nobody rewrites it: staff (superusers too) cannot change or delete an
event in the admin, code cannot through the ORM's ordinary paths, and on PostgreSQL not even raw SQL
can. Events leave only through retention, in bulk, and retention says so in the log. Deleting a user
still works: their events stay, without the link to them."""

import pytest
from django.contrib.auth.models import User
from django.db import DatabaseError, connection, transaction

from audit.models import AppendOnlyError, AuditEvent
from jobs.enqueue import enqueue
from jobs.models import JobRecord, Status
from jobs.services import cancel_job
from project import correlation
from tests.conftest import wait_for

pytestmark = pytest.mark.django_db(transaction=True)


def an_event(**fields):
    return AuditEvent.objects.create(action="export.downloaded", resource_type="export", resource_id="7",
                                     correlation_id="cid-append-only-1", **fields)


def insert_old_event(days, resource_id):
    """An event written ``days`` ago (raw INSERT: the model stamps every new event with now)."""
    with connection.cursor() as cursor:
        cursor.execute("INSERT INTO audit_auditevent (created_at, action, resource_type, resource_id, correlation_id,"
                       " data) VALUES (now() - make_interval(days => %s), 'test.old', 'test', %s, '', '{}')"
                       " RETURNING id", [days, resource_id])
        return cursor.fetchone()[0]


def test_superusers_cannot_change_or_delete_an_event_in_the_admin(client, staff_user):
    event = an_event()
    client.force_login(staff_user)
    page = client.get(f"/admin/audit/auditevent/{event.pk}/change/")
    assert page.status_code == 200 and "Delete" not in page.content.decode().split('id="content-main"')[1]
    assert client.get(f"/admin/audit/auditevent/{event.pk}/delete/").status_code == 403
    assert client.post(f"/admin/audit/auditevent/{event.pk}/delete/", {"post": "yes"}).status_code == 403
    assert client.post(f"/admin/audit/auditevent/{event.pk}/change/", {"action": "forged"}).status_code == 403
    listing = client.get("/admin/audit/auditevent/").content.decode()
    assert "delete_selected" not in listing and 'name="_selected_action"' not in listing, "no actions at all"
    forged = client.post("/admin/audit/auditevent/", {"action": "delete_selected", "_selected_action": [event.pk],
                                                      "post": "yes"})
    assert forged.status_code in (200, 302)
    assert AuditEvent.objects.filter(pk=event.pk, action="export.downloaded").exists()


def test_code_cannot_change_or_delete_events_through_the_orm(django_user_model):
    event = an_event()
    event.action = "export.forged"
    with pytest.raises(AppendOnlyError):
        event.save()
    with pytest.raises(AppendOnlyError):
        event.delete()
    with pytest.raises(AppendOnlyError):
        AuditEvent.objects.filter(pk=event.pk).update(action="export.forged")
    with pytest.raises(AppendOnlyError):
        AuditEvent.objects.filter(pk=event.pk).delete()
    with pytest.raises(AppendOnlyError):
        AuditEvent.objects.all().delete()
    with pytest.raises(AppendOnlyError):
        AuditEvent.objects.bulk_update([event], ["action"])
    with pytest.raises(AppendOnlyError):
        AuditEvent.objects.update_or_create(pk=event.pk, defaults={"action": "export.forged"})
    assert AuditEvent.objects.values_list("action", flat=True).get(pk=event.pk) == "export.downloaded"
    assert AuditEvent.objects.create(action="still.appends", resource_type="t", resource_id="1").pk


def test_the_database_refuses_updates_and_deletes_from_any_path_but_keeps_a_deleted_users_events(
        django_user_model):
    user = django_user_model.objects.create_user("leaver", password="pw-leaver-1")
    event = an_event(actor=user)
    for statement in ("UPDATE audit_auditevent SET action = 'forged' WHERE id = %s",
                      "DELETE FROM audit_auditevent WHERE id = %s"):
        with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute(statement, [event.pk])
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        AuditEvent._base_manager.filter(pk=event.pk).delete()
    assert AuditEvent.objects.values_list("action", flat=True).get(pk=event.pk) == "export.downloaded"

    user.delete()  # Django sets the events' actor to NULL: the one change the guard lets through
    assert not User.objects.filter(username="leaver").exists()
    assert AuditEvent.objects.filter(pk=event.pk, actor=None, action="export.downloaded").exists()

    with correlation.bind("cid-append-only-2"):  # the ledger's triggers (audit 0003) still write job events
        record = enqueue("test.sleep", {"marker": "trigger", "seconds": 0}, delay=3600)
        assert cancel_job(JobRecord.objects.get(pk=record.pk))
    actions = list(AuditEvent.objects.filter(resource_id=str(record.pk)).order_by("id").values_list("action", flat=True))
    assert actions == ["job.enqueued", "job.canceled"]


def test_only_retention_removes_events_and_it_is_audited(start_worker):
    old = [insert_old_event(100, f"old-{i}") for i in range(3)]
    recent = insert_old_event(10, "recent")
    with pytest.raises(AppendOnlyError):
        AuditEvent.objects.filter(pk__in=old).delete()
    record = enqueue("audit.apply_retention", {"days": 90})

    start_worker("jdtest.audit")
    wait_for(lambda: JobRecord.objects.filter(pk=record.pk, status=Status.SUCCEEDED).exists(), timeout=30)

    assert not AuditEvent.objects.filter(pk__in=old).exists()
    assert AuditEvent.objects.filter(pk=recent).exists()
    applied = AuditEvent.objects.get(action="audit.retention_applied")
    assert applied.data["deleted"] == 3 and applied.data["days"] == 90
    assert JobRecord.objects.get(pk=record.pk).result == {"deleted": 3}


def test_purge_before_works_in_batches():
    ids = [insert_old_event(400, f"batch-{i}") for i in range(7)]
    from django.utils import timezone

    assert AuditEvent.objects.purge_before(timezone.now(), batch=3) >= 7
    assert not AuditEvent.objects.filter(pk__in=ids).exists()
