"""Roles are Django groups with model permissions; object permissions (django-guardian) scope them.

Each role's model permissions are listed here as "app_label.codename". `setup_roles()` creates the groups
and grants exactly those permissions (idempotent; admins may add more in the admin, and re-running only
adds what is missing). Store and warehouse staff are tied to locations, managers to channels or regions,
through guardian object permissions granted by the access services.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import Group, Permission
from django.db import transaction
from django.db.models import Q
from django.utils.translation import gettext_lazy as _


class Role:
    CUSTOMER_SERVICE = "customer_service"
    STORE_STAFF = "store_staff"
    WAREHOUSE_STAFF = "warehouse_staff"
    MANAGER = "manager"
    ADMIN = "admin"


ROLE_LABELS = {
    Role.CUSTOMER_SERVICE: _("Customer service"),
    Role.STORE_STAFF: _("Store staff"),
    Role.WAREHOUSE_STAFF: _("Warehouse staff"),
    Role.MANAGER: _("Manager"),
    Role.ADMIN: _("Admin"),
}

# Model permissions per role. Object permissions (guardian) then narrow *which* objects a role sees.
_VIEW_CATALOGUE = [
    "inventory.view_location",
    "inventory.view_product",
    "inventory.view_stocklevel",
    "inventory.view_stockmovement",
    "inventory.view_region",
    "orders.view_channel",
]
_VIEW_ORDERS = [
    "orders.view_order",
    "orders.view_orderline",
    "orders.view_orderevent",
    "orders.view_customer",
    "orders.view_fulfilment",
    "orders.view_fulfilmentline",
]
_WORK_FULFILMENTS = [
    "orders.change_fulfilment",
    "orders.change_fulfilmentline",
    "inventory.change_stocklevel",
]
_MOVE_STOCK = [  # transfers between locations: open, dispatch, receive, cancel
    "inventory.view_stocktransfer",
    "inventory.add_stocktransfer",
    "inventory.change_stocktransfer",
]

_PLAN_DEMAND = [  # demand events (promotions, closures) and safety stock, at the planner's locations
    "inventory.set_safety_stock",
    "inventory.view_demandevent",
    "inventory.add_demandevent",
    "inventory.change_demandevent",
    "inventory.delete_demandevent",
]

ROLE_PERMISSIONS: dict[str, list[str]] = {
    Role.CUSTOMER_SERVICE: [*_VIEW_CATALOGUE, *_VIEW_ORDERS, "orders.change_order", "orders.add_orderevent"],
    Role.STORE_STAFF: [*_VIEW_CATALOGUE, *_VIEW_ORDERS, *_WORK_FULFILMENTS, *_MOVE_STOCK],
    Role.WAREHOUSE_STAFF: [*_VIEW_CATALOGUE, *_VIEW_ORDERS, *_WORK_FULFILMENTS, *_MOVE_STOCK],
    Role.MANAGER: [
        *_VIEW_CATALOGUE,
        *_VIEW_ORDERS,
        *_MOVE_STOCK,
        *_PLAN_DEMAND,
        "orders.change_order",
        "oms.view_auditevent",
    ],
    Role.ADMIN: [
        *_VIEW_CATALOGUE,
        *_VIEW_ORDERS,
        *_WORK_FULFILMENTS,
        *_MOVE_STOCK,
        *_PLAN_DEMAND,
        "orders.change_order",
        "orders.add_orderevent",
        "oms.view_auditevent",
        "oms.view_apikey",
        "oms.add_apikey",
        "oms.change_apikey",
        "oms.view_webhooksubscription",
        "oms.add_webhooksubscription",
        "oms.change_webhooksubscription",
        "inventory.add_location",
        "inventory.change_location",
        "inventory.add_product",
        "inventory.change_product",
        "orders.add_channel",
        "orders.change_channel",
        "auth.view_user",
        "auth.add_user",
        "auth.change_user",
        "auth.view_group",
        "auth.change_group",
    ],
}


def _permissions(names: list[str]) -> list[Permission]:
    if not names:
        return []
    query = Q()
    for name in names:
        app_label, codename = name.split(".", 1)
        query |= Q(content_type__app_label=app_label, codename=codename)
    found = list(Permission.objects.filter(query).select_related("content_type"))
    missing = set(names) - {f"{p.content_type.app_label}.{p.codename}" for p in found}
    if missing:
        raise LookupError(f"unknown permissions in ROLE_PERMISSIONS: {sorted(missing)}")
    return found


@transaction.atomic
def setup_roles() -> dict[str, Group]:
    """Create every role group and grant it its listed permissions; returns the groups by role."""
    groups = {}
    for role, perms in ROLE_PERMISSIONS.items():
        group, _created = Group.objects.get_or_create(name=role)
        group.permissions.add(*_permissions(perms))
        groups[role] = group
    return groups


def setup_roles_after_migrate(sender: Any, app_config: Any = None, **kwargs: Any) -> None:
    # Run once, after the last app's post_migrate, when every permission exists.
    from django.apps import apps

    with_models = [config for config in apps.get_app_configs() if config.models_module is not None]
    if app_config is not None and app_config.label != with_models[-1].label:
        return
    setup_roles()


def user_roles(user: Any) -> set[str]:
    """The role names of a user (superusers count as admin)."""
    if not getattr(user, "is_authenticated", False):
        return set()
    cached = getattr(user, "_oms_roles", None)
    if cached is None:
        cached = set(user.groups.values_list("name", flat=True))
        if user.is_superuser:
            cached.add(Role.ADMIN)
        user._oms_roles = cached
    return cached


MANAGING_ROLES = frozenset({Role.MANAGER, Role.ADMIN})


def is_manager_or_admin(user: Any) -> bool:
    """Managers and admins (superusers count as admin): the KPIs, routing what-ifs and replenishment."""
    return bool(user_roles(user) & MANAGING_ROLES)
