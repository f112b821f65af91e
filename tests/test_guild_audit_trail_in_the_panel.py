"""Guild admins read their guild's audit trail in the control panel: only their guild's events, newest
first, a page at a time, linked from the guild page. Another guild's admin gets a 404, a member who is
not an admin a 403, staff who are not members a 404, anonymous visitors the login page."""

import pytest

from audit.models import AuditEvent
from audit.services import audit_event_record

pytestmark = pytest.mark.django_db

TRAIL = "/panel/mine/audit/"


def events(world):
    for i in range(60):
        audit_event_record(action="export.downloaded", resource_type="export", resource_id=f"mine-{i}",
                           actor=world["admin"], guild=world["mine"], correlation_id=f"cid-mine-{i:04d}")
    audit_event_record(action="branding.changed", resource_type="branding", resource_id="other-secret",
                       actor=world["other_admin"], guild=world["other"])
    audit_event_record(action="jobs.pruned", resource_type="job", resource_id="system-wide")


def test_a_guild_admin_reads_only_their_guilds_trail_page_by_page(client, world):
    events(world)
    client.force_login(world["admin"])
    assert TRAIL in client.get("/panel/mine/").content.decode(), "the guild page links to it"

    first = client.get(TRAIL)
    assert first.status_code == 200
    shown = [event.resource_id for event in first.context["page"]]
    assert shown == [f"mine-{i}" for i in range(59, 9, -1)], "newest first, 50 a page"
    html = first.content.decode()
    assert "other-secret" not in html and "system-wide" not in html
    assert 'rel="next"' in html
    second = client.get(TRAIL, {"page": 2})
    assert [event.resource_id for event in second.context["page"]] == [f"mine-{i}" for i in range(9, -1, -1)]
    assert client.get(TRAIL, {"page": 99}).status_code == 200, "past the end: the last page"


@pytest.mark.parametrize("who, status", [("member", 403), ("other_admin", 404), ("staff", 404), (None, 302)])
def test_others_are_refused(client, world, who, status):
    events(world)
    if who:
        client.force_login(world[who])
    response = client.get(TRAIL)
    assert response.status_code == status
    if status == 302:
        assert "/login/" in response["Location"]
    else:
        assert "mine-1" not in response.content.decode()


def test_a_member_is_not_offered_the_link(client, world):
    client.force_login(world["member"])
    assert TRAIL not in client.get("/panel/mine/").content.decode()
    client.force_login(world["other_admin"])
    assert client.get("/panel/other/audit/").status_code == 200
    assert client.get("/panel/no-such-guild/audit/").status_code == 404
    assert AuditEvent.objects.count() == 0
