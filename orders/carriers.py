"""The carrier services a location ships with, and their names: for the ship form, `fulfilment_ship` and the
pages that show a fulfilment's carrier service.

Carriers and their services are routing's (`routing.models.CarrierService`), and orders may not import
routing, so routing registers a `CarrierServiceSource` here when it loads (`routing.apps.RoutingConfig`).
Without one (orders on its own) a location that ships offers `FALLBACK_SERVICES` (each its own code and
name) and a stored value is shown as it is. A fulfilment's `carrier_service` holds a service code (what
routing planned, then what the staff shipped with); an older free-text value is shown as it is.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass

from inventory.models import Location

from .models import Fulfilment

# A carrier service as a choice: (code, name).
ServiceChoice = tuple[str, str]

FALLBACK_SERVICES: tuple[ServiceChoice, ...] = tuple(
    (name, name) for name in ("Correios SEDEX", "Correios PAC", "Loggi", "Jadlog", "Total Express")
)


@dataclass(frozen=True)
class CarrierServiceSource:
    """Where carrier services come from. `offered(location, to)`: (code, name) of the active services of
    active carriers `location` may ship with to the point `to` (latitude, longitude; None: anywhere), in the
    order the form lists them. `names(codes)`: code → name for those of `codes` that are services (active or
    not)."""

    offered: Callable[[Location, tuple[float, float] | None], Sequence[ServiceChoice]]
    names: Callable[[Collection[str]], Mapping[str, str]]


_source: CarrierServiceSource | None = None


def carrier_services_register(source: CarrierServiceSource | None) -> None:
    """Set where carrier services come from (routing does, once, at start-up); None goes back to the
    fallback."""
    global _source
    _source = source


def ship_services(location: Location, *, to: tuple[float, float] | None = None) -> list[ServiceChoice]:
    """(code, name) of the carrier services `location` may ship with, to the delivery point `to` when given
    (a service that does not reach it is left out); none when the location does not ship to homes. One query
    (with a source registered)."""
    if not location.ships:
        return []
    if _source is None:
        return list(FALLBACK_SERVICES)
    return list(_source.offered(location, to))


def fulfilment_ship_services(fulfilment: Fulfilment) -> list[ServiceChoice]:
    """(code, name) of the services `fulfilment` may ship with: from its location to its order's delivery
    address (anywhere when the address was never placed on the map)."""
    order = fulfilment.order
    to = (
        (order.ship_lat, order.ship_lon)
        if order.ship_lat is not None and order.ship_lon is not None
        else None
    )
    return ship_services(fulfilment.location, to=to)


def carrier_service_names(codes: Iterable[str]) -> dict[str, str]:
    """Each of `codes` (blanks left out) → its service's name, or the value itself when it is no service's
    code. One query for all of them, none when there is no code."""
    wanted = {code for code in codes if code}
    known = _source.names(wanted) if _source is not None and wanted else {}
    return {code: known.get(code, code) for code in wanted}


def carrier_service_name(code: str) -> str:
    """The name of the service `code` (the value itself when it is no service's code; "" for "")."""
    return carrier_service_names([code]).get(code, "")


def name_carrier_services(fulfilments: Iterable[Fulfilment]) -> None:
    """Set `carrier_service_name` on each fulfilment, what the pages show (one query for all of them)."""
    fulfilments = list(fulfilments)
    names = carrier_service_names(f.carrier_service for f in fulfilments)
    for fulfilment in fulfilments:
        fulfilment.carrier_service_name = names.get(fulfilment.carrier_service, "")  # type: ignore[attr-defined]
