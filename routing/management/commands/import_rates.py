"""`manage.py import_rates FILE.csv [--append]`: import a carrier rate card (see routing.services.rates)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from routing.services.rates import RateImportError, decode_upload, rate_cards_import


class Command(BaseCommand):
    help = (
        "Import rate-card rows from CSV "
        "(service,cep_from,cep_to,weight_from_g,weight_to_g,price,transit_days). "
        "By default the rows of the services in the file replace their existing rows."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file")
        parser.add_argument("--append", action="store_true", help="keep the existing rows of those services")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            with open(options["file"], "rb") as fh:
                data = fh.read()
        except OSError as exc:
            raise CommandError(f"cannot read {options['file']}: {exc}") from exc
        try:
            result = rate_cards_import(lines=decode_upload(data), replace=not options["append"])
        except RateImportError as exc:
            for error in exc.errors:
                self.stderr.write(error)
            raise CommandError(f"{len(exc.errors)} errors: nothing imported") from exc
        self.stdout.write(
            f"imported {result.created} rate rows for {', '.join(result.services)} "
            f"({result.replaced} previous rows replaced)"
        )
