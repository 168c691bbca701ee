"""Routing policies: every change is versioned (number, who, when, what changed) and audited."""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from inventory.models import Location
from oms.audit import audit_record
from oms.exceptions import DomainError

from ..models import LOCATION_KINDS, RoutingPolicy, RoutingPolicyVersion
from .snapshot import network_changed

EDITABLE = (
    "name",
    "channel",
    "speed_value",
    "max_packages",
    "allowed_kinds",
    "ship_from_store",
    "store_walkin_share",
    "paused_locations",
    "split_penalty",
    "backorder_per_unit",
    "backorder_price_share",
    "use_forecast",
)


class PolicyInvalid(DomainError):
    status_code = 400
    code = "policy_invalid"


def _actor(by: Any) -> Any:
    return by if getattr(by, "is_authenticated", False) else None


def _json(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    return value


def policy_values(policy: RoutingPolicy) -> dict[str, Any]:
    """The policy as JSON-ready values (paused locations and channel by code)."""
    return {
        "name": policy.name,
        "channel": policy.channel.code if policy.channel_id and policy.channel else None,
        "speed_value": _json(policy.speed_value),
        "max_packages": policy.max_packages,
        "allowed_kinds": sorted(policy.allowed_kinds or []),
        "ship_from_store": policy.ship_from_store,
        "store_walkin_share": _json(policy.store_walkin_share),
        "paused_locations": sorted(loc.code for loc in policy.paused_locations.all()) if policy.pk else [],
        "split_penalty": _json(policy.split_penalty),
        "backorder_per_unit": _json(policy.backorder_per_unit),
        "backorder_price_share": _json(policy.backorder_price_share),
        "use_forecast": policy.use_forecast,
    }


def _apply(policy: RoutingPolicy, changes: dict[str, Any]) -> list[Location] | None:
    unknown = set(changes) - set(EDITABLE)
    if unknown:
        names = ", ".join(sorted(unknown))
        raise PolicyInvalid(
            _("Unknown policy fields: %(names)s.") % {"names": names}, field=sorted(unknown)[0]
        )
    paused: list[Location] | None = None
    for name, value in changes.items():
        if name == "paused_locations":
            paused = list(value)
        elif name == "allowed_kinds":
            kinds = sorted(set(value or []))
            if not kinds or set(kinds) - set(LOCATION_KINDS):
                raise PolicyInvalid(
                    _("Allowed location kinds must be some of %(kinds)s.")
                    % {"kinds": ", ".join(LOCATION_KINDS)},
                    field="allowed_kinds",
                )
            policy.allowed_kinds = kinds
        else:
            setattr(policy, name, value)
    try:
        policy.full_clean(exclude=["paused_locations"])
    except ValidationError as exc:
        field, messages = next(iter(exc.message_dict.items()))
        raise PolicyInvalid(f"{field}: {' '.join(messages)}", field=field) from exc
    return paused


def _version(policy: RoutingPolicy, *, by: Any, changes: dict[str, Any], values: dict[str, Any]) -> None:
    RoutingPolicyVersion.objects.create(
        policy=policy, number=policy.version, created_by=_actor(by), changes=changes, values=values
    )


@transaction.atomic
def policy_create(*, by: Any, paused_locations: Iterable[Location] = (), **fields: Any) -> RoutingPolicy:
    """A new policy (version 1), its first version row and an audit row."""
    policy = RoutingPolicy()
    paused = _apply(policy, {**fields, "paused_locations": list(paused_locations)})
    policy.version = 1
    policy.save()
    if paused:
        policy.paused_locations.set(paused)
    values = policy_values(policy)
    _version(policy, by=by, changes={k: [None, v] for k, v in values.items()}, values=values)
    audit_record(actor=by, action="routing.policy_create", obj=policy, summary=policy.name, after=values)
    network_changed()
    return policy


@transaction.atomic
def policy_update(*, policy: RoutingPolicy, changes: dict[str, Any], by: Any) -> RoutingPolicy:
    """Apply `changes` (field -> new value; paused_locations as Locations) and, if anything changed, bump the
    version, write a version row with the diff ({field: [before, after]}) and an audit row. Locks the policy
    row so that version numbers follow the order of the changes. Raises PolicyInvalid (400) on bad values."""
    policy = RoutingPolicy.objects.select_for_update(of=("self",)).select_related("channel").get(pk=policy.pk)
    before = policy_values(policy)
    paused = _apply(policy, changes)
    if paused is not None:
        policy.paused_locations.set(paused)
    after = policy_values(policy)
    diff = {k: [before[k], after[k]] for k in after if before[k] != after[k]}
    if not diff:
        return policy
    policy.version += 1
    policy.save()
    _version(policy, by=by, changes=diff, values=after)
    audit_record(
        actor=by,
        action="routing.policy_update",
        obj=policy,
        summary=f"{policy.name} v{policy.version}: {', '.join(sorted(diff))}",
        before={k: v[0] for k, v in diff.items()},
        after={k: v[1] for k, v in diff.items()},
    )
    network_changed()
    return policy
