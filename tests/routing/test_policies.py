"""Routing policies: versioned changes (who, when, what) with audit rows, by the service and the admin."""

from __future__ import annotations

from decimal import Decimal

import pytest

from oms.models import AuditEvent
from routing.models import RoutingPolicy, RoutingPolicyVersion
from routing.services.policies import PolicyInvalid, policy_create, policy_update
from routing.services.snapshot import static_network
from tests.factories import ChannelFactory

pytestmark = pytest.mark.django_db


def test_create_and_update_write_versions_and_audit_rows(routing_world, admin_user):
    w = routing_world
    marketplace = ChannelFactory(code="mercado-livre", name="Mercado Livre", kind="marketplace")
    policy = policy_create(by=admin_user, name="Marketplace", channel=marketplace, allowed_kinds=["dc"])
    assert policy.version == 1
    assert RoutingPolicyVersion.objects.get(policy=policy, number=1).values["allowed_kinds"] == ["dc"]

    policy = policy_update(
        policy=policy,
        changes={"max_packages": 1, "paused_locations": [w.dc], "speed_value": Decimal("3.50")},
        by=admin_user,
    )
    assert policy.version == 2
    v2 = RoutingPolicyVersion.objects.get(policy=policy, number=2)
    assert v2.created_by == admin_user
    assert v2.changes == {
        "max_packages": [None, 1],
        "paused_locations": [[], ["CD-SP-CAJAMAR"]],
        "speed_value": ["0.00", "3.50"],
    }
    audit = AuditEvent.objects.filter(action="routing.policy_update", object_id=str(policy.pk)).get()
    assert audit.actor == admin_user and audit.after["max_packages"] == 1
    # the engine sees the new policy at once (the snapshot's version token changed)
    info = static_network().policy_for(marketplace.pk)
    assert info.version == 2 and info.paused == {"CD-SP-CAJAMAR"} and info.engine.max_packages == 1


def test_an_update_that_changes_nothing_writes_nothing(routing_world, admin_user):
    policy = RoutingPolicy.objects.get(channel__isnull=True)
    before = policy.version
    policy_update(policy=policy, changes={"ship_from_store": policy.ship_from_store}, by=admin_user)
    policy.refresh_from_db()
    assert policy.version == before
    assert not RoutingPolicyVersion.objects.filter(policy=policy).exists()


@pytest.mark.parametrize(
    "changes",
    [
        {"allowed_kinds": []},
        {"allowed_kinds": ["warehouse"]},
        {"store_walkin_share": Decimal("1.5")},
        {"nope": 1},
    ],
)
def test_bad_values_are_refused(routing_world, admin_user, changes):
    policy = RoutingPolicy.objects.get(channel__isnull=True)
    with pytest.raises(PolicyInvalid):
        policy_update(policy=policy, changes=changes, by=admin_user)
    assert not RoutingPolicyVersion.objects.filter(policy=policy).exists()


def test_admin_save_goes_through_the_versioning_service(client, admin_user, routing_world):
    w = routing_world
    policy = RoutingPolicy.objects.get(channel__isnull=True)
    client.force_login(admin_user)
    url = f"/admin/routing/routingpolicy/{policy.pk}/change/"
    assert client.get(url).status_code == 200
    data = {
        "name": policy.name,
        "channel": "",
        "speed_value": "2.00",
        "max_packages": "2",
        "allowed_kinds": ["dc", "store"],
        "ship_from_store": "on",
        "store_walkin_share": "0.200",
        "paused_locations": [str(w.morumbi.pk)],
        "split_penalty": "5.00",
        "backorder_per_unit": "40.00",
        "backorder_price_share": "0.500",
        "use_forecast": "on",
        "versions-TOTAL_FORMS": "0",
        "versions-INITIAL_FORMS": "0",
        "versions-MIN_NUM_FORMS": "0",
        "versions-MAX_NUM_FORMS": "1000",
    }
    resp = client.post(url, data)
    assert resp.status_code == 302, resp.content.decode()[:2000]
    policy.refresh_from_db()
    assert policy.version == 2 and policy.max_packages == 2
    assert list(policy.paused_locations.values_list("code", flat=True)) == ["LJ-SP-02"]
    v = RoutingPolicyVersion.objects.get(policy=policy, number=2)
    assert set(v.changes) >= {"speed_value", "max_packages", "allowed_kinds", "paused_locations"}
    assert v.created_by == admin_user
    assert AuditEvent.objects.filter(action="routing.policy_update", actor=admin_user).exists()
