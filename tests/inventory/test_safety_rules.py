"""Safety stock by rule: a planner sets the safety stock of many stock rows at once (locations of theirs, some
or every product, units or days of demand, optionally at most on hand), previews it, applies it; a large rule
runs as a task with its progress. Every changed row gets its ledger row; nothing outside the planner's scope
is ever touched."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from types import SimpleNamespace

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone, translation
from guardian.shortcuts import assign_perm, remove_perm

from inventory import tasks
from inventory.exceptions import InvalidQuantity
from inventory.models import (
    MAX_QTY,
    DemandForecast,
    MovementKind,
    SafetyRunStatus,
    SafetyStockRun,
    StockLevel,
    StockMovement,
)
from inventory.services import safety as safety_service
from inventory.services import stock_set_safety_many
from inventory.services.safety import (
    InvalidSafetyRule,
    SafetyRule,
    SafetyRuleForbidden,
    safety_rule_apply,
    safety_rule_preview,
)
from oms.exceptions import NotFoundInScope
from oms.roles import Role
from tests.factories import (
    DCFactory,
    LocationFactory,
    ProductFactory,
    RegionFactory,
    StockFactory,
    UserFactory,
    shipped_daily,
)

pytestmark = pytest.mark.django_db

URL = "/inventory/safety/"


@pytest.fixture
def world(db):
    """The south-east (two stores in SP, one in RJ, a DC in SP) and a store in the south; three products
    stocked everywhere with 10 units (the shoe: 3)."""
    sudeste, sul = RegionFactory(code="sudeste", name="Sudeste"), RegionFactory(code="sul", name="Sul")
    sp1 = LocationFactory(code="LJ-SP-01", region="sudeste", state="SP")
    sp2 = LocationFactory(code="LJ-SP-02", region="sudeste", state="SP")
    rj = LocationFactory(code="LJ-RJ-01", region="sudeste", state="RJ")
    dc = DCFactory(code="CD-SP-01", region="sudeste", state="SP")
    poa = LocationFactory(code="LJ-POA-01", region="sul", state="RS")
    shirt, cap = ProductFactory(sku="CAM-0001-P"), ProductFactory(sku="BON-0001-U")
    shoe = ProductFactory(sku="TEN-0001-42", ean="7891234567895")
    for place in (sp1, sp2, rj, dc, poa):
        StockFactory(location=place, product=shirt, on_hand=10)
        StockFactory(location=place, product=cap, on_hand=10)
        StockFactory(location=place, product=shoe, on_hand=3)
    return SimpleNamespace(
        sudeste=sudeste, sul=sul, sp1=sp1, sp2=sp2, rj=rj, dc=dc, poa=poa, shirt=shirt, cap=cap, shoe=shoe,
        south_east=[sp1, sp2, rj, dc],
    )  # fmt: skip


@pytest.fixture
def planner(manager_user, world):
    """A manager of the south-east."""
    assign_perm("inventory.manage_region", manager_user, world.sudeste)
    return manager_user


def _safety(location, product) -> int:
    return StockLevel.objects.get(location=location, product=product).safety_stock


def _rule(*locations, products=None, **level) -> SafetyRule:
    return SafetyRule(
        locations=frozenset(loc.pk for loc in locations),
        products=frozenset(p.pk for p in products) if products is not None else None,
        **level,
    )


# --- the service -------------------------------------------------------------------------------------------


def test_a_fixed_level_sets_every_row_and_writes_one_ledger_row_each(world, planner):
    StockLevel.objects.filter(location=world.sp1, product=world.shirt).update(safety_stock=2)
    with translation.override("pt-br"):  # a planner working in Portuguese
        run = safety_rule_apply(by=planner, rule=_rule(*world.south_east, units=2), note="vitrine")
    assert (run.status, run.progress, run.rows, run.changed) == (SafetyRunStatus.DONE, 100, 12, 11)
    assert all(_safety(loc, p) == 2 for loc in world.south_east for p in (world.shirt, world.cap, world.shoe))
    assert _safety(world.poa, world.shirt) == 0
    moves = StockMovement.objects.filter(kind=MovementKind.SAFETY)
    assert moves.count() == 11  # the row already at 2 is skipped
    assert not moves.filter(stock__location=world.sp1, stock__product=world.shirt).exists()
    move = moves.first()
    assert (move.actor, move.ref, move.safety_after) == (planner, run.number, 2)
    assert move.reason == f"Safety stock rule {run.number}: 2 units — vitrine"  # stored in English
    assert run.reason == move.reason
    assert run.note == "vitrine"  # as typed, for the pages to show beside the rule in their reader's language


def test_days_of_demand_use_the_forecast_else_the_last_four_weeks(world, planner):
    shirt_sp1 = StockLevel.objects.get(location=world.sp1, product=world.shirt)
    DemandForecast.objects.create(stock=shirt_sp1, daily=Decimal("1.25"), updated_at=timezone.now())
    cap_sp1 = StockLevel.objects.get(location=world.sp1, product=world.cap)
    shipped_daily(cap_sp1, lambda day: 2, days=27)  # 54 units in the last 28 days: 1.93 a day
    stale = StockLevel.objects.get(location=world.sp2, product=world.shirt)  # the job stopped: not used
    DemandForecast.objects.create(
        stock=stale, daily=Decimal("9"), updated_at=timezone.now() - dt.timedelta(days=5)
    )

    preview = safety_rule_preview(user=planner, rule=_rule(world.sp1, world.sp2, days=7))
    assert (preview.rows, preview.changes) == (6, 2)
    assert [(c.location, c.sku, c.daily, c.before, c.after) for c in preview.sample] == [
        ("LJ-SP-01", "BON-0001-U", Decimal("1.93"), 0, 14),  # 13.5 rounded up
        ("LJ-SP-01", "CAM-0001-P", Decimal("1.25"), 0, 9),  # 8.75 rounded up
    ]
    assert not StockMovement.objects.filter(kind=MovementKind.SAFETY).exists()  # a preview writes nothing

    safety_rule_apply(by=planner, rule=_rule(world.sp1, world.sp2, days=7))
    levels = [_safety(world.sp1, world.shirt), _safety(world.sp1, world.cap), _safety(world.sp2, world.shirt)]
    assert levels == [9, 14, 0]


def test_a_cap_keeps_the_level_at_most_on_hand(world, planner):
    safety_rule_apply(by=planner, rule=_rule(world.sp1, units=5, cap_at_on_hand=True))
    assert (_safety(world.sp1, world.shirt), _safety(world.sp1, world.shoe)) == (5, 3)


def test_a_rule_never_lowers_a_level_set_on_purpose_unless_told_to(world, planner):
    """2 units of display on the shirt and 5 on the cap of LJ-SP-01; 7 days of their little demand (1, and 0)
    would make them sellable: by default the rule only raises levels, and the preview says what it skips."""
    shirt, cap, shoe = (
        StockLevel.objects.get(location=world.sp1, product=p) for p in (world.shirt, world.cap, world.shoe)
    )
    StockLevel.objects.filter(pk__in=[shirt.pk, cap.pk]).update(safety_stock=2)
    StockLevel.objects.filter(pk=cap.pk).update(safety_stock=5)
    DemandForecast.objects.create(stock=shirt, daily=Decimal("0.1"), updated_at=timezone.now())  # 0.7: 1
    DemandForecast.objects.create(stock=shoe, daily=Decimal("1.25"), updated_at=timezone.now())  # 8.75: 9
    rule = _rule(world.sp1, days=7)
    assert rule.only_raise  # the default

    preview = safety_rule_preview(user=planner, rule=rule)
    assert (preview.rows, preview.changes, preview.lower, preview.only_raise) == (3, 1, 2, True)
    assert [(c.sku, c.before, c.after) for c in preview.sample] == [("TEN-0001-42", 0, 9)]
    run = safety_rule_apply(by=planner, rule=rule)
    assert (run.changed, run.rule["only_raise"]) == (1, True)
    assert [_safety(world.sp1, p) for p in (world.shirt, world.cap, world.shoe)] == [2, 5, 9]

    lowering = _rule(world.sp1, days=7, only_raise=False)
    preview = safety_rule_preview(user=planner, rule=lowering)
    assert (preview.changes, preview.lower, preview.only_raise) == (2, 2, False)
    assert [(c.sku, c.before, c.after) for c in preview.sample] == [
        ("BON-0001-U", 5, 0),
        ("CAM-0001-P", 2, 1),
    ]
    safety_rule_apply(by=planner, rule=lowering)
    assert [_safety(world.sp1, p) for p in (world.shirt, world.cap, world.shoe)] == [1, 0, 9]


def test_a_cap_at_on_hand_does_not_lower_a_level_either(world, planner):
    StockLevel.objects.filter(location=world.sp1, product=world.shoe).update(safety_stock=5)  # 3 on hand
    safety_rule_apply(by=planner, rule=_rule(world.sp1, units=4, cap_at_on_hand=True))
    assert (_safety(world.sp1, world.shirt), _safety(world.sp1, world.shoe)) == (4, 5)


def test_a_rule_stored_before_only_raise_existed_still_lowers(world):
    old = {"locations": [world.sp1.pk], "products": None, "units": 1, "days": None, "cap_at_on_hand": False}
    assert SafetyRule.from_json(old).only_raise is False
    assert SafetyRule.from_json(_rule(world.sp1, units=1).as_json()).only_raise is True


def test_a_tiny_demand_is_shown_with_the_digits_that_round_its_level_up(world, planner):
    """4 units a thousand days: 7 days of it is 0.028, rounded up to 1; the preview does not say 0.00."""
    shirt = StockLevel.objects.get(location=world.sp1, product=world.shirt)
    DemandForecast.objects.create(stock=shirt, daily=Decimal("0.004"), updated_at=timezone.now())
    cap = StockLevel.objects.get(location=world.sp1, product=world.cap)
    shipped_daily(cap, lambda day: 2, days=27)  # 1.93 a day: two decimals as ever
    preview = safety_rule_preview(user=planner, rule=_rule(world.sp1, days=7))
    assert [(c.sku, c.daily, c.after) for c in preview.sample] == [
        ("BON-0001-U", Decimal("1.93"), 14),
        ("CAM-0001-P", Decimal("0.004"), 1),
    ]


def test_a_list_of_products_leaves_the_others_alone(world, planner):
    safety_rule_apply(by=planner, rule=_rule(*world.south_east, products=[world.shoe], units=1))
    assert [_safety(loc, world.shoe) for loc in world.south_east] == [1, 1, 1, 1]
    assert _safety(world.sp1, world.shirt) == 0


def test_a_location_outside_the_planners_scope_is_refused_and_nothing_is_written(world, planner):
    with pytest.raises(NotFoundInScope):
        safety_rule_apply(by=planner, rule=_rule(world.sp1, world.poa, units=4))
    with pytest.raises(NotFoundInScope):
        safety_rule_preview(user=planner, rule=_rule(world.poa, units=4))
    assert not StockMovement.objects.filter(kind=MovementKind.SAFETY).exists()
    assert not SafetyStockRun.objects.exists()


@pytest.mark.parametrize("role", [Role.STORE_STAFF, Role.CUSTOMER_SERVICE])
def test_other_roles_may_not_apply_a_rule(world, user_by_role, role):
    user = user_by_role[role]
    assign_perm("inventory.work_at_location", user, world.sp1)
    with pytest.raises(SafetyRuleForbidden):
        safety_rule_apply(by=user, rule=_rule(world.sp1, units=4))
    assert _safety(world.sp1, world.shirt) == 0


@pytest.mark.parametrize(
    ("level", "field"),
    [({"units": -1}, "units"), ({"units": MAX_QTY + 1}, "units"), ({"days": 0}, "days"), ({}, "level")],
)
def test_a_bad_level_names_its_field(world, level, field):
    with pytest.raises(InvalidSafetyRule) as caught:
        _rule(world.sp1, **level)
    assert caught.value.field == field


def test_a_rule_that_matches_no_row_is_refused(world, planner):
    empty = LocationFactory(code="LJ-SP-09", region="sudeste")
    with pytest.raises(InvalidSafetyRule):
        safety_rule_apply(by=planner, rule=_rule(empty, units=1))
    assert not SafetyStockRun.objects.exists()


def test_the_bulk_write_keeps_the_per_row_rule(world):
    """stock_set_safety_many refuses a level out of range as stock_set_safety does: nothing is written."""
    ids = list(StockLevel.objects.filter(location=world.sp1).values_list("pk", flat=True))
    with pytest.raises(InvalidQuantity) as caught:
        stock_set_safety_many(
            stock_ids=ids, level=lambda row: -1 if row.product_id == world.shoe.pk else 2, reason="x"
        )
    assert caught.value.field == "safety_stock"
    assert not StockLevel.objects.filter(safety_stock__gt=0).exists()
    assert not StockMovement.objects.filter(kind=MovementKind.SAFETY).exists()


def test_applying_costs_the_same_queries_for_ten_rows_or_a_hundred(world, planner, admin_user):
    def queries(locations) -> int:
        StockLevel.objects.update(safety_stock=0)
        with CaptureQueriesContext(connection) as captured:
            safety_rule_apply(by=admin_user, rule=_rule(*locations, units=3))
        return len(captured)

    queries([world.dc])  # the admin's roles and permissions read once
    few = queries([world.sp1, world.sp2])  # 6 rows
    many_places = [LocationFactory(code=f"LJ-MG-{n:02d}", region="sudeste") for n in range(30)]
    for place in many_places:
        for product in (world.shirt, world.cap, world.shoe):
            StockFactory(location=place, product=product, on_hand=4)
    assert queries(many_places) == few  # 90 rows
    assert StockMovement.objects.filter(kind=MovementKind.SAFETY).count() == 3 + 6 + 90


# --- the task ----------------------------------------------------------------------------------------------


@pytest.fixture
def small_chunks(monkeypatch):
    """A rule of more than 3 rows runs as the task, 4 rows per transaction."""
    monkeypatch.setattr(safety_service, "INLINE_MAX", 3)
    monkeypatch.setattr(safety_service, "CHUNK", 4)


def test_a_large_rule_is_queued_then_applied_by_the_task_with_its_progress(
    world, planner, small_chunks, monkeypatch, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=False) as queued:
        run = safety_rule_apply(by=planner, rule=_rule(*world.south_east, units=1))
    assert (run.status, run.progress, run.rows) == (SafetyRunStatus.QUEUED, 0, 12)
    assert len(queued) == 1 and _safety(world.sp1, world.shirt) == 0  # nothing applied yet

    seen = []  # the run's progress as each chunk of rows starts
    write = safety_service.stock_set_safety_many

    def spy(**kwargs):
        seen.append(SafetyStockRun.objects.get(pk=run.pk).progress)
        return write(**kwargs)

    monkeypatch.setattr(safety_service, "stock_set_safety_many", spy)
    assert tasks.apply_safety_stock.apply(args=(run.pk,)).get() == SafetyRunStatus.DONE
    assert seen == [0, 33, 66]  # 12 rows, 4 a chunk; 100 once done
    run.refresh_from_db()
    assert (run.status, run.progress, run.changed) == (SafetyRunStatus.DONE, 100, 12)
    assert run.started_at is not None and run.finished_at is not None
    assert all(_safety(loc, world.cap) == 1 for loc in world.south_east)
    assert StockMovement.objects.filter(kind=MovementKind.SAFETY, ref=run.number).count() == 12


def test_the_task_is_idempotent_and_a_run_left_running_resumes(world, planner, small_chunks):
    run = safety_rule_apply(by=planner, rule=_rule(*world.south_east, units=1))
    StockLevel.objects.filter(location=world.sp1).update(safety_stock=1)  # as if a worker died midway
    SafetyStockRun.objects.filter(pk=run.pk).update(status=SafetyRunStatus.RUNNING, changed=3, progress=25)
    assert tasks.apply_safety_stock.apply(args=(run.pk,)).get() == SafetyRunStatus.DONE
    run.refresh_from_db()
    assert run.changed == 3 + 9  # the rows of LJ-SP-01 were set already
    assert StockMovement.objects.filter(kind=MovementKind.SAFETY).count() == 9
    assert tasks.apply_safety_stock.apply(args=(run.pk,)).get() == SafetyRunStatus.DONE  # done: left alone
    assert StockMovement.objects.filter(kind=MovementKind.SAFETY).count() == 9
    assert tasks.apply_safety_stock.apply(args=(999999,)).get() is None


def test_the_task_only_raises_levels_too(world, planner, small_chunks):
    StockLevel.objects.filter(location=world.sp1, product=world.shirt).update(safety_stock=3)
    run = safety_rule_apply(by=planner, rule=_rule(*world.south_east, units=1))
    assert run.status == SafetyRunStatus.QUEUED
    assert tasks.apply_safety_stock.apply(args=(run.pk,)).get() == SafetyRunStatus.DONE
    run.refresh_from_db()
    assert run.changed == 11 and _safety(world.sp1, world.shirt) == 3


def test_the_task_keeps_to_the_planners_scope_of_the_moment(world, planner, small_chunks):
    assign_perm("inventory.work_at_location", planner, world.poa)
    run = safety_rule_apply(by=planner, rule=_rule(world.sp1, world.poa, units=2))
    remove_perm("inventory.work_at_location", planner, world.poa)
    planner = type(planner).objects.get(pk=planner.pk)  # no cached permissions
    assert tasks.apply_safety_stock.apply(args=(run.pk,)).get() == SafetyRunStatus.DONE
    assert (_safety(world.sp1, world.shirt), _safety(world.poa, world.shirt)) == (2, 0)


def test_a_run_whose_planner_is_gone_fails_with_a_message(world, planner, small_chunks):
    run = safety_rule_apply(by=planner, rule=_rule(*world.south_east, units=1))
    planner.delete()
    assert tasks.apply_safety_stock.apply(args=(run.pk,)).get() == SafetyRunStatus.FAILED
    run.refresh_from_db()
    assert run.error and run.finished_at is not None
    assert not StockMovement.objects.filter(kind=MovementKind.SAFETY).exists()


@pytest.mark.django_db(transaction=True)
def test_the_worker_applies_a_large_rule(needs_worker):
    from oms.roles import setup_roles
    from tests.worker import wait_for

    setup_roles()
    admin = UserFactory(username="admin-worker", is_superuser=True)
    places = [LocationFactory(code=f"LJ-W-{n:03d}") for n in range(110)]
    products = [ProductFactory(sku=f"W-{n}") for n in range(3)]
    StockLevel.objects.bulk_create(
        [StockLevel(location=p, product=q, on_hand=5) for p in places for q in products]
    )
    with transaction.atomic():
        run = safety_rule_apply(by=admin, rule=_rule(*places, units=2))
    assert run.status == SafetyRunStatus.QUEUED  # 330 rows: more than the request applies
    assert wait_for(lambda: SafetyStockRun.objects.get(pk=run.pk).finished)
    run.refresh_from_db()
    assert (run.status, run.progress, run.changed) == (SafetyRunStatus.DONE, 100, 330), run.error
    assert StockMovement.objects.filter(kind=MovementKind.SAFETY, ref=run.number).count() == 330


# --- the page ----------------------------------------------------------------------------------------------


def _form(**values):
    data = {"where": "all", "what": "all", "level": "units", "units": "4", "only_raise": "on", "note": ""}
    data.update(values)
    return data


def test_a_planner_sees_the_form_with_only_their_locations(
    client, planner, world, django_assert_max_num_queries
):
    client.force_login(planner)
    with django_assert_max_num_queries(12):
        page = client.get(URL)
    assert page.status_code == 200
    html = page.content.decode()
    assert 'value="LJ-SP-01"' in html and 'value="CD-SP-01"' in html
    assert "LJ-POA-01" not in html and 'value="sul"' not in html and 'value="RS"' not in html
    assert 'value="sudeste"' in html and 'value="RJ"' in html
    stock = client.get(reverse("inventory:stock")).content.decode()
    assert 'data-testid="safety-rule-link"' in stock


def test_preview_then_apply(client, planner, world, django_assert_max_num_queries):
    client.force_login(planner)
    StockLevel.objects.filter(location=world.sp1, product=world.shirt).update(safety_stock=4)
    data = _form(where="state", state="SP", what="list", skus="CAM-0001-P\n7891234567895")
    with django_assert_max_num_queries(13):
        preview = client.post(URL, {**data, "action": "preview"})
    assert preview.status_code == 200
    p = preview.context["preview"]
    assert (p.rows, p.changes) == (6, 5)  # shirts and shoes at LJ-SP-01, LJ-SP-02, CD-SP-01, one set already
    html = preview.content.decode()
    assert 'data-testid="safety-apply-button"' in html and 'data-row="CD-SP-01/TEN-0001-42"' in html
    assert not StockMovement.objects.filter(kind=MovementKind.SAFETY).exists()

    hidden = dict(preview.context["apply_fields"])
    assert hidden["state"] == "SP" and hidden["skus"] == "CAM-0001-P\nTEN-0001-42"
    applied = client.post(URL, {**hidden, "action": "apply"})
    run = SafetyStockRun.objects.get()
    assert applied.status_code == 302 and applied["Location"] == reverse(
        "inventory:safety-run", args=[run.pk]
    )
    assert (run.status, run.changed) == (SafetyRunStatus.DONE, 5)
    assert _safety(world.sp2, world.shoe) == 4 and _safety(world.rj, world.shoe) == 0
    assert _safety(world.sp2, world.cap) == 0
    done = client.get(applied["Location"])
    assert 'data-status="done"' in done.content.decode()


def test_htmx_gets_the_preview_and_its_errors_as_fragments(client, planner, world):
    client.force_login(planner)
    ok = client.post(URL, {**_form(), "action": "preview"}, headers={"HX-Request": "true"})
    assert ok.status_code == 200 and "<html" not in ok.content.decode()
    assert 'data-testid="safety-preview"' in ok.content.decode()
    bad = client.post(URL, {**_form(units=""), "action": "preview"}, headers={"HX-Request": "true"})
    assert bad.status_code == 200 and 'data-testid="error-units"' in bad.content.decode()
    applied = client.post(URL, {**_form(), "action": "apply"}, headers={"HX-Request": "true"})
    assert applied["HX-Redirect"] == reverse("inventory:safety-run", args=[SafetyStockRun.objects.get().pk])


def test_a_file_of_skus_is_read_and_unknown_skus_are_named(client, planner, world):
    client.force_login(planner)
    upload = SimpleUploadedFile("skus.csv", "sku;qty\nBON-0001-U;3\n".encode("utf-8-sig"), "text/csv")
    response = client.post(URL, {**_form(what="list", skus_file=upload), "action": "preview"})
    assert response.status_code == 200 and response.context["preview"].rows == 4
    assert dict(response.context["apply_fields"])["skus"] == "BON-0001-U"

    unknown = client.post(URL, {**_form(what="list", skus="CAM-0001-P NAO-EXISTE XYZ-1"), "action": "apply"})
    assert unknown.status_code == 400
    error = unknown.context["form"].errors["skus"][0]
    assert "NAO-EXISTE" in error and "XYZ-1" in error and "CAM-0001-P" not in error
    upload = SimpleUploadedFile("skus.txt", b"FANTASMA-1\n", "text/plain")
    in_file = client.post(URL, {**_form(what="list", skus_file=upload), "action": "apply"})
    assert in_file.status_code == 400 and "FANTASMA-1" in in_file.context["form"].errors["skus_file"][0]
    assert not SafetyStockRun.objects.exists()


@pytest.mark.parametrize(
    ("values", "field"),
    [
        ({"where": "chosen", "locations": ["LJ-SP-01", "LJ-POA-01"]}, "locations"),  # a probe elsewhere
        ({"where": "region", "region": "sul"}, "region"),
        ({"where": "state", "state": "RS"}, "state"),
        ({"where": "kind", "kind": "dark_store"}, "kind"),  # none of mine is one
        ({"where": "kind"}, "kind"),
        ({"where": "all", "kind": "dc"}, "where"),  # a kind chosen, "all" still ticked
        ({"what": "list", "skus": ""}, "skus"),
        ({"what": "all", "skus": "CAM-0001-P"}, "what"),
        ({"units": "-1"}, "units"),
        ({"units": "muitos"}, "units"),
        ({"level": "days", "days": "0"}, "days"),
        ({"level": "days", "days": ""}, "days"),
        ({"level": "semanas"}, "level"),
    ],
)
def test_bad_input_names_the_field_and_writes_nothing(client, planner, world, values, field):
    client.force_login(planner)
    for action in ("preview", "apply"):
        response = client.post(URL, {**_form(**values), "action": action})
        assert response.status_code == 400
        assert field in response.context["form"].errors, response.context["form"].errors
    assert not SafetyStockRun.objects.exists()
    assert not StockLevel.objects.filter(safety_stock__gt=0).exists()


def test_an_admin_plans_every_location(client, admin_user, world):
    client.force_login(admin_user)
    response = client.post(URL, {**_form(where="region", region="sul"), "action": "apply"})
    assert response.status_code == 302
    assert _safety(world.poa, world.shoe) == 4 and _safety(world.sp1, world.shoe) == 0


def test_a_store_manager_applies_only_at_their_store(client, manager_user, world):
    assign_perm("inventory.work_at_location", manager_user, world.sp2)
    client.force_login(manager_user)
    assert client.post(URL, {**_form(), "action": "apply"}).status_code == 302
    assert StockLevel.objects.filter(safety_stock=4).count() == 3
    assert _safety(world.sp2, world.shirt) == 4 and _safety(world.sp1, world.shirt) == 0


@pytest.mark.parametrize("role", [Role.STORE_STAFF, Role.WAREHOUSE_STAFF, Role.CUSTOMER_SERVICE])
def test_floor_staff_and_customer_service_get_403(client, user_by_role, world, role):
    user = user_by_role[role]
    assign_perm("inventory.work_at_location", user, world.sp1)
    client.force_login(user)
    assert client.get(URL).status_code == 403
    assert client.post(URL, {**_form(), "action": "apply"}).status_code == 403
    assert 'data-testid="safety-rule-link"' not in client.get(reverse("inventory:stock")).content.decode()
    assert not StockLevel.objects.filter(safety_stock__gt=0).exists()


def test_anonymous_users_are_sent_to_log_in(client, world):
    response = client.get(URL)
    assert response.status_code == 302 and response["Location"].startswith(reverse("login"))


def test_a_run_is_seen_by_its_planner_and_admins_only(
    client, planner, admin_user, world, roles, django_assert_max_num_queries
):
    run = safety_rule_apply(by=planner, rule=_rule(world.sp1, units=1))
    url = reverse("inventory:safety-run", args=[run.pk])
    other = UserFactory(username="manager2")
    other.groups.add(*planner.groups.all())
    assign_perm("inventory.manage_region", other, world.sudeste)
    client.force_login(other)
    assert client.get(url).status_code == 404
    client.force_login(admin_user)
    assert client.get(url).status_code == 200
    client.force_login(planner)
    with django_assert_max_num_queries(8):
        page = client.get(url)
    html = page.content.decode()
    assert 'data-status="done"' in html and run.number in html
    assert f'data-run="{run.pk}"' in client.get(URL).content.decode()  # listed on the rule page


def test_a_running_run_polls_with_its_progress(client, planner, world, small_chunks):
    run = safety_rule_apply(by=planner, rule=_rule(*world.south_east, units=1))
    SafetyStockRun.objects.filter(pk=run.pk).update(status=SafetyRunStatus.RUNNING, progress=40)
    client.force_login(planner)
    url = reverse("inventory:safety-run", args=[run.pk])
    fragment = client.get(url, headers={"HX-Request": "true"}).content.decode()
    assert "<html" not in fragment and 'hx-trigger="every 1s"' in fragment
    assert 'value="40"' in fragment and 'data-status="running"' in fragment


def test_the_page_speaks_portuguese(client, planner, world):
    client.force_login(planner)
    html = client.get(URL).content.decode()  # pt-BR by default
    assert "Estoque de segurança por regra" in html
    response = client.post(URL, {**_form(what="list", skus="NAO-EXISTE"), "action": "preview"})
    assert "Nenhum produto com este código: NAO-EXISTE." in response.context["form"].errors["skus"][0]


def test_the_form_only_raises_by_default_and_the_preview_counts_the_levels_it_would_lower(
    client, planner, world
):
    StockLevel.objects.filter(location=world.sp1, product=world.shirt).update(safety_stock=6)
    client.force_login(planner)
    form = client.get(URL).context["form"]
    assert form["only_raise"].value() is True  # ticked as the page opens
    assert 'name="only_raise" id="id_only_raise" checked' in client.get(URL).content.decode()

    data = _form(where="chosen", locations=["LJ-SP-01"])
    kept = client.post(URL, {**data, "action": "preview"}, HTTP_ACCEPT_LANGUAGE="en")
    assert (kept.context["preview"].changes, kept.context["preview"].lower) == (2, 1)
    html = kept.content.decode()
    assert 'data-testid="safety-preview-lower" data-skipped="true"' in html
    assert "1 stock row has more safety stock than this rule gives: it is skipped" in html
    assert dict(kept.context["apply_fields"])["only_raise"] == "on"

    del data["only_raise"]  # unticked
    lowered = client.post(URL, {**data, "action": "preview"}, HTTP_ACCEPT_LANGUAGE="pt-br")
    assert (lowered.context["preview"].changes, lowered.context["preview"].lower) == (3, 1)
    assert 'data-skipped="false"' in lowered.content.decode()
    client.post(URL, {**data, "action": "apply"})
    assert SafetyStockRun.objects.get().rule["only_raise"] is False
    assert _safety(world.sp1, world.shirt) == 4


def test_a_run_shows_its_rule_in_the_readers_language_and_the_note_as_typed(client, planner, world):
    with translation.override("en"):
        run = safety_rule_apply(
            by=planner, rule=_rule(world.sp1, days=7, cap_at_on_hand=True), note="  vitrine de Natal "
        )
    assert (
        run.reason == f"Safety stock rule {run.number}: 7 days of demand, at most on hand — vitrine de Natal"
    )
    client.force_login(planner)
    url = reverse("inventory:safety-run", args=[run.pk])
    for page in (client.get(url), client.get(URL)):  # pt-BR by default
        html = page.content.decode()
        assert "7 dias de demanda, no máximo o que há em estoque" in html and "vitrine de Natal" in html
        assert "days of demand" not in html
    html = client.get(url, HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "7 days of demand, at most on hand" in html and "vitrine de Natal" in html
    assert "Only raised, never lowered" in html


def test_a_note_longer_than_the_form_allows_is_refused(world, planner):
    with pytest.raises(InvalidSafetyRule) as caught:
        safety_rule_apply(by=planner, rule=_rule(world.sp1, units=1), note="x" * 101)
    assert caught.value.field == "note" and not SafetyStockRun.objects.exists()


def test_a_planner_without_locations_is_told_so_instead_of_given_a_form(client, manager_user, world):
    """A manager tied to no store or region (a marketplace manager): no form whose previews all fail."""
    client.force_login(manager_user)
    page = client.get(URL)
    html = page.content.decode()
    assert page.status_code == 200 and 'data-testid="safety-no-locations"' in html
    assert "Você não tem locais para definir estoque de segurança" in html  # pt-BR by default
    assert 'data-testid="safety-rule-form"' not in html
    posted = client.post(URL, {**_form(), "action": "preview"}, headers={"HX-Request": "true"})
    assert 'data-testid="safety-no-locations"' in posted.content.decode()
    assert not SafetyStockRun.objects.exists()


def test_the_preview_shows_a_tiny_demand_and_why_its_level_is_1(client, planner, world):
    shirt = StockLevel.objects.get(location=world.sp1, product=world.shirt)
    DemandForecast.objects.create(stock=shirt, daily=Decimal("0.004"), updated_at=timezone.now())
    client.force_login(planner)
    data = _form(where="chosen", locations=["LJ-SP-01"], level="days", days="7")
    html = client.post(URL, {**data, "action": "preview"}).content.decode()  # pt-BR
    assert 'data-testid="safety-daily">0,004<' in html
    assert "mesmo uma demanda muito pequena dá 1" in html
