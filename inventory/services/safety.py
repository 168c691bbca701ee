"""Safety stock set by rule: a planner picks locations (all of theirs, a kind, a region, a state, or some by
name), products (every one those locations stock, or a list) and a level (a number of units, or N days of
each row's demand, optionally at most its on hand; by default only raising levels, never lowering one set on
purpose), sees what would change, then applies it.

`safety_rule_preview` reads what a rule would do; `safety_rule_apply` records it as a `SafetyStockRun` and
applies it through `stock_set_safety_many`, the per-row rule of `stock_set_safety` (its range check, "the
same level is no change", one ledger row per changed row with the actor, the run's reason and its number as
reference). A rule of at most INLINE_MAX stock rows is applied in the caller's transaction, all or nothing;
a larger one by the task "inventory.safety_stock_apply" (`safety_run_execute`), CHUNK rows per transaction,
moving the run's progress. Re-running a run changes nothing that is already set.

The demand of a row is the figure replenishment plans with (`replenishment.daily_demand`): the forecast
job's units a day (`DemandForecast.daily`, while fresh), else the average of what the row shipped or handed
over in the last DEMAND_DAYS (28) days, each day of a demand event with factor f counting as f days; a row
with neither has no demand. N days of it are rounded up to whole units (so any demand at all is at least 1).

Only existing stock rows are touched (a SKU never stocked at a location has no row there). Rules only ever
name locations in the planner's scope (`selectors.safety_locations`); the task narrows a run to the
planner's scope again when it runs.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.db.models import F, QuerySet, Sum
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from oms.audit import audit_record
from oms.exceptions import DomainError, NotFoundInScope, NotPermitted
from oms.queue import enqueue_on_commit

from ..models import (
    MAX_QTY,
    DemandForecast,
    MovementKind,
    SafetyRunStatus,
    SafetyStockRun,
    StockLevel,
    StockMovement,
)
from ..selectors import SETS_SAFETY_STOCK, safety_locations
from . import stock_set_safety_many
from .events import EventCalendar
from .forecast import FRESH_FOR
from .replenishment import DEMAND_DAYS, daily_demand

logger = logging.getLogger(__name__)

TASK = "inventory.safety_stock_apply"
INLINE_MAX = 300  # a rule of at most this many stock rows is applied in the request; a larger one by the task
CHUNK = 500  # stock rows per transaction of the task (their locks are held that long)
MAX_DAYS = 365
SAMPLE = 20  # changes the preview lists
NOTE_MAX = 100  # characters of a planner's note


class InvalidSafetyRule(DomainError):
    status_code = 400
    code = "invalid_safety_rule"


class SafetyRuleForbidden(NotPermitted):
    """Only planners (inventory.set_safety_stock) apply rules."""


@dataclass(frozen=True)
class SafetyRule:
    """Which stock rows and the level they take. `locations`: location ids (never empty); `products`: product
    ids, or None for every product those locations stock; exactly one of `units` (0 to MAX_QTY) and `days`
    (1 to MAX_DAYS of the row's demand); `cap_at_on_hand`: never more than the row's units on hand;
    `only_raise`: a row whose safety stock is already above the rule's level keeps it (a display buffer set on
    purpose is not made sellable by a rule of demand)."""

    locations: frozenset[int]
    products: frozenset[int] | None = None
    units: int | None = None
    days: int | None = None
    cap_at_on_hand: bool = False
    only_raise: bool = True

    def __post_init__(self) -> None:
        if not self.locations:
            raise InvalidSafetyRule(_("Choose at least one location."), field="locations")
        if self.products is not None and not self.products:
            raise InvalidSafetyRule(_("Name at least one product."), field="skus")
        if (self.units is None) == (self.days is None):
            raise InvalidSafetyRule(_("Give either a number of units or a number of days."), field="level")
        if self.units is not None and not 0 <= self.units <= MAX_QTY:
            raise InvalidSafetyRule(
                _("Safety stock must be between 0 and %(most)s units.") % {"most": MAX_QTY}, field="units"
            )
        if self.days is not None and not 1 <= self.days <= MAX_DAYS:
            raise InvalidSafetyRule(
                _("Days of demand must be between 1 and %(most)s.") % {"most": MAX_DAYS}, field="days"
            )

    def target(self, *, on_hand: int, daily: Decimal) -> int:
        """The level the rule gives a row with `on_hand` units and `daily` units of demand a day, whatever the
        row's level now: the units, or the days of demand rounded up to whole units (at most on hand)."""
        wanted = self.units if self.units is not None else math.ceil(daily * (self.days or 0))
        if self.cap_at_on_hand:
            wanted = min(wanted, max(on_hand, 0))
        return min(wanted, MAX_QTY)

    def level(self, *, on_hand: int, daily: Decimal, current: int) -> int:
        """The safety stock this rule sets on a row whose level is `current`: its `target`, but with
        `only_raise` never less than `current`."""
        wanted = self.target(on_hand=on_hand, daily=daily)
        return max(wanted, current) if self.only_raise else wanted

    def describe(self) -> str:
        """The rule in words, in the active language (the ledger rows it writes say it in English)."""
        if self.units is not None:
            text = ngettext("%(n)s unit", "%(n)s units", self.units) % {"n": self.units}
        else:
            days = self.days or 0
            text = ngettext("%(n)s day of demand", "%(n)s days of demand", days) % {"n": days}
        if self.cap_at_on_hand:
            text = _("%(level)s, at most on hand") % {"level": text}
        return text

    def within(self, allowed: Collection[int]) -> SafetyRule | None:
        """The rule narrowed to the locations `allowed` (None when none of its locations is)."""
        kept = self.locations & frozenset(allowed)
        if not kept:
            return None
        return replace(self, locations=kept)

    def as_json(self) -> dict[str, Any]:
        return {
            "locations": sorted(self.locations),
            "products": sorted(self.products) if self.products is not None else None,
            "units": self.units,
            "days": self.days,
            "cap_at_on_hand": self.cap_at_on_hand,
            "only_raise": self.only_raise,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> SafetyRule:
        """The rule `as_json` stored. A run stored before rules had `only_raise` lowered levels too: it keeps
        doing so."""
        products = data.get("products")
        return cls(
            locations=frozenset(data.get("locations") or ()),
            products=frozenset(products) if products is not None else None,
            units=data.get("units"),
            days=data.get("days"),
            cap_at_on_hand=bool(data.get("cap_at_on_hand")),
            only_raise=bool(data.get("only_raise", False)),
        )


def safety_run_describe(run: SafetyStockRun) -> str:
    """A run's rule in words in the active language, from the rule it stored (its `reason` says it in English
    for the ledger, with the note: pages show `run.note` beside this)."""
    try:
        return SafetyRule.from_json(run.rule).describe()
    except InvalidSafetyRule:  # not a rule this code can read: the ledger's words
        return run.reason


def _rows(rule: SafetyRule) -> QuerySet[StockLevel]:
    rows = StockLevel.objects.filter(location_id__in=sorted(rule.locations))
    if rule.products is not None:
        rows = rows.filter(product_id__in=sorted(rule.products))
    return rows


@dataclass
class _Demand:
    """Units a day of stock rows (`daily_demand`), the demand events of the days read loaded once."""

    now: dt.datetime
    past: list[dt.date] = field(init=False)
    _events: EventCalendar | None = None

    def __post_init__(self) -> None:
        today = timezone.localdate(self.now)
        # the days the ledger's last DEMAND_DAYS cover, but today's few hours (as replenishment reads them)
        self.past = [today - dt.timedelta(days=k) for k in range(1, DEMAND_DAYS + 1)]

    def of(self, rows: Sequence[tuple[int, int, int]], ids: Any) -> dict[int, Decimal]:
        """The demand of `rows` (stock id, location id, product id); `ids`: their ids, a list or a query."""
        forecast = dict(
            DemandForecast.objects.filter(stock__in=ids, updated_at__gte=self.now - FRESH_FOR).values_list(
                "stock", "daily"
            )
        )
        shipped = dict(
            StockMovement.objects.filter(
                stock__in=ids, kind=MovementKind.COMMIT, at__gte=self.now - dt.timedelta(days=DEMAND_DAYS)
            )
            .exclude(stock__in=list(forecast))
            .values("stock")
            .annotate(units=Sum("on_hand_delta"))
            .order_by()
            .values_list("stock", "units")
        )
        if shipped and self._events is None:
            self._events = EventCalendar.load(self.past[-1], self.past[0])
        events = self._events if self._events is not None else EventCalendar()
        return daily_demand(rows, forecast=forecast, shipped=shipped, past=self.past, events=events)


def _check_scope(user: Any, rule: SafetyRule) -> None:
    if not user.has_perm(SETS_SAFETY_STOCK):
        raise SafetyRuleForbidden(_("Only planners set safety stock."))
    mine = safety_locations(user=user).filter(pk__in=sorted(rule.locations))
    allowed = set(mine.values_list("pk", flat=True))
    if rule.locations - allowed:
        raise NotFoundInScope(_("No such location."), field="locations")


@dataclass(frozen=True)
class SafetyChange:
    location: str
    sku: str
    on_hand: int
    daily: Decimal | None  # None: the rule sets units; else rounded to show (never 0 for some demand)
    before: int
    after: int


@dataclass(frozen=True)
class SafetyPreview:
    rows: int  # stock rows the rule covers
    changes: int  # of them, those whose safety stock it changes
    sample: list[SafetyChange]  # the first SAMPLE changes, by location and SKU
    background: bool  # applied by the task (more than INLINE_MAX rows)
    lower: int = 0  # rows whose level the rule would lower: left alone (not changes) when `only_raise`
    only_raise: bool = True


def _shown(rate: Decimal) -> Decimal:
    """Units a day to show: to the hundredth, or to two significant digits when smaller (a tiny demand still
    rounds a level up to 1, so it must not read 0.00)."""
    if rate == 0 or abs(rate) >= Decimal("0.01"):
        return rate.quantize(Decimal("0.01"))
    return rate.quantize(Decimal(1).scaleb(rate.adjusted() - 1)).normalize()


def safety_rule_preview(*, user: Any, rule: SafetyRule, now: dt.datetime | None = None) -> SafetyPreview:
    """What `rule` would change now, writing nothing. Raises `SafetyRuleForbidden` (403) without the
    permission, `NotFoundInScope` (404) for a location outside the user's. A handful of queries whatever the
    number of rows (the rows, and for days of demand the forecasts and the ledger's shipments of the rows)."""
    _check_scope(user, rule)
    rows = list(
        _rows(rule)
        .order_by("location__code", "product__sku")
        .values_list(
            "pk", "location_id", "product_id", "on_hand", "safety_stock", "location__code", "product__sku"
        )
    )
    daily: dict[int, Decimal] = {}
    if rule.days is not None and rows:
        daily = _Demand(now or timezone.now()).of([r[:3] for r in rows], _rows(rule).values("pk"))
    changes = lower = 0
    sample: list[SafetyChange] = []
    for pk, _lid, _pid, on_hand, before, code, sku in rows:
        rate = daily.get(pk, Decimal(0))
        if rule.target(on_hand=on_hand, daily=rate) < before:
            lower += 1
        after = rule.level(on_hand=on_hand, daily=rate, current=before)
        if after == before:
            continue
        changes += 1
        if len(sample) < SAMPLE:
            rate_shown = _shown(rate) if rule.days is not None else None
            sample.append(SafetyChange(code, sku, on_hand, rate_shown, before, after))
    return SafetyPreview(
        rows=len(rows),
        changes=changes,
        sample=sample,
        background=len(rows) > INLINE_MAX,
        lower=lower,
        only_raise=rule.only_raise,
    )


@transaction.atomic
def safety_rule_apply(*, by: Any, rule: SafetyRule, note: str = "") -> SafetyStockRun:
    """Record `rule` as a run (with its audit row) and apply it: at once, in this transaction, when it covers
    at most INLINE_MAX stock rows (the run comes back done); else by the task once the transaction commits
    (the run comes back queued). Every changed row gets its ledger row naming the actor and the rule.

    `note` is kept on the run as typed, and ends its ledger reason.

    Raises `SafetyRuleForbidden` (403), `NotFoundInScope` (404) for a location outside the user's, and
    `InvalidSafetyRule` (400) when no stock row matches or the note is longer than NOTE_MAX; nothing is
    written then."""
    _check_scope(by, rule)
    note = note.strip()
    if len(note) > NOTE_MAX:
        raise InvalidSafetyRule(
            _("The note must be at most %(most)s characters.") % {"most": NOTE_MAX}, field="note"
        )
    rows = _rows(rule).count()
    if not rows:
        raise InvalidSafetyRule(_("No stock row matches this rule: nothing to change."), field=None)
    run = SafetyStockRun.objects.create(created_by=by, rule=rule.as_json(), rows=rows, note=note)
    with translation.override(
        "en"
    ):  # the ledger speaks English, whoever applies the rule (its note as typed)
        reason = _("Safety stock rule %(number)s: %(rule)s") % {"number": run.number, "rule": rule.describe()}
    if note:
        reason = f"{reason} — {note}"
    run.reason = reason[:200]
    run.save(update_fields=["reason"])
    audit_record(
        actor=by,
        action="inventory.safety_rule_apply",
        obj=run,
        summary=f"{run.number}: {rows} stock rows, {rule.describe()}",
        after=rule.as_json(),
    )
    if rows <= INLINE_MAX:
        run.status, run.started_at = SafetyRunStatus.RUNNING, timezone.now()
        _apply(run, rule)
        _finish(run)
    else:
        enqueue_on_commit(TASK, run.pk)
    return run


def _apply(run: SafetyStockRun, rule: SafetyRule) -> None:
    """Apply `rule` for the run's planner, CHUNK rows per transaction, adding to the run's `changed` and
    moving its progress with each chunk (in the chunk's transaction)."""
    by = run.created_by
    rows = list(_rows(rule).order_by("pk").values_list("pk", "location_id", "product_id"))
    demand = _Demand(timezone.now())
    for start in range(0, len(rows), CHUNK):
        chunk = rows[start : start + CHUNK]
        ids = [pk for pk, _lid, _pid in chunk]
        with transaction.atomic():
            daily = demand.of(chunk, ids) if rule.days is not None else {}

            def level(row: StockLevel, daily: dict[int, Decimal] = daily) -> int:
                # the row as locked: its level now decides whether `only_raise` keeps it
                return rule.level(
                    on_hand=row.on_hand, daily=daily.get(row.pk, Decimal(0)), current=row.safety_stock
                )

            changed = stock_set_safety_many(
                stock_ids=ids,
                level=level,
                reason=run.reason,
                by=by,
                ref=run.number,
            )
            progress = min(99, (start + len(chunk)) * 100 // len(rows))
            SafetyStockRun.objects.filter(pk=run.pk).update(
                changed=F("changed") + len(changed), progress=progress
            )


def _finish(run: SafetyStockRun) -> None:
    run.changed = SafetyStockRun.objects.values_list("changed", flat=True).get(pk=run.pk)
    run.status, run.progress, run.finished_at = SafetyRunStatus.DONE, 100, timezone.now()
    run.save(update_fields=["status", "progress", "finished_at", "changed", "started_at"])


def safety_run_execute(*, run_id: int) -> SafetyStockRun | None:
    """Apply a queued run (the task). A finished run is left alone; a run found running (a worker died) starts
    again, which changes only the rows not set yet. The run is narrowed to its planner's locations as they are
    now. An error is stored on the run (status failed), never raised."""
    with transaction.atomic():
        runs = SafetyStockRun.objects.select_for_update(of=("self",)).select_related("created_by")
        run = runs.filter(pk=run_id).first()
        if run is None or run.finished:
            return run
        run.status, run.progress, run.started_at, run.error = SafetyRunStatus.RUNNING, 0, timezone.now(), ""
        run.save(update_fields=["status", "progress", "started_at", "error"])
    try:
        by = run.created_by
        if by is None:
            raise InvalidSafetyRule(_("The planner who made this rule no longer exists."))
        if not by.has_perm(SETS_SAFETY_STOCK):
            raise SafetyRuleForbidden(_("Only planners set safety stock."))
        rule = SafetyRule.from_json(run.rule).within(safety_locations(user=by).values_list("pk", flat=True))
        if rule is not None:
            _apply(run, rule)
    except Exception as exc:
        message = exc.message if isinstance(exc, DomainError) else f"{type(exc).__name__}: {exc}"
        if not isinstance(exc, DomainError):
            logger.exception("safety stock run %s failed", run.pk)
        run.status, run.error, run.finished_at = SafetyRunStatus.FAILED, message[:2000], timezone.now()
        run.save(update_fields=["status", "error", "finished_at"])
        return run
    _finish(run)
    return run
