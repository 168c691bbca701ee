"""Demand events: planned days of other demand (a promotion, Black Friday, a closure). The forecast reads past
events' days at a normal level and multiplies the days of events ahead; its check knows the events of the
days it checks; replenishment plans for them. Managers plan their own locations' events, admins everyone's;
bad input is refused by field, writing nothing."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone
from guardian.shortcuts import assign_perm

from inventory.models import (
    DemandEvent,
    DemandForecast,
    LocationDemandProfile,
    ReplenishmentProposal,
    StockLevel,
)
from inventory.services.events import (
    EventCalendar,
    EventNotYours,
    InvalidEvent,
    demand_event_delete,
    demand_event_save,
)
from inventory.services.forecast import forecast_refresh
from inventory.services.replenishment import replenishment_propose
from oms import once
from oms.exceptions import NotFoundInScope
from oms.models import AuditEvent
from oms.roles import Role
from tests.factories import LocationFactory, ProductFactory, RegionFactory, StockFactory, shipped_daily

pytestmark = pytest.mark.django_db
TODAY = timezone.localdate()
SATURDAY = 5


def days_ago(n: int) -> dt.date:
    return TODAY - dt.timedelta(days=n)


@pytest.fixture
def places(db):
    """Two regions with a store each; the southern store sells 3 shirts and 1 bag a day."""
    south, north = RegionFactory(code="sul"), RegionFactory(code="norte")
    store = LocationFactory(code="LJ-RS-01", region=south.code)
    other = LocationFactory(code="LJ-PA-01", region=north.code)
    shirt = StockFactory(location=store, product=ProductFactory(sku="CAM-0001-P"), on_hand=200)
    bag = StockFactory(location=store, product=ProductFactory(sku="BOL-0001"), on_hand=200)
    return {"south": south, "north": north, "store": store, "other": other, "shirt": shirt, "bag": bag}


def event(name="Promo", start=None, end=None, factor="2", **kwargs):
    start = start or TODAY
    return demand_event_save(name=name, starts_on=start, ends_on=end or start, factor=factor, **kwargs)


# --- the calendar ------------------------------------------------------------------------------------------


def test_events_multiply_where_and_on_what_they_apply(places):
    store, other = places["store"], places["other"]
    shirt, bag = places["shirt"].product, places["bag"].product
    event("Black Friday", days_ago(1), TODAY, "3")  # everywhere, everything
    event("Shirts", TODAY, TODAY + dt.timedelta(days=2), "1.5", products=[shirt])
    event("Fair", TODAY, TODAY, "2", locations=[other])
    calendar = EventCalendar.load(days_ago(5), TODAY + dt.timedelta(days=5))
    assert calendar.factor(store.pk, shirt.pk, TODAY) == pytest.approx(4.5)  # 3 × 1.5
    assert calendar.factor(store.pk, bag.pk, TODAY) == pytest.approx(3)
    assert calendar.factor(other.pk, bag.pk, TODAY) == pytest.approx(6)  # 3 × 2
    assert calendar.factor(store.pk, shirt.pk, days_ago(1)) == pytest.approx(3)
    assert calendar.factor(store.pk, shirt.pk, TODAY + dt.timedelta(days=2)) == pytest.approx(1.5)
    assert calendar.factor(store.pk, bag.pk, TODAY + dt.timedelta(days=3)) == 1.0
    assert calendar.factor(store.pk, bag.pk, days_ago(2)) == 1.0
    # a location's day: 10 units normally, 4 of them shirts
    assert calendar.location_day(store.pk, TODAY, 10.0, {shirt.pk: 4.0}) == pytest.approx(3 * (10 + 4 * 0.5))
    assert calendar.event_days(store.pk, [days_ago(2), days_ago(1), TODAY]) == {days_ago(1), TODAY}
    assert not EventCalendar.load(days_ago(30), days_ago(10))  # no event then: nothing to apply


def test_what_an_event_names_cannot_be_deleted_from_under_it(places):
    """Else the event would silently apply to every location (or product)."""
    from django.db.models import ProtectedError

    other, bag = LocationFactory(code="LJ-XX-01"), ProductFactory(sku="BOL-0002")
    event("Local", locations=[other], products=[bag])
    with pytest.raises(ProtectedError):
        other.delete()
    with pytest.raises(ProtectedError):
        bag.delete()


# --- saving, refusing, removing ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"name": "  "}, "name"),
        ({"name": "x" * 81}, "name"),
        ({"end": days_ago(1)}, "ends_on"),
        ({"end": TODAY + dt.timedelta(days=92)}, "ends_on"),  # 93 days
        ({"start": days_ago(401)}, "starts_on"),
        ({"start": TODAY + dt.timedelta(days=800)}, "ends_on"),
        ({"factor": "0"}, "factor"),
        ({"factor": "20.5"}, "factor"),
        ({"factor": "two"}, "factor"),
        ({"factor": "NaN"}, "factor"),
        ({"factor": "Infinity"}, "factor"),
        ({"note": "x" * 201}, "note"),
    ],
)
def test_bad_input_is_refused_by_field_and_writes_nothing(places, admin_user, changes, field):
    with pytest.raises(InvalidEvent) as refused:
        event(by=admin_user, **changes)
    assert refused.value.field == field and refused.value.status_code == 400
    assert not DemandEvent.objects.exists() and not AuditEvent.objects.exists()


def test_a_scoped_planner_names_only_their_locations(places, manager_user):
    mine = {places["store"].pk}
    with pytest.raises(InvalidEvent) as everywhere:
        event(allowed=mine, by=manager_user)
    assert everywhere.value.field == "locations"
    with pytest.raises(InvalidEvent) as outside:
        event(locations=[places["store"], places["other"]], allowed=mine, by=manager_user)
    assert "LJ-PA-01" in outside.value.message and "LJ-RS-01" not in outside.value.message
    assert not DemandEvent.objects.exists()
    saved = event(locations=[places["store"]], allowed=mine, by=manager_user)
    assert list(saved.locations.all()) == [places["store"]]


def test_each_change_leaves_an_audit_row(places, admin_user):
    saved = event("Dia das Mães", TODAY, TODAY + dt.timedelta(days=1), "1,75", by=admin_user)
    assert saved.factor == Decimal("1.75") and saved.created_by == admin_user
    demand_event_save(
        event=saved, name="Dia das Mães", starts_on=TODAY, ends_on=TODAY, factor="2.5",
        products=[places["bag"].product], by=admin_user,
    )  # fmt: skip
    demand_event_delete(event=saved, by=admin_user)
    rows = list(AuditEvent.objects.order_by("pk").values_list("action", "before", "after"))
    assert [a for a, _b, _c in rows] == [
        "demand_event.created",
        "demand_event.changed",
        "demand_event.deleted",
    ]
    assert rows[1][1]["factor"] == "1.75" and rows[1][2]["factor"] == "2.50"
    assert rows[1][2]["products"] == ["BOL-0001"] and rows[2][2] is None
    assert not DemandEvent.objects.exists()


# --- the forecast and replenishment ------------------------------------------------------------------------


def test_a_past_promotion_does_not_inflate_the_forecast(places):
    """3 shirts a day, 9 a day in a promotion three to four weeks ago: recorded as an event, the forecast
    stays at 3 a day; unrecorded, it is lifted (the forecast cannot tell a promotion from a new normal)."""
    promo = (days_ago(27), days_ago(21))
    shipped_daily(places["shirt"], lambda day: 9 if promo[0] <= day <= promo[1] else 3)
    forecast_refresh()
    unplanned = DemandForecast.objects.get(stock=places["shirt"]).daily
    assert unplanned > Decimal("3.6")
    event("Semana do Cliente", *promo, "3")
    forecast_refresh()
    planned = DemandForecast.objects.get(stock=places["shirt"])
    assert planned.daily == pytest.approx(Decimal(3), abs=Decimal("0.01"))
    assert planned.recent_units == 28 * 3 + 7 * 6  # what was sold, promotion and all
    week = LocationDemandProfile.objects.get(location=places["store"]).weekday_factors
    assert max(week) - min(week) < 0.01  # the promotion's weekdays are not made to look busy


def test_a_closure_does_not_lower_the_forecast_or_the_week(places):
    """A week closed (an event of 0.1) three weeks ago, when the shirt sold nothing: its 3 a day and its flat
    week nearly stand (the closure's days count as a tenth of a day each, when 0.3 a day was expected);
    unrecorded, the closure drags the rate down by a seventh of its weight."""
    closed = (days_ago(24), days_ago(18))
    shipped_daily(places["shirt"], lambda day: 0 if closed[0] <= day <= closed[1] else 3)
    forecast_refresh()
    unplanned = DemandForecast.objects.get(stock=places["shirt"]).daily
    assert unplanned < Decimal("2.65")
    event("Reforma", *closed, "0.1")
    forecast_refresh()
    planned = DemandForecast.objects.get(stock=places["shirt"]).daily
    assert Decimal("2.9") < planned < Decimal(3)
    week = LocationDemandProfile.objects.get(location=places["store"]).weekday_factors
    assert max(week) - min(week) < 0.01  # the closed days are left out of the week's shape


def test_an_event_day_counts_as_its_weekdays_share(places):
    """100 shirts on Saturdays, 20 on other days; a Saturday sale of ×2 two weeks ago sold 200: read as two
    Saturdays, the forecast stays at 220/7 a day (read as two average days, it would be 33.5)."""
    sale = next(days_ago(n) for n in range(8, 15) if days_ago(n).weekday() == SATURDAY)
    shipped_daily(
        places["shirt"], lambda day: 200 if day == sale else 100 if day.weekday() == SATURDAY else 20
    )
    event("Sábado de ofertas", sale, sale, "2")
    forecast_refresh()
    daily = DemandForecast.objects.get(stock=places["shirt"]).daily
    assert daily == pytest.approx(Decimal(220) / 7, abs=Decimal("0.05"))


def test_an_event_on_some_products_leaves_the_week_alone(places):
    """A long promotion on bags does not flatten the store's Saturdays (only events for every product are left
    out of the week's shape)."""
    shipped_daily(places["shirt"], lambda day: 10 if day.weekday() == SATURDAY else 2)
    forecast_refresh()
    before = LocationDemandProfile.objects.get(location=places["store"]).weekday_factors
    event("Bolsas", days_ago(60), days_ago(1), "1.5", products=[places["bag"].product])
    forecast_refresh()
    assert LocationDemandProfile.objects.get(location=places["store"]).weekday_factors == before
    assert before[SATURDAY] > 2.5


def test_the_check_knows_the_events_of_its_days(places):
    """The last week sold twice as much (a planned event): the check, made knowing it, is not biased."""
    shipped_daily(places["shirt"], lambda day: 6 if day >= days_ago(7) else 3)
    shipped_daily(places["bag"], lambda day: 2 if day >= days_ago(7) else 1)
    forecast_refresh()
    blind = LocationDemandProfile.objects.get(location=places["store"])
    assert blind.bias < Decimal("-0.25")  # 4 a day foreseen, 8 sold in the last week
    event("Liquidação", days_ago(7), days_ago(1), "2")
    forecast_refresh()
    seen = LocationDemandProfile.objects.get(location=places["store"])
    assert (
        abs(seen.bias) < Decimal("0.01") and seen.day_wape < Decimal("0.01") and seen.wape < Decimal("0.01")
    )
    assert seen.checked_units == blind.checked_units == 7 * 4 + 7 * 8


def test_replenishment_plans_for_an_event_ahead(places):
    """200 shirts and bags selling 3 and 1 a day last the lead time; a Black Friday of ×3 on the shirts from
    tomorrow, with 20 shirts left, does not."""
    shipped_daily(places["shirt"], lambda day: 3)
    shipped_daily(places["bag"], lambda day: 1)
    forecast_refresh()
    StockLevel.objects.filter(pk__in=[places["shirt"].pk, places["bag"].pk]).update(on_hand=12)
    assert replenishment_propose()["created"] == 0  # 3 days at 3 a day: 9 < 12
    event("Black Friday", TODAY + dt.timedelta(days=1), TODAY + dt.timedelta(days=4), "3",
          products=[places["shirt"].product])  # fmt: skip
    assert replenishment_propose()["created"] == 1
    proposal = ReplenishmentProposal.objects.get()
    assert proposal.product == places["shirt"].product
    assert proposal.reorder_point == 3 + 9 + 9  # today as usual, then two days of the event
    assert proposal.target == 21 + 9 + 9 + 12 * 3  # two more days of the event, then 12 normal days


def test_an_event_ahead_puts_a_row_first_for_what_a_dc_can_spare(places):
    """Two stores short of shirts with the same stock and sales; the DC can spare enough for one. The store
    whose Black Friday starts tomorrow gets it (without events the tie goes to the older row)."""
    from tests.factories import DCFactory

    dc = DCFactory(code="CD-SP-01")
    StockFactory(location=dc, product=places["shirt"].product, on_hand=60)
    twin = LocationFactory(code="LJ-RS-02", region=places["south"].code)
    twin_shirt = StockFactory(location=twin, product=places["shirt"].product, on_hand=200)
    for row in (places["shirt"], twin_shirt):
        shipped_daily(row, lambda day: 3)
    forecast_refresh()
    StockLevel.objects.filter(pk__in=[places["shirt"].pk, twin_shirt.pk]).update(on_hand=8)
    StockLevel.objects.filter(location=dc).update(on_hand=61)  # it sells nothing itself: all 61 to spare
    tomorrow = TODAY + dt.timedelta(days=1)
    event("Black Friday", tomorrow, tomorrow + dt.timedelta(days=3), "3", locations=[twin])
    replenishment_propose()
    first = ReplenishmentProposal.objects.get(location=twin)
    second = ReplenishmentProposal.objects.get(location=places["store"])
    # the twin: lead 3 + 9 + 9 = 21, target 21 + 9 + 9 + 12 × 3 = 75 (67 to bring), all 61 the DC has; first,
    # though both hold 8 and sell 3 a day
    assert (first.source, first.qty, first.target) == (dc, 61, 75)
    assert (second.source, second.qty) == (None, 43)  # the DC has none left: from a supplier


def test_the_replenishment_page_names_the_events_it_plans_with(client, manager_user, places):
    assign_perm("inventory.manage_region", manager_user, places["south"])
    soon = TODAY + dt.timedelta(days=3)
    event("Black Friday", soon, soon, "2.5")
    event("Sul", soon, soon, "2", locations=[places["store"]])
    event("Norte", soon, soon, "2", locations=[places["other"]])
    event("Natal", TODAY + dt.timedelta(days=30), TODAY + dt.timedelta(days=31), "3")  # beyond the plan
    client.force_login(manager_user)
    html = client.get(reverse("inventory:replenishment")).content.decode()
    chips = html[html.index('data-testid="replenishment-events"') :]
    chips = chips[: chips.index("</div>")]
    assert "Black Friday" in chips and "Sul" in chips
    assert "Norte" not in chips and "Natal" not in chips
    client.post(reverse("set_language"), {"language": "en"})
    english = client.get(reverse("inventory:replenishment")).content.decode()
    english = english[english.index('data-testid="replenishment-events"') :]
    assert f"{soon:%m/%d/%Y}" in english[: english.index("</div>")]  # the reader's date format


# --- pages -------------------------------------------------------------------------------------------------


def test_the_forecast_chart_shows_the_events_days(client, admin_user, places, django_assert_max_num_queries):
    shipped_daily(places["shirt"], lambda day: 3)
    shipped_daily(places["bag"], lambda day: 1)
    forecast_refresh()
    tomorrow = TODAY + dt.timedelta(days=1)
    event("Black Friday", tomorrow, tomorrow, "2")
    event("Bolsas", tomorrow, tomorrow, "3", products=[places["bag"].product], locations=[places["store"]])
    event("Elsewhere", tomorrow, tomorrow, "5", locations=[places["other"]])
    client.force_login(admin_user)
    with django_assert_max_num_queries(12):
        html = client.get(reverse("inventory:forecast"), {"location": "LJ-RS-01"}).content.decode()
    bars = re.findall(r'<rect [^>]*?(data-marked="1" )?data-day="([^"]+)" data-value="(\d+)"', html)
    assert len(bars) == 14
    assert [(bool(marked), value) for marked, _day, value in bars[:3]] == [
        (False, "4"),
        (True, "12"),
        (False, "4"),
    ]
    # tomorrow: 2 × (3 + 1 × 3); a normal day 3 + 1
    shirt = html[html.index('data-sku="CAM-0001-P"') :]
    bag = html[html.index('data-sku="BOL-0001"') :]
    assert re.search(r'data-testid="next-week">24[.,]0<', shirt)  # 6 days of 3, tomorrow 2 × 3
    assert re.search(r'data-testid="next-week">12[.,]0<', bag)  # 6 days of 1, tomorrow 2 × 3 × 1
    assert "Black Friday" in html and "Bolsas" in html and "Elsewhere" not in html


def test_a_manager_plans_events_for_their_locations_only(client, manager_user, places):
    assign_perm("inventory.manage_region", manager_user, places["south"])
    everywhere = event("Black Friday", factor="3")
    theirs = event("Norte", locations=[places["other"]])
    both = event("Sul e Norte", locations=[places["store"], places["other"]])
    client.force_login(manager_user)
    html = client.get(reverse("inventory:events")).content.decode()
    assert f'data-event="{everywhere.pk}"' in html and f'data-event="{both.pk}"' in html
    assert f'data-event="{theirs.pk}"' not in html
    assert (
        f'href="{reverse("inventory:event", args=[everywhere.pk])}"' not in html
    )  # seen, not theirs to change
    assert client.get(reverse("inventory:event", args=[theirs.pk])).status_code == 404
    assert (
        client.post(reverse("inventory:event-delete", args=[theirs.pk]), {"confirm": "1"}).status_code == 404
    )
    assert client.get(reverse("inventory:event", args=[everywhere.pk])).status_code == 403
    assert client.post(reverse("inventory:event-delete", args=[both.pk]), {"confirm": "1"}).status_code == 403
    response = client.post(
        reverse("inventory:event-new"),
        {"name": "Feira de Porto Alegre", "starts_on": TODAY.isoformat(), "ends_on": TODAY.isoformat(),
         "factor": "1.5", "everywhere": "on", "products": "CAM-0001-P"},
    )  # fmt: skip
    assert response.status_code == 302
    made = DemandEvent.objects.get(name="Feira de Porto Alegre")
    assert list(made.locations.all()) == [places["store"]]  # "all my locations"
    assert list(made.products.values_list("sku", flat=True)) == ["CAM-0001-P"]


def test_a_manager_cannot_widen_their_event_beyond_their_locations(client, manager_user, places):
    assign_perm("inventory.manage_region", manager_user, places["south"])
    mine = event("Sul", locations=[places["store"]])
    client.force_login(manager_user)
    url = reverse("inventory:event", args=[mine.pk])
    html = client.get(url).content.decode()
    assert 'value="LJ-PA-01"' not in html  # other regions' locations are not offered
    data = {"name": "Sul", "starts_on": TODAY.isoformat(), "ends_on": TODAY.isoformat(), "factor": "2"}
    html = client.post(url, data | {"locations": ["LJ-RS-01", "LJ-PA-01"]}).content.decode()
    assert 'data-testid="error-locations"' in html
    assert list(mine.locations.all()) == [places["store"]]
    assert client.post(url, data | {"everywhere": "on"}).status_code == 302  # all *their* locations
    assert list(mine.locations.all()) == [places["store"]]


def test_customer_service_does_not_make_a_manager_plan_every_location(client, manager_user, places):
    """Customer service sees every location; a manager who also answers customers still plans their own."""
    from django.contrib.auth.models import Group

    manager_user.groups.add(Group.objects.get(name=Role.CUSTOMER_SERVICE))
    assign_perm("inventory.manage_region", manager_user, places["south"])
    everywhere = event("Nacional")
    theirs = event("Norte", locations=[places["other"]])
    client.force_login(manager_user)
    assert client.get(reverse("inventory:event", args=[everywhere.pk])).status_code == 403
    assert (
        client.get(reverse("inventory:event", args=[theirs.pk])).status_code == 403
    )  # seen (CS), not theirs
    data = {"name": "Tudo", "starts_on": TODAY.isoformat(), "ends_on": TODAY.isoformat(), "factor": "2",
            "everywhere": "on"}  # fmt: skip
    data["once"] = once.new_token()  # the form's one-submission token
    assert client.post(reverse("inventory:event-new"), data).status_code == 302
    assert client.post(reverse("inventory:event-new"), data).status_code == 302  # a double click: one event
    assert list(DemandEvent.objects.get(name="Tudo").locations.all()) == [places["store"]]


def test_the_services_check_the_scope_under_lock(places, manager_user):
    """A page checked the event before an admin widened it: the manager's change is refused, not applied."""
    mine = event("Sul", locations=[places["store"]])
    demand_event_save(event=mine, name="Sul e Norte", starts_on=TODAY, ends_on=TODAY, factor="2",
                      locations=[places["store"], places["other"]])  # fmt: skip
    allowed = {places["store"].pk}
    with pytest.raises(EventNotYours):
        demand_event_save(event=mine, name="Sul", starts_on=TODAY, ends_on=TODAY, factor="3",
                          locations=[places["store"]], allowed=allowed, by=manager_user)  # fmt: skip
    with pytest.raises(EventNotYours):
        demand_event_delete(event=mine, allowed=allowed, by=manager_user)
    mine.refresh_from_db()
    assert mine.name == "Sul e Norte" and mine.locations.count() == 2
    DemandEvent.objects.filter(pk=mine.pk).delete()
    with pytest.raises(NotFoundInScope):  # gone meanwhile: refused, not a crash
        demand_event_delete(event=mine, by=manager_user)


def test_the_form_names_the_field_and_saves_nothing(client, admin_user, places):
    client.force_login(admin_user)
    url = reverse("inventory:event-new")
    base = {"name": "Promo", "starts_on": TODAY.isoformat(), "ends_on": TODAY.isoformat(), "factor": "2",
            "everywhere": "on"}  # fmt: skip
    for changes, field in [
        ({"factor": "25"}, "factor"),
        ({"products": "CAM-0001-P NOPE-1"}, "products"),
        ({"everywhere": ""}, "locations"),
        ({"ends_on": days_ago(3).isoformat()}, "ends_on"),
        ({"starts_on": "31/02/2026"}, "starts_on"),
    ]:
        html = client.post(url, base | changes).content.decode()
        assert f'data-testid="error-{field}"' in html, field
    assert "NOPE-1" in client.post(url, base | {"products": "NOPE-1"}).content.decode()
    assert not DemandEvent.objects.exists()
    assert client.post(url, base | {"products": "CAM-0001-P\nBOL-0001"}).status_code == 302
    made = DemandEvent.objects.get()
    assert made.locations.count() == 0 and made.products.count() == 2  # every location: an admin's


def test_an_admin_changes_and_removes_any_event(client, admin_user, places):
    theirs = event("Norte", locations=[places["other"]])
    client.force_login(admin_user)
    url = reverse("inventory:event", args=[theirs.pk])
    html = client.get(url).content.decode()
    assert re.search(r'value="LJ-PA-01"[^>]*checked', html) and not re.search(
        r'value="LJ-RS-01"[^>]*checked', html
    )
    # a date input needs ISO dates, in Portuguese too (else it shows blank and the user types them again)
    portuguese = client.get(url, HTTP_ACCEPT_LANGUAGE="pt-br").content.decode()
    assert "Primeiro dia" in portuguese and f'name="starts_on" value="{TODAY.isoformat()}"' in portuguese
    response = client.post(
        url, {"name": "Norte", "starts_on": TODAY.isoformat(), "ends_on": TODAY.isoformat(), "factor": "4",
              "locations": ["LJ-PA-01", "LJ-RS-01"]},
    )  # fmt: skip
    assert response.status_code == 302
    theirs.refresh_from_db()
    assert theirs.factor == Decimal("4.00") and theirs.locations.count() == 2
    delete = reverse("inventory:event-delete", args=[theirs.pk])
    assert client.post(delete).url == url  # not confirmed: back to the event
    assert DemandEvent.objects.exists()
    assert client.post(delete, {"confirm": "1"}).status_code == 302
    assert not DemandEvent.objects.exists()


def test_the_events_list_is_a_fixed_number_of_queries(
    client, manager_user, places, django_assert_max_num_queries
):
    assign_perm("inventory.manage_region", manager_user, places["south"])
    for n in range(15):
        event(
            f"Promo {n}", days_ago(n * 10), days_ago(n * 10 - 2), locations=[places["store"]],
            products=[places["shirt"].product, places["bag"].product],
        )  # fmt: skip
    client.force_login(manager_user)
    with django_assert_max_num_queries(10):
        html = client.get(reverse("inventory:events")).content.decode()
    assert html.count("data-event=") == 15
    # each counted once (the page speaks the manager's language)
    assert len(re.findall(r"<td>1 loca(?:tion|l)</td>", html)) == 15
    assert len(re.findall(r"<td>2 produ(?:cts|tos)</td>", html)) == 15


@pytest.mark.parametrize("role", [Role.CUSTOMER_SERVICE, Role.STORE_STAFF, Role.WAREHOUSE_STAFF])
def test_other_roles_have_no_event_pages(client, user_by_role, role, places):
    saved = event()
    client.force_login(user_by_role[role])
    assert client.get(reverse("inventory:events")).status_code == 403
    assert client.get(reverse("inventory:event-new")).status_code == 403
    assert client.get(reverse("inventory:event", args=[saved.pk])).status_code == 403
    assert (
        client.post(reverse("inventory:event-delete", args=[saved.pk]), {"confirm": "1"}).status_code == 403
    )
    assert DemandEvent.objects.count() == 1
