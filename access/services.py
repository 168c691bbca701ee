"""Users, roles, scopes and API keys: every change is one transaction writing one audit row.

Changes take effect at once: permissions are read from the database on every request (guardian keeps no
cache across requests; `oms.roles.user_roles` caches per user *object*, i.e. per request), sessions of a
deactivated user stop authenticating (Django's backend refuses inactive users) and so do their API keys.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, cast

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.contrib.auth.tokens import default_token_generator
from django.core.mail import send_mail
from django.db import IntegrityError, models, transaction
from django.urls import reverse
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode
from django.utils.translation import gettext as _
from guardian.models import UserObjectPermission
from guardian.shortcuts import assign_perm, remove_perm

from inventory.models import Location, Region
from oms.audit import audit_record
from oms.exceptions import DomainError
from oms.models import ApiKey
from oms.roles import ROLE_LABELS
from orders.models import Channel

User = get_user_model()

# What a scope grants, per kind of object: the guardian permission that ties a user to it.
SCOPE_PERMISSIONS: dict[type[models.Model], str] = {
    Location: "inventory.work_at_location",
    Channel: "orders.manage_channel",
    Region: "inventory.manage_region",
}


class AccessError(DomainError):
    code = "access_refused"


class UnknownRole(AccessError):
    status_code = 400
    code = "unknown_role"


def _forget_cached_roles(user: Any) -> None:
    # user_roles() caches on the object; the same object may be reused by the caller right after.
    for attr in ("_oms_roles", "_perm_cache", "_user_perm_cache", "_group_perm_cache"):
        if hasattr(user, attr):
            delattr(user, attr)


def _groups(roles: Iterable[str]) -> list[Group]:
    roles = sorted(set(roles))
    unknown = [r for r in roles if r not in ROLE_LABELS]
    if unknown:
        raise UnknownRole(_("Unknown role: %(roles)s.") % {"roles": ", ".join(unknown)}, field="roles")
    groups = list(Group.objects.filter(name__in=roles))
    missing = set(roles) - {g.name for g in groups}
    if missing:
        raise UnknownRole(
            _("The role group %(roles)s does not exist yet (run setup_roles).")
            % {"roles": ", ".join(missing)},
            field="roles",
        )
    return groups


def _user_state(user: Any) -> dict[str, Any]:
    return {
        "username": user.username,
        "email": user.email,
        "first_name": user.first_name,
        "last_name": user.last_name,
        "is_active": user.is_active,
        "roles": sorted(user.groups.values_list("name", flat=True)),
    }


def _lock_user(user: Any) -> Any:
    # Two admins editing one user queue on its row, so before/after in the audit log are exact.
    return User.objects.select_for_update().get(pk=user.pk)


def set_password_url(user: Any) -> str:
    """The path of the one-time link where a user chooses a password (Django's password-reset token)."""
    uid = urlsafe_base64_encode(force_bytes(user.pk))
    token = default_token_generator.make_token(user)
    return reverse("password_reset_confirm", kwargs={"uidb64": uid, "token": token})


@transaction.atomic
def user_invite(
    *,
    username: str,
    email: str,
    first_name: str = "",
    last_name: str = "",
    roles: Iterable[str],
    by: Any,
    base_url: str = "",
) -> Any:
    """Create an active user with no usable password and e-mail them a link to set one (sent after commit).

    Raises `AccessError` (409) when the username is taken and `UnknownRole` (400) for an unknown role.
    """
    groups = _groups(roles)
    if User.objects.filter(username__iexact=username).exists():
        raise AccessError(_("The username %(name)s is already taken.") % {"name": username}, field="username")
    try:
        with transaction.atomic():
            user = User(username=username, email=email, first_name=first_name, last_name=last_name)
            user.set_unusable_password()
            user.save()
    except IntegrityError:
        raise AccessError(
            _("The username %(name)s is already taken.") % {"name": username}, field="username"
        ) from None
    user.groups.set(groups)
    audit_record(actor=by, action="user.invite", obj=user, summary=username, after=_user_state(user))
    link = base_url.rstrip("/") + set_password_url(user)
    subject = _("Your OMS account")
    body = _(
        "Hello %(name)s,\n\nAn account was created for you on the OMS (user name: %(username)s).\n"
        "Choose your password here (the link works once):\n%(link)s\n"
    ) % {"name": first_name or username, "username": username, "link": link}
    if email:
        transaction.on_commit(lambda: send_mail(subject, body, settings.DEFAULT_FROM_EMAIL, [email]))
    return user


def _allowed_groups(locked: Any, roles: Iterable[str], by: Any) -> list[Group]:
    """The groups of `roles` for the (locked) user; raises before anything is written when they are unknown
    or would take the admin role from the acting admin themself."""
    groups = _groups(roles)
    if locked.pk == getattr(by, "pk", None) and "admin" not in {g.name for g in groups}:
        raise AccessError(_("You cannot remove the admin role from yourself."), field="roles")
    return groups


def _apply_roles(user: Any, locked: Any, groups: list[Group], by: Any) -> None:
    before = _user_state(locked)
    locked.groups.set(groups)
    _forget_cached_roles(user)
    audit_record(actor=by, action="user.set_roles", obj=locked, before=before, after=_user_state(locked))


@transaction.atomic
def user_update(
    *, user: Any, by: Any, email: str, first_name: str, last_name: str, roles: Iterable[str] | None = None
) -> Any:
    """Change a user's name and e-mail and, given `roles`, their roles (as `user_set_roles`), all or nothing:
    a refused role change raises before anything is changed or audited. Locks the user's row."""
    locked = _lock_user(user)
    groups = _allowed_groups(locked, roles, by) if roles is not None else None
    before = _user_state(locked)
    locked.email, locked.first_name, locked.last_name = email, first_name, last_name
    locked.save(update_fields=["email", "first_name", "last_name"])
    audit_record(actor=by, action="user.update", obj=locked, before=before, after=_user_state(locked))
    if groups is not None:
        _apply_roles(user, locked, groups, by)
    return locked


@transaction.atomic
def user_set_roles(*, user: Any, roles: Iterable[str], by: Any) -> Any:
    """Replace a user's roles. An admin cannot take the admin role from themself (no lock-out by mistake)."""
    locked = _lock_user(user)
    _apply_roles(user, locked, _allowed_groups(locked, roles, by), by)
    return locked


def _set_active(user: Any, *, active: bool, by: Any) -> Any:
    """Switch a (locked) user on or off and audit it; a no-op when already there."""
    locked = _lock_user(user)
    if locked.is_active == active:
        return locked
    locked.is_active = active
    locked.save(update_fields=["is_active"])
    user.is_active = active
    action = "user.reactivate" if active else "user.deactivate"
    audit_record(
        actor=by, action=action, obj=locked, before={"is_active": not active}, after={"is_active": active}
    )
    return locked


@transaction.atomic
def user_deactivate(*, user: Any, by: Any) -> Any:
    """Stop a user at once: their sessions and API keys no longer authenticate."""
    if user.pk == getattr(by, "pk", None):
        raise AccessError(_("You cannot deactivate yourself."))
    return _set_active(user, active=False, by=by)


@transaction.atomic
def user_reactivate(*, user: Any, by: Any) -> Any:
    """Let a deactivated user in again (with the roles and scopes they had)."""
    return _set_active(user, active=True, by=by)


def _scope_permission(obj: models.Model) -> str:
    for model, perm in SCOPE_PERMISSIONS.items():
        if isinstance(obj, model):
            return perm
    raise AccessError(_("Users can only be tied to locations, channels and regions."))


def _scope_label(obj: models.Model, user: Any) -> dict[str, Any]:
    return {"kind": obj._meta.model_name, "code": getattr(obj, "code", str(obj.pk)), "user": user.username}


@transaction.atomic
def scope_grant(*, user: Any, obj: models.Model, by: Any) -> None:
    """Tie a user to a location (staff), channel or region (managers). Idempotent; audited once per grant."""
    perm = _scope_permission(obj)
    _lock_user(user)
    if _has_direct(user, perm, obj):
        return
    assign_perm(perm, user, obj)
    _forget_cached_roles(user)
    label = _scope_label(obj, user)
    audit_record(actor=by, action="scope.grant", obj=user, summary=f"{perm} {label['code']}", after=label)


@transaction.atomic
def scope_revoke(*, user: Any, obj: models.Model, by: Any) -> None:
    """Untie a user from a location, channel or region. Idempotent; audited when something was removed."""
    perm = _scope_permission(obj)
    _lock_user(user)
    if not _has_direct(user, perm, obj):
        return
    remove_perm(perm, user, obj)
    _forget_cached_roles(user)
    label = _scope_label(obj, user)
    audit_record(actor=by, action="scope.revoke", obj=user, summary=f"{perm} {label['code']}", before=label)


def _has_direct(user: Any, perm: str, obj: models.Model) -> bool:
    app_label, codename = perm.split(".", 1)
    return UserObjectPermission.objects.filter(
        user=user,
        permission__codename=codename,
        permission__content_type__app_label=app_label,
        content_type__model=obj._meta.model_name,
        object_pk=str(obj.pk),
    ).exists()


@transaction.atomic
def api_key_issue(*, user: Any, name: str, by: Any) -> tuple[ApiKey, str]:
    """Issue an API key acting as `user`. Returns the key row and the raw key, which is shown once only."""
    if not user.is_active:
        raise AccessError(_("A deactivated user cannot get an API key."))
    name = name.strip()[:50] or "integration"
    created, raw = ApiKey.objects.create_key(user=user, name=name)
    key = cast(ApiKey, created)
    audit_record(
        actor=by,
        action="api_key.issue",
        obj=user,
        summary=f"{key.prefix} {name}",
        after={"prefix": key.prefix, "name": name, "user": user.username},
    )
    return key, raw


@transaction.atomic
def api_key_revoke(*, key: ApiKey, by: Any) -> ApiKey:
    """Revoke a key for good (it cannot be un-revoked). Idempotent."""
    locked = ApiKey.objects.select_for_update().get(pk=key.pk)
    if locked.revoked:
        return locked
    locked.revoked = True
    locked.save(update_fields=["revoked"])
    audit_record(
        actor=by,
        action="api_key.revoke",
        obj=locked.user,
        summary=f"{locked.prefix} {locked.name}",
        before={"prefix": locked.prefix, "revoked": False},
        after={"prefix": locked.prefix, "revoked": True},
    )
    return locked
