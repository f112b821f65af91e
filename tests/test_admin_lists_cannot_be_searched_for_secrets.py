"""Django's admin filters a list by any of the model's own fields from the query string, lookups included:
a staff member who may only view shards, webhooks or push subscriptions could read a write-only secret one
character at a time from the row count (``?signing_secret__startswith=s``). Those lookups are refused
(400) and filter nothing; the filters the pages offer still work."""

import pytest
from django.contrib.auth.models import User

from branding.models import BotShard
from notifications.models import PushSubscription
from notifications.services import webhook_endpoint_create
from project.models import Guild
from tests.conftest import make_staff

pytestmark = pytest.mark.django_db


@pytest.fixture
def viewer_client(client):
    client.force_login(make_staff("watcher", "Job viewers"))
    return client


def test_a_shards_signing_secret_cannot_be_guessed_from_the_list(viewer_client):
    BotShard.objects.create(shard_id=0, base_url="https://shard0.example.com", signing_secret="shard-secret-0123456789")
    for lookup in ["signing_secret__startswith=shard", "signing_secret__regex=^s", "signing_secret=x",
                   "signing_secret__exact=shard-secret-0123456789", "signing_secret__gt=a"]:
        answer = viewer_client.get(f"/admin/branding/botshard/?{lookup}")
        assert answer.status_code == 400, (lookup, answer.status_code)
    assert viewer_client.get("/admin/branding/botshard/?enabled__exact=1").status_code == 200


def test_a_webhooks_secret_cannot_be_guessed_from_the_list(viewer_client):
    guild = Guild.objects.create(name="Hooks", slug="hooks")
    endpoint, secret = webhook_endpoint_create(guild=guild, url="https://hooks.example.com/in", events=["job.dead"])
    for lookup in [f"secret__startswith={secret[:8]}", f"id={endpoint.pk}&secret__regex=^whsec_", "secret__isnull=False"]:
        assert viewer_client.get(f"/admin/notifications/webhookendpoint/?{lookup}").status_code == 400, lookup
    assert viewer_client.get("/admin/notifications/webhookendpoint/?enabled__exact=1").status_code == 200


def test_a_browsers_push_keys_cannot_be_guessed_from_the_list(client):
    user = User.objects.create_user("pusher", password="pw-pusher-1")
    PushSubscription.objects.create(user=user, endpoint="https://push.example.com/abc", p256dh="B" * 87,
                                    auth="AuthSecretXyZ123")
    superuser = User.objects.create_superuser("root", "root@example.com", "pw-root-1")
    client.force_login(superuser)
    for lookup in ["auth__startswith=Auth", "p256dh__regex=^B", "auth=AuthSecretXyZ123"]:
        assert client.get(f"/admin/notifications/pushsubscription/?{lookup}").status_code == 400, lookup
    assert client.get("/admin/notifications/pushsubscription/?q=pusher").status_code == 200
