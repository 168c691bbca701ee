"""Carriers and their services, rate cards, transfer terms, routing policies (versioned), capacity used per
location and day, and the routing decisions with their explanation."""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models
from django.db.models import F, Q, Value
from django.db.models.functions import Coalesce
from django.utils.translation import gettext_lazy as _

from inventory.models import Location
from orders.models import Channel, Order

cep_validator = RegexValidator(r"^\d{8}$", _("A CEP has 8 digits."))
LOCATION_KINDS = ("dc", "store", "dark_store")


def _all_kinds() -> list[str]:
    return list(LOCATION_KINDS)


class Carrier(models.Model):
    code = models.SlugField(_("code"), max_length=32, unique=True)
    name = models.CharField(_("name"), max_length=80)
    active = models.BooleanField(_("active"), default=True)

    class Meta:
        verbose_name = _("carrier")
        verbose_name_plural = _("carriers")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class ServiceKind(models.TextChoices):
    EXPRESS = "express", _("Express")
    ECONOMY = "economy", _("Economy")
    COURIER = "courier", _("Same-day courier")
    REGIONAL = "regional", _("Regional road")
    METRO = "metro", _("Metro van")


class CarrierService(models.Model):
    """A carrier's delivery service. Without rate cards for a destination it is priced by the linear model
    base + per_km x km + per_kg x kg, and takes days_base (+ km / km_per_day) business days."""

    carrier = models.ForeignKey(Carrier, on_delete=models.PROTECT, related_name="services")
    code = models.SlugField(_("code"), max_length=40, unique=True)
    name = models.CharField(_("name"), max_length=80)
    kind = models.CharField(_("kind"), max_length=16, choices=ServiceKind.choices)
    from_kinds = models.JSONField(
        _("ships from location kinds"),
        default=_all_kinds,
        help_text=_('Location kinds that may use it, e.g. ["dc", "store", "dark_store"].'),
    )
    max_km = models.FloatField(_("max distance (km)"), null=True, blank=True)
    km_per_day = models.FloatField(_("km per transit day"), null=True, blank=True)
    days_base = models.PositiveSmallIntegerField(_("base transit days"), default=0)
    base = models.DecimalField(_("base price"), max_digits=8, decimal_places=2, default=Decimal("0.00"))
    per_km = models.DecimalField(_("price per km"), max_digits=8, decimal_places=4, default=Decimal("0"))
    per_kg = models.DecimalField(_("price per kg"), max_digits=8, decimal_places=4, default=Decimal("0"))
    cutoff_hour = models.PositiveSmallIntegerField(
        _("cut-off hour"),
        default=15,
        validators=[MaxValueValidator(24)],
        help_text=_("Orders routed after this hour count from the next business day (24 = no cut-off)."),
    )
    active = models.BooleanField(_("active"), default=True)

    class Meta:
        verbose_name = _("carrier service")
        verbose_name_plural = _("carrier services")
        ordering = ["code"]
        constraints = [
            models.CheckConstraint(
                condition=Q(base__gte=0) & Q(per_km__gte=0) & Q(per_kg__gte=0),
                name="carrierservice_prices_non_negative",
            ),
            models.CheckConstraint(condition=Q(cutoff_hour__lte=24), name="carrierservice_cutoff_hour"),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.code})"


class RateCard(models.Model):
    """One row of a carrier's table: price and transit days to a CEP range for a weight band.

    Where a service has a row for the destination and the package weight, it overrides the linear model.
    """

    service = models.ForeignKey(CarrierService, on_delete=models.CASCADE, related_name="rates")
    cep_from = models.CharField(_("CEP from"), max_length=8, validators=[cep_validator])
    cep_to = models.CharField(_("CEP to"), max_length=8, validators=[cep_validator])
    weight_from_g = models.PositiveIntegerField(_("weight from (g)"))
    weight_to_g = models.PositiveIntegerField(_("weight to (g)"))
    price = models.DecimalField(_("price"), max_digits=10, decimal_places=2)
    transit_days = models.PositiveSmallIntegerField(_("transit days"))

    class Meta:
        verbose_name = _("rate card row")
        verbose_name_plural = _("rate cards")
        ordering = ["service", "cep_from", "weight_from_g"]
        constraints = [
            models.CheckConstraint(condition=Q(cep_from__lte=F("cep_to")), name="ratecard_cep_range"),
            models.CheckConstraint(
                condition=Q(weight_from_g__lte=F("weight_to_g")), name="ratecard_weight_band"
            ),
            models.CheckConstraint(condition=Q(price__gte=0), name="ratecard_price_non_negative"),
        ]
        indexes = [models.Index(fields=["service", "cep_from", "cep_to"])]

    def __str__(self) -> str:
        return f"{self.service_id} {self.cep_from}-{self.cep_to} {self.weight_from_g}-{self.weight_to_g} g"


