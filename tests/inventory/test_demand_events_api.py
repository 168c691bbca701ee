"""The demand event API: a promotion system plans, changes and removes events; bad input is refused naming the
field and writes nothing; a manager sees the events of their locations and those for every location, and
changes only the former."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone
from guardian.shortcuts import assign_perm

from inventory.models import DemandEvent, Product
from inventory.services.events import demand_event_save
from oms.models import AuditEvent
from oms.roles import Role
from tests.factories import LocationFactory, ProductFactory, RegionFactory

pytestmark = pytest.mark.django_db
URL = "/api/v1/demand-events/"
TODAY = timezone.localdate()


@pytest.fixture
def places(db, manager_user):
    south = RegionFactory(code="sul")
    store = LocationFactory(code="LJ-RS-01", region=south.code)
    other = LocationFactory(code="LJ-PA-01", region=RegionFactory(code="norte").code)
    ProductFactory(sku="CAM-0001-P")
    ProductFactory(sku="BOL-0001")
    assign_perm("inventory.manage_region", manager_user, south)
    return {"store": store, "other": other}


def body(**changes):
    return {
        "name": "Black Friday", "starts_on": (TODAY + dt.timedelta(days=1)).isoformat(),
        "ends_on": (TODAY + dt.timedelta(days=4)).isoformat(), "factor": "2.5", **changes,
    }  # fmt: skip


def test_a_promotion_system_plans_changes_and_removes_an_event(client_for, admin_user, places):
    api = client_for(admin_user)
    made = api.post(URL, body(products=["CAM-0001-P"]), format="json")
    assert made.status_code == 201, made.json()
    event = made.json()
    assert event["factor"] == "2.50" and event["locations"] == [] and event["products"] == ["CAM-0001-P"]
    url = f"{URL}{event['id']}/"
    changed = api.put(
        url, body(name="Black Week", factor="3", locations=["LJ-RS-01", "LJ-PA-01"]), format="json"
    )
    assert changed.status_code == 200
    assert changed.json()["name"] == "Black Week" and sorted(changed.json()["locations"]) == [
        "LJ-PA-01",
        "LJ-RS-01",
    ]
    assert changed.json()["products"] == []  # replaced whole: every product now
    assert api.get(url).json()["factor"] == "3.00"
    assert api.delete(url).status_code == 204
    assert api.get(url).status_code == 404
    audit = AuditEvent.objects.filter(object_type="inventory.demandevent").order_by("pk")
    assert list(audit.values_list("action", flat=True)) == [
        "demand_event.created", "demand_event.changed", "demand_event.deleted",
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"name": ""}, "name"),
        ({"factor": "0"}, "factor"),
        ({"factor": "21"}, "factor"),
        ({"factor": "lots"}, "factor"),
        ({"starts_on": "2026-02-30"}, "starts_on"),
        ({"ends_on": (TODAY - dt.timedelta(days=1)).isoformat()}, "ends_on"),
        ({"ends_on": (TODAY + dt.timedelta(days=120)).isoformat()}, "ends_on"),
        ({"locations": ["LJ-XX-99"]}, "locations"),
        ({"products": ["NOPE"]}, "products"),
        ({"products": "CAM-0001-P"}, "products"),
    ],
)
def test_bad_input_names_the_field_and_writes_nothing(client_for, admin_user, places, changes, field):
    response = client_for(admin_user).post(URL, body(**changes), format="json")
    assert response.status_code == 400 and field in response.json(), response.json()
    assert not DemandEvent.objects.exists()


def test_a_manager_plans_their_own_locations_only(client_for, manager_user, places):
    everywhere = demand_event_save(name="Nacional", starts_on=TODAY, ends_on=TODAY, factor="2")
    north = demand_event_save(
        name="Norte", starts_on=TODAY, ends_on=TODAY, factor="2", locations=[places["other"]]
    )
    api = client_for(manager_user)
    refused = api.post(URL, body(), format="json")  # every location: not theirs to plan
    assert refused.status_code == 400 and "locations" in refused.json()
    outside = api.post(URL, body(locations=["LJ-RS-01", "LJ-PA-01"]), format="json")
    assert outside.status_code == 400 and "LJ-PA-01" in str(outside.json()["locations"])
    made = api.post(URL, body(locations=["LJ-RS-01"]), format="json")
    assert made.status_code == 201
    listed = api.get(URL).json()["results"]
    assert [e["name"] for e in listed] == ["Nacional", "Black Friday"]  # soonest first; the north's unseen
    assert api.get(f"{URL}{north.pk}/").status_code == 404
    assert api.delete(f"{URL}{north.pk}/").status_code == 404
    assert api.put(f"{URL}{everywhere.pk}/", body(locations=["LJ-RS-01"]), format="json").status_code == 403
    assert api.delete(f"{URL}{everywhere.pk}/").status_code == 403
    both = demand_event_save(
        name="Sul e Norte",
        starts_on=TODAY,
        ends_on=TODAY,
        factor="2",
        locations=[places["store"], places["other"]],
    )
    seen = api.get(f"{URL}{both.pk}/").json()
    assert seen["locations"] == ["LJ-RS-01"]  # the north's code is not theirs to read
    assert api.put(f"{URL}{both.pk}/", body(locations=["LJ-RS-01"]), format="json").status_code == 403
    theirs = made.json()["id"]
    widened = api.put(f"{URL}{theirs}/", body(locations=["LJ-RS-01", "LJ-PA-01"]), format="json")
    unknown = api.put(f"{URL}{theirs}/", body(locations=["LJ-RS-01", "LJ-XX-99"]), format="json")
    assert widened.status_code == unknown.status_code == 400
    assert widened.json()["locations"] == ["Fora dos seus locais: LJ-PA-01."] and unknown.json()[
        "locations"
    ] == ["Fora dos seus locais: LJ-XX-99."]  # no probing which exist
    assert DemandEvent.objects.get(pk=theirs).locations.count() == 1
    assert DemandEvent.objects.count() == 4


def test_the_list_filters_by_days(client_for, admin_user, places):
    for n, start in enumerate((-20, 0, 30)):
        day = TODAY + dt.timedelta(days=start)
        demand_event_save(name=f"E{n}", starts_on=day, ends_on=day + dt.timedelta(days=2), factor="2")
    api = client_for(admin_user)
    names = lambda **q: [e["name"] for e in api.get(URL, q).json()["results"]]  # noqa: E731
    assert names() == ["E0", "E1", "E2"]
    assert names(**{"from": TODAY.isoformat()}) == ["E1", "E2"]
    assert names(**{"from": TODAY.isoformat(), "to": (TODAY + dt.timedelta(days=7)).isoformat()}) == ["E1"]
    assert api.get(URL, {"from": "tomorrow"}).status_code == 400


@pytest.mark.parametrize("role", [Role.CUSTOMER_SERVICE, Role.STORE_STAFF, Role.WAREHOUSE_STAFF])
def test_other_roles_are_refused(client_for, user_by_role, role, places):
    event = demand_event_save(name="Nacional", starts_on=TODAY, ends_on=TODAY, factor="2")
    api = client_for(user_by_role[role])
    assert api.get(URL).status_code == 403
    assert api.post(URL, body(), format="json").status_code == 403
    assert api.delete(f"{URL}{event.pk}/").status_code == 403
    assert DemandEvent.objects.count() == 1


def test_the_list_is_a_fixed_number_of_queries(client_for, admin_user, places, django_assert_max_num_queries):
    for n in range(20):
        demand_event_save(
            name=f"E{n}", starts_on=TODAY, ends_on=TODAY, factor="2", locations=[places["store"]],
            products=list(Product.objects.all()),
        )  # fmt: skip
    api = client_for(admin_user)
    with django_assert_max_num_queries(6):
        results = api.get(URL).json()["results"]
    assert len(results) == 20 and all(e["products"] == ["BOL-0001", "CAM-0001-P"] for e in results)
