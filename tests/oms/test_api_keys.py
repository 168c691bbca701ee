"""API keys: `Authorization: Api-Key <key>` acts as the key's user; revoked and wrong keys are refused;
`manage.py create_api_key` issues one."""

from __future__ import annotations

from io import StringIO
from typing import Any

import pytest
from django.contrib.auth.models import Group, Permission
from django.core.management import CommandError, call_command

from oms.models import ApiKey
from oms.roles import Role
from tests.factories import ChannelFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def integration(roles):
    """An ERP's user: customer service (reads every order) plus taking orders in."""
    user: Any = UserFactory(username="erp")
    user.groups.add(Group.objects.get(name=Role.CUSTOMER_SERVICE))
    user.user_permissions.add(*Permission.objects.filter(codename__in=["view_order", "add_order"]))
    return user


def test_a_valid_key_acts_as_its_user(client, integration):
    _obj, key = ApiKey.objects.create_key(name="erp", user=integration)
    response = client.get("/api/v1/orders/", HTTP_AUTHORIZATION=f"Api-Key {key}")
    assert response.status_code == 200
    assert response.json()["results"] == []
    assert ApiKey.objects.get().last_used_at is not None


def test_a_key_without_the_right_is_403(client, roles):
    user: Any = UserFactory(username="nobody")
    _obj, key = ApiKey.objects.create_key(name="nobody", user=user)
    assert client.get("/api/v1/orders/", HTTP_AUTHORIZATION=f"Api-Key {key}").status_code == 403


def test_a_revoked_key_is_refused(client, integration):
    obj, key = ApiKey.objects.create_key(name="erp", user=integration)
    obj.revoked = True
    obj.save()
    response = client.get("/api/v1/orders/", HTTP_AUTHORIZATION=f"Api-Key {key}")
    assert response.status_code == 401
    assert "detail" in response.json()


@pytest.mark.parametrize("header", ["Api-Key wrong.key", "Api-Key ", "Api-Key abc.def.ghi"])
def test_a_wrong_key_is_401(client, integration, header):
    ApiKey.objects.create_key(name="erp", user=integration)
    response = client.get("/api/v1/orders/", HTTP_AUTHORIZATION=header)
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Api-Key"


def test_a_key_of_a_deactivated_user_is_refused(client, integration):
    _obj, key = ApiKey.objects.create_key(name="erp", user=integration)
    integration.is_active = False
    integration.save()
    assert client.get("/api/v1/orders/", HTTP_AUTHORIZATION=f"Api-Key {key}").status_code == 401


def test_create_api_key_prints_a_working_key_once(client, integration):
    ChannelFactory()
    out = StringIO()
    call_command("create_api_key", "erp", "--name", "ERP prod", stdout=out)
    lines = out.getvalue().splitlines()
    key = lines[1].strip()
    obj = ApiKey.objects.get()
    assert obj.name == "ERP prod" and obj.user == integration and obj.prefix in lines[0]
    assert key.startswith(obj.prefix) and not obj.hashed_key.endswith(key)
    assert client.get("/api/v1/orders/", HTTP_AUTHORIZATION=f"Api-Key {key}").status_code == 200


def test_create_api_key_refuses_an_unknown_user(db):
    with pytest.raises(CommandError, match="No user named 'ghost'"):
        call_command("create_api_key", "ghost", stdout=StringIO())
    assert not ApiKey.objects.exists()


def _get(client: Any, key: str) -> Any:
    return client.get("/api/v1/orders/", HTTP_AUTHORIZATION=f"Api-Key {key}")


def test_a_known_key_is_answered_from_the_cache(client, integration):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    _obj, key = ApiKey.objects.create_key(name="erp", user=integration)
    with CaptureQueriesContext(connection) as first:
        assert _get(client, key).status_code == 200
    with CaptureQueriesContext(connection) as second:
        assert _get(client, key).status_code == 200
    # the key row, its user, the user's and groups' permissions, its roles (groups)
    tables = ('FROM "oms_apikey"', 'FROM "auth_user"', 'AS "content_type__app_label"', 'FROM "auth_group"')
    assert any(t in q["sql"] for q in first.captured_queries for t in tables)
    assert not any(t in q["sql"] for q in second.captured_queries for t in tables)


def _revoke(key: ApiKey, user: Any) -> None:
    key.revoked = True
    key.save()


def _deactivate(key: ApiKey, user: Any) -> None:
    user.is_active = False
    user.save()


def _drop_own_rights(key: ApiKey, user: Any) -> None:
    user.user_permissions.clear()
    user.groups.clear()


def _drop_group_rights(key: ApiKey, user: Any) -> None:
    user.user_permissions.clear()
    Group.objects.get(name=Role.CUSTOMER_SERVICE).permissions.clear()


@pytest.mark.parametrize(
    ("change", "status"),
    [
        (lambda key, user: None, 200),
        (_revoke, 401),
        (lambda key, user: key.delete(), 401),
        (_deactivate, 401),
        (_drop_own_rights, 403),
        (_drop_group_rights, 403),
    ],
    ids=["unchanged", "revoked", "deleted", "user-deactivated", "own-rights-removed", "group-rights-removed"],
)
def test_a_denying_change_takes_effect_on_the_next_request(client, integration, change, status):
    obj, key = ApiKey.objects.create_key(name="erp", user=integration)
    assert _get(client, key).status_code == 200  # now cached
    change(obj, integration)
    assert _get(client, key).status_code == status
