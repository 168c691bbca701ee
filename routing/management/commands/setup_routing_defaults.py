"""`manage.py setup_routing_defaults`: default carriers, services, transfer terms and policy (idempotent)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from routing.services.defaults import routing_defaults_setup


class Command(BaseCommand):
    help = (
        "Create the default carriers, carrier services, transfer terms and default routing policy if missing."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        created = routing_defaults_setup()
        self.stdout.write(f"routing defaults: {created} rows created")
