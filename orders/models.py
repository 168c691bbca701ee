"""Channels, customers, orders and their lines, fulfilments, returns, and the order timeline."""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import F, Q
from django.db.models.functions import Coalesce, Left, Upper
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from inventory.models import Location, Product

NAME_KEY_LENGTH = 3  # letters of the customer's name in the search index (see Order.customer_name)


class ChannelKind(models.TextChoices):
    SITE = "site", _("Web shop")
    APP = "app", _("App")
    MARKETPLACE = "marketplace", _("Marketplace")
    STORE = "store", _("Store")
    SOCIAL = "social", _("Social commerce")


class Channel(models.Model):
    """A sales channel. `ref_pattern` is the regular expression its order references must match."""

    code = models.SlugField(_("code"), max_length=32, unique=True)
    name = models.CharField(_("name"), max_length=80)
    kind = models.CharField(_("kind"), max_length=16, choices=ChannelKind.choices)
    ref_pattern = models.CharField(
        _("reference pattern"),
        max_length=120,
        blank=True,
        help_text=_("A regular expression the channel's order references match."),
    )
    active = models.BooleanField(_("active"), default=True)

    class Meta:
        verbose_name = _("channel")
        verbose_name_plural = _("channels")
        ordering = ["code"]
        permissions = [("manage_channel", _("Can see and manage the orders of this channel"))]

    def __str__(self) -> str:
        return self.name


