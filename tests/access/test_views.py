"""The access pages: admins only; users list, invite, edit roles and scopes, API keys, the audit log."""

from __future__ import annotations

import csv
import io

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.urls import reverse

from oms.audit import audit_record
from oms.models import ApiKey, AuditEvent
from oms.roles import Role
from tests.factories import ChannelFactory, LocationFactory, UserFactory

User = get_user_model()
pytestmark = pytest.mark.django_db

PAGES = ["access:users", "access:invite", "access:audit", "access:audit-export"]


def _client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.mark.parametrize("name", PAGES)
def test_only_admins_get_in(name, user_by_role):
    url = reverse(name)
    assert Client().get(url).status_code == 302
    for role, user in user_by_role.items():
        expected = 200 if role == Role.ADMIN else 403
        assert _client(user).get(url).status_code == expected, (role, name)


def test_user_pages_refuse_non_admins(user_by_role, cs_user):
    for role, user in user_by_role.items():
        if role == Role.ADMIN:
            continue
        client = _client(user)
        assert client.get(reverse("access:user", args=[cs_user.pk])).status_code == 403
        assert client.post(reverse("access:deactivate", args=[cs_user.pk])).status_code == 403
        assert client.post(reverse("access:key-issue", args=[cs_user.pk]), {"name": "x"}).status_code == 403
    assert User.objects.get(pk=cs_user.pk).is_active
    assert not ApiKey.objects.exists()


def test_users_list_search_and_filters(admin_user, cs_user, store_user, django_assert_max_num_queries):
    UserFactory(username="old.timer", is_active=False)
    for n in range(20):
        UserFactory(username=f"bulk{n}")
    client = _client(admin_user)
    with django_assert_max_num_queries(12):
        response = client.get(reverse("access:users"))
    assert response.status_code == 200
    assert "cs1" in response.text and "bulk19" in response.text
    response = client.get(reverse("access:users"), {"role": Role.STORE_STAFF})
    assert "store1" in response.text and "cs1" not in response.text
    response = client.get(reverse("access:users"), {"active": "no"})
    assert "old.timer" in response.text and "cs1" not in response.text
    response = client.get(reverse("access:users"), {"q": "bulk1"})
    assert "bulk1" in response.text and "cs1" not in response.text


def test_invite_form(admin_user, mailoutbox, django_capture_on_commit_callbacks):
    client = _client(admin_user)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("access:invite"),
            {"username": "rita", "email": "rita@example.com", "first_name": "Rita", "roles": [Role.MANAGER]},
        )
    rita = User.objects.get(username="rita")
    assert response.status_code == 302 and response.url == reverse("access:user", args=[rita.pk])
    assert rita.groups.filter(name=Role.MANAGER).exists()
    assert len(mailoutbox) == 1 and "/accounts/reset/" in mailoutbox[0].body
    bad = client.post(reverse("access:invite"), {"username": "rita", "email": "not-an-email"})
    assert bad.status_code == 400
    assert User.objects.filter(username="rita").count() == 1


def test_edit_roles_scopes_and_deactivate_from_the_user_page(admin_user, cs_user):
    store = LocationFactory(code="LJ-RJ-01")
    channel = ChannelFactory(code="app", name="App", kind="app")
    client = _client(admin_user)
    page = client.get(reverse("access:user", args=[cs_user.pk]))
    assert page.status_code == 200 and "LJ-RJ-01" in page.text  # offered in the searchable list

    response = client.post(
        reverse("access:user", args=[cs_user.pk]),
        {"email": "cs@example.com", "first_name": "Carla", "last_name": "", "roles": [Role.STORE_STAFF]},
    )
    assert response.status_code == 302
    cs_user.refresh_from_db()
    assert cs_user.first_name == "Carla"
    assert list(cs_user.groups.values_list("name", flat=True)) == [Role.STORE_STAFF]

    assert (
        client.post(
            reverse("access:scope-add", args=[cs_user.pk]), {"kind": "location", "code": "LJ-RJ-01"}
        ).status_code
        == 302
    )
    assert (
        client.post(
            reverse("access:scope-add", args=[cs_user.pk]), {"kind": "channel", "code": "app"}
        ).status_code
        == 302
    )
    fresh = User.objects.get(pk=cs_user.pk)
    assert fresh.has_perm("inventory.work_at_location", store)
    assert fresh.has_perm("orders.manage_channel", channel)
    page = client.get(reverse("access:user", args=[cs_user.pk]))
    assert 'data-testid="remove-location-LJ-RJ-01"' in page.text

    unknown = client.post(
        reverse("access:scope-add", args=[cs_user.pk]), {"kind": "location", "code": "NOPE"}
    )
    assert unknown.status_code == 400
    assert (
        client.post(
            reverse("access:scope-remove", args=[cs_user.pk]), {"kind": "location", "code": "LJ-RJ-01"}
        ).status_code
        == 302
    )
    assert not User.objects.get(pk=cs_user.pk).has_perm("inventory.work_at_location", store)

    assert client.post(reverse("access:deactivate", args=[cs_user.pk])).status_code == 302
    assert not User.objects.get(pk=cs_user.pk).is_active
    assert client.post(reverse("access:reactivate", args=[cs_user.pk])).status_code == 302
    assert User.objects.get(pk=cs_user.pk).is_active
    actions = set(AuditEvent.objects.values_list("action", flat=True))
    assert {"user.update", "user.set_roles", "scope.grant", "scope.revoke", "user.deactivate"} <= actions


