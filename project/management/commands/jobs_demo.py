"""Demo data for ``make run``: an admin, a guild, and jobs that end in several states."""

from datetime import timedelta

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.db import transaction

from exports.models import AnalyticsEvent
from exports.services import METRICS
from jobs import services
from jobs.enqueue import enqueue, enqueue_many
from jobs.models import JobRecord
from project import correlation
from project.models import Guild, Membership


class Command(BaseCommand):
    help = "Create the demo superuser (admin), a guild and a few jobs (only once); with --peers-url, point the "\
           "demo shards and webhook at make run's demo peers and save the demo branding (at every run)."

    def add_arguments(self, parser):
        parser.add_argument("--password", required=True)
        parser.add_argument("--peers-url", default="", help="make run's demo shards and webhook receiver")
        parser.add_argument("--webhook-secret-file", default="", help="where the demo receiver reads its secret")
        parser.add_argument("--push-key-file", default="", help="where the demo push service reads its browser's keys")

    def handle(self, *args, password, peers_url, webhook_secret_file, push_key_file="", **options):
        User = get_user_model()
        admin, _ = User.objects.get_or_create(username="admin", defaults={"email": "admin@example.com"})
        admin.is_staff = admin.is_superuser = True
        admin.set_password(password)
        admin.save()
        guild, _ = Guild.objects.get_or_create(slug="demo-guild", defaults={"name": "Demo Guild"})
        Membership.objects.get_or_create(user=admin, guild=guild, defaults={"role": Membership.Role.OWNER})
        if not AnalyticsEvent.objects.filter(guild=guild).exists():
            self._analytics(guild)
        if not JobRecord.objects.exists():
            self._jobs(guild, admin)
        if peers_url:
            self._peers(guild, admin, peers_url, webhook_secret_file)
            if push_key_file:
                self._push(guild, admin, peers_url, push_key_file)

    def _jobs(self, guild, admin):
        with correlation.bind(correlation.new_id()), transaction.atomic():
            enqueue_many("audit.record_event", [
                {"action": "demo.member_joined", "resource_type": "member", "resource_id": str(n), "guild_id": guild.pk}
                for n in range(1, 6)
            ], actor=admin, guild=guild)
            enqueue("demo.slow_report", {"steps": 10, "seconds_per_step": 1.5}, actor=admin, guild=guild)
            enqueue("demo.flaky_webhook", {"fail_times": 2}, actor=admin, guild=guild)
            enqueue("demo.broken_branding", {}, actor=admin, guild=guild)
            enqueue("demo.slow_report", {"steps": 3}, actor=admin, guild=guild, delay=timedelta(hours=1))
            later = enqueue("demo.slow_report", {"steps": 3}, actor=admin, guild=guild, delay=timedelta(hours=2))
        services.cancel_job(later, actor=admin, reason="demo: canceled before it ran")
        self.stdout.write("demo data created")

    def _analytics(self, guild):
        """A month of analytics for the demo guild, to export from the control panel."""
        import random
        from datetime import datetime, timedelta, timezone

        rng = random.Random(7)
        today = datetime.now(timezone.utc).replace(minute=0, second=0, microsecond=0)
        AnalyticsEvent.objects.bulk_create([
            AnalyticsEvent(guild=guild, kind=kind, time=today - timedelta(hours=hour), value=rng.randint(1, 40),
                           dimensions={"channel": rng.choice(["general", "memes", "help"])})
            for hour in range(24 * 30) for kind in METRICS if rng.random() < 0.4
        ], batch_size=2000)

    def _peers(self, guild, admin, peers_url, webhook_secret_file):
        """Two shards and a webhook endpoint at make run's demo peers (their port changes at every run),
        and a branding save at every run, of the values the guild has (so that each start shows one): its
        fan-out reaches both shards, then the webhook hears "branding.applied"."""
        import os
        from pathlib import Path

        from branding.models import BotShard, GuildBranding
        from branding.services import branding_save
        from notifications.models import WebhookEndpoint
        from notifications.services import webhook_endpoint_create

        for n in (1, 2):
            BotShard.objects.update_or_create(shard_id=n, defaults={
                "base_url": f"{peers_url}/shard/{n}/", "signing_secret": os.environ["DEMO_SHARD_SECRET"],
                "enabled": True})
        url = f"{peers_url}/webhook"
        endpoint = WebhookEndpoint.objects.filter(guild=guild, url__endswith="/webhook").first()
        secret_file = Path(webhook_secret_file)
        if endpoint is None or not secret_file.exists():
            WebhookEndpoint.objects.filter(guild=guild, url__endswith="/webhook").delete()
            endpoint, secret = webhook_endpoint_create(guild=guild, url=url, events=["branding.applied", "job.dead",
                                                                                      "export.ready"])
            secret_file.write_text(secret)
            secret_file.chmod(0o600)
        else:
            WebhookEndpoint.objects.filter(pk=endpoint.pk).update(url=url, enabled=True, disabled_reason="")
        # Saved again with the values it has (the demo's the first time; yours once you changed them): a new
        # version, one fan-out job, older unfinished fan-outs superseded; nothing piles up.
        values = {"display_name": "Demo bot", "color": "#5865F2", "footer_text": "sent by make run", "icon_url": ""}
        current = GuildBranding.objects.filter(guild=guild).values(*values).first()
        with transaction.atomic():
            branding_save(guild=guild, user=admin, **(current or values))

    def _push(self, guild, admin, peers_url, push_key_file):
        """A demo browser of the admin subscribed to push at the demo push service, and, the first time, a
        push to it; every export the admin asks for is pushed there too."""
        import base64
        import json
        import os
        from pathlib import Path

        from cryptography.hazmat.primitives.asymmetric import ec
        from django.conf import settings
        from django.urls import reverse

        from notifications.models import PushSubscription
        from notifications.push_services import push_enabled, push_notify, push_subscription_save
        from notifications.vapid_keys import b64url_encode, public_raw

        if not push_enabled():
            return
        key_file = Path(push_key_file)
        if not key_file.exists():
            key = ec.generate_private_key(ec.SECP256R1())
            key_file.write_text(json.dumps({"private": b64url_encode(key.private_numbers().private_value.to_bytes(32, "big")),
                                            "auth": b64url_encode(os.urandom(16))}))
            key_file.chmod(0o600)
        keys = json.loads(key_file.read_text())
        raw = keys["private"] + "=" * (-len(keys["private"]) % 4)
        key = ec.derive_private_key(int.from_bytes(base64.urlsafe_b64decode(raw), "big"), ec.SECP256R1())
        first = not PushSubscription.objects.filter(user=admin, endpoint__endswith="/push/demo-browser").exists()
        PushSubscription.objects.filter(user=admin, endpoint__endswith="/push/demo-browser").exclude(
            endpoint=f"{peers_url}/push/demo-browser").delete()
        push_subscription_save(user=admin, endpoint=f"{peers_url}/push/demo-browser",
                               p256dh=b64url_encode(public_raw(key.public_key())), auth=keys["auth"],
                               user_agent="make run's demo browser")
        if first:
            push_notify(user=admin, title="Push works in make run",
                        body="Ask for an export in the demo guild's panel: you are pushed when it is ready.",
                        url=settings.SITE_URL + reverse("panel:guild", args=[guild.slug]))
