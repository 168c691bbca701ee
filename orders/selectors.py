"""Reads of orders, scoped by permission: one query each, joins and subqueries, never a Python loop."""

from __future__ import annotations

import contextlib
import datetime as dt
import re
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ValidationError
from django.db.models import Exists, OuterRef, Prefetch, Q, QuerySet, Subquery, Sum, Value
from django.db.models.functions import Coalesce, Left, Upper
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver
from guardian.shortcuts import get_objects_for_user

from inventory.selectors import location_list, user_sees_all_locations
from oms.brazil import digits, normalize_phone
from oms.cache import cached, forget, prefetch
from oms.roles import Role, user_roles

from .models import (
    NAME_KEY_LENGTH,
    Channel,
    Customer,
    EntryKind,
    Fulfilment,
    FulfilmentKind,
    Order,
    OrderEvent,
    OrderStatus,
    Return,
    ReturnEntry,
    ReturnStatus,
)

# Every create looks its channel up: the channels (a handful of rows) are kept in the cache, read by an API
# request with its key (oms.cache.prefetch) and dropped whenever one is saved or deleted.
CHANNELS_KEY = prefetch("oms:orders:channels")
CHANNELS_TTL = 300


def channels_by_code() -> dict[str, Channel]:
    """Every channel, active or not, by code."""
    return cached(CHANNELS_KEY, lambda: {c.code: c for c in Channel.objects.all()}, CHANNELS_TTL)


@receiver([post_save, post_delete], sender=Channel, dispatch_uid="orders.channels_changed")
def channels_changed(**kwargs: Any) -> None:
    forget(CHANNELS_KEY)


def channel_list(*, user: Any) -> QuerySet[Channel]:
    """Channels a user sees: all for admins and customer service, the managed ones for managers."""
    if user_sees_all_locations(user):
        return Channel.objects.all()
    if Role.MANAGER not in user_roles(user):
        return Channel.objects.none()
    return get_objects_for_user(
        user, "orders.manage_channel", klass=Channel, accept_global_perms=False, with_superuser=False
    )


def _scope(orders: QuerySet[Order], user: Any) -> QuerySet[Order]:
    if user_sees_all_locations(user):
        return orders
    if not getattr(user, "is_authenticated", False):
        return orders.none()
    locations = location_list(user=user).values("pk")
    at_my_locations = Exists(Fulfilment.objects.filter(order=OuterRef("pk"), location__in=locations))
    condition = Q(at_my_locations) | Q(pickup_location__in=locations)
    if Role.MANAGER in user_roles(user):
        condition |= Q(channel__in=channel_list(user=user).values("pk"))
    return orders.filter(condition)


@dataclass(frozen=True)
class OrderFilters:
    q: str = ""
    status: str = ""
    channel: str = ""
    location: str = ""
    placed_after: dt.datetime | None = None
    placed_before: dt.datetime | None = None


_NUMERIC = re.compile(r"[\d\s.\-/()+]+")
_MAX_CUSTOMERS = 500


def _customer_ids(match: Q, *, limit: int = _MAX_CUSTOMERS) -> list[int]:
    # Resolved first, on the customer indexes, so that every branch of the order filter below is an index
    # lookup on orders_order (an OR across the customer join would make PostgreSQL scan every order).
    return list(Customer.objects.filter(match).values_list("pk", flat=True)[:limit])


def _search(orders: QuerySet[Order], q: str) -> QuerySet[Order]:
    """One box: number, channel reference, e-mail, CPF/CNPJ, phone, CEP or customer name (prefix)."""
    q = q.strip()
    if not q:
        return orders
    if "@" in q:
        return orders.filter(customer_id__in=_customer_ids(Q(email=q.lower())))
    if not any(char.isdigit() for char in q):
        # Names have no digits; a channel reference always has some. The name is the one on the order. On
        # PostgreSQL a rare prefix is found through its prefix index (then sorted); a common one walks, newest
        # first, the orders whose name starts with the same three letters, which meets its matches at once.
        if len(q) < NAME_KEY_LENGTH:
            return orders.filter(customer_name__istartswith=q)
        return orders.alias(name_key=Left(Upper("customer_name"), NAME_KEY_LENGTH)).filter(
            name_key=Left(Upper(Value(q)), NAME_KEY_LENGTH), customer_name__istartswith=q
        )
    match = Q(number=q) | Q(external_ref=q)
    if _NUMERIC.fullmatch(q):
        number = digits(q)
        if len(number) == 8:
            match |= Q(number=number) | Q(ship_cep=number)
        customers = Q()
        if len(number) in (11, 14):
            customers |= Q(document=number)
        if len(number) >= 10:
            with contextlib.suppress(ValidationError):
                customers |= Q(phone=normalize_phone(q))
        if customers:
            match |= Q(customer_id__in=_customer_ids(customers))
    return orders.filter(match)


