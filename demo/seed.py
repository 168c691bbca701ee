"""Building the demo retailer, step by step. Every step is idempotent: it creates only what is missing.

Steps, in order: regions and locations, catalogue, channels, users (every role, with their scopes), then the
history (stock, customers and 90 days of orders, in `demo.history`), and a few orders of today taken in and
routed by the live path (`demo.live`), which record routing decisions. Data tables live in `demo.data`.
Deterministic for a seed: the same seed gives the same locations, SKUs, customers and order references.
"""

from __future__ import annotations

import datetime as dt
import random
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.db import transaction
from django.db.models import F
from django.utils import timezone
from guardian.shortcuts import assign_perm

from inventory.models import (
    DemandEvent,
    DemandForecast,
    Location,
    LocationKind,
    Product,
    ProposalStatus,
    Region,
    ReplenishmentProposal,
    StockLevel,
    StockTransfer,
)
from inventory.services.events import demand_event_save
from inventory.services.forecast import forecast_refresh
from inventory.services.replenishment import replenishment_decide_many, replenishment_propose
from inventory.services.transfers import transfer_create, transfer_dispatch, transfer_receive
from oms.roles import Role, setup_roles
from orders.models import Channel, Fulfilment, FulfilmentKind, FulfilmentStatus, Return
from orders.services.returns import return_create, return_receive, return_refund, returnable_units
from reporting.models import ChannelDay, LocationDay
from reporting.services import kpi_rollup_recent

from .bulk import insert
from .data import catalogue, locations
from .data.channels import CHANNELS
from .history import seed_history
from .live import seed_live_orders

DEMO_PASSWORD = "demo"  # noqa: S105 - documented demo credential, refused with DEBUG off


@dataclass
class SeedReport:
    skipped: bool = False
    created: dict[str, int] = field(default_factory=dict)
    logins: list[tuple[str, str]] = field(default_factory=list)
    login_patterns: list[tuple[str, str]] = field(default_factory=list)

    def count(self, what: str, n: int) -> None:
        self.created[what] = self.created.get(what, 0) + n


# --- regions and locations ---------------------------------------------------------------------------------


def _money(rng: random.Random, band: tuple[Decimal, Decimal]) -> Decimal:
    low, high = (int(v * 10) for v in band)
    return Decimal(rng.randint(low, high)) / 10


def seed_places(report: SeedReport, *, seed: int) -> None:
    """The five regions, the DCs and the stores (created when missing; existing ones are left as they are)."""
    have = set(Region.objects.values_list("code", flat=True))
    report.count(
        "regions",
        len(insert(Region, [Region(code=c, name=n) for c, n in locations.REGIONS if c not in have])),
    )
    rng = random.Random(f"demo-places:{seed}")
    rows = []
    for place in locations.DCS:
        rows.append(
            _location(
                place,
                kind=LocationKind.DC,
                ships=True,
                offers_pickup=False,
                processing_days=locations.DC_PROCESSING_DAYS,
                handling_cost=_money(rng, locations.DC_HANDLING),
                pick_cost=_money(rng, locations.DC_PICK),
                daily_capacity=rng.randrange(*locations.DC_DAILY_CAPACITY, 1000),
                opening_hours="",
            )
        )
    for place in locations.STORES:
        rows.append(
            _location(
                place,
                kind=LocationKind.STORE,
                ships=rng.random() < locations.STORE_SHIP_SHARE,
                offers_pickup=rng.random() < locations.STORE_PICKUP_SHARE,
                processing_days=0,
                handling_cost=_money(rng, locations.STORE_HANDLING),
                pick_cost=_money(rng, locations.STORE_PICK),
                daily_capacity=rng.randrange(*locations.STORE_DAILY_CAPACITY, 50),
                opening_hours=locations.STORE_OPENING_HOURS,
            )
        )
    have = set(Location.objects.values_list("code", flat=True))
    report.count("locations", len(insert(Location, [row for row in rows if row.code not in have])))


def _location(place: locations.Place, **fields: Any) -> Location:
    return Location(
        code=place.code,
        name=place.name,
        region=locations.REGION_OF_STATE[place.state],
        street=place.street,
        number=place.number,
        district=place.district,
        city=place.city,
        state=place.state,
        cep=place.cep,
        lat=place.lat,
        lon=place.lon,
        **fields,
    )


