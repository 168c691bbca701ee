"""Access services: invite, roles, deactivate, scopes and API keys, each audited and effective at once."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.core import mail
from django.test import Client

from access import services
from access.selectors import user_scopes
from inventory.selectors import location_list
from oms.models import ApiKey, AuditEvent
from oms.roles import Role, user_roles
from orders.selectors import channel_list, order_list
from tests.access.world import build_world
from tests.factories import ChannelFactory, LocationFactory, RegionFactory, UserFactory

User = get_user_model()
pytestmark = pytest.mark.django_db


def test_invite_creates_user_without_password_sends_link_and_audits(
    admin_user, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        user = services.user_invite(
            username="joana",
            email="joana@example.com",
            first_name="Joana",
            last_name="Lima",
            roles=[Role.STORE_STAFF],
            by=admin_user,
            base_url="https://oms.example.com/",
        )
    user.refresh_from_db()
    assert not user.has_usable_password()
    assert user_roles(user) == {Role.STORE_STAFF}
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == ["joana@example.com"]
    link = next(word for word in mail.outbox[0].body.split() if word.startswith("https://oms.example.com/"))
    event = AuditEvent.objects.get(action="user.invite")
    assert event.actor == admin_user and event.object_id == str(user.pk)
    assert event.after["roles"] == [Role.STORE_STAFF]

    # The link lets the user choose a password (Django's reset-confirm view), then sign in.
    client = Client()
    response = client.get(link.removeprefix("https://oms.example.com"), follow=True)
    assert response.status_code == 200
    set_url = response.redirect_chain[-1][0]
    response = client.post(
        set_url, {"new_password1": "Quartzo-lilas-42", "new_password2": "Quartzo-lilas-42"}
    )
    assert response.status_code == 302
    signed_in = Client().post("/accounts/login/", {"username": "joana", "password": "Quartzo-lilas-42"})
    assert signed_in.status_code == 302 and signed_in.url == "/"


def test_invite_refuses_a_taken_username_and_an_unknown_role(admin_user):
    UserFactory(username="taken")
    with pytest.raises(services.AccessError):
        services.user_invite(username="TAKEN", email="x@example.com", roles=[], by=admin_user)
    with pytest.raises(services.UnknownRole):
        services.user_invite(username="new", email="x@example.com", roles=["wizard"], by=admin_user)
    assert not User.objects.filter(username="new").exists()
    assert not AuditEvent.objects.filter(action="user.invite").exists()


def test_set_roles_takes_effect_at_once_and_audits_before_after(admin_user, cs_user):
    assert user_roles(cs_user) == {Role.CUSTOMER_SERVICE}
    services.user_set_roles(user=cs_user, roles=[Role.MANAGER], by=admin_user)
    assert user_roles(cs_user) == {Role.MANAGER}
    assert user_roles(User.objects.get(pk=cs_user.pk)) == {Role.MANAGER}
    event = AuditEvent.objects.get(action="user.set_roles")
    assert event.before["roles"] == [Role.CUSTOMER_SERVICE]
    assert event.after["roles"] == [Role.MANAGER]


def test_an_admin_cannot_lock_themself_out(admin_user):
    with pytest.raises(services.AccessError):
        services.user_set_roles(user=admin_user, roles=[Role.MANAGER], by=admin_user)
    with pytest.raises(services.AccessError):
        services.user_deactivate(user=admin_user, by=admin_user)
    assert admin_user.groups.filter(name=Role.ADMIN).exists()


def test_deactivate_stops_sessions_and_api_keys_at_once(admin_user, cs_user):
    client = Client()
    client.force_login(cs_user)
    _key, raw = services.api_key_issue(user=cs_user, name="erp", by=admin_user)
    assert client.get("/").status_code == 200

    services.user_deactivate(user=cs_user, by=admin_user)
    assert client.get("/").status_code == 302  # the session no longer authenticates
    assert Client().get("/api/v1/schema/", HTTP_AUTHORIZATION=f"Api-Key {raw}").status_code == 401
    assert AuditEvent.objects.filter(action="user.deactivate", object_id=str(cs_user.pk)).count() == 1

    services.user_reactivate(user=cs_user, by=admin_user)
    assert User.objects.get(pk=cs_user.pk).is_active
    assert AuditEvent.objects.filter(action="user.reactivate", object_id=str(cs_user.pk)).count() == 1


def test_scope_grant_and_revoke_change_what_the_user_sees_and_are_audited(admin_user, store_user):
    store_a, store_b = LocationFactory(code="LJ-A"), LocationFactory(code="LJ-B")
    assert not location_list(user=store_user).exists()

    services.scope_grant(user=store_user, obj=store_a, by=admin_user)
    services.scope_grant(user=store_user, obj=store_a, by=admin_user)  # idempotent: one grant, one row
    assert list(location_list(user=User.objects.get(pk=store_user.pk))) == [store_a]
    assert user_scopes(user=store_user).locations == [store_a]
    grant = AuditEvent.objects.get(action="scope.grant")
    assert grant.actor == admin_user
    assert grant.after == {"kind": "location", "code": "LJ-A", "user": store_user.username}

    services.scope_revoke(user=store_user, obj=store_a, by=admin_user)
    services.scope_revoke(user=store_user, obj=store_b, by=admin_user)  # nothing to remove: no row
    assert not location_list(user=User.objects.get(pk=store_user.pk)).exists()
    revoke = AuditEvent.objects.get(action="scope.revoke")
    assert revoke.before == {"kind": "location", "code": "LJ-A", "user": store_user.username}


def test_manager_scopes_on_channels_and_regions(admin_user, manager_user):
    web = ChannelFactory(code="web")
    region = RegionFactory(code="sul")
    store = LocationFactory(code="LJ-PR-01", region="sul")
    LocationFactory(code="LJ-SP-99", region="sudeste")
    services.scope_grant(user=manager_user, obj=web, by=admin_user)
    services.scope_grant(user=manager_user, obj=region, by=admin_user)
    fresh = User.objects.get(pk=manager_user.pk)
    assert list(channel_list(user=fresh)) == [web]
    assert set(location_list(user=fresh)) == {store}
    scopes = user_scopes(user=manager_user)
    assert scopes.channels == [web] and scopes.regions == [region]


def test_scope_refuses_other_objects(admin_user, store_user):
    with pytest.raises(services.AccessError):
        services.scope_grant(user=store_user, obj=admin_user, by=admin_user)


def test_api_key_issue_and_revoke(admin_user, cs_user):
    key, raw = services.api_key_issue(user=cs_user, name="ERP", by=admin_user)
    assert ApiKey.objects.get_from_key(raw) == key
    assert key.user == cs_user
    event = AuditEvent.objects.get(action="api_key.issue")
    assert raw not in str(event.after) and event.after["prefix"] == key.prefix
    ok = Client().get("/api/v1/schema/", HTTP_AUTHORIZATION=f"Api-Key {raw}")
    assert ok.status_code == 200

    services.api_key_revoke(key=key, by=admin_user)
    services.api_key_revoke(key=key, by=admin_user)
    assert AuditEvent.objects.filter(action="api_key.revoke").count() == 1
    refused = Client().get("/api/v1/schema/", HTTP_AUTHORIZATION=f"Api-Key {raw}")
    assert refused.status_code == 401


def test_a_deactivated_user_gets_no_key(admin_user, cs_user):
    services.user_deactivate(user=cs_user, by=admin_user)
    with pytest.raises(services.AccessError):
        services.api_key_issue(user=cs_user, name="erp", by=admin_user)


def test_world_scopes_orders_per_role():
    world = build_world()
    for role in (Role.CUSTOMER_SERVICE, Role.STORE_STAFF, Role.WAREHOUSE_STAFF, Role.MANAGER, Role.ADMIN):
        seen = {o.number for o in order_list(user=world.users[role])}
        assert seen == world.visible_orders(role), role
        locations = {loc.code for loc in location_list(user=world.users[role])}
        assert locations == world.visible_locations(role), role
