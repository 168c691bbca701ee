"""Migration 0017_return_entries: the money of returns settled before the entries existed (0016's
`refund_amount`, `refunded_at`, `refunded_by`, `refund_reference` and the closed status) becomes
`ReturnEntry` rows and the statuses of what is due now (`orders.services.returns.money`). The returns are
built with the models of 0016, read with those of 0017, and read again after migrating back to 0016
(django-test-migrations' Migrator)."""

from __future__ import annotations

import datetime as dt
import itertools
from decimal import Decimal
from types import SimpleNamespace
from typing import Any

import pytest
from django.conf import settings
from django.core.management import call_command
from django.db import connection

# the tests read what the shared run saw; the marker is what makes pytest-django set up the test database at
# all (it sets up only the databases its collected tests ask for), so the migrator never touches another one
pytestmark = pytest.mark.django_db

OLD = ("orders", "0016_return_closed")
NEW = ("orders", "0017_return_entries")
REFUNDED_AT = dt.datetime(2026, 3, 10, 14, 30, tzinfo=dt.UTC)


def _world(apps: Any) -> SimpleNamespace:
    """At 0016: a web channel, a customer, a store, a product and the customer-service user who refunded."""
    return SimpleNamespace(
        apps=apps,
        channel=apps.get_model("orders", "Channel").objects.create(code="web", name="Web", kind="web"),
        customer=apps.get_model("orders", "Customer").objects.create(
            name="Ana Souza", email="ana@example.com"
        ),
        location=apps.get_model("inventory", "Location").objects.create(
            code="LJ-SP-01",
            name="Loja Paulista",
            kind="store",
            city="São Paulo",
            state="SP",
            cep="01310200",
            lat=-23.5614,
            lon=-46.6559,
        ),
        product=apps.get_model("inventory", "Product").objects.create(
            sku="CAM-0001-P", name="Camiseta", price=Decimal("100.00")
        ),
        user=apps.get_model(*settings.AUTH_USER_MODEL.split(".")).objects.create(username="cs1"),
        numbers=itertools.count(1),
    )


def _order(
    old: Any,
    *,
    unit_price: str,
    qty: int,
    status: str = "delivered",
    shipping: str = "0.00",
    pickup: bool = False,
) -> Any:
    """An order of `qty` units of the product at `unit_price`, its total with `shipping`: sent home, or
    `pickup` at the store."""
    n = next(old.numbers)
    subtotal = Decimal(unit_price) * qty
    order = old.apps.get_model("orders", "Order").objects.create(
        number=f"OMS-{n:06d}",
        channel=old.channel,
        external_ref=f"WEB-{n:05d}",
        customer=old.customer,
        customer_name=old.customer.name,
        status=status,
        placed_at=REFUNDED_AT - dt.timedelta(days=20),
        delivery_mode="pickup" if pickup else "home",
        pickup_location=old.location if pickup else None,
        deadline_days=3,
        ship_city="São Paulo",
        ship_state="SP",
        ship_cep="01310200",
        subtotal=subtotal,
        shipping_price=Decimal(shipping),
        total=subtotal + Decimal(shipping),
    )
    old.apps.get_model("orders", "OrderLine").objects.create(
        order=order,
        line_no=1,
        product=old.product,
        sku=old.product.sku,
        qty=qty,
        unit_price=Decimal(unit_price),
        status="cancelled" if status == "cancelled" else "delivered",
    )
    return order


def _return(old: Any, *, unit_price: str, received: int, status: str, **fields: Any) -> Any:
    """A return of `received` units (all of them back) of an order bought at `unit_price` a unit."""
    order = _order(old, unit_price=unit_price, qty=received, shipping=fields.pop("shipping", "0.00"))
    ret = old.apps.get_model("orders", "Return").objects.create(
        number=f"{order.number}-D1",
        order=order,
        location=old.location,
        status=status,
        reason="wrong_size",
        received_at=REFUNDED_AT - dt.timedelta(days=2),
        received_by=old.user,
        **fields,
    )
    old.apps.get_model("orders", "ReturnLine").objects.create(
        ret=ret, order_line=order.lines.get(), qty=received, qty_received=received, qty_restocked=received
    )
    return ret


