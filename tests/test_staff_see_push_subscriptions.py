"""Staff see the browsers subscribed to push in the admin, searched by user name: the job roles may look
(as at webhook endpoints), not add or change; the browser's keys are never shown; a staff member without
the permission is refused."""

import pytest

from notifications.models import PushSubscription
from tests.conftest import OPERATORS, VIEWERS, make_staff
from tests.push_fixtures import Browser

pytestmark = pytest.mark.django_db

LIST = "/admin/notifications/pushsubscription/"


@pytest.fixture
def subscriptions(world):
    made = {}
    for name in ("admin", "member"):
        browser = Browser()
        made[name] = PushSubscription.objects.create(
            user=world[name], endpoint=f"https://push.example.com/{name}", p256dh=browser.p256dh, auth=browser.auth,
            user_agent="Mozilla/5.0 (X11; Linux x86_64) Firefox/130.0")
    return made


@pytest.mark.parametrize("role", [VIEWERS, OPERATORS])
def test_the_job_roles_list_and_search_subscriptions_without_their_keys(client, subscriptions, role):
    client.force_login(make_staff("oncall", role))
    page = client.get(LIST, {"q": "member"})
    assert page.status_code == 200
    text = page.content.decode()
    assert "https://push.example.com/member" in text and "https://push.example.com/admin" not in text
    assert "Firefox on Linux" in text
    detail = client.get(f"{LIST}{subscriptions['member'].pk}/change/").content.decode()
    assert subscriptions["member"].endpoint in detail
    assert subscriptions["member"].p256dh not in detail and subscriptions["member"].auth not in detail
    assert client.get(f"{LIST}add/").status_code == 403


def test_staff_without_the_permission_are_refused(client, subscriptions, django_user_model):
    client.force_login(django_user_model.objects.create_user("intern", password="x", is_staff=True))
    assert client.get(LIST).status_code == 403