def order_list(*, user: Any, filters: OrderFilters | None = None) -> QuerySet[Order]:
    """Orders the user may see, filtered, newest first."""
    filters = filters or OrderFilters()
    orders = _scope(Order.objects.select_related("channel", "customer", "pickup_location"), user)
    orders = _search(orders, filters.q)
    if filters.status:
        orders = orders.filter(status=filters.status)
    if filters.channel:
        orders = orders.filter(channel__code=filters.channel)
    if filters.location:
        orders = orders.filter(
            Q(Exists(Fulfilment.objects.filter(order=OuterRef("pk"), location__code=filters.location)))
            | Q(pickup_location__code=filters.location)
        )
    if filters.placed_after:
        orders = orders.filter(placed_at__gte=filters.placed_after)
    if filters.placed_before:
        orders = orders.filter(placed_at__lt=filters.placed_before)
    return orders.order_by("-placed_at", "-id")


def order_get(*, user: Any, number: str) -> Order:
    """One order with its lines, fulfilments and timeline; `Order.DoesNotExist` outside the user's scope."""
    return (
        _scope(Order.objects.all(), user)
        .select_related("channel", "customer", "pickup_location", "exchange_for")
        .prefetch_related(
            "lines",
            Prefetch(
                "fulfilments",
                queryset=Fulfilment.objects.select_related("location").prefetch_related("lines"),
            ),
            Prefetch("events", queryset=OrderEvent.objects.select_related("actor").order_by("at", "id")),
        )
        .get(number=number)
    )


def fulfilment_list(*, user: Any) -> QuerySet[Fulfilment]:
    """Fulfilments a user may see and act on: at their locations, or transfers headed to their stores."""
    if user_sees_all_locations(user):
        return Fulfilment.objects.all()
    mine = location_list(user=user).values("pk")
    return Fulfilment.objects.filter(
        Q(location__in=mine) | Q(kind=FulfilmentKind.TRANSFER, order__pickup_location__in=mine)
    )


def fulfilment_get(*, user: Any, pk: int) -> Fulfilment:
    """One fulfilment in the user's scope with its order; `Fulfilment.DoesNotExist` otherwise."""
    return (
        fulfilment_list(user=user)
        .select_related("order__customer", "order__channel", "order__pickup_location", "location")
        .get(pk=pk)
    )


def return_list(*, user: Any) -> QuerySet[Return]:
    """Returns a user may see: of the orders they see, or coming back to their locations; newest first."""
    returns = Return.objects.select_related("order", "location").order_by("-created_at", "-id")
    if user_sees_all_locations(user):
        return returns
    if not getattr(user, "is_authenticated", False):
        return returns.none()
    orders = _scope(Order.objects.all(), user).values("pk")
    return returns.filter(Q(order__in=orders) | Q(location__in=location_list(user=user).values("pk")))


def returns_owing[R: QuerySet[Any]](returns: R) -> R:
    """Of `returns`, those on which the customer owes money: owed after their goods came in (`OWED`), and
    cancelled ones whose exchange order went out ahead of goods that never came, not yet paid or waived
    (their status stays cancelled: the goods will not come). What settled a cancelled return's debt is its
    entries, every one negative (payments, waivers, offsets), so it owes while they fall short of the
    exchange order's total (corrections and the entries they correct count for nothing)."""
    settled = Subquery(
        ReturnEntry.objects.filter(ret=OuterRef("pk"), reversal__isnull=True)
        .exclude(kind=EntryKind.REVERSAL)
        .values("ret")
        .annotate(s=Sum("amount"))
        .values("s")
    )
    unpaid = Q(
        status=ReturnStatus.CANCELLED,
        exchange_order__isnull=False,
        exchange_order__total__gt=-Coalesce(settled, Value(0), output_field=Return.refund_amount.field),
    ) & ~Q(exchange_order__status=OrderStatus.CANCELLED)
    return returns.filter(Q(status=ReturnStatus.OWED) | unpaid)


def returns_with_status[R: QuerySet[Any]](returns: R, status: str) -> R:
    """`returns` narrowed to a status of a list's filter; "owed" takes in the cancelled returns the customer
    still owes on (`returns_owing`)."""
    if status == ReturnStatus.OWED:
        return returns_owing(returns)
    return returns.filter(status=status)


def return_receivable_by(*, user: Any, ret: Return) -> bool:
    """Whether `user` may receive `ret`'s goods: fulfilment work, at the location they come back to."""
    return (
        user.has_perm("orders.change_fulfilment")
        and location_list(user=user).filter(pk=ret.location_id).exists()
    )


def return_get(*, user: Any, number: str) -> Return:
    """One return in the user's scope with its lines; `Return.DoesNotExist` otherwise."""
    return (
        return_list(user=user)
        .select_related("order__customer", "created_by", "received_by", "refunded_by", "exchange_order")
        .prefetch_related("lines__order_line__product", "entries__other", "entries__created_by")
        .get(number=number)
    )
