"""Replenishment proposals: made from each location's recent demand, refreshed idempotently, decided by
managers of the location (audit row, webhook), scoped like the locations."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone, translation
from guardian.shortcuts import assign_perm

from inventory.models import (
    MovementKind,
    ProposalStatus,
    ReplenishmentProposal,
    StockLevel,
    StockMovement,
    StockTransfer,
)
from inventory.services import stock_commit, stock_reserve
from inventory.services.replenishment import (
    PLAN_FIELDS,
    replenishment_decide,
    replenishment_decide_many,
    replenishment_propose,
)
from inventory.services.transfers import transfer_cancel
from inventory.tasks import propose_replenishment
from oms.exceptions import DomainError
from oms.models import AuditEvent, WebhookDelivery, WebhookSubscription
from oms.roles import Role
from tests.factories import DCFactory, LocationFactory, ProductFactory, RegionFactory, StockFactory
from tests.worker import wait_for

pytestmark = pytest.mark.django_db
URL = reverse("inventory:replenishment")


def _sell(location, product, units: int, *, days_ago: float = 1.0) -> None:
    """`units` shipped from `location` (reserved, then committed through the stock services) `days_ago`."""
    ref = f"sale-{location.code}-{product.sku}-{units}-{days_ago}"
    stock_reserve(location=location, product=product, qty=units, ref=ref)
    stock_commit(ref=ref, location=location, product=product, qty=units, reason="shipped")
    StockMovement.objects.filter(ref=ref, kind=MovementKind.COMMIT).update(
        at=timezone.now() - dt.timedelta(days=days_ago)
    )


@pytest.fixture
def network(db):
    """A DC with plenty, a second DC with little, a store in the south selling 2 a day with 5 left, and a
    store in the north selling little with plenty."""
    south, north = RegionFactory(code="sul"), RegionFactory(code="norte")
    dc = DCFactory(code="CD-SP-01")
    dc2 = DCFactory(code="CD-RJ-01")
    poa = LocationFactory(code="LJ-RS-01", region=south.code)
    bel = LocationFactory(code="LJ-PA-01", region=north.code)
    shirt = ProductFactory(sku="CAM-0001-P")
    StockFactory(location=dc, product=shirt, on_hand=500)
    StockFactory(location=dc2, product=shirt, on_hand=10)
    StockFactory(location=poa, product=shirt, on_hand=91)
    StockFactory(location=bel, product=shirt, on_hand=42)
    _sell(poa, shirt, 30, days_ago=40)  # older than the window: not counted
    _sell(poa, shirt, 56)  # 2 a day over 28 days; 5 left
    _sell(bel, shirt, 2)  # 40 left
    return {"south": south, "north": north, "dc": dc, "dc2": dc2, "poa": poa, "bel": bel, "shirt": shirt}


def test_a_store_that_will_run_out_gets_a_proposal_from_the_dc_with_most_to_spare(network):
    assert replenishment_propose() == {"created": 1, "updated": 0, "superseded": 0}
    p = ReplenishmentProposal.objects.get()
    assert (p.location, p.product, p.source) == (network["poa"], network["shirt"], network["dc"])
    assert p.daily_demand == Decimal("2.00")
    assert p.available == 5
    assert p.reorder_point == 6  # 3 days of 2 a day
    assert p.target == 34  # 17 days of 2 a day
    assert p.qty == 29  # up to the target
    assert p.cover_days == Decimal("2.5")
    assert p.status == ProposalStatus.PROPOSED


def test_safety_stock_and_reservations_count_and_a_supplier_when_no_dc_can_spare(network):
    StockLevel.objects.filter(location=network["bel"]).update(safety_stock=45)  # 40 on hand will not do
    StockLevel.objects.filter(location__kind="dc").update(on_hand=0)
    replenishment_propose()
    bel = ReplenishmentProposal.objects.get(location=network["bel"])
    assert bel.reorder_point == 1 + 45 and bel.target == 2 + 45 and bel.qty == 47 - 40
    assert bel.source is None  # from a supplier
    assert ReplenishmentProposal.objects.get(location=network["poa"]).source is None


def test_running_again_changes_nothing_then_follows_the_stock(network):
    replenishment_propose()
    first = ReplenishmentProposal.objects.get()
    assert replenishment_propose() == {"created": 0, "updated": 0, "superseded": 0}
    assert ReplenishmentProposal.objects.values(*PLAN_FIELDS).get() == {
        f: getattr(first, f) for f in PLAN_FIELDS
    }
    _sell(network["poa"], network["shirt"], 3)  # two left: a bigger proposal, the same row
    assert replenishment_propose() == {"created": 0, "updated": 1, "superseded": 0}
    first.refresh_from_db()
    assert (first.available, first.reorder_point, first.target, first.qty) == (2, 7, 36, 34)  # 59 in 28 days
    assert first.incoming == 0
    from inventory.services import stock_set_count

    stock_set_count(
        location=network["poa"], product=network["shirt"], on_hand=200, reason="delivery", by=None
    )
    assert replenishment_propose() == {"created": 0, "updated": 0, "superseded": 1}
    first.refresh_from_db()
    assert first.status == ProposalStatus.SUPERSEDED


def test_deciding_writes_the_audit_and_tells_the_stock_mover(network, manager_user):
    WebhookSubscription.objects.create(name="ERP", url="https://erp.example.com/hook", secret="s" * 32)
    replenishment_propose()
    p = ReplenishmentProposal.objects.get()
    replenishment_decide(proposal=p, approve=True, by=manager_user, note="ok")
    p.refresh_from_db()
    assert (p.status, p.decided_by, p.note) == (ProposalStatus.APPROVED, manager_user, "ok")
    event = AuditEvent.objects.get(action="replenishment.approved")
    assert event.actor == manager_user and "29 x CAM-0001-P to LJ-RS-01 from CD-SP-01" in event.summary
    delivery = WebhookDelivery.objects.get(event_type="replenishment.approved")
    assert delivery.payload["data"]["qty"] == 29 and delivery.payload["data"]["source"] == "CD-SP-01"
    with pytest.raises(DomainError) as refused:  # decided already: refused, nothing changes
        replenishment_decide(proposal=p, approve=False, by=manager_user)
    assert refused.value.field == "status"
    assert ReplenishmentProposal.objects.get().status == ProposalStatus.APPROVED


def test_approving_from_a_dc_opens_a_transfer_whose_units_are_on_their_way(network, manager_user):
    replenishment_propose()
    p = replenishment_decide(proposal=ReplenishmentProposal.objects.get(), approve=True, by=manager_user)
    transfer = p.transfer
    assert (transfer.source, transfer.destination, transfer.origin) == (
        network["dc"],
        network["poa"],
        "replenishment",
    )
    assert [(line.product, line.qty) for line in transfer.lines.all()] == [(network["shirt"], 29)]
    dc_row = StockLevel.objects.get(location=network["dc"], product=network["shirt"])
    assert dc_row.reserved == 29  # held at the DC for the store: no order can take them
    assert replenishment_propose()["created"] == 0  # on their way, however long it takes
    ReplenishmentProposal.objects.update(decided_at=timezone.now() - dt.timedelta(days=30))
    assert replenishment_propose()["created"] == 0
    transfer_cancel(transfer=transfer, by=manager_user, reason="truck broke down")
    assert replenishment_propose()["created"] == 1  # no longer coming: asked again


def test_approving_from_a_supplier_counts_as_coming_for_twice_the_lead_time(network, manager_user):
    StockLevel.objects.exclude(location=network["poa"]).update(on_hand=0)  # no one can spare any
    replenishment_propose()
    proposal = ReplenishmentProposal.objects.get(location=network["poa"])
    p = replenishment_decide(proposal=proposal, approve=True, by=manager_user)
    assert p.source is None and p.transfer is None
    assert replenishment_propose()["created"] == 0
    ReplenishmentProposal.objects.update(decided_at=timezone.now() - dt.timedelta(days=7))
    assert replenishment_propose()["created"] == 1


def test_a_rejected_proposal_rests_a_day_and_approved_units_count_as_coming(network, manager_user):
    replenishment_propose()
    p = ReplenishmentProposal.objects.get()
    replenishment_decide(proposal=p, approve=False, by=manager_user, note="promo over")
    assert replenishment_propose()["created"] == 0  # not asked again at once
    ReplenishmentProposal.objects.update(decided_at=timezone.now() - dt.timedelta(days=2))
    assert replenishment_propose()["created"] == 1
    again = ReplenishmentProposal.objects.get(status=ProposalStatus.PROPOSED)
    replenishment_decide(proposal=again, approve=True, by=manager_user)
    _sell(network["poa"], network["shirt"], 4)  # one left, 29 on their way: still above the reorder point
    assert replenishment_propose()["created"] == 0


def test_a_region_manager_decides_their_locations_proposals_only(client, manager_user, network):
    replenishment_propose()
    StockLevel.objects.filter(location=network["bel"]).update(safety_stock=45)
    replenishment_propose()
    poa = ReplenishmentProposal.objects.get(location=network["poa"])
    bel = ReplenishmentProposal.objects.get(location=network["bel"])
    assign_perm("inventory.manage_region", manager_user, network["south"])
    client.force_login(manager_user)
    html = client.get(URL).content.decode()
    assert f'data-proposal="{poa.pk}"' in html and f'data-proposal="{bel.pk}"' not in html
    assert client.get(URL, {"location": "LJ-PA-01"}).status_code == 404  # not theirs
    assert client.post(URL, {"action": "approve", "proposal": [bel.pk]}).status_code == 404
    assert ReplenishmentProposal.objects.get(pk=bel.pk).status == ProposalStatus.PROPOSED
    resp = client.post(URL, {"action": "reject", "proposal": [poa.pk], "note": "promo ends"}, follow=True)
    assert resp.status_code == 200 and 'data-testid="no-proposals"' in resp.content.decode()
    poa.refresh_from_db()
    assert (poa.status, poa.note) == (ProposalStatus.REJECTED, "promo ends")
    resp = client.post(URL, {"action": "approve"}, follow=True)  # nothing ticked: said, nothing done
    assert "msg-error" in resp.content.decode()


def test_approving_twice_says_who_decided_and_changes_nothing(client, manager_user, admin_user, network):
    """A double click or a second manager: the page comes back saying the proposal was decided, and by whom
    (it was a 404 "No such proposal")."""
    replenishment_propose()
    p = ReplenishmentProposal.objects.get()
    manager_user.first_name, manager_user.last_name = "Marcos", "Reis"
    manager_user.save()
    assign_perm("inventory.manage_region", manager_user, network["south"])
    client.force_login(manager_user)
    assert client.post(URL, {"action": "approve", "proposal": [p.pk]}).status_code == 302
    with translation.override("en"):  # and back to the default language after the English requests
        resp = client.post(
            URL, {"action": "approve", "proposal": [p.pk]}, follow=True, HTTP_ACCEPT_LANGUAGE="en"
        )
        html = resp.content.decode()
    assert resp.status_code == 200 and "msg-error" in html
    assert "CAM-0001-P @ LJ-RS-01: This proposal was approved by Marcos Reis already" in html
    # another manager (an admin) a moment later, with the page they loaded before: told who, nothing changes
    client.force_login(admin_user)
    with translation.override("en"):
        resp = client.post(
            URL, {"action": "reject", "proposal": [p.pk]}, follow=True, HTTP_ACCEPT_LANGUAGE="en"
        )
    assert "This proposal was approved by Marcos Reis already: nothing was changed." in resp.content.decode()
    p.refresh_from_db()
    assert (p.status, p.decided_by) == (ProposalStatus.APPROVED, manager_user)
    assert StockTransfer.objects.count() == 1
    assert AuditEvent.objects.filter(action__startswith="replenishment.").count() == 1


def test_a_proposal_decided_meanwhile_names_who_decided_it(network, manager_user, admin_user):
    replenishment_propose()
    seen = ReplenishmentProposal.objects.get()  # the page as the manager loaded it
    admin_user.first_name, admin_user.last_name = "Ana", "Lima"
    admin_user.save()
    replenishment_decide(proposal=ReplenishmentProposal.objects.get(), approve=False, by=admin_user)
    with translation.override("en"):
        decided, refused = replenishment_decide_many(proposals=[seen], approve=True, by=manager_user)
    assert decided == [] and refused[0][1].field == "status"
    assert refused[0][1].message == "This proposal was rejected by Ana Lima already: nothing was changed."
    assert not StockTransfer.objects.exists()


@pytest.mark.parametrize("role", [Role.CUSTOMER_SERVICE, Role.STORE_STAFF, Role.WAREHOUSE_STAFF])
def test_other_roles_may_not_decide(client, user_by_role, network, role):
    client.force_login(user_by_role[role])
    assert client.get(URL).status_code == 403
    replenishment_propose()
    proposal = ReplenishmentProposal.objects.get()
    assert client.post(URL, {"action": "approve", "proposal": [proposal.pk]}).status_code == 403
    assert ReplenishmentProposal.objects.get().status == ProposalStatus.PROPOSED
    assert client.get(reverse("inventory:replenishment-export")).status_code == 403


def test_the_page_query_count(client, admin_user, network, django_assert_max_num_queries):
    for n in range(20):  # more proposals must not mean more queries
        product = ProductFactory(sku=f"SKU-{n:03d}")
        StockFactory(location=network["poa"], product=product, on_hand=30)
        _sell(network["poa"], product, 28)  # one a day, two left
    replenishment_propose()
    client.force_login(admin_user)
    with django_assert_max_num_queries(8):
        html = client.get(URL).content.decode()
    assert html.count("data-proposal=") == ReplenishmentProposal.objects.count() > 20


@pytest.mark.django_db(transaction=True)
def test_the_worker_refreshes_the_proposals(network, needs_worker):
    propose_replenishment.delay()
    assert wait_for(
        lambda: ReplenishmentProposal.objects.filter(location=network["poa"]).exists(), timeout=30
    )


def test_what_a_dc_can_spare_goes_to_the_most_urgent_first(network):
    StockLevel.objects.filter(location=network["dc"]).update(on_hand=20)  # spares 20, dc2 spares 10
    StockLevel.objects.filter(location=network["bel"]).update(safety_stock=45)  # short of 7, but for 500 days
    replenishment_propose()
    poa = ReplenishmentProposal.objects.get(location=network["poa"])
    bel = ReplenishmentProposal.objects.get(location=network["bel"])
    assert (poa.source, poa.qty) == (network["dc"], 20)  # 2.5 days left: first, and all the DC can spare
    assert (bel.source, bel.qty) == (network["dc2"], 7)


def test_the_export_lists_every_open_proposal_of_the_scope(client, manager_user, network):
    StockLevel.objects.filter(location=network["bel"]).update(safety_stock=45)
    replenishment_propose()
    export = reverse("inventory:replenishment-export")
    assign_perm("inventory.manage_region", manager_user, network["south"])
    client.force_login(manager_user)
    resp = client.get(export)
    assert resp.status_code == 200 and resp["Content-Type"].startswith("text/csv")
    lines = b"".join(resp.streaming_content).decode("utf-8-sig").strip().splitlines()
    assert lines[0].startswith("location,sku,product,available,incoming,daily_demand,days_covered")
    assert len(lines) == 2 and lines[1].startswith("LJ-RS-01,CAM-0001-P,")  # not the north's
    assert ",5,0,2.00,2.5,6,34,29,CD-SP-01," in lines[1]
    assert client.get(export, {"location": "LJ-PA-01"}).status_code == 404


def test_with_no_dc_to_spare_a_store_that_sells_little_gives_to_one_that_sells_much(network, manager_user):
    StockLevel.objects.filter(location__kind="dc").update(on_hand=0)
    replenishment_propose()
    p = ReplenishmentProposal.objects.get()
    # the north store sold 2 in 28 days: it keeps 60 days of that (5 units) and can give 35 of its 40
    assert (p.location, p.source, p.qty) == (network["poa"], network["bel"], 29)
    # a store of the same region is preferred, even with less to spare
    canoas = LocationFactory(code="LJ-RS-02", region=network["south"].code)
    StockFactory(location=canoas, product=network["shirt"], on_hand=12)
    assert replenishment_propose() == {"created": 0, "updated": 1, "superseded": 0}
    p.refresh_from_db()
    assert (p.source, p.qty) == (canoas, 12)
    p = replenishment_decide(proposal=p, approve=True, by=manager_user)
    assert (p.transfer.source, p.transfer.origin) == (canoas, "rebalancing")


def test_a_store_keeps_what_its_own_demand_events_will_sell(network):
    """Belém would give 35 of its 40 (above); with a fair of ×20 for its next 30 days it keeps them all."""
    from inventory.services.events import demand_event_save

    StockLevel.objects.filter(location__kind="dc").update(on_hand=0)
    today = timezone.localdate()
    demand_event_save(
        name="Feira",
        starts_on=today,
        ends_on=today + dt.timedelta(days=29),
        factor="20",
        locations=[network["bel"]],
    )
    replenishment_propose()
    p = ReplenishmentProposal.objects.get(location=network["poa"])
    assert p.source is None  # from a supplier: 0.07 a day × (30 × 20 + 30) days is more than Belém has


def test_a_new_shortage_is_announced_as_stock_low(network):
    WebhookSubscription.objects.create(
        name="ERP", url="https://erp.example.com/hook", secret="s" * 32, event_types=["stock.low"]
    )
    replenishment_propose()
    replenishment_propose()  # nothing new: nothing announced again
    (delivery,) = WebhookDelivery.objects.filter(event_type="stock.low")
    data = delivery.payload["data"]
    assert (data["location"], data["sku"], data["available"], data["reorder_point"]) == (
        "LJ-RS-01",
        "CAM-0001-P",
        5,
        6,
    )
    assert (data["proposed_qty"], data["source"]) == (29, "CD-SP-01")


def test_approving_together_gives_one_transfer_of_what_the_source_still_has(network, manager_user):
    WebhookSubscription.objects.create(name="ERP", url="https://erp.example.com/hook", secret="s" * 32)
    cap, bag = ProductFactory(sku="BON-0001-U"), ProductFactory(sku="BOL-0001-U")
    for product, dc_units in ((cap, 100), (bag, 60)):
        StockFactory(location=network["dc"], product=product, on_hand=dc_units)
        StockFactory(location=network["poa"], product=product, on_hand=30)
        _sell(network["poa"], product, 28)  # one a day, two left
    replenishment_propose()
    proposals = list(ReplenishmentProposal.objects.filter(location=network["poa"]).order_by("product__sku"))
    assert [p.source for p in proposals] == [network["dc"]] * 3
    # meanwhile the DC sells all its bags and half its shirts are taken
    StockLevel.objects.filter(location=network["dc"], product=bag).update(on_hand=0)
    StockLevel.objects.filter(location=network["dc"], product=network["shirt"]).update(on_hand=20)
    decided, refused = replenishment_decide_many(proposals=proposals, approve=True, by=manager_user)
    assert [p.product.sku for p in decided] == ["BON-0001-U", "CAM-0001-P"]
    assert [(p.product.sku, e.field) for p, e in refused] == [("BOL-0001-U", "qty")]
    (transfer,) = {p.transfer for p in decided}  # one transfer for the source and the location
    assert sorted(transfer.lines.values_list("product__sku", "qty")) == [
        ("BON-0001-U", 15),
        ("CAM-0001-P", 20),
    ]
    bag_proposal = ReplenishmentProposal.objects.get(product=bag)
    assert bag_proposal.status == ProposalStatus.PROPOSED and bag_proposal.transfer is None  # nothing changed
    shirt = WebhookDelivery.objects.get(event_type="replenishment.approved", payload__data__sku="CAM-0001-P")
    assert (shirt.payload["data"]["qty"], shirt.payload["data"]["proposed_qty"]) == (20, 29)


def test_a_proposal_given_another_source_meanwhile_is_refused(network, manager_user):
    replenishment_propose()
    seen = ReplenishmentProposal.objects.get()
    ReplenishmentProposal.objects.filter(pk=seen.pk).update(source=network["dc2"])  # the job ran again
    decided, refused = replenishment_decide_many(proposals=[seen], approve=True, by=manager_user)
    assert decided == [] and refused[0][1].field == "source"
    assert not StockTransfer.objects.exists()


def test_odd_proposal_ids_are_refused_with_a_message(client, admin_user, network):
    client.force_login(admin_user)
    resp = client.post(URL, {"action": "approve", "proposal": ["²"]}, follow=True)
    assert resp.status_code == 200 and "msg-error" in resp.content.decode()
