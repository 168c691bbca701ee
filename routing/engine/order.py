"""What to route (an order or a cart) and the rules a business sets on routing (a policy)."""

from __future__ import annotations

from dataclasses import dataclass, field

HOME = "home"
PICKUP = "pickup"


@dataclass(frozen=True, slots=True)
class OrderLine:
    sku: str
    qty: int
    price: float = 0.0  # unit price, prices an unfilled unit


@dataclass(frozen=True, slots=True)
class Order:
    """A home-delivery order (lat/lon of the customer) or a pickup order (pickup_location)."""

    id: str
    mode: str  # HOME | PICKUP
    lines: tuple[OrderLine, ...]
    deadline_days: int
    lat: float | None = None
    lon: float | None = None
    pickup_location: str | None = None
    wave: int | None = None

    def __post_init__(self) -> None:
        if self.mode == HOME:
            if self.lat is None or self.lon is None:
                raise ValueError(f"order {self.id}: a home order needs lat and lon")
        elif self.mode == PICKUP:
            if not self.pickup_location:
                raise ValueError(f"order {self.id}: a pickup order needs pickup_location")
        else:
            raise ValueError(f"order {self.id}: mode must be 'home' or 'pickup'")
        skus = [ln.sku for ln in self.lines]
        if len(set(skus)) != len(skus):
            raise ValueError(f"order {self.id}: a sku appears twice")
        if any(ln.qty < 1 for ln in self.lines):
            raise ValueError(f"order {self.id}: qty must be >= 1")

    @property
    def units(self) -> int:
        return sum(ln.qty for ln in self.lines)


@dataclass(frozen=True, slots=True)
class Policy:
    """Business rules on top of feasibility. The defaults change nothing.

    * max_packages: most packages (home) or source locations (pickup) per order; None = engine default (8).
    * allowed_kinds: location kinds that may supply units (None = all).
    * ship_from_store: False stops stores shipping home or transferring (same-store pickup still works).
    * speed_weight: BRL per delivery day added when *choosing* (never to the reported cost): > 0 buys speed.
    * paused_locations: ids that must not supply anything now.
    * store_walkin_share: share of each store's period capacity held back for walk-in customers.
    * use_opportunity_costs: weigh the future value of scarce stock and capacity when a pricer is given.
    """

    max_packages: int | None = None
    allowed_kinds: frozenset[str] | None = None
    ship_from_store: bool = True
    speed_weight: float = 0.0
    paused_locations: frozenset[str] = field(default_factory=frozenset)
    store_walkin_share: float = 0.0
    use_opportunity_costs: bool = True


DEFAULT_POLICY = Policy()
