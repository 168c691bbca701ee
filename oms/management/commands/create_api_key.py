"""`manage.py create_api_key USERNAME [--name NAME]`: issue an API key that acts as that user."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser

from oms.models import ApiKey


class Command(BaseCommand):
    help = "Issue an API key for a user. The key is printed once: only its hash is stored."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username", help="the user the integration acts as")
        parser.add_argument("--name", default="", help="what the key is for (default: '<username> key')")

    def handle(self, *args: Any, **options: Any) -> None:
        username: str = options["username"]
        user = get_user_model().objects.filter(username=username).first()
        if user is None:
            raise CommandError(f"No user named {username!r}; create the user first.")
        if not user.is_active:
            raise CommandError(f"User {username!r} is deactivated; a key for it would not work.")
        name = options["name"] or f"{username} key"
        api_key, key = ApiKey.objects.create_key(name=name, user=user)
        self.stdout.write(f"API key for {username} ({name}), prefix {api_key.prefix}:")
        self.stdout.write(key)
        self.stdout.write("Store it now: it is not shown again. Send it as 'Authorization: Api-Key <key>'.")