class Customer(models.Model):
    name = models.CharField(_("name"), max_length=120)
    email = models.EmailField(_("e-mail"), blank=True)
    document = models.CharField(_("CPF/CNPJ"), max_length=14, blank=True)
    phone = models.CharField(_("phone"), max_length=20, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("customer")
        verbose_name_plural = _("customers")
        # Found by equality only (the search box, the create path): plain indexes. `db_index=True` on a text
        # field also made a pattern-ops index for prefix matches on PostgreSQL, written on every new customer.
        indexes = [
            models.Index(fields=["email"], name="customer_email_idx"),
            models.Index(fields=["document"], name="customer_document_idx"),
            models.Index(fields=["phone"], name="customer_phone_idx"),
        ]

    def __str__(self) -> str:
        return self.name


class DeliveryMode(models.TextChoices):
    HOME = "home", _("Home delivery")
    PICKUP = "pickup", _("Pickup in store")


class OrderStatus(models.TextChoices):
    RECEIVED = "received", _("Received")
    AWAITING_ROUTING = "awaiting_routing", _("Awaiting routing")
    ALLOCATED = "allocated", _("Allocated")
    BACKORDERED = "backordered", _("Backordered")
    IN_FULFILMENT = "in_fulfilment", _("In fulfilment")
    PARTLY_SHIPPED = "partly_shipped", _("Partly shipped")
    SHIPPED = "shipped", _("Shipped")
    DELIVERED = "delivered", _("Delivered")
    READY_FOR_PICKUP = "ready_for_pickup", _("Ready for pickup")
    COLLECTED = "collected", _("Collected")
    ON_HOLD = "on_hold", _("On hold")
    CANCELLED = "cancelled", _("Cancelled")


class LineStatus(models.TextChoices):
    PENDING = "pending", _("Awaiting routing")
    ALLOCATED = "allocated", _("Allocated")
    BACKORDERED = "backordered", _("Backordered")
    IN_FULFILMENT = "in_fulfilment", _("In fulfilment")
    SHIPPED = "shipped", _("Shipped")
    DELIVERED = "delivered", _("Delivered")
    READY_FOR_PICKUP = "ready_for_pickup", _("Ready for pickup")
    COLLECTED = "collected", _("Collected")
    CANCELLED = "cancelled", _("Cancelled")


class Order(models.Model):
    number = models.CharField(_("number"), max_length=20, null=True, editable=False)  # unique: Meta
    # Every index here is paid on each order insert (bulk imports: 500 at a time), so none is kept twice:
    # channel and customer are led by the indexes in Meta, the idempotency key is unique by a constraint
    # (a unique field would also get a LIKE index, useless for a key), status by (status, -placed_at).
    channel = models.ForeignKey(Channel, on_delete=models.PROTECT, related_name="orders", db_index=False)
    external_ref = models.CharField(_("channel reference"), max_length=64)
    idempotency_key = models.CharField(_("idempotency key"), max_length=128, null=True, blank=True)
    customer = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="orders", db_index=False)
    # The customer's name as on the order (like the address): what the search box matches a name prefix on,
    # newest first, through the index on its first three letters (Meta.indexes).
    customer_name = models.CharField(_("customer name"), max_length=120, blank=True, default="")
    status = models.CharField(
        _("status"), max_length=20, choices=OrderStatus.choices, default=OrderStatus.RECEIVED
    )
    status_before_hold = models.CharField(max_length=20, choices=OrderStatus.choices, blank=True)
    placed_at = models.DateTimeField(_("placed at"), db_index=True)
    delivery_mode = models.CharField(_("delivery mode"), max_length=8, choices=DeliveryMode.choices)
    deadline_days = models.PositiveSmallIntegerField(_("deadline (days)"))
    promised_date = models.DateField(_("promised date"), null=True, blank=True)
    pickup_location = models.ForeignKey(
        Location,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="pickup_orders",
        verbose_name=_("pickup location"),
    )
    ship_street = models.CharField(_("street"), max_length=120, blank=True)
    ship_number = models.CharField(_("number"), max_length=16, blank=True)
    ship_complement = models.CharField(_("complement"), max_length=80, blank=True)
    ship_district = models.CharField(_("district"), max_length=80, blank=True)
    ship_city = models.CharField(_("city"), max_length=80, blank=True)
    ship_state = models.CharField(_("state"), max_length=2, blank=True)
    ship_cep = models.CharField(_("CEP"), max_length=8, blank=True)  # indexed in Meta
    ship_lat = models.FloatField(_("latitude"), null=True, blank=True)
    ship_lon = models.FloatField(_("longitude"), null=True, blank=True)
    subtotal = models.DecimalField(_("subtotal"), max_digits=12, decimal_places=2, default=Decimal("0.00"))
    shipping_price = models.DecimalField(
        _("shipping price"), max_digits=10, decimal_places=2, default=Decimal("0.00")
    )
    total = models.DecimalField(_("total"), max_digits=12, decimal_places=2, default=Decimal("0.00"))
    currency = models.CharField(_("currency"), max_length=3, default="BRL")
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("order")
        verbose_name_plural = _("orders")
        ordering = ["-placed_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["channel", "external_ref"], name="order_unique_channel_ref"),
            models.UniqueConstraint(fields=["idempotency_key"], name="order_unique_idempotency_key"),
            # The number and the CEP are found by equality only: a constraint and a plain index, without the
            # pattern-ops index for prefix matches that `unique=True` / `db_index=True` add on PostgreSQL.
            models.UniqueConstraint(fields=["number"], name="order_unique_number"),
            models.CheckConstraint(
                condition=Q(subtotal__gte=0) & Q(shipping_price__gte=0), name="order_amounts_non_negative"
            ),
            models.CheckConstraint(
                condition=Q(delivery_mode="home") | Q(pickup_location__isnull=False),
                name="order_pickup_needs_location",
            ),
        ]
        indexes = [
            models.Index(fields=["ship_cep"], name="order_ship_cep_idx"),
            models.Index(fields=["external_ref"]),
            models.Index(fields=["status", "-placed_at"]),
            # The routing queue (routing.services.live.orders_route_pending picks the oldest by pk): only the
            # orders awaiting routing are in it, so a pick never walks the routed ones.
            models.Index(
                fields=["id"], condition=Q(status="awaiting_routing"), name="order_awaiting_routing_idx"
            ),
            models.Index(fields=["channel", "-placed_at"]),
            models.Index(fields=["customer", "-placed_at"]),
            models.Index(
                Left(Upper("customer_name"), NAME_KEY_LENGTH),
                F("placed_at").desc(),
                F("id").desc(),
                name="order_name_key_placed_idx",
            ),
        ]

    def __str__(self) -> str:
        return self.number or f"#{self.pk}"

    @property
    def is_pickup(self) -> bool:
        return self.delivery_mode == DeliveryMode.PICKUP


