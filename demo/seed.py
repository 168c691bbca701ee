"""Building the demo retailer. Each capability adds its part here; every step is idempotent."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import transaction

from oms.roles import Role, setup_roles

DEMO_PASSWORD = "demo"  # noqa: S105 - documented demo credential, refused with DEBUG off


@dataclass
class SeedReport:
    skipped: bool = False
    logins: list[tuple[str, str]] = field(default_factory=list)


def _user(username: str, *, role: str, first_name: str, last_name: str, superuser: bool = False) -> Any:
    User = get_user_model()
    user, created = User.objects.get_or_create(
        username=username,
        defaults={
            "first_name": first_name,
            "last_name": last_name,
            "email": f"{username}@demo.oms.local",
            "is_staff": superuser,
            "is_superuser": superuser,
        },
    )
    if created:
        user.set_password(DEMO_PASSWORD)
        user.save(update_fields=["password"])
    user.groups.add(Group.objects.get(name=role))
    return user


def seed_users(report: SeedReport) -> None:
    setup_roles()
    _user("admin", role=Role.ADMIN, first_name="Ana", last_name="Admin", superuser=True)
    _user("cs", role=Role.CUSTOMER_SERVICE, first_name="Carla", last_name="Atendimento")
    _user("manager", role=Role.MANAGER, first_name="Marcos", last_name="Gerente")
    report.logins += [("admin", Role.ADMIN), ("cs", Role.CUSTOMER_SERVICE), ("manager", Role.MANAGER)]


def seed_demo(
    *, seed: int = 42, if_empty: bool = False, orders: int = 5000, log: Callable[[str], object] = print
) -> SeedReport:
    """Load (or top up) the demo data; with `if_empty`, skip everything when it is already there."""
    report = SeedReport()
    if if_empty and get_user_model().objects.filter(username="admin").exists():
        report.skipped = True
        report.logins += [("admin", Role.ADMIN), ("cs", Role.CUSTOMER_SERVICE), ("manager", Role.MANAGER)]
        return report
    with transaction.atomic():
        seed_users(report)
    return report
