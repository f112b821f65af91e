"""Input no page can use answers 400 before any view runs, never a 500 (Django's admin answered these
with a 500): a NUL (``%00``) in a list filter, a search or a form field, which PostgreSQL refuses in any
statement; and an admin list's selection holding something that is not an id of its model, as only a
forged request sends."""

import pytest
from django.test import Client

from jobs.enqueue import enqueue
from jobs.models import JobRecord, Status

pytestmark = pytest.mark.django_db(transaction=True)

FILTERED = [
    "/admin/jobs/jobrecord/?status__exact=%00", "/admin/jobs/jobrecord/?correlation_id=a%00b",
    "/admin/jobs/jobrecord/?queue=%00", "/admin/jobs/schedule/?job_type=%00", "/admin/jobs/jobbatch/?correlation_id=%00",
    "/admin/audit/auditevent/?action=%00", "/admin/branding/fanout/?status__exact=%00",
    "/admin/notifications/webhookdelivery/?status__exact=%00", "/admin/jobs/jobrecord/?q=%00",
]


@pytest.fixture
def root(django_user_model):
    client = Client()
    client.force_login(django_user_model.objects.create_superuser("root", "root@example.com", "pw-root-1"))
    return client


@pytest.mark.parametrize("url", FILTERED)
def test_a_nul_in_a_list_filter_is_400(root, url):
    response = root.get(url)
    assert response.status_code == 400 and b"NUL" in response.content
    assert root.get(url.split("?")[0]).status_code == 200, "the list itself answers"


def test_a_nul_in_a_form_field_is_400_and_nothing_is_done(root):
    dead = enqueue("test.sleep", {"marker": "m", "seconds": 0})
    JobRecord.objects.filter(pk=dead.pk).update(status=Status.DEAD)
    response = root.post("/admin/jobs/jobrecord/bulk/", {"action": "retry", "confirmed": "yes",
                                                          "status__exact": "dead\x00"})
    assert response.status_code == 400
    assert JobRecord.objects.count() == 1 and JobRecord.objects.get().status == Status.DEAD


@pytest.mark.parametrize("url, selected", [
    ("/admin/jobs/jobrecord/", "not-a-uuid"), ("/admin/project/guild/", "abc"), ("/admin/auth/user/", "1.5"),
])
def test_a_forged_selection_is_400_and_nothing_is_done(root, url, selected):
    dead = enqueue("test.sleep", {"marker": "m", "seconds": 0})
    JobRecord.objects.filter(pk=dead.pk).update(status=Status.DEAD)
    response = root.post(url, {"action": "delete_selected", "_selected_action": [selected]})
    assert response.status_code == 400 and selected.encode() in response.content
    assert JobRecord.objects.get(pk=dead.pk).status == Status.DEAD


def test_an_api_query_with_a_nul_is_400_json(root):
    response = root.get("/api/jobs/00000000-0000-0000-0000-000000000000?wait=%00")
    assert response.status_code == 400 and response["Content-Type"].startswith("application/json")
