"""`manage.py seed_demo`: a realistic Brazilian retailer to explore the back-office with.

Deterministic for a seed and idempotent. Demo logins follow one pattern, all with the password `demo`:
`admin`, `cs`, `manager`, `store.<location code>`, `warehouse.<DC code>` (codes in lower case).
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from demo.seed import seed_demo


class Command(BaseCommand):
    help = "Load the demo retailer (users of every role, and the data of each capability)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--seed", type=int, default=42, help="random seed (same seed, same data)")
        parser.add_argument("--if-empty", action="store_true", help="do nothing when demo data is loaded")
        parser.add_argument("--force", action="store_true", help="run even with DEBUG off")
        parser.add_argument(
            "--orders", type=int, default=5000, help="how many historical orders (on the first run only)"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if not settings.DEBUG and not options["force"]:
            raise CommandError(
                "seed_demo creates users with the password 'demo': refusing with DEBUG off "
                "(pass --force if you really mean it)."
            )
        report = seed_demo(
            seed=options["seed"],
            if_empty=options["if_empty"],
            orders=options["orders"],
            log=self.stdout.write,
        )
        if report.skipped:
            self.stdout.write("Demo data already loaded.")
        self.stdout.write(self.style.SUCCESS("Demo logins (password: demo), for example:"))
        for username, role in report.logins:
            self.stdout.write(f"  {username:<24} {role}")
        self.stdout.write("and the pattern of the others:")
        for pattern, meaning in report.login_patterns:
            self.stdout.write(f"  {pattern:<24} {meaning}")
