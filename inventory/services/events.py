"""Demand events: promotions, Black Friday, a store's fair, a closure, planned by managers.

`demand_event_save` and `demand_event_delete` are the only ways to change one (each one transaction with its
audit row). `EventCalendar` answers what the forecast job, the forecast page and the replenishment job ask:
by how much an event changes the demand of one stock row (location, product) on one day.
"""

from __future__ import annotations

import datetime as dt
import math
from collections import defaultdict
from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from oms.audit import audit_record
from oms.exceptions import DomainError, NotFoundInScope, NotPermitted

from ..models import (
    EVENT_FACTOR_MAX,
    EVENT_FACTOR_MIN,
    EVENT_MAX_DAYS,
    DemandEvent,
    DemandEventLocation,
    DemandEventProduct,
    Location,
    Product,
    names_only,
)
from . import _actor

# how far back an event may start: last year's Black Friday, recorded so that the history is read right
EVENT_PAST_DAYS = 400
EVENT_AHEAD_DAYS = 730  # ... and how far ahead


class InvalidEvent(DomainError):
    status_code = 400
    code = "invalid_event"


class EventNotYours(NotPermitted):
    """The event names locations the caller does not plan (or every location): to see, not to change."""


@dataclass(frozen=True, slots=True)
class _Effect:
    factor: float
    locations: frozenset[int] | None  # None: every location
    products: frozenset[int] | None  # None: every product

    def at(self, location_id: int) -> bool:
        return self.locations is None or location_id in self.locations

    def applies(self, location_id: int, product_id: int) -> bool:
        return self.at(location_id) and (self.products is None or product_id in self.products)


