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