class TransferTerms(models.Model):
    """How units move between locations to a pickup store (one row, pk 1)."""

    base = models.DecimalField(_("base price"), max_digits=8, decimal_places=2, default=Decimal("8.00"))
    per_km = models.DecimalField(_("price per km"), max_digits=8, decimal_places=4, default=Decimal("0.02"))
    per_kg = models.DecimalField(_("price per kg"), max_digits=8, decimal_places=4, default=Decimal("0.30"))
    days_base = models.PositiveSmallIntegerField(_("base days"), default=1)
    km_per_day = models.FloatField(_("km per day"), null=True, blank=True, default=500.0)

    class Meta:
        verbose_name = _("transfer terms")
        verbose_name_plural = _("transfer terms")

    def __str__(self) -> str:
        return str(_("Transfer terms"))

    @classmethod
    def load(cls) -> TransferTerms:
        obj, _created = cls.objects.get_or_create(pk=1)
        return obj


class RoutingPolicy(models.Model):
    """The business rules of routing for one channel (no channel: the default policy). Change it through
    `routing.services.policies.policy_update`, which versions every change."""

    name = models.CharField(_("name"), max_length=80)
    channel = models.OneToOneField(
        Channel,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="routing_policy",
        verbose_name=_("channel"),
        help_text=_("Empty: the default policy, for channels without their own."),
    )
    speed_value = models.DecimalField(
        _("value of speed (BRL per day)"),
        max_digits=8,
        decimal_places=2,
        default=Decimal("0.00"),
        validators=[MinValueValidator(0)],
        help_text=_("What one day sooner is worth when choosing; 0 = cheapest within the deadline."),
    )
    max_packages = models.PositiveSmallIntegerField(
        _("max packages per order"), null=True, blank=True, validators=[MinValueValidator(1)]
    )
    allowed_kinds = models.JSONField(_("location kinds allowed"), default=_all_kinds)
    ship_from_store = models.BooleanField(_("ship from store"), default=True)
    store_walkin_share = models.DecimalField(
        _("store capacity kept for walk-in customers"),
        max_digits=4,
        decimal_places=3,
        default=Decimal("0.000"),
        validators=[MinValueValidator(0), MaxValueValidator(1)],
    )
    paused_locations = models.ManyToManyField(
        Location, blank=True, related_name="+", verbose_name=_("paused locations")
    )
    split_penalty = models.DecimalField(
        _("penalty per extra package (BRL)"), max_digits=8, decimal_places=2, default=Decimal("5.00")
    )
    backorder_per_unit = models.DecimalField(
        _("backorder penalty per unit (BRL)"), max_digits=8, decimal_places=2, default=Decimal("40.00")
    )
    backorder_price_share = models.DecimalField(
        _("backorder penalty (share of the unit price)"),
        max_digits=5,
        decimal_places=3,
        default=Decimal("0.500"),
        validators=[MinValueValidator(0)],
    )
    use_forecast = models.BooleanField(_("weigh future demand (opportunity costs)"), default=True)
    version = models.PositiveIntegerField(_("version"), default=1, editable=False)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("routing policy")
        verbose_name_plural = _("routing policies")
        ordering = ["channel__code"]
        constraints = [
            # one default policy (channel empty); channels have one each through the one-to-one field
            models.UniqueConstraint(Coalesce(F("channel"), Value(0)), name="routingpolicy_one_per_channel"),
            models.CheckConstraint(
                condition=Q(store_walkin_share__gte=0) & Q(store_walkin_share__lte=1),
                name="routingpolicy_walkin_share",
            ),
        ]

    def __str__(self) -> str:
        return self.name


