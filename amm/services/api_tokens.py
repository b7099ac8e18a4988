"""DRF tokens of the monitoring API's users (Django auth users: operators, staff)."""
from __future__ import annotations

from django.contrib.auth import get_user_model
from django.db import transaction
from rest_framework.authtoken.models import Token

from amm.exceptions import AMMError


@transaction.atomic
def api_token_issue(*, username: str, rotate: bool = False) -> tuple[str, bool]:
    """The user's token (key, created): the existing one, or a new one when there is none or
    `rotate` (the old key stops working at once). Unknown or inactive user: AMMError."""
    user_model = get_user_model()
    user = user_model.objects.filter(**{user_model.USERNAME_FIELD: username}).first()
    if user is None:
        raise AMMError(f"no user {username!r} (create it with manage.py createsuperuser or in the admin)",
                       code="USER_NOT_FOUND")
    if not user.is_active:
        raise AMMError(f"user {username!r} is inactive", code="USER_INACTIVE")
    if rotate:
        Token.objects.filter(user=user).delete()
    token, created = Token.objects.get_or_create(user=user)
    return token.key, created
