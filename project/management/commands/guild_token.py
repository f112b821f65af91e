"""Create an API token for a guild and print it (once: only its hash is stored)."""

from django.core.management.base import BaseCommand, CommandError

from project.models import Guild
from project.tenancy import api_token_create


class Command(BaseCommand):
    help = "Create an API token acting as an admin of a guild; prints the token once."

    def add_arguments(self, parser):
        parser.add_argument("guild", help="the guild's slug")
        parser.add_argument("name", help="what the token is for, e.g. 'reporting pipeline'")

    def handle(self, *args, guild, name, **options):
        found = Guild.objects.filter(slug=guild).first()
        if found is None:
            raise CommandError(f"no guild with slug {guild!r}")
        if not name.strip():
            raise CommandError("give the token a name")
        token, plain = api_token_create(guild=found, name=name.strip())
        self.stdout.write(plain)
        self.stderr.write(f"token {token.prefix}… for {found.name}: keep it now, it cannot be shown again")
