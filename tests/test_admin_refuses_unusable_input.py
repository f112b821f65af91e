"""Input no page can use answers 400 before any view runs, never a 500 (Django's admin answered these
with a 500): a NUL (``%00``) in a list filter, a search or a form field, which PostgreSQL refuses in any
statement; an admin list's selection holding something that is not an id of its model, as only a
forged request sends; and a list filter whose value its field cannot hold (``guild=abc``, a date that is
not one), which the list, the bulk page, a bulk action and the live rows refuse, naming it."""

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


# A filter value that no job could have (a guild that is not a number, a date that is not one) is refused
# as the admin refuses its own bad filters, never a 500.
@pytest.mark.parametrize("url", ["/admin/jobs/jobrecord/?guild=abc", "/admin/audit/auditevent/?guild=abc",
                                 "/admin/audit/auditrollup/?guild=abc"])
def test_a_guild_filter_that_is_not_a_guild_sends_the_list_to_its_error_view(root, world, url):
    # world: with no guild, the guild filter is not shown and its parameter not read
    response = root.get(url)
    assert response.status_code == 302 and response["Location"].endswith("?e=1")
    assert root.get(response["Location"]).status_code == 200


BAD_FILTERS = [({"guild": "abc"}, "guild"), ({"created_at__gte": "notadate"}, "created_at__gte"),
               ({"created_at__lt": "2024-02-30"}, "created_at__lt")]


@pytest.mark.parametrize("params, name", BAD_FILTERS)
def test_the_bulk_page_names_a_filter_that_cannot_select_jobs(root, params, name):
    response = root.get("/admin/jobs/jobrecord/bulk/", params)
    assert response.status_code == 400
    text = response.content.decode()
    assert name in text and params[name] in text and "Retry" not in text


@pytest.mark.parametrize("params, name", BAD_FILTERS[:2])
def test_a_bulk_action_on_a_filter_that_cannot_select_jobs_is_refused_and_nothing_is_enqueued(root, params, name):
    waiting = enqueue("test.sleep", {"marker": "m", "seconds": 0})
    response = root.post("/admin/jobs/jobrecord/bulk/", {"action": "cancel", "confirmed": "yes", **params})
    assert response.status_code == 400 and name in response.content.decode()
    assert list(JobRecord.objects.values_list("pk", flat=True)) == [waiting.pk], "no jobs.bulk_action enqueued"


@pytest.mark.parametrize("query", ["since=2024-01-01T00:00:00Z&guild=abc",
                                   "since=2024-01-01T00:00:00Z&created_at__gte=notadate", "since=2024-02-30T00:00:00"])
def test_live_rows_with_an_unusable_filter_or_since_are_400(root, query):
    assert root.get(f"/admin/jobs/jobrecord/live-rows/?{query}").status_code == 400
    assert root.get("/admin/jobs/jobrecord/live-rows/?since=2024-01-01T00:00:00Z&guild=1").status_code == 200