class OrderLine(models.Model):
    # indexed by (order, line_no)
    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="lines", db_index=False)
    line_no = models.PositiveSmallIntegerField(_("line"))
    product = models.ForeignKey(Product, on_delete=models.PROTECT, related_name="+")
    sku = models.CharField(_("SKU"), max_length=40)
    qty = models.PositiveIntegerField(_("quantity"), validators=[MinValueValidator(1)])
    unit_price = models.DecimalField(_("unit price"), max_digits=10, decimal_places=2)
    status = models.CharField(
        _("status"), max_length=20, choices=LineStatus.choices, default=LineStatus.PENDING
    )

    class Meta:
        verbose_name = _("order line")
        verbose_name_plural = _("order lines")
        ordering = ["order", "line_no"]
        constraints = [
            models.UniqueConstraint(fields=["order", "line_no"], name="orderline_unique_no"),
            models.CheckConstraint(condition=Q(qty__gte=1), name="orderline_qty_positive"),
            models.CheckConstraint(condition=Q(unit_price__gte=0), name="orderline_price_non_negative"),
        ]

    def __str__(self) -> str:
        return f"{self.order_id}/{self.line_no} {self.qty} × {self.sku}"

    @property
    def reservation_ref(self) -> str:
        return f"line:{self.pk}"

    @property
    def amount(self) -> Decimal:
        return self.unit_price * self.qty


class FulfilmentStatus(models.TextChoices):
    ASSIGNED = "assigned", _("Assigned")
    PICKING = "picking", _("Picking")
    PICKED = "picked", _("Picked")
    PACKED = "packed", _("Packed")
    SHIPPED = "shipped", _("Shipped")
    DELIVERED = "delivered", _("Delivered")
    READY_FOR_PICKUP = "ready_for_pickup", _("Ready for pickup")
    COLLECTED = "collected", _("Collected")
    DISPATCHED = "dispatched", _("Transfer dispatched")
    RECEIVED = "received", _("Transfer received")
    CANCELLED = "cancelled", _("Cancelled")


class FulfilmentKind(models.TextChoices):
    SHIP = "ship", _("Ship to customer")
    PICKUP = "pickup", _("Pickup at this store")
    TRANSFER = "transfer", _("Transfer to the pickup store")


# Still to be sent (or made ready for pickup, or handed to a transfer): what a ship-by time holds a fulfilment
# to (the KPI "late now", the SLA alerts).
TO_SEND_STATUSES = (
    FulfilmentStatus.ASSIGNED,
    FulfilmentStatus.PICKING,
    FulfilmentStatus.PICKED,
    FulfilmentStatus.PACKED,
)

# When a fulfilment's work at its location was done: sent to the customer, handed to a transfer, or made ready
# at the pickup store (indexed: the KPI rollups read it a day at a time).
FULFILMENT_DONE_AT = Coalesce("shipped_at", "dispatched_at", "ready_at")


