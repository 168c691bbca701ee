"""Security events from other packages, written to the audit log."""

from __future__ import annotations

import ipaddress
from typing import Any

from django.contrib.auth import get_user_model

from oms.audit import audit_record


def audit_locked_out(
    sender: Any, request: Any = None, username: str = "", ip_address: str = "", **_: Any
) -> None:
    """django-axes locked a user name + address out after repeated failed sign-ins: one audit row."""
    try:
        ip = str(ipaddress.ip_address(ip_address)) if ip_address else None
    except ValueError:
        ip = None
    user = get_user_model().objects.filter(username=username).first() if username else None
    audit_record(
        actor=None,
        action="access.locked_out",
        obj=user,
        summary=f"{username} from {ip_address}"[:255],
        after={"username": (username or "")[:150], "ip": ip_address},
        ip=ip,
    )
