"""Locations, products, stock per location, the stock ledger, reservations, replenishment proposals and stock
transfers between locations.

Stock correctness lives in the database: CHECK constraints make `0 <= reserved <= on_hand` and non-negative
quantities impossible to break, whatever the code above does.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection
from decimal import Decimal

from django.conf import settings
from django.core.validators import MinValueValidator, RegexValidator
from django.db import models
from django.db.models import Case, F, Q, When
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

MAX_QTY = 10_000_000  # the most units one count, adjustment or transfer line may name (pages and API)

cep_validator = RegexValidator(r"^\d{8}$", _("A CEP has 8 digits."))


class LocationKind(models.TextChoices):
    DC = "dc", _("Distribution centre")
    STORE = "store", _("Store")
    DARK_STORE = "dark_store", _("Dark store")


class Region(models.Model):
    """A set of locations a manager can be tied to (e.g. "Sudeste", "Grande SP")."""

    code = models.SlugField(_("code"), max_length=32, unique=True)
    name = models.CharField(_("name"), max_length=80)

    class Meta:
        verbose_name = _("region")
        verbose_name_plural = _("regions")
        ordering = ["code"]
        permissions = [("manage_region", _("Can manage the locations of this region"))]

    def __str__(self) -> str:
        return self.name


class LocationQuerySet(models.QuerySet["Location"]):
    def active(self) -> LocationQuerySet:
        return self.filter(active=True)


class Location(models.Model):
    """A place that holds stock: a distribution centre, a store or a dark store."""

    code = models.CharField(_("code"), max_length=32, unique=True)
    name = models.CharField(_("name"), max_length=120)
    kind = models.CharField(_("kind"), max_length=16, choices=LocationKind.choices)
    region = models.CharField(
        _("region"),
        max_length=32,
        blank=True,
        db_index=True,
        help_text=_("The code of its Region; managers tied to that region see this location."),
    )
    street = models.CharField(_("street"), max_length=120, blank=True)
    number = models.CharField(_("number"), max_length=16, blank=True)
    district = models.CharField(_("district"), max_length=80, blank=True)
    city = models.CharField(_("city"), max_length=80)
    state = models.CharField(_("state"), max_length=2)
    cep = models.CharField(_("CEP"), max_length=8, validators=[cep_validator])
    lat = models.FloatField(_("latitude"))
    lon = models.FloatField(_("longitude"))
    ships = models.BooleanField(_("ships to homes"), default=True)
    offers_pickup = models.BooleanField(_("offers pickup"), default=False)
    processing_days = models.PositiveSmallIntegerField(_("processing days"), default=0)
    handling_cost = models.DecimalField(
        _("handling cost per package"),
        max_digits=8,
        decimal_places=2,
        default=Decimal("0.00"),
        validators=[MinValueValidator(0)],
    )
    pick_cost = models.DecimalField(
        _("pick cost per unit"),
        max_digits=8,
        decimal_places=2,
        default=Decimal("0.00"),
        validators=[MinValueValidator(0)],
    )
    daily_capacity = models.PositiveIntegerField(_("daily capacity (units)"), default=1000)
    opening_hours = models.CharField(_("opening hours"), max_length=120, blank=True, default="")
    active = models.BooleanField(_("active"), default=True)

    objects = LocationQuerySet.as_manager()

    class Meta:
        verbose_name = _("location")
        verbose_name_plural = _("locations")
        ordering = ["code"]
        permissions = [("work_at_location", _("Can work at this location (its queue, stock and orders)"))]
        constraints = [
            models.CheckConstraint(
                condition=Q(handling_cost__gte=0) & Q(pick_cost__gte=0), name="location_costs_non_negative"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.code} — {self.name}"


class Product(models.Model):
    """A sellable SKU."""

    sku = models.CharField(_("SKU"), max_length=40, unique=True)
    ean = models.CharField(_("EAN"), max_length=14, unique=True, null=True, blank=True)
    name = models.CharField(_("name"), max_length=200)
    weight_g = models.PositiveIntegerField(_("weight (g)"), default=0)
    length_mm = models.PositiveIntegerField(_("length (mm)"), default=0)
    width_mm = models.PositiveIntegerField(_("width (mm)"), default=0)
    height_mm = models.PositiveIntegerField(_("height (mm)"), default=0)
    price = models.DecimalField(
        _("price"), max_digits=10, decimal_places=2, validators=[MinValueValidator(0)]
    )
    active = models.BooleanField(_("active"), default=True)

    class Meta:
        verbose_name = _("product")
        verbose_name_plural = _("products")
        ordering = ["sku"]
        constraints = [models.CheckConstraint(condition=Q(price__gte=0), name="product_price_non_negative")]

    def __str__(self) -> str:
        return f"{self.sku} — {self.name}"


class StockLevel(models.Model):
    """Units of one product at one location. `available = on_hand - reserved - safety_stock`."""

    location = models.ForeignKey(Location, on_delete=models.PROTECT, related_name="stock_levels")
    product = models.ForeignKey(Product, on_delete=models.PROTECT, related_name="stock_levels")
    on_hand = models.IntegerField(_("on hand"), default=0)
    reserved = models.IntegerField(_("reserved"), default=0)
    safety_stock = models.IntegerField(_("safety stock"), default=0)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("stock level")
        verbose_name_plural = _("stock levels")
        constraints = [
            models.UniqueConstraint(
                fields=["location", "product"], name="stock_one_row_per_location_product"
            ),
            models.CheckConstraint(condition=Q(reserved__gte=0), name="stock_reserved_non_negative"),
            models.CheckConstraint(condition=Q(on_hand__gte=F("reserved")), name="stock_reserved_le_on_hand"),
            models.CheckConstraint(condition=Q(safety_stock__gte=0), name="stock_safety_non_negative"),
        ]
        indexes = [models.Index(fields=["product", "location"])]
        # units kept back from orders (a display, walk-in customers): a planning decision, not floor work
        permissions = [("set_safety_stock", "Can set safety stock")]

    def __str__(self) -> str:
        return f"{self.location_id}/{self.product_id}: {self.on_hand} on hand, {self.reserved} reserved"

    @property
    def available(self) -> int:
        return max(0, self.on_hand - self.reserved - self.safety_stock)


class MovementKind(models.TextChoices):
    COUNT = "count", _("Count")
    ADJUST = "adjust", _("Adjustment")
    RESERVE = "reserve", _("Reservation")
    RELEASE = "release", _("Release")
    COMMIT = "commit", _("Shipped / handed over")
    RECEIVE = "receive", _("Receipt")
    SHORT_PICK = "short_pick", _("Short pick")
    TRANSFER_OUT = "transfer_out", _("Transfer sent")
    TRANSFER_IN = "transfer_in", _("Transfer received")
    SAFETY = "safety", _("Safety stock")


class StockMovement(models.Model):
    """The append-only stock ledger: every change of on_hand, reserved or safety stock, why, by whom, for
    what."""

    at = models.DateTimeField(_("at"), auto_now_add=True)
    stock = models.ForeignKey(StockLevel, on_delete=models.PROTECT, related_name="movements")
    kind = models.CharField(_("kind"), max_length=16, choices=MovementKind.choices)
    on_hand_delta = models.IntegerField(_("on-hand change"), default=0)
    reserved_delta = models.IntegerField(_("reserved change"), default=0)
    on_hand_after = models.IntegerField(_("on hand after"))
    reserved_after = models.IntegerField(_("reserved after"))
    # a change of safety stock (kind SAFETY) moves no units: the level it set
    safety_after = models.IntegerField(_("safety stock after"), null=True, blank=True)
    reason = models.CharField(_("reason"), max_length=200, blank=True)
    ref = models.CharField(
        _("reference"),
        max_length=64,
        blank=True,
        db_index=True,
        help_text=_("What it was for: an order line, fulfilment or transfer."),
    )
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        verbose_name = _("stock movement")
        verbose_name_plural = _("stock ledger")
        ordering = ["-at", "-id"]
        indexes = [models.Index(fields=["stock", "-at"])]

    def __str__(self) -> str:
        return f"{self.kind} {self.on_hand_delta:+}/{self.reserved_delta:+} ({self.reason})"


class Reservation(models.Model):
    """Units held at one stock row for one reference (an order line's allocation).

    `group` (the order number) lets an order release everything it holds at once.
    """

    stock = models.ForeignKey(StockLevel, on_delete=models.PROTECT, related_name="reservations")
    ref = models.CharField(_("reference"), max_length=64)
    group = models.CharField(_("group"), max_length=64, db_index=True, blank=True)
    qty = models.PositiveIntegerField(_("quantity held"))
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("reservation")
        verbose_name_plural = _("reservations")
        constraints = [
            models.UniqueConstraint(fields=["ref", "stock"], name="reservation_one_per_ref_and_stock"),
            models.CheckConstraint(condition=Q(qty__gte=0), name="reservation_qty_non_negative"),
        ]

    def __str__(self) -> str:
        return f"{self.ref}: {self.qty} @ {self.stock_id}"


def days_covered(units: int, daily: Decimal) -> Decimal | None:
    """Days `units` last at `daily` units a day, to a tenth (None without demand)."""
    if not daily:
        return None
    return (Decimal(units) / daily).quantize(Decimal("0.1"))


class ProposalStatus(models.TextChoices):
    PROPOSED = "proposed", _("Proposed")
    APPROVED = "approved", _("Approved")
    REJECTED = "rejected", _("Rejected")
    SUPERSEDED = "superseded", _("Superseded")


class ReplenishmentProposal(models.Model):
    """A proposal to bring `qty` units of a product to a location whose stock will not last: from `source` (a
    DC with units to spare, or a store holding far more than it sells: rebalancing) or, with no source, from a
    supplier. Made by the replenishment job from the location's recent demand
    (`inventory.services.replenishment`); a manager approves or rejects it. An approved proposal with a source
    becomes a stock transfer (`transfer`); every approval is announced by webhook
    (`replenishment.approved`)."""

    location = models.ForeignKey(Location, on_delete=models.CASCADE, related_name="replenishment_proposals")
    product = models.ForeignKey(Product, on_delete=models.CASCADE, related_name="+")
    source = models.ForeignKey(Location, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    qty = models.PositiveIntegerField(_("quantity"), validators=[MinValueValidator(1)])
    daily_demand = models.DecimalField(_("units a day"), max_digits=10, decimal_places=2)
    available = models.IntegerField(_("available when proposed"))
    incoming = models.PositiveIntegerField(_("on their way"), default=0)  # approved lately, not arrived yet
    reorder_point = models.PositiveIntegerField(_("reorder point"))
    target = models.PositiveIntegerField(_("target stock"))
    status = models.CharField(
        _("status"), max_length=12, choices=ProposalStatus.choices, default=ProposalStatus.PROPOSED
    )
    created_at = models.DateTimeField(_("proposed at"), auto_now_add=True)
    decided_at = models.DateTimeField(_("decided at"), null=True, blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    note = models.CharField(_("note"), max_length=200, blank=True)
    transfer = models.ForeignKey(
        "StockTransfer", on_delete=models.SET_NULL, null=True, blank=True, related_name="proposals"
    )  # the transfer its approval created (a proposal with a source)

    class Meta:
        verbose_name = _("replenishment proposal")
        verbose_name_plural = _("replenishment proposals")
        constraints = [
            models.UniqueConstraint(
                fields=["location", "product"],
                condition=Q(status="proposed"),
                name="replenishment_one_open_per_location_product",
            ),
            models.CheckConstraint(condition=Q(qty__gte=1), name="replenishment_qty_positive"),
            models.CheckConstraint(condition=~Q(source=F("location")), name="replenishment_source_elsewhere"),
        ]
        indexes = [models.Index(fields=["status", "location"])]

    def __str__(self) -> str:
        return f"{self.qty} × {self.product_id} → {self.location_id} ({self.status})"

    @property
    def cover_days(self) -> Decimal | None:
        """Days the available units and those on their way last at the recent demand (None without demand):
        what `inventory.selectors.proposal_list` sorts by."""
        return days_covered(self.available + self.incoming, self.daily_demand)


# A transfer's number, its reference on the ledger and its reservations: TR-000123.
TRANSFER_PREFIX = "TR-"


class TransferStatus(models.TextChoices):
    OPEN = "open", _("To dispatch")
    DISPATCHED = "dispatched", _("In transit")
    RECEIVED = "received", pgettext_lazy("transfer", "Received")
    CANCELLED = "cancelled", pgettext_lazy("transfer", "Cancelled")


class TransferOrigin(models.TextChoices):
    REPLENISHMENT = "replenishment", _("Replenishment")
    REBALANCING = "rebalancing", _("Rebalancing")
    MANUAL = "manual", _("By hand")


class StockTransfer(models.Model):
    """Units moved from one of the retailer's locations to another: a replenishment from a DC, a rebalancing
    between stores, or one made by hand. Its units are reserved at the source while it waits
    (`TransferStatus.OPEN`), leave the source's stock when dispatched and join the destination's when
    received (`inventory.services.transfers`). Its reference in the ledger and on the reservations is
    `number`."""

    source = models.ForeignKey(Location, on_delete=models.PROTECT, related_name="transfers_out")
    destination = models.ForeignKey(Location, on_delete=models.PROTECT, related_name="transfers_in")
    origin = models.CharField(
        _("origin"), max_length=16, choices=TransferOrigin.choices, default=TransferOrigin.MANUAL
    )
    status = models.CharField(
        _("status"), max_length=12, choices=TransferStatus.choices, default=TransferStatus.OPEN
    )
    note = models.CharField(_("note"), max_length=200, blank=True)
    tracking = models.CharField(_("carrier and tracking"), max_length=80, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    dispatched_at = models.DateTimeField(_("dispatched at"), null=True, blank=True)
    dispatched_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    expected_at = models.DateTimeField(_("expected by"), null=True, blank=True)  # set when dispatched
    overdue_alerted_at = models.DateTimeField(_("overdue alert sent at"), null=True, blank=True)
    closed_at = models.DateTimeField(_("received or cancelled at"), null=True, blank=True)
    closed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        verbose_name = _("stock transfer")
        verbose_name_plural = _("stock transfers")
        constraints = [
            models.CheckConstraint(condition=~Q(source=F("destination")), name="transfer_between_two_places"),
        ]
        indexes = [
            models.Index(fields=["source", "status"]),
            models.Index(fields=["destination", "status"]),
        ]

    def __str__(self) -> str:
        return f"{self.number} {self.source_id} → {self.destination_id} ({self.status})"

    @property
    def number(self) -> str:
        return f"{TRANSFER_PREFIX}{self.pk:06d}"

    @property
    def overdue(self) -> bool:
        return self.is_overdue()

    def is_overdue(self, now: dt.datetime | None = None) -> bool:
        """In transit past the time it was expected at its destination (now, or at `now`)."""
        return (
            self.status == TransferStatus.DISPATCHED
            and self.expected_at is not None
            and self.expected_at < (now or timezone.now())
        )


class StockTransferLine(models.Model):
    """One product of a transfer: `qty` reserved at the source, `qty_sent` dispatched (the rest went back to
    the source's free stock), `qty_received` counted in at the destination (the rest is the discrepancy)."""

    transfer = models.ForeignKey(StockTransfer, on_delete=models.CASCADE, related_name="lines")
    product = models.ForeignKey(Product, on_delete=models.PROTECT, related_name="+")
    qty = models.PositiveIntegerField(_("quantity"), validators=[MinValueValidator(1)])
    qty_sent = models.PositiveIntegerField(_("sent"), default=0)
    qty_received = models.PositiveIntegerField(_("received"), default=0)

    class Meta:
        verbose_name = _("stock transfer line")
        verbose_name_plural = _("stock transfer lines")
        constraints = [
            models.UniqueConstraint(fields=["transfer", "product"], name="transfer_one_line_per_product"),
            models.CheckConstraint(
                condition=Q(qty__gte=1) & Q(qty_sent__lte=F("qty")) & Q(qty_received__lte=F("qty_sent")),
                name="transfer_line_quantities",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.qty} × {self.product_id}"

    @property
    def missing(self) -> int:
        """Units sent that did not arrive (once received)."""
        return self.qty_sent - self.qty_received


class DemandForecast(models.Model):
    """Units a day one product is expected to sell at one location, on an average day of the week (the
    location's `LocationDemandProfile` scales it per weekday). Refreshed daily by the forecast job
    (`inventory.services.forecast`); the replenishment job plans with it."""

    stock = models.OneToOneField(
        StockLevel, on_delete=models.CASCADE, primary_key=True, related_name="forecast"
    )
    daily = models.DecimalField(_("units a day"), max_digits=10, decimal_places=3)
    recent_units = models.PositiveIntegerField(_("units sold in the last 28 days"), default=0)
    # units a day gained (+) or lost (−) each week, damped and capped; already counted in `daily`
    trend = models.DecimalField(
        _("trend (units a day per week)"), max_digits=10, decimal_places=3, default=Decimal(0)
    )
    updated_at = models.DateTimeField(_("updated at"))

    class Meta:
        verbose_name = _("demand forecast")
        verbose_name_plural = _("demand forecasts")
        indexes = [models.Index(fields=["updated_at"])]

    def __str__(self) -> str:
        return f"{self.stock_id}: {self.daily}/day"

    @property
    def free(self) -> int:
        """The row's units on hand less those reserved."""
        return self.stock.on_hand - self.stock.reserved

    @property
    def cover_days(self) -> Decimal | None:
        """Days the row's free units last at the forecast rate."""
        return days_covered(self.free, self.daily)


class LocationDemandProfile(models.Model):
    """A location's week: how much of an average day's demand each weekday brings (Monday first; they average
    1), and how well the forecast job did on the last two weeks it could check (`wape`: the units it was off
    by per product and day, as a share of those sold; `day_wape`: the same for the location's whole days;
    `bias`: over (+) or under (−) forecast, as a share)."""

    location = models.OneToOneField(
        Location, on_delete=models.CASCADE, primary_key=True, related_name="demand_profile"
    )
    weekday_factors = models.JSONField(_("weekday factors"))
    wape = models.DecimalField(_("forecast error"), max_digits=6, decimal_places=3, null=True, blank=True)
    day_wape = models.DecimalField(
        _("forecast error of whole days"), max_digits=6, decimal_places=3, null=True, blank=True
    )
    bias = models.DecimalField(_("forecast bias"), max_digits=6, decimal_places=3, null=True, blank=True)
    checked_units = models.PositiveIntegerField(_("units the check covered"), default=0)
    updated_at = models.DateTimeField(_("updated at"))

    class Meta:
        verbose_name = _("location demand profile")
        verbose_name_plural = _("location demand profiles")

    def __str__(self) -> str:
        return f"{self.location_id}: {self.weekday_factors}"


EVENT_FACTOR_MIN = Decimal("0.05")  # a closure that still sells a little
EVENT_FACTOR_MAX = Decimal("20")  # a launch or a Black Friday doorbuster
EVENT_MAX_DAYS = 92  # a quarter: longer is a new normal, which the forecast learns by itself


class DemandEvent(models.Model):
    """A planned change of demand, on the days from `starts_on` to `ends_on`: a promotion, Black Friday, a
    store's local fair, a closure. On those days the forecast of the locations and products it names (every
    one, when it names none) is `factor` times a normal day's; where events overlap, their factors multiply.
    The forecast job also counts an event's days in the history as `factor` normal days each (and leaves those
    of events for every product out of the week's shape), so a past promotion neither inflates the forecast
    after it nor shapes the week, and a closure does neither the other way."""

    name = models.CharField(_("name"), max_length=80)
    starts_on = models.DateField(_("first day"))
    ends_on = models.DateField(_("last day"))
    factor = models.DecimalField(_("demand factor"), max_digits=5, decimal_places=2)
    # no locations named: every location; no products: every product. Named ones cannot be deleted (PROTECT in
    # the through tables): the event would silently become one for all of them.
    locations = models.ManyToManyField(
        Location, blank=True, related_name="demand_events", through="DemandEventLocation"
    )
    products = models.ManyToManyField(
        Product, blank=True, related_name="demand_events", through="DemandEventProduct"
    )
    note = models.CharField(_("note"), max_length=200, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("demand event")
        verbose_name_plural = _("demand events")
        indexes = [models.Index(fields=["ends_on", "starts_on"])]
        constraints = [
            models.CheckConstraint(
                condition=Q(ends_on__gte=F("starts_on")), name="demand_event_ends_after_start"
            ),
            models.CheckConstraint(
                condition=Q(factor__gte=EVENT_FACTOR_MIN, factor__lte=EVENT_FACTOR_MAX),
                name="demand_event_factor_range",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.starts_on}–{self.ends_on}, ×{self.factor})"


def names_only(named: Collection[int], allowed: Collection[int]) -> bool:
    """Whether an event naming the locations `named` (none: every location) is for a planner of `allowed` to
    change: it names some, all of them theirs (the pages, the API and the services under lock)."""
    return bool(named) and set(named) <= set(allowed)


class DemandEventLocation(models.Model):
    """A location a demand event names."""

    demandevent = models.ForeignKey(DemandEvent, on_delete=models.CASCADE)
    location = models.ForeignKey(Location, on_delete=models.PROTECT, related_name="+")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["demandevent", "location"], name="demand_event_location_once")
        ]

    def __str__(self) -> str:
        return f"{self.demandevent_id} @ {self.location_id}"


class DemandEventProduct(models.Model):
    """A product a demand event names."""

    demandevent = models.ForeignKey(DemandEvent, on_delete=models.CASCADE)
    product = models.ForeignKey(Product, on_delete=models.PROTECT, related_name="+")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["demandevent", "product"], name="demand_event_product_once")
        ]

    def __str__(self) -> str:
        return f"{self.demandevent_id}: {self.product_id}"


