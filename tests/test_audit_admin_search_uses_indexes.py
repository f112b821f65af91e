"""Staff find events in a log of millions: the audit list searches by correlation ID, actor, guild and
resource with exact matches, each served by an index (never a full scan of the log), and its paginator
never counts the whole log. (The figures at 1,000,000 events: bench/audit_search.py.)"""

import re

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from audit.services import audit_event_record
from tests.conftest import VIEWERS, make_staff

pytestmark = pytest.mark.django_db

LIST = "/admin/audit/auditevent/"
JOB_ID = "0b7c1e4e-5d6f-4a8b-9c0d-1e2f3a4b5c6d"


@pytest.fixture
def log(world):
    for i in range(5):
        audit_event_record(action="export.downloaded", resource_type="export", resource_id=str(i),
                           actor=world["admin"], guild=world["mine"], correlation_id=f"cid-search-{i:04d}")
    audit_event_record(action="job.enqueued", resource_type="job", resource_id=JOB_ID, guild=world["other"],
                       actor=world["other_admin"], correlation_id="cid-search-job-01")
    audit_event_record(action="jobs.pruned", resource_type="job", resource_id="pruning", correlation_id="cid-search-sys")
    return world


def shown(client, **params):
    response = client.get(LIST, params)
    assert response.status_code == 200
    return sorted((e.resource_type, e.resource_id) for e in response.context["cl"].result_list)


SEARCHES = [
    ("cid-search-0003", [("export", "3")]),
    ("correlation:cid-search-job-01", [("job", JOB_ID)]),
    ("actor:other_admin", [("job", JOB_ID)]),
    ("other_admin", [("job", JOB_ID)]),
    ("guild:mine", [("export", str(i)) for i in range(5)]),
    ("other", [("job", JOB_ID)]),
    (f"job:{JOB_ID}", [("job", JOB_ID)]),
    ("export:2", [("export", "2")]),
    ("cid-search", []),            # exact matches only: no prefix or substring search over the log
    ("actor:nobody", []),
    ("guild:", []),
]


def test_search_finds_exact_matches(client, log):
    client.force_login(make_staff("search-viewer", VIEWERS))
    for term, expected in SEARCHES:
        assert shown(client, q=term) == expected, term


def test_filters_by_action_and_guild(client, log):
    from audit.selectors import known_actions

    assert known_actions() == ["export.downloaded", "job.enqueued", "jobs.pruned"]
    client.force_login(make_staff("search-viewer", VIEWERS))
    page = client.get(LIST)
    assert "?action=export.downloaded" in page.content.decode(), "the log's actions are offered"
    assert shown(client, action="jobs.pruned") == [("job", "pruning")]
    assert shown(client, guild=str(log["other"].pk)) == [("job", JOB_ID)]


LISTS = [
    {}, {"q": "cid-search-0003"}, {"q": "actor:admin"}, {"q": "guild:mine"}, {"q": f"job:{JOB_ID}"},
    {"q": "admin"}, {"action": "export.downloaded"}, {"guild": "1"}, {"p": "3"},
    {"o": "2"}, {"o": "5.-1"},  # sorting by a column no index serves is not offered (ignored)
]


def test_every_list_query_uses_an_index_and_no_count_covers_the_whole_log(client, log):
    client.force_login(make_staff("search-viewer", VIEWERS))
    for params in LISTS:
        check_plans(client, params)


def check_plans(client, params):
    with CaptureQueriesContext(connection) as queries:
        assert client.get(LIST, params).status_code == 200
    on_log = [q["sql"] for q in queries.captured_queries if 'FROM "audit_auditevent"' in q["sql"]]
    assert on_log, "the list read the log"
    for sql in on_log:
        if "COUNT(" in sql.upper():
            assert re.search(r"LIMIT 10000", sql), f"a count of the whole log: {sql}"
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("SET LOCAL enable_seqscan = off")  # with any index that fits, the planner takes it
            cursor.execute(f"EXPLAIN {sql}")
            plan = "\n".join(row[0] for row in cursor.fetchall())
        assert "Seq Scan on audit_auditevent" not in plan, f"{params}: {sql}\n{plan}"
