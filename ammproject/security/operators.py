"""The AMM operators: a Django group any deployment can assign, and a login in it.

What an operator does in the console (SPEC §9): see every platform and AMM table, run the
AMM's actions (each its own permission: amm/models/instance.py), edit a market's config and
acknowledge alerts. The group is kept complete after every `migrate` (post_migrate), so new
models' view permissions join it; permissions an administrator added by hand stay.
"""
from __future__ import annotations

import secrets
from dataclasses import dataclass

from django.apps import apps
from django.contrib.auth import get_user_model
from django.contrib.auth.management import create_permissions
from django.contrib.auth.models import Group, Permission
from django.core.exceptions import ValidationError
from django.db import DEFAULT_DB_ALIAS, transaction
from django.db.models import Q

OPERATOR_GROUP = "AMM operators"
VIEW_APPS = ("amm", "exchange")  # every model of these: view
OPERATOR_PERMISSIONS = (
    "amm.operate_instance",
    "amm.engage_killswitch",
    "amm.reset_killswitch",
    "amm.change_marketconfig",
    "amm.change_alert",  # acknowledging an alert
)


def operator_permissions(*, using: str = DEFAULT_DB_ALIAS) -> list[Permission]:
    """The group's permissions; created first when missing (outside `migrate`, e.g. a fresh
    test database), so the answer never silently lacks one."""
    for label in VIEW_APPS:
        create_permissions(apps.get_app_config(label), verbosity=0, using=using)
    wanted = Q(content_type__app_label__in=VIEW_APPS, codename__startswith="view_")
    for name in OPERATOR_PERMISSIONS:
        app_label, codename = name.split(".")
        wanted |= Q(content_type__app_label=app_label, codename=codename)
    found = list(Permission.objects.using(using).filter(wanted).select_related("content_type"))
    missing = set(OPERATOR_PERMISSIONS) - {f"{p.content_type.app_label}.{p.codename}" for p in found}
    if missing:
        raise LookupError(f"permissions missing (models changed without migrations?): {sorted(missing)}")
    return found


def operator_group_ensure(*, using: str = DEFAULT_DB_ALIAS) -> Group:
    """Create the "AMM operators" group or add what it lacks (idempotent)."""
    with transaction.atomic(using=using):
        group, _ = Group.objects.using(using).get_or_create(name=OPERATOR_GROUP)
        group.permissions.add(*operator_permissions(using=using))
    return group


@dataclass(frozen=True)
class OperatorLogin:
    username: str
    created: bool
    password: str | None  # set only when this call generated it: shown once, stored hashed


def generate_password() -> str:
    return secrets.token_urlsafe(12)


@transaction.atomic
def operator_ensure(*, username: str, password: str | None = None, new_password: bool = False) -> OperatorLogin:
    """Make `username` an operator: a staff login (created if missing) in the operators'
    group. `password` sets that password; else one is generated (and returned) when the
    login is new, has no usable password, or `new_password` asks for it. Superuser status,
    other groups and an existing password are left as they are."""
    model = get_user_model()
    field = model._meta.get_field(model.USERNAME_FIELD)
    username = field.clean(username, None)  # ValidationError: empty, too long, bad characters
    if password is not None and not password.strip():
        raise ValidationError("the password must not be blank")
    user, created = model.objects.get_or_create(**{model.USERNAME_FIELD: username})
    generated = None
    if password is not None:
        user.set_password(password)
    elif created or new_password or not user.has_usable_password():
        generated = generate_password()
        user.set_password(generated)
    user.is_staff = True
    user.is_active = True
    user.save()
    user.groups.add(operator_group_ensure())
    return OperatorLogin(username=username, created=created, password=generated)
