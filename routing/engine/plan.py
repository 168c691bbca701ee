"""The engine's answer: packages with their cost breakdown, backordered units, and the reasons."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

TRANSFER = "transfer"

# Why a location did not supply an order (CandidateNote.reason).
CHOSEN = "chosen"
COSTLIER = "costlier"
NO_STOCK = "no stock"
TOO_SLOW = "too slow"
NO_CAPACITY = "no capacity"
PAUSED = "paused"
NOT_ALLOWED = "not allowed by policy"
OUT_OF_RANGE = "out of service range"
NO_SHIPPING = "does not ship"


@dataclass(frozen=True, slots=True)
class Package:
    """Units one location sends (service id), hands over at the pickup store (service None) or
    transfers to it (service "transfer"); costs in BRL exactly as the referee prices them."""

    location: str
    service: str | None
    lines: tuple[tuple[str, int], ...]  # (sku, qty)
    handling: float
    picking: float
    shipping: float  # carrier service (home)
    transfer: float  # inter-location transfer (pickup)
    days: int
    km: float = 0.0

    @property
    def units(self) -> int:
        return sum(q for _, q in self.lines)

    @property
    def cost(self) -> float:
        return self.handling + self.picking + self.shipping + self.transfer


def phrase(msgid: str, /, **args: Any) -> dict[str, Any]:
    """A note for people: its English msgid and arguments, which the back-office renders in the reader's
    language. The shape of `oms.phrases.phrase`, which the engine may not import (it is pure Python)."""
    return {"m": msgid, "a": args} if args else {"m": msgid}


@dataclass(frozen=True, slots=True)
class CandidateNote:
    """One location the engine looked at: chosen, costlier than the choice, or rejected (with why)."""

    location: str
    reason: str
    # what the engine compared: the order's decision price (real cost plus opportunity cost of the
    # stock and capacity used) when supplied from this location alone; None when the bound cut it
    cost: float | None = None
    detail: dict[str, Any] | None = None  # a `phrase`


@dataclass(slots=True)
class Explanation:
    candidates: list[CandidateNote] = field(default_factory=list)
    no_stock: int = 0  # locations holding none of the order's SKUs (not listed one by one)
    options_evaluated: int = 0
    opportunity_cost: float = 0.0  # future value of stock/capacity the plan uses (not in total_cost)
    notes: list[dict[str, Any]] = field(default_factory=list)  # `phrase`s
    priced: bool = False  # candidates were compared with the future value of their stock and capacity

    def reasons(self) -> dict[str, list[str]]:
        """Location ids grouped by reason."""
        out: dict[str, list[str]] = {}
        for c in self.candidates:
            out.setdefault(c.reason, []).append(c.location)
        return out

    def to_dict(self) -> dict[str, Any]:
        return {
            "candidates": [
                {"location": c.location, "reason": c.reason, "cost": _r(c.cost), "detail": c.detail}
                for c in self.candidates
            ],
            "no_stock_locations": self.no_stock,
            "options_evaluated": self.options_evaluated,
            "opportunity_cost": round(self.opportunity_cost, 2),
            "priced": self.priced,
            "notes": list(self.notes),
        }


@dataclass(slots=True)
class Plan:
    """How one order is supplied. `total_cost` = packages + split penalty + pickup handling + unfilled."""

    order_id: str
    mode: str
    packages: list[Package]
    unfilled: list[tuple[str, int]]  # (sku, qty) backordered
    split_penalty: float
    pickup_handling: float
    unfilled_cost: float
    explanation: Explanation = field(default_factory=Explanation)
    latency_ms: float = 0.0

    @property
    def total_cost(self) -> float:
        return (
            sum(p.cost for p in self.packages)
            + self.split_penalty
            + self.pickup_handling
            + self.unfilled_cost
        )

    @property
    def delivery_days(self) -> int | None:
        """Days until the last package arrives; None when nothing is sent."""
        return max((p.days for p in self.packages), default=None)

    @property
    def unfilled_units(self) -> int:
        return sum(q for _, q in self.unfilled)

    def cost_breakdown(self) -> dict[str, float]:
        return {
            "handling": sum(p.handling for p in self.packages) + self.pickup_handling,
            "picking": sum(p.picking for p in self.packages),
            "shipping": sum(p.shipping for p in self.packages),
            "transfer": sum(p.transfer for p in self.packages),
            "split_penalty": self.split_penalty,
            "unfilled_penalty": self.unfilled_cost,
        }

    def to_entry(self) -> dict[str, Any]:
        """This order's entry of an `oms-routing-plan/1` document."""
        return {
            "order": self.order_id,
            "packages": [
                {
                    "location": p.location,
                    "service": p.service,
                    "lines": [{"sku": s, "qty": q} for s, q in p.lines],
                }
                for p in self.packages
            ],
            "unfilled": [{"sku": s, "qty": q} for s, q in self.unfilled],
        }

    def to_dict(self) -> dict[str, Any]:
        """Everything worth persisting with a routing decision (JSON-ready)."""
        out = self.to_entry()
        for p, d in zip(self.packages, out["packages"], strict=True):
            d.update(
                handling=_r(p.handling),
                picking=_r(p.picking),
                shipping=_r(p.shipping),
                transfer=_r(p.transfer),
                cost=_r(p.cost),
                days=p.days,
                km=_r(p.km),
            )
        out.update(
            mode=self.mode,
            total_cost=_r(self.total_cost),
            delivery_days=self.delivery_days,
            cost_breakdown={k: _r(v) for k, v in self.cost_breakdown().items()},
            explanation=self.explanation.to_dict(),
            latency_ms=round(self.latency_ms, 3),
        )
        return out


def _r(x: float | None) -> float | None:
    return None if x is None else round(x, 2)
