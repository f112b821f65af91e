"""Create an API token for a guild and print it (once: only its hash is stored).

A name longer than the column holds is refused with a ``CommandError`` naming the limit (one line, a
non-zero exit), not a database error's traceback."""

from django.core.management.base import BaseCommand, CommandError

from project.models import Guild, GuildApiToken
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
        name = name.strip()
        if not name:
            raise CommandError("give the token a name")
        limit = GuildApiToken._meta.get_field("name").max_length
        if len(name) > limit:
            raise CommandError(f"name: at most {limit} characters, got {len(name)}")
        token, plain = api_token_create(guild=found, name=name)
        self.stdout.write(plain)
        self.stderr.write(f"token {token.prefix}… for {found.name}: keep it now, it cannot be shown again")
