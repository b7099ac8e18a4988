"""The platform's system rows (what migrations 0002 and 0005 seed), restorable at any time.

Tests that flush the database, and the demo on a fresh database, call this; it is idempotent."""
from __future__ import annotations

from django.db import transaction

from exchange.enums import AMM_USER_ID, FEE_USER_ID, RESERVE_USER_ID
from exchange.models import Account, User

SYSTEM_USERS = (
    (FEE_USER_ID, "exchange_fees", "fees@system.internal", "!", True),
    (RESERVE_USER_ID, "exchange_reserve", "reserve@system.internal", "!", False),
    (AMM_USER_ID, "amm_market_maker", "amm@system.internal", "$2b$12$SYSTEM_NO_LOGIN", True),
)


@transaction.atomic
def system_users_ensure() -> None:
    for user_id, username, email, password_hash, has_account in SYSTEM_USERS:
        User.objects.get_or_create(
            id=user_id, defaults={"username": username, "email": email, "password_hash": password_hash}
        )
        if has_account:
            Account.objects.get_or_create(
                user_id=user_id, defaults={"auto_netting_enabled": user_id != AMM_USER_ID}
            )
