"""The audit log records each kind of event: order action, stock change, permission grant and removal,
configuration change, denied probe, sign-in lock-out."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from access import services
from inventory.models import StockMovement
from inventory.services import stock_set_count
from oms.models import AuditEvent
from orders.services import order_cancel
from routing.models import RoutingPolicy
from routing.services.policies import policy_update
from tests.access.world import build_world
from tests.factories import LocationFactory, ProductFactory, StockFactory

pytestmark = pytest.mark.django_db


def test_order_action_is_audited(cs_user):
    order = build_world().order_a
    order_cancel(order=order, by=cs_user, reason="customer asked")
    event = AuditEvent.objects.get(action="order.cancel")
    assert event.actor == cs_user
    assert (event.object_type, event.object_id) == ("orders.order", str(order.pk))
    assert event.summary == "customer asked" and event.after == {"status": "cancelled"}


def test_stock_change_is_recorded_in_the_ledger(store_user):
    # The stock ledger is the audit record of stock: who, when, what, before (derivable) and after.
    stock = StockFactory(location=LocationFactory(code="LJ-X"), product=ProductFactory(), on_hand=10)
    stock_set_count(
        location=stock.location, product=stock.product, on_hand=7, reason="cycle count", by=store_user
    )
    movement = StockMovement.objects.get(stock=stock)
    assert movement.actor == store_user
    assert (movement.on_hand_delta, movement.on_hand_after) == (-3, 7)
    assert movement.reason == "cycle count"
    assert movement.at is not None


def test_permission_grant_and_removal_are_audited(admin_user, store_user):
    store = LocationFactory(code="LJ-G")
    services.scope_grant(user=store_user, obj=store, by=admin_user)
    services.user_set_roles(user=store_user, roles=["manager"], by=admin_user)
    services.scope_revoke(user=store_user, obj=store, by=admin_user)
    events = list(AuditEvent.objects.order_by("id").values_list("action", "actor", "object_id"))
    assert events == [
        ("scope.grant", admin_user.pk, str(store_user.pk)),
        ("user.set_roles", admin_user.pk, str(store_user.pk)),
        ("scope.revoke", admin_user.pk, str(store_user.pk)),
    ]


def test_configuration_change_is_audited(admin_user):
    policy, _created = RoutingPolicy.objects.get_or_create(channel=None, defaults={"name": "Padrão"})
    was = policy.ship_from_store
    policy_update(policy=policy, changes={"ship_from_store": not was}, by=admin_user)
    event = AuditEvent.objects.get(action="routing.policy_update")
    assert event.actor == admin_user
    assert (event.object_type, event.object_id) == ("routing.routingpolicy", str(policy.pk))
    assert event.before == {"ship_from_store": was} and event.after == {"ship_from_store": not was}


def test_denied_probe_is_audited(store_user):
    client = Client()
    client.force_login(store_user)
    assert client.get(reverse("access:user", args=[123456])).status_code == 403
    # store staff are refused the page itself (403, not a probe); an admin probing a missing user is a 404:
    assert not AuditEvent.objects.filter(action="access.denied_probe").exists()


def test_denied_probe_of_a_missing_object_is_audited(admin_user):
    client = Client()
    client.force_login(admin_user)
    assert client.get(reverse("access:user", args=[123456])).status_code == 404
    event = AuditEvent.objects.get(action="access.denied_probe")
    assert event.actor == admin_user and event.after["kwargs"] == {"pk": "123456"}


def test_sign_in_lock_out_is_audited(cs_user):
    client = Client()
    for _ in range(5):
        client.post(reverse("login"), {"username": cs_user.username, "password": "wrong-password"})
    response = client.post(
        reverse("login"), {"username": cs_user.username, "password": "correct-horse-battery"}
    )
    assert response.status_code == 429
    event = AuditEvent.objects.filter(action="access.locked_out").first()
    assert event is not None
    assert event.after["username"] == cs_user.username and event.object_id == str(cs_user.pk)