# --- catalogue ---------------------------------------------------------------------------------------------


def catalogue_products() -> list[Product]:
    """Every demo SKU, in a fixed order (unsaved). The same list on every run, whatever the seed."""
    products = []
    item = 0
    for category in catalogue.CATEGORIES:
        models = len(category.models)
        low, high = category.price
        for m, model in enumerate(category.models):
            # Prices spread over the category's band, ending in ,90 as shop prices do.
            step = (high - low) / max(1, models - 1)
            price = (low + step * m).quantize(Decimal("1")) - Decimal("0.10")
            for c, colour in enumerate(category.colours):
                family = m * len(category.colours) + c + 1
                colour_name = catalogue.COLOURS[colour][1 if category.feminine else 0]
                for s, size in enumerate(category.sizes):
                    item += 1
                    grow = 1 + 0.06 * s  # a bigger size weighs and measures a little more
                    length, width, height = category.box_mm
                    products.append(
                        Product(
                            sku=f"{category.prefix}-{family:04d}-{size}",
                            ean=catalogue.ean13(f"{catalogue.EAN_PREFIX}{item:05d}"),
                            name=f"{category.name} {model} {colour_name}"
                            + ("" if size == "U" else f" {size}"),
                            weight_g=round(category.weight_g * grow),
                            length_mm=round(length * grow),
                            width_mm=width,
                            height_mm=height,
                            price=max(price, Decimal("9.90")),
                        )
                    )
    return products


def seed_catalogue(report: SeedReport) -> None:
    """The demo SKUs that do not exist yet (an existing SKU or EAN is never touched)."""
    products = catalogue_products()
    have_sku = set(Product.objects.values_list("sku", flat=True))
    have_ean = set(Product.objects.exclude(ean=None).values_list("ean", flat=True))
    missing = [p for p in products if p.sku not in have_sku and p.ean not in have_ean]
    report.count("products", len(insert(Product, missing)))


# --- channels ----------------------------------------------------------------------------------------------


def seed_channels(report: SeedReport) -> None:
    have = set(Channel.objects.values_list("code", flat=True))
    rows = [
        Channel(code=c.code, name=c.name, kind=c.kind, ref_pattern=c.ref_pattern)
        for c in CHANNELS
        if c.code not in have
    ]
    report.count("channels", len(insert(Channel, rows)))


# --- users -------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DemoUser:
    username: str
    role: str
    first_name: str
    last_name: str
    superuser: bool = False
    # what the user is tied to: (permission, model: "location" | "region" | "channel", code) each
    scopes: tuple[tuple[str, str, str], ...] = ()


def demo_users() -> list[DemoUser]:
    users = [
        DemoUser("admin", Role.ADMIN, "Ana", "Admin", superuser=True),
        DemoUser("cs", Role.CUSTOMER_SERVICE, "Carla", "Atendimento"),
        DemoUser(
            "manager",
            Role.MANAGER,
            "Marcos",
            "Gerente",
            # every region and every channel: a manager sees what they manage
            scopes=(
                *(("inventory.manage_region", "region", code) for code, _name in locations.REGIONS),
                *(("orders.manage_channel", "channel", channel.code) for channel in CHANNELS),
            ),
        ),
        DemoUser(
            "manager.sudeste",
            Role.MANAGER,
            "Sérgio",
            "Regional Sudeste",
            scopes=(("inventory.manage_region", "region", "sudeste"),),
        ),
        DemoUser(
            "manager.marketplace",
            Role.MANAGER,
            "Mariana",
            "Marketplaces",
            scopes=(("orders.manage_channel", "channel", "mercadolivre"),),
        ),
    ]
    for place in locations.STORES:
        users.append(
            DemoUser(
                f"store.{place.code.lower()}",
                Role.STORE_STAFF,
                "Equipe",
                place.name.removeprefix("Loja "),
                scopes=(("inventory.work_at_location", "location", place.code),),
            )
        )
    for place in locations.DCS:
        users.append(
            DemoUser(
                f"warehouse.{place.code.lower()}",
                Role.WAREHOUSE_STAFF,
                "Equipe",
                place.name,
                scopes=(("inventory.work_at_location", "location", place.code),),
            )
        )
    return users