@dataclass
class EventCalendar:
    """The events of a span of days, by day. `factor` is 1.0 on a day without events, at once."""

    by_day: dict[dt.date, list[_Effect]] = field(default_factory=dict)
    # product → the days on which some event names it, with those events (for `extra_days`)
    by_product: dict[int, dict[dt.date, list[_Effect]]] = field(default_factory=dict)
    _plain: dict[tuple[int, dt.date], float] = field(default_factory=dict, repr=False)  # `_plain_factor`'s
    _base: dict[tuple[int, dt.date, dt.date, tuple[float, ...]], float] = field(
        default_factory=dict, repr=False
    )

    @classmethod
    def load(cls, start: dt.date, end: dt.date) -> EventCalendar:
        """The events that touch the days from `start` to `end` (three queries, whatever their number)."""
        events = list(
            DemandEvent.objects.filter(starts_on__lte=end, ends_on__gte=start).values_list(
                "pk", "starts_on", "ends_on", "factor"
            )
        )
        if not events:
            return cls()
        ids = [pk for pk, *_rest in events]
        places: dict[int, set[int]] = defaultdict(set)
        for event_id, location_id in DemandEventLocation.objects.filter(demandevent_id__in=ids).values_list(
            "demandevent_id", "location_id"
        ):
            places[event_id].add(location_id)
        goods: dict[int, set[int]] = defaultdict(set)
        for event_id, product_id in DemandEventProduct.objects.filter(demandevent_id__in=ids).values_list(
            "demandevent_id", "product_id"
        ):
            goods[event_id].add(product_id)
        calendar = cls()
        for pk, starts_on, ends_on, factor in events:
            effect = _Effect(
                float(factor),
                frozenset(places[pk]) if pk in places else None,
                frozenset(goods[pk]) if pk in goods else None,
            )
            day = max(starts_on, start)
            while day <= min(ends_on, end):
                calendar.by_day.setdefault(day, []).append(effect)
                for product_id in effect.products or ():
                    calendar.by_product.setdefault(product_id, {}).setdefault(day, []).append(effect)
                day += dt.timedelta(days=1)
        return calendar

    def __bool__(self) -> bool:
        return bool(self.by_day)

    def factor(self, location_id: int, product_id: int, day: dt.date) -> float:
        """How many normal days' demand the row sells on `day`: the product of the factors of its events."""
        effects = self.by_day.get(day)
        if not effects:
            return 1.0
        return math.prod(e.factor for e in effects if e.applies(location_id, product_id))

    def _plain_factor(self, location_id: int, day: dt.date) -> float:
        """The factor of the events of `day` for every product at the location."""
        key = (location_id, day)
        found = self._plain.get(key)
        if found is None:
            found = self._plain[key] = math.prod(
                e.factor for e in self.by_day.get(day, ()) if e.products is None and e.at(location_id)
            )
        return found

    def extra_days(
        self, location_id: int, product_id: int, days: list[dt.date], weights: tuple[float, ...] | None = None
    ) -> float:
        """How many more normal days' demand than `days` hold (each weighted by `weights`, else 1) the row
        sells over them: each day of its events adds its weight times the factor less one (a closure takes
        away). 0.0 without events. The days' events for every product are summed once per location and
        weights; a product's own only where an event names it."""
        if not self.by_day or not days:
            return 0.0
        w = weights or (1.0,) * len(days)
        key = (location_id, days[0], days[-1], w)
        base = self._base.get(key)
        if base is None:
            base = self._base[key] = sum(
                wk * (self._plain_factor(location_id, day) - 1.0)
                for wk, day in zip(w, days, strict=True)
                if day in self.by_day
            )
        own = self.by_product.get(product_id)
        if not own:
            return base
        position = {day: k for k, day in enumerate(days)}
        for day, effects in own.items():
            k = position.get(day)
            if k is not None:
                f = math.prod(e.factor for e in effects if e.at(location_id))
                base += w[k] * self._plain_factor(location_id, day) * (f - 1.0)
        return base

    def location_wide_days(self, location_id: int, days: Iterable[dt.date]) -> set[dt.date]:
        """The days on which an event for every product applies at the location."""
        return {
            day
            for day in days
            if any(e.products is None and e.at(location_id) for e in self.by_day.get(day, ()))
        }

    def _here(self, location_id: int, day: dt.date) -> list[_Effect]:
        return [e for e in self.by_day.get(day, ()) if e.at(location_id)]

    def location_day(self, location_id: int, day: dt.date, total: float, daily: dict[int, float]) -> float:
        """A location's expected units on `day`: `total` units on a normal day, of which `daily` gives those
        of the products that some event of the day names (product → units a day)."""
        effects = self._here(location_id, day)
        if not effects:
            return total
        overall = math.prod(e.factor for e in effects if e.products is None)
        named = [(e.factor, e.products) for e in effects if e.products is not None]
        extra = sum(
            units * (math.prod(f for f, products in named if product_id in products) - 1.0)
            for product_id, units in daily.items()
        )
        return overall * (total + extra)

    def named_products(self, location_id: int, days: Iterable[dt.date]) -> set[int]:
        """The products that an event of these days at this location names (those `location_day` needs)."""
        named: set[int] = set()
        for day in days:
            for e in self._here(location_id, day):
                if e.products is not None:
                    named |= e.products
        return named

    def network_factor(self, product_id: int | None, day: dt.date) -> float:
        """The product's factor on `day` from the events for every location (None: a product that no event
        names), what the network's demand for it is multiplied by."""
        return math.prod(
            e.factor
            for e in self.by_day.get(day, ())
            if e.locations is None
            and (e.products is None or (product_id is not None and product_id in e.products))
        )

    def network_named(self) -> set[int]:
        """The products that some event for every location names."""
        return {
            p
            for effects in self.by_day.values()
            for e in effects
            if e.locations is None
            for p in e.products or ()
        }

    def event_days(self, location_id: int, days: Iterable[dt.date]) -> set[dt.date]:
        """The days on which an event applies at the location (to all its products or some)."""
        return {day for day in days if self._here(location_id, day)}


