"""`manage.py routing_replay SCENARIO.json --out PLAN.json [--policy NAME]`.

Reads a scenario in the routing kit's format (`oms-routing-scenario/1`), routes its orders in arrival order
through the same engine as the live path, writes the plan (`oms-routing-plan/1`) and prints its figures.
With `--score`, the kit's referee (`score.py`, found through ROUTING_BENCH_DIR or ../shared/routing-bench)
checks the plan and its report is printed too.
"""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from routing.engine import replay
from routing.models import RoutingPolicy
from routing.services.snapshot import policy_info


def _kit_dir() -> Path:
    return Path(os.environ.get("ROUTING_BENCH_DIR", settings.BASE_DIR.parent / "shared" / "routing-bench"))


class Command(BaseCommand):
    help = "Replay a routing-kit scenario through the engine and write the plan."
    # a replay reads a file and the policies; the project's system checks (which import every URL and view,
    # 0.3-0.5 s on a slow machine) are for `manage.py check`, the test suite and the servers
    requires_system_checks: list[str] = []

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("scenario", help="scenario JSON (oms-routing-scenario/1)")
        parser.add_argument("--out", required=True, help="where to write the plan JSON")
        parser.add_argument("--policy", help="name of a routing policy to apply (kinds, packages, speed…)")
        parser.add_argument("--no-forecast", action="store_true", help="ignore the scenario's forecast")
        parser.add_argument("--score", action="store_true", help="check and score the plan with the kit")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            scenario = json.loads(Path(options["scenario"]).read_text())
        except (OSError, ValueError) as exc:
            raise CommandError(f"cannot read the scenario: {exc}") from exc
        if scenario.get("format") != "oms-routing-scenario/1":
            raise CommandError("not an oms-routing-scenario/1 document")
        policy = None
        if options["policy"]:
            try:
                row = RoutingPolicy.objects.prefetch_related("paused_locations").get(name=options["policy"])
            except RoutingPolicy.DoesNotExist:
                names = ", ".join(RoutingPolicy.objects.values_list("name", flat=True)) or "none"
                raise CommandError(
                    f"no routing policy named {options['policy']!r} (there are: {names})"
                ) from None
            # Paused locations are the database's codes; a scenario has its own network, so they don't apply.
            policy = dataclasses.replace(policy_info(row).engine, paused_locations=frozenset())
        plan, stats = replay(scenario, policy, opportunity=not options["no_forecast"])
        Path(options["out"]).write_text(json.dumps(plan))
        figures = stats.as_dict()
        self.stdout.write(json.dumps({"scenario": scenario.get("name"), **figures}))
        self.stdout.write(
            f"{figures['orders']} orders routed in {figures['elapsed_s']} s; "
            f"total cost R$ {figures['total_cost']:,.2f}; decision p50 {figures['latency_p50_ms']} ms, "
            f"p99 {figures['latency_p99_ms']} ms; plan → {options['out']}"
        )
        if options["score"]:
            referee = _kit_dir() / "score.py"
            if not referee.exists():
                raise CommandError(f"the kit's referee is not at {referee} (set ROUTING_BENCH_DIR)")
            result = subprocess.run(
                [sys.executable, str(referee), options["scenario"], options["out"]],
                capture_output=True, text=True, timeout=600,
            )  # fmt: skip
            self.stdout.write(result.stdout.strip())
            if result.returncode != 0:
                raise CommandError(f"the referee refused the plan:\n{result.stdout}{result.stderr}")