def _scope_objects(users: Iterable[DemoUser]) -> dict[tuple[str, str], Any]:
    codes: dict[str, set[str]] = {"location": set(), "region": set(), "channel": set()}
    for user in users:
        for _permission, model, code in user.scopes:
            codes[model].add(code)
    found: dict[tuple[str, str], Any] = {}
    for obj in Location.objects.filter(code__in=codes["location"]):
        found["location", obj.code] = obj
    for region in Region.objects.filter(code__in=codes["region"]):
        found["region", region.code] = region
    for channel in Channel.objects.filter(code__in=codes["channel"]):
        found["channel", channel.code] = channel
    return found


def seed_users(report: SeedReport) -> None:
    """A user for every role and every location, all with the password `demo`, tied to their scope."""
    groups = setup_roles()
    User = get_user_model()
    wanted = demo_users()
    have = set(
        User.objects.filter(username__in=[u.username for u in wanted]).values_list("username", flat=True)
    )
    missing = [u for u in wanted if u.username not in have]
    if missing:
        password = make_password(DEMO_PASSWORD)  # one (slow, by design) hash shared by every demo user
        created = insert(
            User,
            [
                User(
                    username=u.username,
                    first_name=u.first_name,
                    last_name=u.last_name[:150],
                    email=f"{u.username}@demo.oms.local",
                    is_staff=u.superuser,
                    is_superuser=u.superuser,
                    password=password,
                )
                for u in missing
            ],
        )
        report.count("users", len(created))
    users = {u.username: u for u in User.objects.filter(username__in=[u.username for u in wanted])}
    Membership = User.groups.through
    insert(
        Membership,
        [Membership(user_id=users[u.username].pk, group_id=groups[u.role].pk) for u in wanted],
        ignore_conflicts=True,
    )
    scopes = _scope_objects(wanted)
    for u in wanted:
        for permission, model, code in u.scopes:
            if (model, code) in scopes:
                assign_perm(permission, users[u.username], scopes[model, code])
    demo_logins(report)


# --- all of it ---------------------------------------------------------------------------------------------


KPI_DAYS = 91  # the history's 90 days and today


def seed_kpis(report: SeedReport) -> None:
    """The KPI dashboard's rollups of the history (the beat keeps the last days fresh afterwards)."""
    before = ChannelDay.objects.count() + LocationDay.objects.count()
    kpi_rollup_recent(days=KPI_DAYS)
    report.count("KPI rollup rows", ChannelDay.objects.count() + LocationDay.objects.count() - before)


def black_friday(today: dt.date) -> dt.date:
    """The next Black Friday (the day after the fourth Thursday of November), or this year's until its
    weekend and Cyber Monday are over."""
    for year in (today.year, today.year + 1):
        november = dt.date(year, 11, 1)
        day = november + dt.timedelta(days=(3 - november.weekday()) % 7 + 21 + 1)
        if today <= day + dt.timedelta(days=3):
            return day
    raise AssertionError("unreachable")


def seed_events(report: SeedReport) -> None:
    """Demand events to plan with: Black Friday to Cyber Monday everywhere (by the admin), and the south-east
    manager's summer sale of T-shirts in the region's stores, starting in five days. Only once."""
    if DemandEvent.objects.exists():
        return
    users = get_user_model().objects.in_bulk(["admin", "manager.sudeste"], field_name="username")
    friday = black_friday(timezone.localdate())
    demand_event_save(
        name="Black Friday", starts_on=friday, ends_on=friday + dt.timedelta(days=3), factor="2.5",
        note="Sexta a Cyber Monday", by=users["admin"],
    )  # fmt: skip
    start = timezone.localdate() + dt.timedelta(days=5)
    stores = list(Location.objects.filter(region="sudeste", kind=LocationKind.STORE).order_by("code"))
    shirts = list(Product.objects.filter(sku__startswith="CAM-").order_by("sku")[:12])
    if stores and shirts:  # else it would be an event for every location, or every product
        demand_event_save(
            name="Liquidação de verão", starts_on=start, ends_on=start + dt.timedelta(days=6), factor="1.8",
            locations=stores, products=shirts, allowed={s.pk for s in stores}, by=users["manager.sudeste"],
        )  # fmt: skip
    report.count("demand events", DemandEvent.objects.count())


