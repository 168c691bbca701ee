from __future__ import annotations

import pytest
from django.contrib.auth.models import Group
from django.core.management import call_command
from django.urls import reverse

from access.services import AccessError, UnknownRole, user_update
from oms.audit import audit_record
from oms.models import AuditEvent
from oms.roles import ROLE_PERMISSIONS, Role, setup_roles


@pytest.mark.django_db
def test_every_role_exists_after_migrate_with_its_permissions():
    for role, perms in ROLE_PERMISSIONS.items():
        group = Group.objects.get(name=role)
        granted = {
            f"{p.content_type.app_label}.{p.codename}"
            for p in group.permissions.select_related("content_type")
        }
        assert set(perms) <= granted


@pytest.mark.django_db
def test_setup_roles_is_idempotent():
    setup_roles()
    call_command("setup_roles", stdout=open("/dev/null", "w"))  # noqa: SIM115
    assert Group.objects.filter(name__in=list(ROLE_PERMISSIONS)).count() == len(ROLE_PERMISSIONS)
    assert Group.objects.get(name=Role.ADMIN).permissions.count() == len(ROLE_PERMISSIONS[Role.ADMIN])


@pytest.mark.django_db
def test_audit_log_is_append_only(admin_user):
    event = audit_record(actor=admin_user, action="test.thing", obj=admin_user, after={"x": 1})
    assert event.object_type == "auth.user"
    event.summary = "changed"
    with pytest.raises(PermissionError):
        event.save()
    with pytest.raises(PermissionError):
        AuditEvent.objects.filter(pk=event.pk).update(summary="x")
    with pytest.raises(PermissionError):
        AuditEvent.objects.filter(pk=event.pk).delete()


@pytest.mark.django_db
def test_a_refused_change_of_ones_own_roles_changes_and_audits_nothing(client, admin_user):
    """The user page saves name, e-mail and roles as one change: an admin dropping their own admin role is
    refused (409) with no name change and no audit row."""
    admin_user.first_name, admin_user.email = "Ana", "ana@example.com"
    admin_user.save()
    client.force_login(admin_user)
    response = client.post(
        reverse("access:user", args=[admin_user.pk]),
        {"email": "new@example.com", "first_name": "Changed", "last_name": "", "roles": [Role.MANAGER]},
    )
    assert response.status_code == 409
    assert "msg-error" in response.text
    admin_user.refresh_from_db()
    assert (admin_user.first_name, admin_user.email) == ("Ana", "ana@example.com")
    assert admin_user.groups.filter(name=Role.ADMIN).exists()
    assert not AuditEvent.objects.filter(action__startswith="user.").exists()


@pytest.mark.django_db
def test_user_update_with_roles_is_all_or_nothing(admin_user, cs_user):
    with pytest.raises(AccessError):
        user_update(user=admin_user, by=admin_user, email="x@example.com", first_name="X", last_name="",
                    roles=[Role.MANAGER])  # fmt: skip
    with pytest.raises(UnknownRole):
        user_update(user=cs_user, by=admin_user, email="x@example.com", first_name="X", last_name="",
                    roles=["wizard"])  # fmt: skip
    assert not AuditEvent.objects.exists()
    user_update(user=cs_user, by=admin_user, email="c@example.com", first_name="Carla", last_name="",
                roles=[Role.MANAGER])  # fmt: skip
    cs_user.refresh_from_db()
    assert cs_user.first_name == "Carla"
    assert list(cs_user.groups.values_list("name", flat=True)) == [Role.MANAGER]
    assert sorted(AuditEvent.objects.values_list("action", flat=True)) == ["user.set_roles", "user.update"]
