"""The permission matrix: every URL of the project × every role × an object inside and one outside the scope.

The URL list is generated from the URL configuration, so a new URL without an entry in MATRIX fails
`test_every_url_is_in_the_matrix` with its name. Each entry gives the method to try and, per role, the
expected status for the object inside the role's scope and for the one outside it (see tests/access/world.py):
- 302 means a redirect to the login page (anonymous users on pages); APIs answer 401 to anonymous callers;
- 403: the role may not use this page at all; 404: the object exists but is outside the role's scope.
POST-only actions are tried with an empty body: they must refuse (400/403/404/405) or redirect, never 500.
The Django admin is checked once (non-admins never get in); the auth views are checked explicitly.

To see what the views answer today (to fill a new entry):
`ACCESS_MATRIX_DUMP=1 make test ARGS="tests/test_permission_matrix.py -s"`.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from oms.models import ApiKey
from oms.roles import Role
from tests.access.world import ROLES, World, build_world
from tests.factories import UserFactory

ANON, CS, STORE, WH, MGR, ADMIN = ROLES
DUMP = bool(os.environ.get("ACCESS_MATRIX_DUMP"))

Expect = int | tuple[int, int]


def walk(
    patterns: list[Any] | None = None, namespace: str = "", route: str = ""
) -> Iterator[tuple[str, str]]:
    """(URL name with its namespaces, route) of every pattern, recursively."""
    for pattern in get_resolver().url_patterns if patterns is None else patterns:
        if isinstance(pattern, URLResolver):
            ns = namespace
            if pattern.namespace:
                ns = f"{namespace}:{pattern.namespace}" if namespace else pattern.namespace
            yield from walk(pattern.url_patterns, ns, route + str(pattern.pattern))
        elif isinstance(pattern, URLPattern):
            name = pattern.name or f"<unnamed {route}{pattern.pattern}>"
            yield (f"{namespace}:{name}" if namespace else name), route + str(pattern.pattern)


def roles(
    anon: Expect, cs: Expect, store: Expect, wh: Expect, mgr: Expect, admin: Expect
) -> dict[str, tuple[int, int]]:
    values = dict(zip(ROLES, (anon, cs, store, wh, mgr, admin), strict=True))
    return {role: v if isinstance(v, tuple) else (v, v) for role, v in values.items()}


# Kwargs of each kind of URL, from the world and the object (inside or outside the role's scope).
Kwargs = Callable[[World, dict[str, Any]], dict[str, Any]]


def order(extra: dict[str, str] | None = None) -> Kwargs:
    return lambda w, o: {"number": o["order"].number, **(extra or {})}


def fulfilment(extra: dict[str, str] | None = None) -> Kwargs:
    return lambda w, o: {"pk": o["fulfilment"].pk, **(extra or {})}


def stock(w: World, o: dict[str, Any]) -> dict[str, Any]:
    return {"location": o["location"].code, "sku": w.product.sku}


def transfer(extra: dict[str, str] | None = None) -> Kwargs:
    return lambda w, o: {"pk": o["transfer"].pk, **(extra or {})}


def transfer_number(extra: dict[str, str] | None = None) -> Kwargs:
    return lambda w, o: {"number": o["transfer"].number, **(extra or {})}


def event(w: World, o: dict[str, Any]) -> dict[str, Any]:
    return {"pk": o["event"].pk}


def return_number(extra: dict[str, str] | None = None) -> Kwargs:
    return lambda w, o: {"number": o["return"].number, **(extra or {})}


def victim(extra: Callable[[World], dict[str, Any]] | None = None) -> Kwargs:
    return lambda w, o: {"pk": w.victim.pk, **(extra(w) if extra else {})}


def tracking(w: World, o: dict[str, Any]) -> dict[str, Any]:
    return {"token": o["tracking_token"]}


def no_kwargs(w: World, o: dict[str, Any]) -> dict[str, Any]:
    return {}


@dataclass
class Entry:
    expect: dict[str, tuple[int, int]]
    method: str = "GET"
    kwargs: Kwargs = no_kwargs
    data: dict[str, Any] = field(default_factory=dict)
    api: bool = False


# Shorthands for the common shapes.
ADMIN_PAGE = roles(302, 403, 403, 403, 403, 200)
ADMIN_ACTION = roles(302, 403, 403, 403, 403, 302)  # POST; admins are sent back to the user page
EVERY_USER = roles(302, 200, 200, 200, 200, 200)
API_EVERY_USER = roles(401, 200, 200, 200, 200, 200)

MATRIX: dict[str, Entry] = {
    # --- project frame and auth (checked explicitly below as well) -----------------------------------
    "home": Entry(EVERY_USER),
    "healthz": Entry(roles(200, 200, 200, 200, 200, 200)),
    "login": Entry(roles(200, 302, 302, 302, 302, 302)),  # signed-in users are sent on
    "logout": Entry(roles(405, 405, 405, 405, 405, 405)),  # GET is refused: logging out is a POST
    "password_change": Entry(EVERY_USER),
    "password_change_done": Entry(EVERY_USER),
    "password_reset": Entry(roles(200, 200, 200, 200, 200, 200)),
    "password_reset_done": Entry(roles(200, 200, 200, 200, 200, 200)),
    "password_reset_confirm": Entry(
        roles(200, 200, 200, 200, 200, 200), kwargs=lambda w, o: {"uidb64": "MQ", "token": "bad-token"}
    ),
    "password_reset_complete": Entry(roles(200, 200, 200, 200, 200, 200)),
    "set_language": Entry(roles(302, 302, 302, 302, 302, 302), method="POST", data={"language": "en"}),
    # --- API -------------------------------------------------------------------------------------------
    "api:schema": Entry(roles(200, 200, 200, 200, 200, 200), api=True),
    "api:docs": Entry(roles(200, 200, 200, 200, 200, 200), api=True),
    "api:order-list": Entry(API_EVERY_USER, api=True),
    "api:order-bulk": Entry(roles(401, 403, 403, 403, 403, 400), method="POST", api=True),
    "api:order-detail": Entry(
        roles(401, 200, (200, 404), (200, 404), (200, 404), 200), kwargs=order(), api=True
    ),
    "api:order-cancel": Entry(
        roles(401, 200, 403, 403, (409, 404), 409), method="POST", kwargs=order(), api=True
    ),
    "api:order-hold": Entry(
        roles(401, 200, 403, 403, (409, 404), 409),
        method="POST",
        kwargs=order(),
        data={"reason": "matrix probe"},
        api=True,
    ),
    "api:order-release": Entry(
        roles(401, 409, 403, 403, (409, 404), 409), method="POST", kwargs=order(), api=True
    ),
    "api:order-notes": Entry(
        roles(401, 200, 403, 403, (200, 404), 200),
        method="POST",
        kwargs=order(),
        data={"text": "matrix probe"},
        api=True,
    ),
    # An invalid body is refused before the order is looked up: the same 400 for any number, so nothing leaks.
    "api:order-address": Entry(roles(401, 400, 403, 403, 400, 400), method="POST", kwargs=order(), api=True),
    "api:demand-event-list": Entry(roles(401, 403, 403, 403, 200, 200), api=True),
    "api:demand-event-detail": Entry(roles(401, 403, 403, 403, (200, 404), 200), kwargs=event, api=True),
    "api:transfer-list": Entry(roles(401, 403, 200, 200, 200, 200), api=True),
    "api:transfer-detail": Entry(
        roles(401, 403, (200, 404), (200, 404), (200, 404), 200), kwargs=transfer_number(), api=True
    ),
    # receiving a transfer not dispatched yet: 409 from the destination's side, 403 from the source's
    "api:transfer-action": Entry(
        roles(401, 403, (409, 404), (403, 404), (409, 404), 409),
        method="POST",
        kwargs=transfer_number({"action": "receive"}),
        api=True,
    ),
    "api:order-returns": Entry(
        roles(401, 200, (200, 404), (200, 404), (200, 404), 200), kwargs=order(), api=True
    ),
    "api:return-list": Entry(API_EVERY_USER, api=True),
    "api:return-detail": Entry(
        roles(401, 200, (200, 404), (200, 404), (200, 404), 200), kwargs=return_number(), api=True
    ),
    # an empty body is refused before the return is looked up: the same 400 for any number
    "api:return-receive": Entry(
        roles(401, 403, 400, 400, 403, 400), method="POST", kwargs=return_number(), api=True
    ),
    "api:return-refund": Entry(
        roles(401, 400, 403, 403, 400, 400), method="POST", kwargs=return_number(), api=True
    ),
    "api:return-cancel": Entry(
        roles(401, 400, 403, 403, 400, 400), method="POST", kwargs=return_number(), api=True
    ),
    "api:return-collect": Entry(
        roles(401, 400, 403, 403, 400, 400), method="POST", kwargs=return_number(), api=True
    ),
    "api:return-correct": Entry(
        roles(401, 400, 403, 403, 400, 400), method="POST", kwargs=return_number(), api=True
    ),
    # no body: the return is looked up (404 outside the scope), and it has no exchange waiting (409)
    "api:return-send-exchange": Entry(
        roles(401, 409, 403, 403, (409, 404), 409), method="POST", kwargs=return_number(), api=True
    ),
    "api:channel-list": Entry(API_EVERY_USER, api=True),
    "api:location-list": Entry(API_EVERY_USER, api=True),
    "api:product-list": Entry(API_EVERY_USER, api=True),
    # managers may send safety stock levels (inventory.set_safety_stock), staff counts: an empty body is a 400
    "api:stock-adjustments": Entry(roles(401, 403, 400, 400, 400, 400), method="POST", api=True),
    "api:stock-detail": Entry(
        roles(401, 200, (200, 404), (200, 404), (200, 404), 200), kwargs=stock, api=True
    ),
    "api:promise": Entry(roles(401, 400, 400, 400, 400, 400), method="POST", api=True),
    # --- customer-service pages ------------------------------------------------------------------------
    "orders:list": Entry(EVERY_USER),
    "orders:detail": Entry(roles(302, 200, (200, 404), (200, 404), (200, 404), 200), kwargs=order()),
    "orders:action": Entry(
        roles(302, 400, (403, 404), (403, 404), (400, 404), 400),
        method="POST",
        kwargs=order({"action": "note"}),
    ),
    # --- fulfilment (store and warehouse work) -----------------------------------------------------------
    "fulfilment:queue": Entry(roles(302, 403, 200, 200, 403, 200)),
    "fulfilment:picklist": Entry(roles(302, 403, 200, 200, 403, 200)),
    "fulfilment:detail": Entry(roles(302, 403, (200, 404), (200, 404), 403, 200), kwargs=fulfilment()),
    "fulfilment:label": Entry(roles(302, 403, (200, 404), (200, 404), 403, 200), kwargs=fulfilment()),
    "fulfilment:act": Entry(
        roles(302, 403, (302, 404), (302, 404), 403, 302),
        method="POST",
        kwargs=fulfilment({"action": "pick"}),
    ),
    # --- public tracking page: the token is the key; an unknown token is a 404 for everyone ----------------
    "tracking:order": Entry(
        roles((200, 404), (200, 404), (200, 404), (200, 404), (200, 404), (200, 404)), kwargs=tracking
    ),
    # --- routing: the decision of an order (scoped like the order), the promise page (404 for staff) -----
    "routing:decision": Entry(roles(302, 200, (200, 404), (200, 404), (200, 404), 200), kwargs=order()),
    "routing:promise": Entry(roles(302, 200, 404, 404, 200, 200)),
    # what-if: managers and admins only (403 for the other roles); a run is theirs (admins: every run)
    "routing:whatif": Entry(roles(302, 403, 403, 403, 200, 200)),
    "routing:whatif_detail": Entry(roles(302, 403, 403, 403, 404, 404), kwargs=lambda w, o: {"pk": 999999}),
    # --- KPI dashboard: managers and admins only (each sees the channels and locations of their scope) ----
    "reporting:dashboard": Entry(roles(302, 403, 403, 403, 200, 200)),
    "reporting:export": Entry(roles(302, 403, 403, 403, 200, 200)),
    "reporting:today": Entry(roles(302, 403, 403, 403, 200, 200)),
    # --- stock pages ---------------------------------------------------------------------------------------
    "inventory:stock": Entry(EVERY_USER),
    "inventory:ledger": Entry(roles(302, 200, (200, 404), (200, 404), (200, 404), 200), kwargs=stock),
    # replenishment proposals: managers (their regions' locations) and admins decide; a POST of nothing ticked
    # is refused with a message (302 back to the list)
    "inventory:replenishment": Entry(roles(302, 403, 403, 403, 200, 200)),
    "inventory:replenishment-export": Entry(roles(302, 403, 403, 403, 200, 200)),
    "inventory:forecast": Entry(roles(302, 403, 403, 403, 200, 200)),
    # safety stock by rule: planners (inventory.set_safety_stock: managers, admins); a run is its planner's
    # (admins: every one), so another's or none is a 404
    "inventory:safety": Entry(roles(302, 403, 403, 403, 200, 200)),
    "inventory:safety-run": Entry(roles(302, 403, 403, 403, 404, 404), kwargs=lambda w, o: {"pk": 999999}),
    # demand events: managers (those naming their locations) and admins; removing one needs "confirm", so an
    # empty POST is sent back to the event with a message
    "returns:list": Entry(EVERY_USER),
    "returns:money-export": Entry(EVERY_USER),
    "returns:detail": Entry(roles(302, 200, (200, 404), (200, 404), (200, 404), 200), kwargs=return_number()),
    # an empty cancel reason: 400 for those who may act, after the scope (404) and the permission (403)
    "returns:action": Entry(
        roles(302, 400, (403, 404), (403, 404), (400, 404), 400),
        method="POST",
        kwargs=return_number({"action": "cancel"}),
        data={"reason": ""},
    ),
    "orders:return-new": Entry(roles(302, 200, 403, 403, (200, 404), 200), kwargs=order()),
    "inventory:events": Entry(roles(302, 403, 403, 403, 200, 200)),
    "inventory:event-new": Entry(roles(302, 403, 403, 403, 200, 200)),
    "inventory:event": Entry(roles(302, 403, 403, 403, (200, 404), 200), kwargs=event),
    "inventory:event-delete": Entry(roles(302, 403, 403, 403, (302, 404), 302), method="POST", kwargs=event),
    "inventory:transfers": Entry(roles(302, 403, 200, 200, 200, 200)),
    "inventory:transfer-new": Entry(roles(302, 403, 200, 200, 200, 200)),
    "inventory:transfer-summary": Entry(roles(302, 403, 200, 200, 200, 200)),
    "inventory:transfer": Entry(roles(302, 403, (200, 404), (200, 404), (200, 404), 200), kwargs=transfer()),
    # receiving a transfer not dispatched yet: refused with a message (302 back to it) where it is visible
    "inventory:transfer-act": Entry(
        roles(302, 403, (302, 404), (302, 404), (302, 404), 302),
        method="POST",
        kwargs=transfer({"action": "receive"}),
    ),
    # --- access (admin pages) ----------------------------------------------------------------------------
    "access:users": Entry(ADMIN_PAGE),
    "access:invite": Entry(ADMIN_PAGE),
    "access:user": Entry(ADMIN_PAGE, kwargs=victim()),
    "access:deactivate": Entry(ADMIN_ACTION, method="POST", kwargs=victim()),
    "access:reactivate": Entry(ADMIN_ACTION, method="POST", kwargs=victim()),
    "access:scope-add": Entry(roles(302, 403, 403, 403, 403, 400), method="POST", kwargs=victim()),
    "access:scope-remove": Entry(roles(302, 403, 403, 403, 403, 400), method="POST", kwargs=victim()),
    "access:key-issue": Entry(roles(302, 403, 403, 403, 403, 400), method="POST", kwargs=victim()),
    "access:key-revoke": Entry(
        ADMIN_ACTION, method="POST", kwargs=victim(lambda w: {"prefix": w.victim_key.prefix})
    ),
    "access:audit": Entry(ADMIN_PAGE),
    "access:audit-export": Entry(ADMIN_PAGE),
}


def _world() -> World:
    world = build_world()
    world.victim = UserFactory(username="victim")
    world.victim_key, _raw = ApiKey.objects.create_key(user=world.victim, name="victim key")
    from orders.models import OrderTrackingLink

    for o in (world.order_a, world.order_b, world.order_dc, world.order_web_b):
        OrderTrackingLink.objects.get_or_create(order=o, defaults={"token": secrets.token_urlsafe(24)})
    return world


def _objects(world: World, role: str, inside: bool) -> dict[str, Any]:
    from orders.models import OrderTrackingLink

    objs = world.inside(Role.STORE_STAFF if role == ANON else role) if inside else world.outside(role)
    # The public tracking page: "inside" is a real link, "outside" a token nobody was given.
    link = OrderTrackingLink.objects.filter(order=objs["order"]).first()
    objs["tracking_token"] = link.token if inside and link else secrets.token_urlsafe(24)
    return objs


def _client(world: World, role: str) -> Client:
    client = Client()
    if role != ANON:
        client.force_login(world.users[role])
    return client


def _request(client: Client, entry: Entry, url: str) -> Any:
    if entry.method == "POST" and entry.api:
        return client.post(url, entry.data, content_type="application/json")
    if entry.method == "POST":
        return client.post(url, entry.data)
    return client.get(url)


def _check(name: str, entry: Entry) -> list[str]:
    world = _world()
    problems = []
    for role in ROLES:
        client = _client(world, role)
        for inside, expected in zip((True, False), entry.expect[role], strict=True):
            url = reverse(name, kwargs=entry.kwargs(world, _objects(world, role, inside)))
            response = _request(client, entry, url)
            got = response.status_code
            where = "inside" if inside else "outside"
            if DUMP:
                print(f"MATRIX {name} {role} {where} {entry.method} {url} -> {got}")
            if got >= 500:
                problems.append(f"{role} {where}: {entry.method} {url} answered {got}")
            elif got != expected:
                problems.append(f"{role} {where}: {entry.method} {url} answered {got}, expected {expected}")
            elif got == 302 and role == ANON and name != "set_language":
                assert response["Location"].startswith(reverse("login")), (name, response["Location"])
    return problems


SKIPPED_NAMESPACES = ("admin:",)  # the Django admin: checked once in test_django_admin_is_for_admins_only


def _project_urls() -> list[str]:
    return sorted({name for name, _route in walk() if not name.startswith(SKIPPED_NAMESPACES)})


def test_every_url_is_in_the_matrix() -> None:
    urls = _project_urls()
    missing = [name for name in urls if name not in MATRIX]
    assert not missing, (
        f"URLs without an entry in tests/test_permission_matrix.py (add them to the matrix): {missing}"
    )
    stale = [name for name in MATRIX if name not in urls]
    assert not stale, f"Matrix entries for URLs that no longer exist (remove them): {stale}"


@pytest.mark.django_db
@pytest.mark.parametrize("name", sorted(MATRIX))
def test_matrix(name: str) -> None:
    problems = _check(name, MATRIX[name])
    assert not problems, f"{name}:\n" + "\n".join(problems)


@pytest.mark.django_db
def test_django_admin_is_for_admins_only() -> None:
    world = _world()
    url = reverse("admin:index")
    assert Client().get(url).status_code == 302
    for role in (CS, STORE, WH, MGR):
        response = _client(world, role).get(url)
        assert response.status_code in (302, 403), role
    assert _client(world, ADMIN).get(url).status_code == 200


@pytest.mark.django_db
def test_auth_views() -> None:
    world = _world()
    anonymous = Client()
    assert anonymous.get(reverse("login")).status_code == 200
    signed_in = _client(world, CS)
    assert signed_in.post(reverse("logout")).status_code == 302
    assert signed_in.get(reverse("home")).status_code == 302  # logged out: back to the login page
    assert anonymous.get(reverse("password_change")).status_code == 302