def _exchange(
    old: Any, *, unit_price: str, status: str = "delivered", pickup: bool = False
) -> dict[str, Any]:
    """A return's fields for an exchange order of one unit at `unit_price`."""
    order = _order(old, unit_price=unit_price, qty=1, status=status, pickup=pickup)
    return {"exchange_order": order, "exchange_lines": [{"sku": old.product.sku, "qty": 1}]}


def _cancel(old: Any, order: Any, *, at: dt.datetime, kind: str) -> None:
    """Cancel the order at `at` as the services record it: order_cancel writes a "cancelled" event; an
    expired pickup writes "pickup_expired", and the order, all its lines cancelled, a "status" move."""
    Event = old.apps.get_model("orders", "OrderEvent")
    order.status = "cancelled"
    order.save(update_fields=["status"])
    order.lines.update(status="cancelled")
    if kind == "cancelled":
        events = [("cancelled", {"from": "allocated", "to": "cancelled"})]
    else:
        events = [("pickup_expired", {}), ("status", {"from": "ready_for_pickup", "to": "cancelled"})]
    for event_kind, data in events:
        event = Event.objects.create(order=order, kind=event_kind, message=event_kind, data=data)
        Event.objects.filter(pk=event.pk).update(at=at)  # `at` is auto_now_add


def _refunded_for_exchange(old: Any, *, refunded: str, cancelled: int, kind: str) -> Any:
    """A return of 2 units of 100.00 for an exchange order of 120.00, `refunded` on REFUNDED_AT, its
    exchange order cancelled (`kind` as in `_cancel`) a day after (+1) or before (-1) the refund."""
    ret = _return(
        old,
        unit_price="100.00",
        received=2,
        status="refunded",
        refund_amount=Decimal(refunded),
        refunded_at=REFUNDED_AT,
        refunded_by=old.user,
        **_exchange(old, unit_price="120.00", pickup=kind == "pickup_expired"),
    )
    _cancel(old, ret.exchange_order, at=REFUNDED_AT + dt.timedelta(days=cancelled), kind=kind)
    return ret


def _entries(apps: Any, ret: Any) -> list[tuple[str, Decimal, str, dt.datetime, int | None]]:
    entries = apps.get_model("orders", "ReturnEntry").objects.filter(ret_id=ret.pk).order_by("id")
    return list(entries.values_list("kind", "amount", "reference", "created_at", "created_by_id"))


def _status(apps: Any, ret: Any) -> str:
    return apps.get_model("orders", "Return").objects.get(pk=ret.pk).status


def _empty_then_latest(migrator: Any) -> None:
    """Bring the database back to the latest migration for the rest of the suite, without the rows: a 0017
    that failed on them would otherwise fail again there and leave the schema at 0016."""
    call_command("flush", interactive=False, verbosity=0, inhibit_post_migrate=True)
    migrator.reset()