def _clean(
    *,
    name: str,
    starts_on: Any,
    ends_on: Any,
    factor: Any,
    note: str,
    locations: Collection[Location],
    allowed: Collection[int] | None,
    today: dt.date,
    kept_start: dt.date | None = None,
) -> tuple[str, Decimal, str]:
    name, note = (name or "").strip(), (note or "").strip()
    if not name:
        raise InvalidEvent(_("Name the event."), field="name")
    if len(name) > 80:
        raise InvalidEvent(_("A name has at most 80 characters."), field="name")
    if len(note) > 200:
        raise InvalidEvent(_("A note has at most 200 characters."), field="note")
    if not isinstance(starts_on, dt.date) or not isinstance(ends_on, dt.date):
        raise InvalidEvent(_("Give the event's first and last day."), field="starts_on")
    if ends_on < starts_on:
        raise InvalidEvent(_("The last day comes on or after the first."), field="ends_on")
    if (ends_on - starts_on).days + 1 > EVENT_MAX_DAYS:
        raise InvalidEvent(
            _(
                "An event lasts at most %(n)d days: a longer change is a new normal, "
                "which the forecast learns by itself."
            )
            % {"n": EVENT_MAX_DAYS},
            field="ends_on",
        )
    if starts_on != kept_start and starts_on < today - dt.timedelta(days=EVENT_PAST_DAYS):
        raise InvalidEvent(
            _("An event starts at most %(n)d days ago.") % {"n": EVENT_PAST_DAYS}, field="starts_on"
        )
    if ends_on > today + dt.timedelta(days=EVENT_AHEAD_DAYS):
        raise InvalidEvent(
            _("An event ends at most %(n)d days ahead.") % {"n": EVENT_AHEAD_DAYS}, field="ends_on"
        )
    try:
        value = Decimal(str(factor).strip().replace(",", "."))
    except InvalidOperation:
        value = Decimal("NaN")
    if not value.is_finite() or not EVENT_FACTOR_MIN <= value <= EVENT_FACTOR_MAX:
        raise InvalidEvent(
            _("The demand factor is a number from %(low)s to %(high)s (2 = twice a normal day).")
            % {"low": EVENT_FACTOR_MIN, "high": EVENT_FACTOR_MAX},
            field="factor",
        )
    if allowed is not None:
        if not locations:
            raise InvalidEvent(
                _("Choose the locations: only those who plan every location may plan for all of them."),
                field="locations",
            )
        outside = sorted(loc.code for loc in locations if loc.pk not in allowed)
        if outside:
            raise InvalidEvent(
                _("Not among your locations: %(codes)s.") % {"codes": ", ".join(outside[:10])},
                field="locations",
            )
    return name, value.quantize(Decimal("0.01")), note


def _state(event: DemandEvent) -> dict[str, Any]:
    return {
        "name": event.name,
        "starts_on": event.starts_on.isoformat(),
        "ends_on": event.ends_on.isoformat(),
        "factor": str(event.factor),
        "locations": sorted(event.locations.values_list("code", flat=True)),
        "products": sorted(event.products.values_list("sku", flat=True)),
        "note": event.note,
    }


def _locked(event: DemandEvent, allowed: Collection[int] | None) -> DemandEvent:
    """The event, locked; refused when it is gone, or when it names locations outside `allowed` (or none, for
    every location) while the caller plans only `allowed` (None: every location)."""
    locked = DemandEvent.objects.select_for_update().filter(pk=event.pk).first()
    if locked is None:
        raise NotFoundInScope(_("No such event."))
    if allowed is not None:
        named = set(locked.locations.values_list("pk", flat=True))
        if not names_only(named, allowed):
            raise EventNotYours(_("This event also covers locations that are not yours."))
    return locked


@transaction.atomic
def demand_event_save(
    *,
    event: DemandEvent | None = None,
    name: str,
    starts_on: dt.date,
    ends_on: dt.date,
    factor: Decimal | str,
    locations: Collection[Location] = (),
    products: Collection[Product] = (),
    note: str = "",
    allowed: Collection[int] | None = None,
    by: Any = None,
) -> DemandEvent:
    """Create (no `event`) or change an event. `allowed` is the ids of the locations `by` plans for (None:
    every location): the event must then name its locations, all among them, and a changed event must have
    named only such locations before. No locations, no products: every location, every product. Refused with
    the field and the reason, writing nothing."""
    before = None
    if event is not None:  # the scope first: an event not the caller's is refused whatever the input
        event = _locked(event, allowed)
        before = _state(event)
    clean_name, value, clean_note = _clean(
        name=name,
        starts_on=starts_on,
        ends_on=ends_on,
        factor=factor,
        note=note,
        locations=locations,
        allowed=allowed,
        today=timezone.localdate(),
        kept_start=event.starts_on if event is not None else None,
    )
    if event is None:
        event = DemandEvent(created_by=_actor(by))
    event.name, event.starts_on, event.ends_on = clean_name, starts_on, ends_on
    event.factor, event.note = value, clean_note
    event.save()
    event.locations.set(locations)
    event.products.set(products)
    audit_record(
        actor=by,
        action="demand_event.created" if before is None else "demand_event.changed",
        obj=event,
        summary=f"{event.name}: ×{event.factor}, {event.starts_on}–{event.ends_on}",
        before=before,
        after=_state(event),
    )
    return event


@transaction.atomic
def demand_event_delete(
    *, event: DemandEvent, allowed: Collection[int] | None = None, by: Any = None
) -> None:
    """Remove an event (the forecast reads its days as normal ones from the next run), with its audit row;
    `allowed` as for `demand_event_save`."""
    event = _locked(event, allowed)
    audit_record(
        actor=by,
        action="demand_event.deleted",
        obj=event,
        summary=event.name,
        before=_state(event),
        after=None,
    )
    event.delete()
