"""The demo retailer's sales channels, how their order references look, and how orders spread across them."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ChannelSpec:
    code: str
    name: str
    kind: str
    ref_pattern: str
    ref_format: str  # `ref_format.format(n=...)` gives a reference that matches `ref_pattern`
    ref_start: int
    share: float  # share of the orders
    pickup_share: float  # share of its orders collected in a store


CHANNELS: tuple[ChannelSpec, ...] = (
    # Demo references start high so the API example (WEB-100023) stays free to create.
    ChannelSpec("web", "Site", "site", r"^WEB-\d+$", "WEB-{n}", 500001, 0.40, 0.22),
    ChannelSpec("app", "App", "app", r"^APP-\d+$", "APP-{n}", 300001, 0.25, 0.25),
    ChannelSpec(
        "mercadolivre", "Mercado Livre", "marketplace", r"^ML-\d{6,}$", "ML-{n}", 2000450001, 0.20, 0.0
    ),
    ChannelSpec(
        "loja",
        "Lojas (venda assistida)",
        "store",
        r"^LJ-[A-Z]{2}-\d{2}-\d{6}$",
        "{store}-{n:06d}",
        1,
        0.08,
        0.35,
    ),
    ChannelSpec("instagram", "Instagram Shopping", "social", r"^IG-\d+$", "IG-{n}", 70001, 0.07, 0.15),
)