def test_admin_cannot_deactivate_themself_from_the_page(admin_user):
    client = _client(admin_user)
    response = client.post(reverse("access:deactivate", args=[admin_user.pk]), follow=True)
    assert response.status_code == 200
    assert User.objects.get(pk=admin_user.pk).is_active


def test_api_key_shown_once_then_revoked(admin_user, cs_user):
    client = _client(admin_user)
    response = client.post(reverse("access:key-issue", args=[cs_user.pk]), {"name": "ERP"})
    assert response.status_code == 200
    key = ApiKey.objects.get(user=cs_user)
    raw = response.text.split('data-testid="raw-key">')[1].split("<")[0]
    assert ApiKey.objects.get_from_key(raw) == key
    assert raw not in client.get(reverse("access:user", args=[cs_user.pk])).text  # never shown again

    response = client.post(reverse("access:key-revoke", args=[cs_user.pk, key.prefix]))
    assert response.status_code == 302
    key.refresh_from_db()
    assert key.revoked
    other = UserFactory(username="other")
    assert client.post(reverse("access:key-revoke", args=[other.pk, key.prefix])).status_code == 404


def test_audit_log_search_keyset_pages_and_csv(admin_user, cs_user, django_assert_max_num_queries):
    for n in range(60):
        audit_record(actor=cs_user, action="order.note", summary=f"note {n}")
    audit_record(
        actor=admin_user, action="scope.grant", obj=cs_user, summary="inventory.work_at_location LJ-A"
    )
    client = _client(admin_user)
    with django_assert_max_num_queries(8):
        page = client.get(reverse("access:audit"))
    assert page.status_code == 200 and "scope.grant" in page.text and 'data-testid="older"' in page.text
    older = (
        page.text.split('data-testid="older"')[0].rsplit('href="', 1)[1].split('"')[0].replace("&amp;", "&")
    )
    second = client.get(reverse("access:audit") + older)
    assert "note 0" in second.text and "scope.grant" not in second.text

    by_action = client.get(reverse("access:audit"), {"action": "scope."})
    assert "scope.grant" in by_action.text and "order.note" not in by_action.text
    by_actor = client.get(reverse("access:audit"), {"actor": admin_user.username})
    assert "scope.grant" in by_actor.text and "note 5" not in by_actor.text
    by_object = client.get(reverse("access:audit"), {"obj": f"auth.user:{cs_user.pk}"})
    assert "scope.grant" in by_object.text and "note 5" not in by_object.text
    bad_dates = client.get(reverse("access:audit"), {"since": "2026-02-01", "until": "2026-01-01"})
    assert bad_dates.status_code == 400

    export = client.get(reverse("access:audit-export"), {"action": "order."})
    assert export.status_code == 200 and export["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(b"".join(export.streaming_content).decode("utf-8-sig"))))
    assert rows[0][:4] == ["id", "at", "actor", "action"]
    assert len(rows) == 61 and {row[3] for row in rows[1:]} == {"order.note"}


def test_audit_log_is_read_only(admin_user):
    event = audit_record(actor=admin_user, action="x.test")
    with pytest.raises(PermissionError):
        event.save()
    with pytest.raises(PermissionError):
        AuditEvent.objects.filter(pk=event.pk).delete()
    client = _client(admin_user)
    assert client.post(reverse("access:audit")).status_code == 405