class Fulfilment(models.Model):
    """What one location ships or hands over for one order (or transfers to its pickup store)."""

    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="fulfilments")
    location = models.ForeignKey(Location, on_delete=models.PROTECT, related_name="fulfilments")
    kind = models.CharField(_("kind"), max_length=10, choices=FulfilmentKind.choices)
    status = models.CharField(
        _("status"),
        max_length=20,
        choices=FulfilmentStatus.choices,
        default=FulfilmentStatus.ASSIGNED,
        db_index=True,
    )
    carrier_service = models.CharField(_("carrier service"), max_length=40, blank=True)
    tracking_code = models.CharField(_("tracking code"), max_length=64, blank=True, db_index=True)
    ship_by = models.DateTimeField(_("ship by"), null=True, blank=True)
    shipped_at = models.DateTimeField(_("shipped at"), null=True, blank=True)
    picked_at = models.DateTimeField(_("picked at"), null=True, blank=True)
    packed_at = models.DateTimeField(_("packed at"), null=True, blank=True)
    delivered_at = models.DateTimeField(_("delivered at"), null=True, blank=True)
    dispatched_at = models.DateTimeField(_("dispatched at"), null=True, blank=True)
    received_at = models.DateTimeField(_("received at"), null=True, blank=True)
    ready_at = models.DateTimeField(_("ready for pickup at"), null=True, blank=True)
    pickup_code = models.CharField(_("pickup code"), max_length=12, blank=True)
    pickup_hold_days = models.PositiveSmallIntegerField(
        _("pickup hold (days)"),
        default=7,
        help_text=_("Days a ready pickup waits for the customer before its units go back to stock."),
    )
    late_alerted_at = models.DateTimeField(
        _("late alert sent at"),
        null=True,
        blank=True,
        help_text=_("When the SLA job announced that it missed its ship-by time (once)."),
    )
    collected_at = models.DateTimeField(_("collected at"), null=True, blank=True)
    collected_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("handed over by"),
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("fulfilment")
        verbose_name_plural = _("fulfilments")
        ordering = ["ship_by", "id"]
        indexes = [
            models.Index(fields=["location", "status", "ship_by"]),
            # the KPI rollups (reporting.services) read a day's fulfilments: those created, those done
            models.Index(fields=["created_at"], name="fulfilment_created_at"),
            models.Index(FULFILMENT_DONE_AT, name="fulfilment_done_at"),
        ]

    def __str__(self) -> str:
        return f"F{self.pk} {self.location_id} {self.status}"


class FulfilmentLine(models.Model):
    fulfilment = models.ForeignKey(Fulfilment, on_delete=models.CASCADE, related_name="lines")
    order_line = models.ForeignKey(OrderLine, on_delete=models.CASCADE, related_name="fulfilment_lines")
    qty = models.PositiveIntegerField(_("quantity"))
    qty_picked = models.PositiveIntegerField(_("picked"), default=0)
    qty_short = models.PositiveIntegerField(
        _("short"), default=0, help_text=_("Units not found at pick time; sent back to routing.")
    )

    class Meta:
        verbose_name = _("fulfilment line")
        verbose_name_plural = _("fulfilment lines")
        constraints = [
            models.CheckConstraint(condition=Q(qty__gte=1), name="fulfilmentline_qty_positive"),
            models.CheckConstraint(
                condition=Q(qty_picked__lte=models.F("qty") - models.F("qty_short")),
                name="fulfilmentline_picked_le_qty",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.qty} × line {self.order_line_id}"

    @property
    def reservation_ref(self) -> str:
        return f"fl:{self.pk}"

    @property
    def qty_active(self) -> int:
        """Units this line still stands for (what was not reported short)."""
        return self.qty - self.qty_short

    @property
    def qty_left(self) -> int:
        """Active units still to pick."""
        return self.qty_active - self.qty_picked


class OrderEvent(models.Model):
    """The order timeline: every event, who, what, when, with its data. Append-only."""

    # indexed by (order, at)
    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="events", db_index=False)
    at = models.DateTimeField(_("at"), auto_now_add=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    kind = models.CharField(_("kind"), max_length=40)
    message = models.CharField(_("message"), max_length=500)
    data = models.JSONField(_("data"), default=dict, blank=True)

    class Meta:
        verbose_name = _("order event")
        verbose_name_plural = _("order timeline")
        ordering = ["at", "id"]
        indexes = [models.Index(fields=["order", "at"])]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M} {self.kind}"