# A transfer line's units still on their way to its destination: those reserved while the transfer is open,
# those sent once it is dispatched (annotate or sum it over lines of open and dispatched transfers).
TRANSFER_LINE_ON_WAY = Case(When(transfer__status=TransferStatus.OPEN, then=F("qty")), default=F("qty_sent"))


# A safety stock run's number, its reference on the ledger rows it writes: SR-000123.
SAFETY_RUN_PREFIX = "SR-"


class SafetyRunStatus(models.TextChoices):
    QUEUED = "queued", _("Queued")
    RUNNING = "running", _("Running")
    DONE = "done", _("Done")
    FAILED = "failed", _("Failed")


class SafetyStockRun(models.Model):
    """A planner's rule applied to the safety stock of many stock rows at once (`inventory.services.safety`):
    the rows of some locations (and some products, or every one they stock) set to a number of units or to
    days of each row's demand, optionally at most its on hand. `rule` holds it (JSON-ready: location ids,
    product ids or None, units or days, cap, only raise); `note` is the planner's, as typed; `reason` is what
    each ledger row it writes says (in English: the rule in words, then the note). A small rule is applied in
    the request that makes it, a large one by a task that moves `progress`."""

    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    started_at = models.DateTimeField(_("started at"), null=True, blank=True)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)
    rule = models.JSONField(_("rule"), default=dict)
    note = models.CharField(_("note"), max_length=100, blank=True)
    reason = models.CharField(_("reason"), max_length=200, blank=True)
    status = models.CharField(
        _("status"), max_length=10, choices=SafetyRunStatus.choices, default=SafetyRunStatus.QUEUED
    )
    progress = models.PositiveSmallIntegerField(_("progress (%)"), default=0)
    rows = models.PositiveIntegerField(_("stock rows of the rule"), default=0)
    changed = models.PositiveIntegerField(_("stock rows changed"), default=0)
    error = models.TextField(_("error"), blank=True)

    class Meta:
        verbose_name = _("safety stock run")
        verbose_name_plural = _("safety stock runs")
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(condition=Q(progress__lte=100), name="safetystockrun_progress_le_100"),
        ]
        indexes = [models.Index(fields=["created_by", "-created_at"])]

    def __str__(self) -> str:
        return f"{self.number} ({self.status}, {self.progress} %)"

    @property
    def number(self) -> str:
        return f"{SAFETY_RUN_PREFIX}{self.pk:06d}"

    @property
    def finished(self) -> bool:
        return self.status in (SafetyRunStatus.DONE, SafetyRunStatus.FAILED)