@pytest.fixture(scope="module")
def run(django_db_setup: None, django_db_blocker: Any, django_db_use_migrations: bool) -> SimpleNamespace:
    """One migration run shared by the tests below (a run of the migrator takes some 10 s, most of it
    Django rendering model states): the returns are made at 0016, read at 0017, read again after migrating
    back to 0016, and the database is left at the latest migration, empty."""
    from django_test_migrations.migrator import Migrator

    if not django_db_use_migrations:
        pytest.skip("--nomigrations was given")
    with django_db_blocker.unblock():
        # it flushes what it migrates: only ever the test database
        name, test_name = connection.settings_dict["NAME"], connection.settings_dict["TEST"].get("NAME")
        assert name == test_name if test_name else name.startswith("test_"), f"{name} is not a test database"
        migrator = Migrator()
        try:
            old = _world(migrator.apply_initial_migration(OLD).apps)
            rets = SimpleNamespace(
                # 2 units of 100.00 back (200.00 due), 150.00 refunded: 50.00 kept (a restocking fee)
                partial=_return(
                    old,
                    unit_price="100.00",
                    received=2,
                    status="refunded",
                    refund_amount=Decimal("150.00"),
                    refund_reference="PAY-1",
                    refunded_at=REFUNDED_AT,
                    refunded_by=old.user,
                ),
                # 1 unit of 80.00 and the order's 15.00 shipping back, all 95.00 refunded
                full=_return(
                    old,
                    unit_price="80.00",
                    received=1,
                    status="refunded",
                    shipping="15.00",
                    shipping_refund=Decimal("15.00"),
                    refund_amount=Decimal("95.00"),
                    refund_reference="PAY-2",
                    refunded_at=REFUNDED_AT,
                    refunded_by=old.user,
                ),
                # closed, 1 unit of 100.00 back: for an exchange of 130.00 (the customer owes 30.00), of
                # 100.00 (settled), and of 100.00 cancelled since (100.00 due to the customer)
                dearer=_return(
                    old,
                    unit_price="100.00",
                    received=1,
                    status="closed",
                    **_exchange(old, unit_price="130.00"),
                ),
                even=_return(
                    old,
                    unit_price="100.00",
                    received=1,
                    status="closed",
                    **_exchange(old, unit_price="100.00"),
                ),
                gone=_return(
                    old,
                    unit_price="100.00",
                    received=1,
                    status="closed",
                    **_exchange(old, unit_price="100.00", status="cancelled"),
                ),
                # 2 units of 100.00 back (200.00) for an exchange order of 120.00, refunded, then cancelled
                # after the refund (by CS; by an uncollected pickup's expiry): 80.00 (200.00 less the
                # exchange then) was refunded and the exchange's 120.00 is due since; or cancelled before
                # the refund, which refunded all 200.00
                after=_refunded_for_exchange(old, refunded="80.00", cancelled=+1, kind="cancelled"),
                expired=_refunded_for_exchange(old, refunded="80.00", cancelled=+1, kind="pickup_expired"),
                before=_refunded_for_exchange(old, refunded="200.00", cancelled=-1, kind="cancelled"),
            )
            apps = migrator.apply_tested_migration(NEW).apps
            forward = {name: (_status(apps, r), _entries(apps, r)) for name, r in vars(rets).items()}
            state = migrator.apply_tested_migration(OLD)
            Return = state.apps.get_model("orders", "Return")
            back = {
                name: Return.objects.values("status", "refund_amount", "refund_reference", "refunded_at").get(
                    pk=r.pk
                )
                for name, r in vars(rets).items()
            }
            back_models, back_tables = set(state.models), connection.introspection.table_names()
        finally:
            _empty_then_latest(migrator)
    return SimpleNamespace(
        user=old.user.pk, forward=forward, back=back, back_models=back_models, back_tables=back_tables
    )


def test_a_partial_refund_becomes_a_refund_and_what_was_kept(run):
    assert run.forward["partial"] == (
        "refunded",
        [
            ("refund", Decimal("150.00"), "PAY-1", REFUNDED_AT, run.user),
            ("kept", Decimal("50.00"), "", REFUNDED_AT, run.user),
        ],
    )


def test_a_full_refund_becomes_one_refund_entry(run):
    assert run.forward["full"] == ("refunded", [("refund", Decimal("95.00"), "PAY-2", REFUNDED_AT, run.user)])


def test_an_exchange_cancelled_after_the_refund_leaves_its_value_due(run):
    # due now: 200.00 (the exchange no longer counts) less the 80.00 refunded = the exchange's 120.00
    refunded = [("refund", Decimal("80.00"), "", REFUNDED_AT, run.user)]
    assert run.forward["after"] == ("received", refunded)
    # the expiry writes no "cancelled" event: the order's move to cancelled (a "status" event) dates it
    assert run.forward["expired"] == ("received", refunded)
    # cancelled before the refund: the refund counted it, nothing is due
    assert run.forward["before"] == ("refunded", [("refund", Decimal("200.00"), "", REFUNDED_AT, run.user)])


def test_closed_returns_are_restated_by_what_is_due(run):
    # nothing was paid on a closed return: what is due is its balance, with no entry
    assert run.forward["dearer"] == ("owed", [])  # the customer owes the exchange's 30.00 more
    assert run.forward["even"] == ("closed", [])
    assert run.forward["gone"] == ("received", [])  # its 100.00 is to refund


def test_the_reverse_migration_restores_the_statuses_and_drops_the_entries(run):
    assert ("orders", "returnentry") not in run.back_models
    assert "orders_returnentry" not in run.back_tables
    assert run.back["dearer"]["status"] == run.back["even"]["status"] == "closed"
    # refunded before, received (its exchange's value due again) after: refunded again, as it was
    assert run.back["after"]["status"] == run.back["expired"]["status"] == "refunded"
    assert run.back["partial"] == {
        "status": "refunded",
        "refund_amount": Decimal("150.00"),
        "refund_reference": "PAY-1",
        "refunded_at": REFUNDED_AT,
    }
