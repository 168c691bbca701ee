"""`manage.py routing_replay`: the kit's scenario in, a plan the kit's referee accepts out."""

from __future__ import annotations

import json
from io import StringIO
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import CommandError, call_command

KIT = Path(settings.BASE_DIR).parent / "shared" / "routing-bench"
TINY = KIT / "instances" / "tiny.json"

needs_kit = pytest.mark.skipif(not TINY.exists(), reason="the routing kit is not beside the repository")


@needs_kit
def test_replay_writes_a_plan_the_referee_accepts(tmp_path, db):
    out = tmp_path / "plan.json"
    stdout = StringIO()
    call_command("routing_replay", str(TINY), "--out", str(out), "--score", stdout=stdout)
    plan = json.loads(out.read_text())
    scenario = json.loads(TINY.read_text())
    assert plan["format"] == "oms-routing-plan/1"
    assert {entry["order"] for entry in plan["orders"]} == {o["id"] for o in scenario["orders"]}
    lines = stdout.getvalue().splitlines()
    figures = json.loads(lines[0])
    referee = json.loads(lines[-1])
    assert figures["orders"] == len(scenario["orders"])
    assert referee["total_cost"] == pytest.approx(figures["total_cost"], abs=0.01)


@needs_kit
def test_replay_with_an_unknown_policy_is_refused(tmp_path, db):
    with pytest.raises(CommandError, match="no routing policy named"):
        call_command("routing_replay", str(TINY), "--out", str(tmp_path / "p.json"), "--policy", "nope")


def test_replay_refuses_a_file_that_is_not_a_scenario(tmp_path, db):
    bad = tmp_path / "bad.json"
    bad.write_text('{"format": "something-else"}')
    with pytest.raises(CommandError, match="not an oms-routing-scenario"):
        call_command("routing_replay", str(bad), "--out", str(tmp_path / "p.json"))
