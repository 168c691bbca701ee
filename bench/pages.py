"""Timing a back-office page in-process as an admin (Django's test client, the production settings): shared by
the benches of the pages that read large tables."""

from __future__ import annotations

import statistics
import time
from typing import Any


def time_admin_page(path: str, params: dict[str, Any] | None = None, *, repeat: int = 5) -> tuple[float, int]:
    """GET `path` `repeat` times as an admin; returns (median wall ms, SQL statements of the last request)."""
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group
    from django.core.management import call_command
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from oms.roles import Role, setup_roles

    call_command("collectstatic", "--noinput", verbosity=0)  # the production settings render hashed names
    setup_roles()
    admin, _ = get_user_model().objects.get_or_create(username="bench-admin", defaults={"is_superuser": True})
    admin.groups.add(Group.objects.get(name=Role.ADMIN))
    client = Client()
    client.force_login(admin)
    walls = []
    statements = 0
    for _ in range(repeat):
        with CaptureQueriesContext(connection) as queries:
            t0 = time.perf_counter()
            resp = client.get(path, params or {}, secure=True)
            walls.append(time.perf_counter() - t0)
        assert resp.status_code == 200, resp.status_code
        statements = len(queries.captured_queries)
    return statistics.median(walls) * 1000, statements
