"""A bot shard's signing secret is write-only: no page of the admin shows it, to staff who may only view
shards (Django shows a view-only page's fields as their stored values) or to those who may change them."""

import pytest

from branding.models import BotShard
from tests.conftest import OPERATORS, VIEWERS, make_staff

pytestmark = pytest.mark.django_db

SECRET = "s3cret-of-shard-7-0123456789"


@pytest.fixture
def shard():
    return BotShard.objects.create(shard_id=7, base_url="https://93.184.215.14/", signing_secret=SECRET)


@pytest.mark.parametrize("role", [VIEWERS, OPERATORS, "superuser"])
def test_the_shard_page_shows_the_secret_masked(client, django_user_model, shard, role):
    if role == "superuser":
        user = django_user_model.objects.create_superuser("su", "su@example.com", "pw-su-1")
    else:
        user = make_staff("staff", role)
    client.force_login(user)
    for url in (f"/admin/branding/botshard/{shard.pk}/change/", "/admin/branding/botshard/"):
        page = client.get(url)
        assert page.status_code == 200
        html = page.content.decode()
        assert SECRET not in html and SECRET[:12] not in html, url
        assert "••••••89" in html, url


def test_a_superuser_still_changes_the_secret_and_keeps_it_when_left_empty(client, django_user_model, shard):
    client.force_login(django_user_model.objects.create_superuser("su", "su@example.com", "pw-su-1"))
    form = {"shard_id": 7, "base_url": "https://93.184.215.14/", "signing_secret": "", "enabled": "on"}
    assert client.post(f"/admin/branding/botshard/{shard.pk}/change/", form).status_code == 302
    assert BotShard.objects.get(pk=shard.pk).signing_secret == SECRET
    form["signing_secret"] = "a-new-secret-of-shard-7"
    assert client.post(f"/admin/branding/botshard/{shard.pk}/change/", form).status_code == 302
    assert BotShard.objects.get(pk=shard.pk).signing_secret == "a-new-secret-of-shard-7"