def seed_forecasts(report: SeedReport) -> None:
    """The forecast job's first night over the history (the beat runs it nightly afterwards)."""
    before = DemandForecast.objects.count()
    forecast_refresh()
    report.count("demand forecasts", DemandForecast.objects.count() - before)


TRANSFER_STORE, TRANSFER_DC = "LJ-SP-01", "CD-SP-CAJAMAR"


def seed_transfers(report: SeedReport) -> None:
    """Transfers to look at: a few replenishment proposals approved by the manager (open, units reserved at
    their DC), and from Cajamar to the Paulista store one transfer in transit (its staff receive it) and one
    received. Only once: a second run adds none."""
    if StockTransfer.objects.exists():
        return
    names = ["manager", f"warehouse.{TRANSFER_DC.lower()}", f"store.{TRANSFER_STORE.lower()}"]
    manager, warehouse, store_staff = map(
        get_user_model().objects.in_bulk(names, field_name="username").get, names
    )
    chosen = []
    pairs: set[tuple[int | None, int]] = set()
    proposals = ReplenishmentProposal.objects.filter(status=ProposalStatus.PROPOSED, source__isnull=False)
    for p in proposals.select_related("location", "product", "source").order_by(
        "location__code", "product__sku"
    ):
        if len(pairs | {(p.source_id, p.location_id)}) > 3:
            continue
        pairs.add((p.source_id, p.location_id))
        chosen.append(p)
    replenishment_decide_many(proposals=chosen, approve=True, by=manager, note="demo")
    store, dc = Location.objects.get(code=TRANSFER_STORE), Location.objects.get(code=TRANSFER_DC)
    both = StockLevel.objects.filter(location=store).values("product")
    rows = list(
        StockLevel.objects.filter(
            location=dc, product__in=both, on_hand__gte=F("reserved") + F("safety_stock") + 20
        )
        .select_related("product")
        .order_by("product__sku")[:6]
    )
    for n, half in enumerate((rows[:3], rows[3:])):
        if not half:
            continue
        t = transfer_create(source=dc, destination=store, lines=[(r.product, 6) for r in half], by=manager)
        transfer_dispatch(transfer=t, by=warehouse, tracking="Frota própria")
        if n == 1:
            transfer_receive(transfer=t, by=store_staff)
    report.count("stock transfers", StockTransfer.objects.count())


def seed_returns(report: SeedReport) -> None:
    """Three returns brought to the Paulista store (of any delivered order: customers return online orders in
    stores): one awaiting the goods (its staff receive it), one received (customer service refunds it) and one
    refunded. The first is an exchange for another size, sent once its staff receive the goods. Only once: a
    second run adds none."""
    if Return.objects.exists():
        return
    names = ["cs", f"store.{TRANSFER_STORE.lower()}"]
    cs, store_staff = map(get_user_model().objects.in_bulk(names, field_name="username").get, names)
    store = Location.objects.get(code=TRANSFER_STORE)
    delivered = (
        Fulfilment.objects.filter(
            kind__in=[FulfilmentKind.SHIP, FulfilmentKind.PICKUP],
            status__in=[FulfilmentStatus.DELIVERED, FulfilmentStatus.SHIPPED, FulfilmentStatus.COLLECTED],
        )
        .select_related("order")
        .order_by("-created_at", "-id")[:20]
    )
    # the first is exchanged for the same model in another size once it is back, the last for a dearer
    # product sent ahead: once the goods are in, the customer owes the difference
    reasons = ["wrong_size", "defective", "changed_mind", "not_as_described"]
    made: list[Return] = []
    for fulfilment in delivered:
        units = returnable_units(fulfilment.order)
        if not units:
            continue
        line_id, _qty = min(units.items())
        reason = reasons[len(made)]
        exchange = {}
        if not made:  # wrong size: the same model in another size, if the catalogue has one
            sku = fulfilment.order.lines.get(pk=line_id).sku
            family = sku.rpartition("-")[0] + "-"
            other = Product.objects.filter(sku__startswith=family, active=True).exclude(sku=sku).first()
            exchange = {line_id: (other.sku, 1)} if other else {}
        when = "received"
        if len(made) == len(reasons) - 1:  # another product, dearer than the one coming back
            # dearer than the unit and the order's shipping too: with every unit back and a fault reason the
            # shipping is refunded with it, and the customer must still owe the difference
            order = fulfilment.order
            price = order.lines.get(pk=line_id).unit_price + order.shipping_price
            dearer = Product.objects.filter(active=True, price__gt=price).order_by("price", "sku").first()
            exchange, when = ({line_id: (dearer.sku, 1)}, "now") if dearer else ({}, "received")
        made.append(
            return_create(
                order=fulfilment.order,
                lines={line_id: 1},
                reason=reason,
                location=store,
                exchange=exchange,
                exchange_when=when,
                by=cs,
            )
        )
        if len(made) == len(reasons):
            break
    for n, ret in enumerate(made[1:]):
        line = ret.lines.get()
        ret = return_receive(ret=ret, received={line.pk: (1, 1 if n else 0)}, by=store_staff)
        if n == 1:
            return_refund(ret=ret, amount=ret.lines.get().value, reference="PSP-DEMO", by=cs)
    report.count("returns", len(made))


