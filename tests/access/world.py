"""A small retailer to test scoping against: two stores in two regions, a DC, two channels, one user per role.

- store A (region "reg-a") and store B (region "reg-b"), DC (region "reg-dc"); channels web and marketplace;
- store staff tied to A, warehouse staff tied to the DC, a manager tied to channel web and region reg-a;
- stock transfers DC → A (inside every scope), B → DC and B → A (outside the store's and the manager's, and
  outside the warehouse's, respectively); demand events at A (inside) and at B (outside the manager's);
- orders (marketplace, home delivery): one fulfilled at A, one at B, one at the DC; plus a web order at B
  (the manager sees it through the channel, store A does not).
Each role has an object inside its scope and one outside (for customer service and admins both are visible).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.contrib.auth.models import Group
from django.utils import timezone
from guardian.shortcuts import assign_perm

from inventory.models import Location, Product, Region
from inventory.services.events import demand_event_save
from inventory.services.transfers import transfer_create
from oms.models import ApiKey
from oms.roles import Role, setup_roles
from orders.models import Channel, Fulfilment, FulfilmentLine, Order, Return, ReturnLine
from orders.services import AddressData, CustomerData, LineData, order_create
from tests.factories import (
    ChannelFactory,
    DCFactory,
    LocationFactory,
    ProductFactory,
    StockFactory,
    UserFactory,
)

ROLES = ("anonymous", Role.CUSTOMER_SERVICE, Role.STORE_STAFF, Role.WAREHOUSE_STAFF, Role.MANAGER, Role.ADMIN)
PASSWORD = "correct-horse-battery"

ADDRESS = AddressData(
    street="Av. Paulista",
    number="1578",
    district="Bela Vista",
    city="São Paulo",
    state="SP",
    cep="01310200",
    lat=-23.5614,
    lon=-46.6559,
)


@dataclass
class World:
    store_a: Location
    store_b: Location
    dc: Location
    region_a: Region
    region_b: Region
    web: Channel
    marketplace: Channel
    product: Product
    order_a: Order
    order_b: Order
    order_dc: Order
    order_web_b: Order
    users: dict[str, Any]
    keys: dict[str, str] = field(default_factory=dict)
    transfers: dict[str, Any] = field(default_factory=dict)  # "dc-a", "b-dc", "b-a"
    events: dict[str, Any] = field(default_factory=dict)  # demand events "a" (store A), "b" (store B)
    returns: dict[str, Any] = field(default_factory=dict)  # of order A (to store A), B (store B), DC (the DC)
    victim: Any = None  # a user the admin pages act on (not one of the role users)
    victim_key: Any = None

    def inside(self, role: str) -> dict[str, Any]:
        """The objects inside a role's scope (an order, its fulfilment, a location)."""
        order = {Role.WAREHOUSE_STAFF: self.order_dc}.get(role, self.order_a)
        location = {Role.WAREHOUSE_STAFF: self.dc}.get(role, self.store_a)
        return {
            "order": order,
            "location": location,
            "fulfilment": order.fulfilments.first(),
            "transfer": self.transfers["dc-a"],
            "event": self.events["a"],
            "return": self.returns["dc" if role == Role.WAREHOUSE_STAFF else "a"],
        }

    def outside(self, role: str) -> dict[str, Any]:
        """Objects outside the scope of staff and managers (customer service and admins see them too)."""
        return {
            "order": self.order_b,
            "location": self.store_b,
            "fulfilment": self.order_b.fulfilments.first(),
            "transfer": self.transfers["b-a" if role == Role.WAREHOUSE_STAFF else "b-dc"],
            "event": self.events["b"],
            "return": self.returns["b"],
        }

    def visible_orders(self, role: str) -> set[str | None]:
        everything = {o.number for o in (self.order_a, self.order_b, self.order_dc, self.order_web_b)}
        return {
            Role.CUSTOMER_SERVICE: everything,
            Role.ADMIN: everything,
            Role.STORE_STAFF: {self.order_a.number},
            Role.WAREHOUSE_STAFF: {self.order_dc.number},
            Role.MANAGER: {self.order_a.number, self.order_web_b.number},
        }[role]

    def visible_locations(self, role: str) -> set[str]:
        everything = {self.store_a.code, self.store_b.code, self.dc.code}
        return {
            Role.CUSTOMER_SERVICE: everything,
            Role.ADMIN: everything,
            Role.STORE_STAFF: {self.store_a.code},
            Role.WAREHOUSE_STAFF: {self.dc.code},
            Role.MANAGER: {self.store_a.code},
        }[role]


