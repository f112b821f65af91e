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
    help = "Create the demo superuser (admin), a guild and a few jobs (only once)."

    def add_arguments(self, parser):
        parser.add_argument("--password", required=True)
        parser.add_argument("--peers-url", default="", help="make run's demo shards and webhook receiver")
        parser.add_argument("--webhook-secret-file", default="", help="where the demo receiver reads its secret")

    def handle(self, *args, password, peers_url, webhook_secret_file, **options):
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
        and, the first time, a branding save: its fan-out reaches both shards, then the webhook hears
        "branding.applied"."""
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
        if not GuildBranding.objects.filter(guild=guild).exists():
            with transaction.atomic():
                branding_save(guild=guild, user=admin, display_name="Demo bot", color="#5865F2",
                              footer_text="sent by make run", icon_url="")