def _demo_loaded() -> bool:
    return get_user_model().objects.filter(username="admin").exists()


def seed_demo(
    *, seed: int = 42, if_empty: bool = False, orders: int = 5000, log: Callable[[str], object] = print
) -> SeedReport:
    """Load (or top up) the demo data; with `if_empty`, skip everything when it is already there.

    One transaction: a failed run leaves nothing behind. Running it again creates nothing new.
    """
    report = SeedReport()
    if if_empty and _demo_loaded():
        report.skipped = True
        demo_logins(report)
        return report
    started = time.monotonic()
    with transaction.atomic():
        for name, step in (
            ("regions and locations", lambda: seed_places(report, seed=seed)),
            ("catalogue", lambda: seed_catalogue(report)),
            ("channels", lambda: seed_channels(report)),
            ("users", lambda: seed_users(report)),
            (
                "stock, customers and orders",
                lambda: seed_history(
                    report.count, seed=seed, orders=orders, skus=[p.sku for p in catalogue_products()]
                ),
            ),
            ("today's orders, routed live", lambda: seed_live_orders(report.count, seed=seed)),
            ("demand events", lambda: seed_events(report)),
            ("demand forecasts", lambda: seed_forecasts(report)),
            (
                "replenishment proposals",
                lambda: report.count("replenishment proposals", replenishment_propose()["created"]),
            ),
            ("stock transfers", lambda: seed_transfers(report)),
            ("returns", lambda: seed_returns(report)),
            ("KPI rollups", lambda: seed_kpis(report)),  # last: they count everything above
        ):
            step_started = time.monotonic()
            step()
            log(f"  {name}: {time.monotonic() - step_started:.1f} s")
    made = ", ".join(f"{n} {what}" for what, n in report.created.items() if n) or "nothing (already loaded)"
    log(f"Created {made} in {time.monotonic() - started:.1f} s.")
    return report


def demo_logins(report: SeedReport) -> None:
    """A few logins to print, and the pattern of the others (not forty lines)."""
    report.logins += [
        ("admin", Role.ADMIN),
        ("cs", Role.CUSTOMER_SERVICE),
        ("manager", Role.MANAGER),
        ("manager.sudeste", f"{Role.MANAGER} (region sudeste)"),
        ("manager.marketplace", f"{Role.MANAGER} (channel mercadolivre)"),
        ("store.lj-sp-01", f"{Role.STORE_STAFF} (LJ-SP-01)"),
        ("warehouse.cd-sp-cajamar", f"{Role.WAREHOUSE_STAFF} (CD-SP-CAJAMAR)"),
    ]
    report.login_patterns += [
        ("store.<store code>", f"{Role.STORE_STAFF}, one per store: store.lj-rj-01, store.lj-ba-02…"),
        ("warehouse.<DC code>", f"{Role.WAREHOUSE_STAFF}, one per DC: warehouse.cd-pe-cabo…"),
    ]