class Package(models.Model):
    """One parcel of a fulfilment, with its weight and (once shipped) its tracking code."""

    fulfilment = models.ForeignKey(Fulfilment, on_delete=models.CASCADE, related_name="packages")
    weight_g = models.PositiveIntegerField(_("weight (g)"))
    tracking_code = models.CharField(_("tracking code"), max_length=64, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("package")
        verbose_name_plural = _("packages")
        ordering = ["fulfilment", "id"]
        constraints = [models.CheckConstraint(condition=Q(weight_g__gte=1), name="package_weight_positive")]

    def __str__(self) -> str:
        return f"F{self.fulfilment_id} {self.weight_g} g {self.tracking_code}"


class OrderTrackingLink(models.Model):
    """The unguessable token of an order's public tracking page (created lazily)."""

    order = models.OneToOneField(Order, on_delete=models.CASCADE, related_name="tracking_link")
    token = models.CharField(_("token"), max_length=64, unique=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("tracking link")
        verbose_name_plural = _("tracking links")

    def __str__(self) -> str:
        return f"tracking {self.order_id}"


class ReturnStatus(models.TextChoices):
    REQUESTED = "requested", pgettext_lazy("a return", "Awaiting the goods")
    RECEIVED = "received", pgettext_lazy("a return", "Received")
    REFUNDED = "refunded", pgettext_lazy("a return", "Refunded")
    # received, and the exchange order is worth more than what came back: the customer owes the difference
    OWED = "owed", pgettext_lazy("a return", "Customer owes")
    # received and settled with nothing to refund (an exchange worth what came back, a debt paid or waived);
    # refundable again if its exchange order is cancelled
    CLOSED = "closed", pgettext_lazy("a return", "Closed")
    CANCELLED = "cancelled", pgettext_lazy("a return", "Cancelled")


class ReturnReason(models.TextChoices):
    WRONG_SIZE = "wrong_size", _("Wrong size or fit")
    DEFECTIVE = "defective", _("Faulty or arrived damaged")
    NOT_AS_DESCRIBED = "not_as_described", _("Not as described")
    WRONG_ITEM = "wrong_item", _("Wrong item sent")
    CHANGED_MIND = "changed_mind", _("Changed their mind")
    OTHER = "other", _("Other")


class ExchangeWhen(models.TextChoices):
    """When a return's replacement items go out (as its exchange order)."""

    RECEIVED = "received", _("Once the goods are back")
    NOW = "now", _("Now (advance exchange)")


class ShippingDecision(models.TextChoices):
    """Whether a received return's refund due includes the order's shipping price, and why (decided when the
    goods arrive; the labels are what the return page says)."""

    FAULT = (
        "fault",
        _("Included: every unit that reached the customer is back, and the reason is the retailer's fault."),
    )
    REGRET = (
        "regret",
        _(
            "Included: every unit that reached the customer is back within 7 days of its delivery, of an "
            "order bought online (right of regret, Consumer Defence Code art. 49)."
        ),
    )
    FREE = "free", _("Not included: the order had no shipping charge.")
    ALREADY = "already", _("Not included: another return of this order already refunds the shipping.")
    PARTIAL = "partial", _("Not included: not every unit that reached the customer is back.")
    LATE = (
        "late",
        _(
            "Not included: returned more than 7 days after delivery, and the reason is not the retailer's "
            "fault."
        ),
    )
    IN_STORE = (
        "in_store",
        _(
            "Not included: bought in a store (no right of regret), and the reason is not the retailer's "
            "fault."
        ),
    )


class Return(models.Model):
    """A return of delivered units (an RMA): authorised by customer service, received at a location
    (resellable units go back to stock there), then refunded. Number: the order's number, "-D", a sequence."""

    number = models.CharField(_("number"), max_length=32, unique=True)
    order = models.ForeignKey(Order, on_delete=models.PROTECT, related_name="returns")
    location = models.ForeignKey(
        Location,
        on_delete=models.PROTECT,
        related_name="returns",
        verbose_name=_("returned to"),
        help_text=_("Where the customer brings or sends the goods."),
    )
    status = models.CharField(
        _("status"), max_length=12, choices=ReturnStatus.choices, default=ReturnStatus.REQUESTED
    )
    reason = models.CharField(_("reason"), max_length=20, choices=ReturnReason.choices)
    note = models.CharField(_("note"), max_length=200, blank=True)
    # what an integration sent as Idempotency-Key: the same request again gets this return, not a second one
    idempotency_key = models.CharField(
        _("idempotency key"), max_length=128, null=True, blank=True, unique=True
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    received_at = models.DateTimeField(_("received at"), null=True, blank=True)
    received_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # the refunds so far, in sum, and the latest one's reference, moment and author (the entries hold each)
    refund_amount = models.DecimalField(_("refunded"), max_digits=12, decimal_places=2, null=True, blank=True)
    refund_reference = models.CharField(
        _("refund reference"), max_length=64, blank=True, help_text=_("The payment system's reference.")
    )
    refunded_at = models.DateTimeField(_("refunded at"), null=True, blank=True)
    refunded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # An exchange: the replacement items asked for instead of money, per returned order line (a list of
    # {"line", "line_no", "sku", "product", "name", "qty", "price"}: what was chosen, its price then), sent
    # as the exchange order when `exchange_when` says.
    exchange_lines = models.JSONField(_("replacement items"), default=list, blank=True)
    exchange_when = models.CharField(
        _("exchange sent"), max_length=8, choices=ExchangeWhen.choices, blank=True
    )
    exchange_order = models.OneToOneField(
        Order,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="exchange_for",
        verbose_name=_("exchange order"),
    )
    shipping_refund = models.DecimalField(
        _("shipping refunded"), max_digits=10, decimal_places=2, default=Decimal("0.00")
    )
    shipping_decision = models.CharField(
        _("shipping"), max_length=10, choices=ShippingDecision.choices, blank=True
    )

    class Meta:
        verbose_name = _("return")
        verbose_name_plural = _("returns")
        ordering = ["-created_at", "-id"]
        # the KPI rollup reads a day's receipts
        indexes = [models.Index(fields=["location", "status"]), models.Index(fields=["received_at"])]
        constraints = [
            models.CheckConstraint(
                condition=Q(refund_amount__isnull=True) | Q(refund_amount__gte=0),
                name="return_refund_not_negative",
            ),
            models.CheckConstraint(condition=Q(shipping_refund__gte=0), name="return_shipping_not_negative"),
            # the order's shipping is refunded by one of its returns at most
            models.UniqueConstraint(
                fields=["order"], condition=Q(shipping_refund__gt=0), name="return_shipping_refunded_once"
            ),
        ]

    def __str__(self) -> str:
        return self.number

    @property
    def exchange_counts(self) -> bool:
        """Whether an exchange order went out and stands (a cancelled one leaves the money as it was)."""
        return self.exchange_order is not None and self.exchange_order.status != OrderStatus.CANCELLED


class EntryKind(models.TextChoices):
    """What settled part of a return's money (`ReturnEntry`)."""

    REFUND = "refund", pgettext_lazy("return money", "Refunded")
    KEPT = "kept", pgettext_lazy("return money", "Kept (restocking fee or agreed deduction)")
    CHARGE = "charge", pgettext_lazy("return money", "Paid by the customer")
    WAIVED = "waived", pgettext_lazy("return money", "Waived")
    OFFSET = "offset", pgettext_lazy("return money", "Settled with another return")
    REVERSAL = "reversal", pgettext_lazy("return money", "Correction")


# the entries a person may reverse (an offset is the system's own pairing of two returns)
REVERSIBLE_ENTRIES = (EntryKind.REFUND, EntryKind.KEPT, EntryKind.CHARGE, EntryKind.WAIVED)


class ReturnEntry(models.Model):
    """One movement of a return's money: what it settles of what is due (`amount`: positive for what was
    refunded or kept of what was due to the customer, negative for what the customer paid or was let off of
    what they owed). Offsets come in pairs between two returns of one order: what one owes the customer pays
    what the customer owes on the other. What is still due is the return's balance less its standing entries:
    an entry recorded by mistake (a refund that bounced, a payment charged back) is never changed or deleted
    but reversed by a correction (`reverses`, the opposite amount, `note` saying why), and then neither
    counts."""

    ret = models.ForeignKey(Return, on_delete=models.CASCADE, related_name="entries")
    kind = models.CharField(_("kind"), max_length=8, choices=EntryKind.choices)
    amount = models.DecimalField(_("amount"), max_digits=12, decimal_places=2)
    other = models.ForeignKey(
        Return,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("other return"),
    )
    reference = models.CharField(_("reference"), max_length=64, blank=True)
    reverses = models.OneToOneField(
        "self",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="reversal",
        verbose_name=_("corrects"),
    )
    note = models.CharField(_("note"), max_length=200, blank=True)
    created_at = models.DateTimeField(_("at"), auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        verbose_name = _("return money entry")
        verbose_name_plural = _("return money entries")
        ordering = ["created_at", "id"]
        indexes = [models.Index(fields=["created_at"])]  # the KPI rollup reads a day's money
        constraints = [
            models.CheckConstraint(
                condition=Q(kind__in=["refund", "kept"], amount__gt=0, reverses__isnull=True)
                | Q(kind__in=["charge", "waived"], amount__lt=0, reverses__isnull=True)
                | Q(kind="offset", other__isnull=False, reverses__isnull=True) & ~Q(amount=0)
                | Q(kind="reversal", reverses__isnull=False) & ~Q(amount=0),
                name="returnentry_amount_sign",
            ),
            # a payment system's reference is recorded once per return: a retry is not a second payment
            models.UniqueConstraint(
                fields=["ret", "reference"],
                condition=Q(kind="charge") & ~Q(reference=""),
                name="returnentry_charge_once",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.amount}"

    @property
    def size(self) -> Decimal:
        """The amount without its sign: what was paid, kept, waived or moved."""
        return abs(self.amount)


class ReturnLine(models.Model):
    """Units of one order line in a return: asked for, then received and, of those, put back in stock."""

    ret = models.ForeignKey(Return, on_delete=models.CASCADE, related_name="lines")
    order_line = models.ForeignKey(OrderLine, on_delete=models.PROTECT, related_name="return_lines")
    qty = models.PositiveIntegerField(_("quantity"))
    qty_received = models.PositiveIntegerField(_("received"), default=0)
    qty_restocked = models.PositiveIntegerField(_("back in stock"), default=0)

    class Meta:
        verbose_name = _("return line")
        verbose_name_plural = _("return lines")
        ordering = ["ret", "order_line__line_no"]
        constraints = [
            models.CheckConstraint(condition=Q(qty__gte=1), name="returnline_qty_positive"),
            models.CheckConstraint(
                condition=Q(qty_received__lte=models.F("qty")), name="returnline_received_le_qty"
            ),
            models.CheckConstraint(
                condition=Q(qty_restocked__lte=models.F("qty_received")),
                name="returnline_restocked_le_received",
            ),
            models.UniqueConstraint(fields=["ret", "order_line"], name="returnline_one_per_order_line"),
        ]

    def __str__(self) -> str:
        return f"{self.qty} × line {self.order_line_id}"

    @property
    def value(self) -> Decimal:
        """What the received units were paid."""
        return self.qty_received * self.order_line.unit_price
