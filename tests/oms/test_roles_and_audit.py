from __future__ import annotations

import pytest
from django.contrib.auth.models import Group
from django.core.management import call_command

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