def _order(channel: Channel, ref: str, product: Product, at: Location) -> Order:
    order = order_create(
        channel=channel,
        external_ref=ref,
        placed_at=timezone.now() - dt.timedelta(hours=1),
        customer=CustomerData(name="Ana Souza", email="ana@example.com", document="52998224725"),
        delivery_mode="home",
        deadline_days=3,
        lines=[LineData(product=product, qty=1, unit_price=Decimal("59.90"))],
        address=ADDRESS,
    ).order
    fulfilment = Fulfilment.objects.create(order=order, location=at, kind="ship")
    FulfilmentLine.objects.create(fulfilment=fulfilment, order_line=order.lines.get(), qty=1)
    return order


def build_world(*, with_keys: bool = False) -> World:
    setup_roles()
    region_a = Region.objects.create(code="reg-a", name="Região A")
    region_b = Region.objects.create(code="reg-b", name="Região B")
    store_a: Any = LocationFactory(code="LJ-A-01", region="reg-a")
    store_b: Any = LocationFactory(code="LJ-B-01", region="reg-b")
    dc: Any = DCFactory(code="CD-01", region="reg-dc")
    web: Any = ChannelFactory(code="web", name="Site", kind="site")
    marketplace: Any = ChannelFactory(code="marketplace", name="Marketplace", kind="marketplace")
    product: Any = ProductFactory(sku="CAM-0001-P")
    for location in (store_a, store_b, dc):
        StockFactory(location=location, product=product, on_hand=50)

    users: dict[str, Any] = {"anonymous": None}
    for role in ROLES[1:]:
        user: Any = UserFactory(username=f"w-{role}", password=PASSWORD)
        user.groups.add(Group.objects.get(name=role))
        users[role] = user
    users[Role.ADMIN].is_staff = users[Role.ADMIN].is_superuser = True
    users[Role.ADMIN].save(update_fields=["is_staff", "is_superuser"])
    assign_perm("inventory.work_at_location", users[Role.STORE_STAFF], store_a)
    assign_perm("inventory.work_at_location", users[Role.WAREHOUSE_STAFF], dc)
    assign_perm("orders.manage_channel", users[Role.MANAGER], web)
    assign_perm("inventory.manage_region", users[Role.MANAGER], region_a)

    world = World(
        store_a=store_a,
        store_b=store_b,
        dc=dc,
        region_a=region_a,
        region_b=region_b,
        web=web,
        marketplace=marketplace,
        product=product,
        order_a=_order(marketplace, "MKT-A", product, store_a),
        order_b=_order(marketplace, "MKT-B", product, store_b),
        order_dc=_order(marketplace, "MKT-DC", product, dc),
        order_web_b=_order(web, "WEB-B", product, store_b),
        users=users,
    )
    for name, source, destination in (
        ("dc-a", dc, store_a),
        ("b-dc", store_b, dc),
        ("b-a", store_b, store_a),
    ):
        world.transfers[name] = transfer_create(
            source=source, destination=destination, lines=[(product, 2)], by=users[Role.ADMIN]
        )
    for name, store in (("a", store_a), ("b", store_b)):
        world.events[name] = demand_event_save(
            name=f"Promo {name}", starts_on=timezone.localdate(), ends_on=timezone.localdate(), factor="2",
            locations=[store], by=users[Role.ADMIN],
        )  # fmt: skip
    for name, order, location in (
        ("a", world.order_a, store_a),
        ("b", world.order_b, store_b),
        ("dc", world.order_dc, dc),
    ):
        # scoping data only: the world's orders were never shipped, so the service would refuse a return
        ret = Return.objects.create(
            number=f"{order.number}-D1", order=order, location=location, reason="other"
        )
        ReturnLine.objects.create(ret=ret, order_line=order.lines.get(), qty=1)
        world.returns[name] = ret
    if with_keys:
        for role in ROLES[1:]:
            _key, raw = ApiKey.objects.create_key(user=users[role], name=f"matrix {role}")
            world.keys[role] = raw
    return world