class RoutingPolicyVersion(models.Model):
    policy = models.ForeignKey(RoutingPolicy, on_delete=models.CASCADE, related_name="versions")
    number = models.PositiveIntegerField(_("version"))
    created_at = models.DateTimeField(_("at"), auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    changes = models.JSONField(_("what changed"), default=dict)
    values = models.JSONField(_("values after the change"), default=dict)

    class Meta:
        verbose_name = _("routing policy version")
        verbose_name_plural = _("routing policy versions")
        ordering = ["policy", "-number"]
        constraints = [
            models.UniqueConstraint(fields=["policy", "number"], name="routingpolicyversion_unique_number")
        ]

    def __str__(self) -> str:
        return f"{self.policy_id} v{self.number}"


class LocationDayCapacity(models.Model):
    """Units a location has been given to pick on one day; capacity left = daily_capacity - units_used."""

    location = models.ForeignKey(Location, on_delete=models.CASCADE, related_name="+")
    day = models.DateField(_("day"))
    units_used = models.IntegerField(_("units used"), default=0)

    class Meta:
        verbose_name = _("capacity used")
        verbose_name_plural = _("capacity used")
        constraints = [
            models.UniqueConstraint(fields=["location", "day"], name="locationdaycapacity_unique"),
            models.CheckConstraint(condition=Q(units_used__gte=0), name="locationdaycapacity_non_negative"),
        ]
        indexes = [models.Index(fields=["day"])]

    def __str__(self) -> str:
        return f"{self.location_id} {self.day}: {self.units_used}"


class DecisionTrigger(models.TextChoices):
    NEW = "new", _("New order")
    SHORT_PICK = "short_pick", _("Short pick")
    CANCEL = "cancel", _("Fulfilment cancelled")
    BACKORDER_RETRY = "backorder_retry", _("Backorder retry")
    REOPTIMISE = "reoptimise", _("Re-optimisation")


class RoutingDecision(models.Model):
    """One routing decision for an order: the plan chosen, what it costs, what else was considered and why
    it lost, and how long it took."""

    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="routing_decisions")
    created_at = models.DateTimeField(_("at"), auto_now_add=True)
    trigger = models.CharField(_("trigger"), max_length=20, choices=DecisionTrigger.choices)
    policy = models.ForeignKey(
        RoutingPolicy, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    policy_version = models.PositiveIntegerField(_("policy version"), null=True, blank=True)
    latency_ms = models.FloatField(_("latency (ms)"))
    engine_ms = models.FloatField(_("engine time (ms)"), default=0.0)
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=1)
    total_cost = models.DecimalField(_("total cost"), max_digits=10, decimal_places=2)
    cost_breakdown = models.JSONField(_("cost breakdown"), default=dict)
    plan = models.JSONField(_("chosen plan"), default=dict)
    candidates = models.JSONField(_("candidates considered"), default=dict)
    summary = models.TextField(_("why"), blank=True)  # in English, for the API and search
    summary_text = models.JSONField(_("why, to translate"), default=list, blank=True)  # `oms.phrases`
    units_routed = models.PositiveIntegerField(_("units routed"), default=0)
    units_backordered = models.PositiveIntegerField(_("units backordered"), default=0)

    class Meta:
        verbose_name = _("routing decision")
        verbose_name_plural = _("routing decisions")
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["order", "-created_at"])]

    def __str__(self) -> str:
        return f"{self.order_id} {self.trigger} {self.created_at:%Y-%m-%d %H:%M}"


from . import signals as _signals  # noqa: E402, F401  (cache invalidation receivers)


class WhatIfStatus(models.TextChoices):
    QUEUED = "queued", _("Queued")
    RUNNING = "running", _("Running")
    DONE = "done", _("Done")
    FAILED = "failed", _("Failed")


class WhatIfRun(models.Model):
    """A manager's what-if: the last `days` days of real orders of a channel (none: the channels the default
    policy governs) replayed under a draft policy beside the live one. `draft` holds the draft policy's
    values (JSON-ready); `result` the figures of both ({"live": {...}, "draft": {...}, ...})."""

    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    started_at = models.DateTimeField(_("started at"), null=True, blank=True)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)
    channel = models.ForeignKey(
        Channel, null=True, blank=True, on_delete=models.CASCADE, related_name="+", verbose_name=_("channel")
    )
    days = models.PositiveSmallIntegerField(
        _("days"), validators=[MinValueValidator(1), MaxValueValidator(90)]
    )
    draft = models.JSONField(_("draft policy"), default=dict)
    status = models.CharField(
        _("status"), max_length=10, choices=WhatIfStatus.choices, default=WhatIfStatus.QUEUED
    )
    progress = models.PositiveSmallIntegerField(_("progress (%)"), default=0)
    orders_count = models.PositiveIntegerField(_("orders replayed"), default=0)
    result = models.JSONField(_("result"), default=dict, blank=True)
    error = models.TextField(_("error"), blank=True)

    class Meta:
        verbose_name = _("what-if run")
        verbose_name_plural = _("what-if runs")
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(condition=Q(progress__lte=100), name="whatifrun_progress_le_100"),
            models.CheckConstraint(condition=Q(days__gte=1) & Q(days__lte=90), name="whatifrun_days_1_90"),
        ]
        indexes = [models.Index(fields=["created_by", "-created_at"])]

    def __str__(self) -> str:
        return f"what-if {self.pk} ({self.status}, {self.progress} %)"

    @property
    def finished(self) -> bool:
        return self.status in (WhatIfStatus.DONE, WhatIfStatus.FAILED)
