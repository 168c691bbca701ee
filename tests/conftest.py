"""Fixtures shared by the whole suite: users of every role and logged-in clients."""

from __future__ import annotations

import os
from typing import Any

import pytest
from django.contrib.auth.models import Group

from oms.roles import Role, setup_roles
from tests.factories import UserFactory

# Playwright's sync API runs an event loop in the test thread; Django refuses ORM calls there otherwise.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


def _wait_for_idle_worker(timeout: float = 30.0) -> None:
    """Block until the worker has no queued, reserved or running task (or `timeout` passes)."""
    import time

    import redis

    from oms.celery import app

    client = redis.Redis.from_url(os.environ["REDIS_URL"])
    deadline = time.monotonic() + timeout
    inspect = app.control.inspect(timeout=0.5)
    while time.monotonic() < deadline:
        queued = client.llen("celery")
        busy = sum(len(v) for v in (inspect.active() or {}).values())
        busy += sum(len(v) for v in (inspect.reserved() or {}).values())
        if not queued and not busy:
            return
        time.sleep(0.1)


def _database_activity() -> str:
    """Every other session on the test cluster: what it runs, its state and who blocks it (for a hang)."""
    import psycopg
    from django.db import connection

    params = connection.get_connection_params()
    params.pop("cursor_factory", None)
    params.pop("context", None)
    params.pop("prepare_threshold", None)
    with psycopg.connect(**params, autocommit=True, connect_timeout=5) as conn:
        rows = conn.execute(
            "SELECT pid, application_name, state, wait_event_type, wait_event, pg_blocking_pids(pid),"
            " now() - xact_start, left(query, 300) FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid() ORDER BY pid"
        ).fetchall()
    return "\n".join(" | ".join(str(value) for value in row) for row in rows) or "(no other session)"


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    """When pytest-timeout stops a hung test, add what PostgreSQL was doing to its report."""
    report = yield
    if call.excinfo is not None and "Timeout" in str(call.excinfo.value):
        try:
            report.sections.append(("PostgreSQL sessions at the timeout", _database_activity()))
        except Exception as exc:  # the diagnosis must not hide the failure
            report.sections.append(("PostgreSQL sessions at the timeout", repr(exc)))
    return report


@pytest.fixture(autouse=True)
def _worker_idle_before_flush(request):
    """Transactional tests commit, so the real worker may still be routing their orders when the test
    ends; the flush that follows would deadlock with it. Wait for the worker first (teardown order:
    this fixture sets up after `transactional_db`, so it tears down before the flush)."""
    marker = request.node.get_closest_marker("django_db")
    transactional = "transactional_db" in request.fixturenames or (
        marker is not None and (marker.kwargs.get("transaction") or (marker.args and marker.args[0]))
    )
    if not transactional or not os.environ.get("REDIS_URL"):
        yield
        return
    request.getfixturevalue("transactional_db")
    yield
    _wait_for_idle_worker()


@pytest.fixture(autouse=True)
def _no_cached_references():
    """A test's webhook subscriptions and channels vanish with its rollback or flush, which no signal sees:
    start each test without their cached entries (every key registered with oms.cache.prefetch), nor the
    routing's picture of recent demand."""
    from django.core.cache import cache

    import oms.webhooks  # noqa: F401  (registers its key)
    import orders.selectors  # noqa: F401
    from oms.cache import PREFETCHED
    from routing.services.demand import demand_forget

    cache.delete_many(PREFETCHED)
    demand_forget()  # the picture of recent demand was drawn from another test's orders
    yield
    cache.delete_many(PREFETCHED)
    demand_forget()


@pytest.fixture(autouse=True)
def _no_pending_task_requests():
    """A request for a drain (oms.queue.request_on_commit) outlives the test that made it, and a test whose
    tasks are not sent would leave it set: start each test without one."""
    from oms.queue import lease_release, request_taken
    from routing.services.live import DRAIN_TASK

    request_taken(DRAIN_TASK)
    lease_release(DRAIN_TASK)  # and no run's lease left behind
    yield


@pytest.fixture
def roles(db):
    return setup_roles()


def _user_with_role(role: str, username: str) -> Any:
    user: Any = UserFactory(username=username)
    user.groups.add(Group.objects.get(name=role))
    return user


@pytest.fixture
def admin_user(roles):
    user = _user_with_role(Role.ADMIN, "admin1")
    user.is_superuser = user.is_staff = True
    user.save(update_fields=["is_superuser", "is_staff"])
    return user


@pytest.fixture
def cs_user(roles):
    return _user_with_role(Role.CUSTOMER_SERVICE, "cs1")


