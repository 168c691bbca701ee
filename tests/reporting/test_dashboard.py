"""The KPI dashboard: managers and admins only, each seeing the channels and locations of their scope."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone, translation
from guardian.shortcuts import assign_perm

from oms.roles import Role
from reporting.models import ChannelDay, LocationDay
from tests.factories import ChannelFactory, LocationFactory, RegionFactory

pytestmark = pytest.mark.django_db
URL = reverse("reporting:dashboard")


@pytest.fixture
def rollups(db):
    """Rollup rows of today and of 20 days ago for two channels and two locations in different regions."""
    today = timezone.localdate()
    now = timezone.now()
    web = ChannelFactory(code="web", name="Site")
    market = ChannelFactory(code="mkt", name="Marketplace Um", kind="marketplace")
    south = RegionFactory(code="sul", name="Sul")
    north = RegionFactory(code="norte", name="Norte")
    poa = LocationFactory(code="LJ-RS-01", name="Loja Porto Alegre", region=south.code)
    bel = LocationFactory(code="LJ-PA-01", name="Loja Belém", region=north.code)
    for day in (today, today - dt.timedelta(days=20)):
        ChannelDay.objects.create(
            day=day, channel=web, orders=10, units=14, revenue=Decimal("1000.00"), cancelled_orders=1,
            fulfilled_orders=8, split_orders=2, backordered_orders=1, routed_orders=9,
            fulfilment_cost=Decimal("180.00"), returned_units=2, refunded=Decimal("150.00"),
            collected=Decimal("20.00"), rolled_at=now,
        )  # fmt: skip
        ChannelDay.objects.create(
            day=day, channel=market, orders=3, units=3, revenue=Decimal("777.00"), fulfilled_orders=3,
            routed_orders=3, fulfilment_cost=Decimal("60.00"), rolled_at=now,
        )  # fmt: skip
        LocationDay.objects.create(
            day=day, location=poa, assigned=5, units=9, done=4, done_on_time=3, rolled_at=now
        )
        LocationDay.objects.create(
            day=day, location=bel, assigned=2, units=2, done=2, done_on_time=2, rolled_at=now
        )
    return {"web": web, "market": market, "south": south, "north": north, "poa": poa, "bel": bel}


def _text(resp) -> str:
    assert resp.status_code == 200
    return resp.content.decode()


def _kpi(html: str, name: str) -> str:
    found = re.search(rf'data-testid="kpi-{name}">([^<]*)<', html)
    assert found, name
    return found.group(1)


def test_admin_sees_every_channel_and_location(client, admin_user, rollups):
    client.force_login(admin_user)
    html = _text(client.get(URL, {"days": 30}))
    assert _kpi(html, "orders") == "26"  # two days of 10 + 3
    assert _kpi(html, "revenue") == "R$ 3.554,00"
    assert _kpi(html, "aov") == "R$ 136,69"
    assert _kpi(html, "cost") == "R$ 20,00"  # 480 over 24 routed orders
    assert _kpi(html, "refunded") == "R$ 300,00"
    assert _kpi(html, "net-revenue") == "R$ 3.294,00"  # 3,554 less 300 refunded, plus 40 collected
    assert _kpi(html, "returned") == "11,8 %"  # 4 of 34 units
    assert 'data-channel="web"' in html and 'data-channel="mkt"' in html
    assert 'data-location="LJ-RS-01"' in html and 'data-location="LJ-PA-01"' in html
    assert html.count('data-value="13"') == 2  # a bar for each day with orders; the others are empty
    assert 'data-testid="kpi-chart"' in html


def test_the_period_is_the_last_7_30_or_90_days(client, admin_user, rollups):
    client.force_login(admin_user)
    assert _kpi(_text(client.get(URL, {"days": 7})), "orders") == "13"  # today only
    assert _kpi(_text(client.get(URL, {"days": 90})), "orders") == "26"
    html = _text(client.get(URL, {"days": 5}))  # not offered: the default period, and says why
    assert 'data-testid="kpi-errors"' in html and "5" in html
    assert _kpi(html, "orders") == "26"


def test_a_channel_manager_sees_only_their_channel(client, manager_user, rollups):
    assign_perm("orders.manage_channel", manager_user, rollups["market"])
    client.force_login(manager_user)
    html = _text(client.get(URL))
    assert _kpi(html, "orders") == "6"
    assert _kpi(html, "revenue") == "R$ 1.554,00"
    assert _kpi(html, "refunded") == "R$ 0,00"  # the web channel's refunds are not theirs
    assert _kpi(html, "net-revenue") == "R$ 1.554,00"
    assert 'data-channel="mkt"' in html and 'data-channel="web"' not in html and "Site" not in html
    assert 'data-testid="kpi-no-locations"' in html  # no region: no location's work
    # another department's channel, asked for by name: not found
    assert client.get(URL, {"channel": "web"}).status_code == 404
    assert client.get(URL, {"channel": "nope"}).status_code == 404
    assert _kpi(_text(client.get(URL, {"channel": "mkt"})), "orders") == "6"


def test_a_region_manager_sees_only_their_regions_locations(client, manager_user, rollups):
    assign_perm("inventory.manage_region", manager_user, rollups["south"])
    client.force_login(manager_user)
    html = _text(client.get(URL))
    assert 'data-location="LJ-RS-01"' in html and 'data-location="LJ-PA-01"' not in html
    assert "Loja Belém" not in html
    assert 'data-testid="kpi-no-channels"' in html and 'data-testid="kpi-orders"' not in html
    assert 'id="kpi-channel"' not in html  # nothing to choose from
    row = html[html.index('data-location="LJ-RS-01"') :]
    row = row[: row.index("</tr>")]
    assert "75,0 %" in row and '<rect width="75"' in row  # 6 of 8 done on time, over the two days


@pytest.mark.parametrize("role", [Role.CUSTOMER_SERVICE, Role.STORE_STAFF, Role.WAREHOUSE_STAFF])
def test_other_roles_may_not_read_the_kpis(client, user_by_role, rollups, role):
    client.force_login(user_by_role[role])
    assert client.get(URL).status_code == 403


def test_the_kpis_need_a_login(client, rollups):
    resp = client.get(URL)
    assert resp.status_code == 302 and reverse("login") in resp["Location"]


def test_the_menu_offers_the_kpis_to_managers(client, manager_user, cs_user, rollups):
    client.force_login(manager_user)
    assert f'href="{URL}"' in _text(client.get(reverse("home")))
    client.force_login(cs_user)
    assert f'href="{URL}"' not in _text(client.get(reverse("home")))


def test_dashboard_query_count(client, admin_user, rollups, django_assert_max_num_queries):
    today = timezone.localdate()
    now = timezone.now()
    for n in range(5):  # more channels, locations and days must not mean more queries
        ch = ChannelFactory(code=f"ch{n}", name=f"Canal {n}")
        loc = LocationFactory(code=f"LJ-SP-9{n}")
        for back in range(30):
            ChannelDay.objects.create(
                day=today - dt.timedelta(days=back), channel=ch, orders=1, rolled_at=now
            )
            LocationDay.objects.create(
                day=today - dt.timedelta(days=back), location=loc, assigned=1, rolled_at=now
            )
    client.force_login(admin_user)
    with django_assert_max_num_queries(8):
        html = _text(client.get(URL, {"days": 30}))
    assert _kpi(html, "orders") == str(26 + 5 * 30)


def test_dashboard_query_count_for_a_scoped_manager(
    client, manager_user, rollups, django_assert_max_num_queries
):
    assign_perm("orders.manage_channel", manager_user, rollups["web"])
    assign_perm("inventory.manage_region", manager_user, rollups["south"])
    client.force_login(manager_user)
    with django_assert_max_num_queries(12):
        html = _text(client.get(URL))
    assert _kpi(html, "orders") == "20"


EXPORT = reverse("reporting:export")


def test_the_export_has_one_row_per_channel_and_day_of_the_scope(client, manager_user, rollups):
    assign_perm("orders.manage_channel", manager_user, rollups["market"])
    client.force_login(manager_user)
    resp = client.get(EXPORT, {"days": 30})
    assert resp.status_code == 200 and resp["Content-Type"].startswith("text/csv")
    assert "attachment;" in resp["Content-Disposition"]
    lines = b"".join(resp.streaming_content).decode("utf-8-sig").strip().splitlines()
    assert lines[0].startswith("day,channel,orders,units,revenue")
    today = timezone.localdate()
    assert lines[1:] == [
        f"{today - dt.timedelta(days=20)},mkt,3,3,777.00,0,0,3,0,0,3,60.00,0,0.00,0.00",
        f"{today},mkt,3,3,777.00,0,0,3,0,0,3,60.00,0,0.00,0.00",
    ]
    assert (
        len(
            b"".join(client.get(EXPORT, {"days": 7}).streaming_content)
            .decode("utf-8-sig")
            .strip()
            .splitlines()
        )
        == 2
    )
    assert client.get(EXPORT, {"channel": "web"}).status_code == 404  # not theirs


@pytest.mark.parametrize("role", [Role.CUSTOMER_SERVICE, Role.STORE_STAFF, Role.WAREHOUSE_STAFF])
def test_other_roles_may_not_export_the_kpis(client, user_by_role, rollups, role):
    client.force_login(user_by_role[role])
    assert client.get(EXPORT).status_code == 403


def test_late_work_now_counts_what_is_past_its_ship_by_time_and_not_sent(
    client, manager_user, rollups, routing_world
):
    """Live figures beside the rollups: a region manager sees their locations' overdue work, nobody else's."""
    from orders.models import Fulfilment, FulfilmentStatus

    assign_perm("inventory.manage_region", manager_user, rollups["south"])
    now = timezone.now()
    order = routing_world.make_order([(routing_world.shirt, 1)])
    made = [
        Fulfilment.objects.create(order=order, location=location, kind="ship", status=status, ship_by=ship_by)
        for location, status, ship_by in (
            (rollups["poa"], FulfilmentStatus.ASSIGNED, now - dt.timedelta(hours=2)),  # late
            (rollups["poa"], FulfilmentStatus.PACKED, now - dt.timedelta(minutes=5)),  # late
            (rollups["poa"], FulfilmentStatus.ASSIGNED, now + dt.timedelta(hours=2)),  # not yet due
            (rollups["poa"], FulfilmentStatus.SHIPPED, now - dt.timedelta(hours=2)),  # sent
            (rollups["bel"], FulfilmentStatus.ASSIGNED, now - dt.timedelta(hours=2)),  # late, another region
        )
    ]
    client.force_login(manager_user)
    html = _text(client.get(URL))
    assert re.search(r'data-testid="kpi-overdue"><span class="badge bad">2 ', html)
    row = html[html.index('data-location="LJ-RS-01"') :]
    assert (
        '<td class="num" data-testid="late-now"><span class="badge bad">2</span>' in row[: row.index("</tr>")]
    )
    assert 'data-testid="today-late"><span class="badge bad">2<' in _text(client.get(TODAY))  # the home card
    Fulfilment.objects.filter(pk__in=[f.pk for f in made[:2]]).update(status=FulfilmentStatus.SHIPPED)
    assert 'data-testid="kpi-overdue"><span class="badge ok">' in _text(client.get(URL))
    assert 'data-testid="today-late">0<' in _text(client.get(TODAY))


TODAY = reverse("reporting:today")


def test_the_home_page_loads_todays_figures_for_managers(client, manager_user, cs_user, rollups):
    assign_perm("orders.manage_channel", manager_user, rollups["market"])
    client.force_login(manager_user)
    assert f'hx-get="{TODAY}"' in _text(client.get(reverse("home")))
    html = _text(client.get(TODAY))
    assert 'data-testid="today-orders">3<' in html  # today only, their channel only
    assert 'data-testid="today-revenue">R$ 777,00<' in html
    assert 'data-testid="today-late">0<' in html
    assert 'data-testid="today-proposals"' not in html  # none waiting
    client.force_login(cs_user)
    assert f'hx-get="{TODAY}"' not in _text(client.get(reverse("home")))
    assert client.get(TODAY).status_code == 403


def test_the_home_summary_counts_the_replenishment_proposals_of_the_scope(client, manager_user, rollups):
    from inventory.models import ReplenishmentProposal
    from tests.factories import ProductFactory

    product = ProductFactory()
    for location in (rollups["poa"], rollups["bel"]):
        ReplenishmentProposal.objects.create(
            location=location, product=product, qty=5, daily_demand=Decimal("1.00"), available=1,
            reorder_point=3, target=18,
        )  # fmt: skip
    assign_perm("inventory.manage_region", manager_user, rollups["south"])
    client.force_login(manager_user)
    html = _text(client.get(TODAY))
    assert re.search(r'data-testid="today-proposals"><a href="/inventory/replenishment/">1 ', html)


@pytest.mark.parametrize(
    ("language", "cancelled", "split"), [("pt-br", "5,7 %", "6,3 %"), ("en", "5.7 %", "6.3 %")]
)
def test_percentages_are_rounded_half_up_not_cut(client, admin_user, language, cancelled, split):
    """151 of 2657 orders cancelled is 5.683 %: shown as 5.7, not 5.6; 1 of 16 split is 6.25 %: 6.3."""
    ChannelDay.objects.create(
        day=timezone.localdate(), channel=ChannelFactory(code="web"), orders=2657, cancelled_orders=151,
        fulfilled_orders=16, split_orders=1, rolled_at=timezone.now(),
    )  # fmt: skip
    client.force_login(admin_user)
    with translation.override(language):  # and back to the default language after the request
        html = _text(client.get(URL, HTTP_ACCEPT_LANGUAGE=language))
    assert _kpi(html, "cancelled") == cancelled
    assert _kpi(html, "split") == split