@pytest.fixture
def manager_user(roles):
    return _user_with_role(Role.MANAGER, "manager1")


@pytest.fixture
def store_user(roles):
    return _user_with_role(Role.STORE_STAFF, "store1")


@pytest.fixture
def warehouse_user(roles):
    return _user_with_role(Role.WAREHOUSE_STAFF, "warehouse1")


@pytest.fixture
def user_by_role(admin_user, cs_user, manager_user, store_user, warehouse_user):
    return {
        Role.ADMIN: admin_user,
        Role.CUSTOMER_SERVICE: cs_user,
        Role.MANAGER: manager_user,
        Role.STORE_STAFF: store_user,
        Role.WAREHOUSE_STAFF: warehouse_user,
    }


@pytest.fixture
def needs_worker():
    """Skip nothing: tests that need the worker fail loudly when make test did not start one."""
    if not os.environ.get("REDIS_URL"):
        pytest.fail("this test needs the Redis + Celery worker that `make test` starts")


# --- routing: the default carriers/services/policy and a small network to route on ------------------------
@pytest.fixture
def routing_defaults(db):
    """The default carriers, services, transfer terms and default policy (idempotent)."""
    from routing.models import CarrierService
    from routing.services.defaults import routing_defaults_setup
    from routing.services.snapshot import network_changed

    routing_defaults_setup()
    # No cut-off (24 h): what the tests expect must not depend on the hour they run at (São Paulo time).
    CarrierService.objects.update(cutoff_hour=24)
    network_changed()


@pytest.fixture
def routing_world(routing_defaults):
    """A DC in Cajamar, stores on Av. Paulista and in Morumbi (São Paulo) and one in Rio, two products,
    a web channel and `make_order(lines=[(product, qty)], mode="home"|"pickup", ...)` that creates orders
    through orders.services.order_create (a home order goes to Av. Paulista unless given lat/lon)."""
    import datetime as dt
    import itertools
    from decimal import Decimal
    from types import SimpleNamespace

    from django.utils import timezone

    from orders.services import AddressData, CustomerData, LineData, order_create
    from tests.factories import ChannelFactory, DCFactory, LocationFactory, ProductFactory, StockFactory

    dc = DCFactory(code="CD-SP-CAJAMAR", name="CD Cajamar", daily_capacity=5000)
    paulista = LocationFactory(code="LJ-SP-01", name="Loja Paulista", lat=-23.5614, lon=-46.6559)
    morumbi = LocationFactory(
        code="LJ-SP-02", name="Loja Morumbi", cep="05650000", lat=-23.6229, lon=-46.7010
    )
    rio = LocationFactory(
        code="LJ-RJ-01", name="Loja Copacabana", city="Rio de Janeiro", state="RJ", cep="22070011",
        lat=-22.9711, lon=-43.1822,
    )  # fmt: skip
    shirt = ProductFactory(sku="CAM-0001-P", weight_g=250, price=Decimal("59.90"))
    shoe = ProductFactory(sku="TEN-0001-42", weight_g=900, price=Decimal("299.90"))
    channel = ChannelFactory()
    counter = itertools.count(1)

    def make_order(lines, *, mode="home", pickup_location=None, deadline_days=3, channel=channel, lat=None,
                   lon=None, cep="01310200", ref=None):  # fmt: skip
        n = next(counter)
        address = AddressData(
            street="Av. Paulista", number=str(1000 + n), district="Bela Vista", city="São Paulo", state="SP",
            cep=cep, lat=-23.5630 if lat is None else lat, lon=-46.6543 if lon is None else lon,
        )  # fmt: skip
        return order_create(
            channel=channel,
            external_ref=ref or f"RT-{n:05d}",
            placed_at=timezone.now() - dt.timedelta(minutes=1),
            customer=CustomerData(name="Ana Souza", email="ana@example.com"),
            delivery_mode=mode,
            deadline_days=deadline_days,
            lines=[LineData(product=p, qty=q, unit_price=p.price) for p, q in lines],
            address=address if mode == "home" else None,
            pickup_location=pickup_location,
        ).order

    def stock(location, product, on_hand):
        return StockFactory(location=location, product=product, on_hand=on_hand)

    return SimpleNamespace(
        dc=dc, paulista=paulista, morumbi=morumbi, rio=rio, shirt=shirt, shoe=shoe, channel=channel,
        make_order=make_order, stock=stock,
    )  # fmt: skip


@pytest.fixture
def client_for():
    """`client_for(user)`: a DRF test client signed in as `user` (the API's session-less way)."""

    def make(user: Any) -> Any:
        from rest_framework.test import APIClient

        client = APIClient()
        client.force_authenticate(user)
        return client

    return make
