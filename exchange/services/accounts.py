"""Users, API keys, deposits and withdrawals (staff operations)."""
from __future__ import annotations

import hashlib
import logging
import secrets

from django.db import transaction

from exchange.enums import AMM_USER_ID
from exchange.enums import LedgerEntryType as E
from exchange.enums import ReferenceType as R
from exchange.exceptions import Forbidden, Insufficient, InvalidInput, NotFound
from exchange.models import Account, ApiKey, LedgerEntry, User
from exchange.sql import select_together

MAX_AMOUNT_CENTS = 10**13
log = logging.getLogger(__name__)


def api_key_hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


@transaction.atomic
def user_get_or_create(*, username: str, email: str = "", is_staff: bool = False) -> tuple[User, bool]:
    """A platform user with its account; an existing user is returned as is (staff may be added)."""
    if not username or len(username) > 64 or not username.replace("_", "").replace("-", "").replace(".", "").isalnum():
        raise InvalidInput("username must be 1-64 letters, digits, '_', '-' or '.'", field="username")
    user = User.objects.filter(username=username).first()
    created = user is None
    if created:
        user = User.objects.create(username=username, email=email or f"{username}@example.invalid", is_staff=is_staff)
    elif is_staff and not user.is_staff:
        user.is_staff = True
        user.save(update_fields=["is_staff"])
    Account.objects.get_or_create(user_id=str(user.id))
    return user, created


def api_key_issue(*, user: User) -> str:
    """A new API key for `user`; only its hash is kept, so this is the one time it is shown."""
    key = secrets.token_urlsafe(32)
    ApiKey.objects.create(user=user, key_hash=api_key_hash(key), prefix=key[:8])
    return key


_USER_U = ", ".join(f"u.{field.column}" for field in User._meta.concrete_fields)


def user_for_key_sql(extra_columns: str = "") -> str:
    """The statement of `user_for_api_key` (its parameter: the key's hash), with more columns
    after the user's when given (`deadman_user_for_api_key`)."""
    return (f"SELECT {_USER_U}{extra_columns} FROM api_keys k JOIN users u ON u.id = k.user_id "
            "WHERE k.key_hash = %s AND k.is_active AND u.is_active")


_USER_FOR_KEY_SQL = user_for_key_sql()


def user_for_api_key(key: str) -> User | None:
    """The active user of an active key (one prepared statement: every request asks)."""
    (rows,) = select_together([(_USER_FOR_KEY_SQL, [api_key_hash(key)])])
    return User.from_db("default", None, rows[0]) if rows else None


def user_by_name(username: str) -> User:
    user = User.objects.filter(username=username).first()
    if user is None:
        raise NotFound(f"user {username!r} does not exist", code="USER_NOT_FOUND")
    return user


def _check_amount(amount_cents: int) -> None:
    if not isinstance(amount_cents, int) or isinstance(amount_cents, bool) or not 1 <= amount_cents <= MAX_AMOUNT_CENTS:
        raise InvalidInput(f"amount must be a whole number of cents from 1 to {MAX_AMOUNT_CENTS}", field="amount")


@transaction.atomic
def account_deposit(*, user_id: str, amount_cents: int, reference: str = "") -> Account:
    _check_amount(amount_cents)
    account = Account.objects.select_for_update().filter(user_id=user_id).first()
    if account is None:
        raise NotFound(f"no account for user {user_id}", code="ACCOUNT_NOT_FOUND")
    account.available_balance += amount_cents
    account.version += 1
    account.save(update_fields=["available_balance", "version"])
    LedgerEntry.objects.create(
        user_id=user_id, entry_type=E.DEPOSIT, amount=amount_cents, balance_after=account.available_balance,
        reference_type=R.DEPOSIT, reference_id=reference or "deposit",
    )
    return account


@transaction.atomic
def account_withdraw(*, user_id: str, amount_cents: int, reference: str = "") -> Account:
    _check_amount(amount_cents)
    account = Account.objects.select_for_update().filter(user_id=user_id).first()
    if account is None:
        raise NotFound(f"no account for user {user_id}", code="ACCOUNT_NOT_FOUND")
    if account.available_balance < amount_cents:
        raise Insufficient(
            f"withdrawal of {amount_cents} cents exceeds the available {account.available_balance}",
            code="INSUFFICIENT_FUNDS",
        )
    account.available_balance -= amount_cents
    account.version += 1
    account.save(update_fields=["available_balance", "version"])
    LedgerEntry.objects.create(
        user_id=user_id, entry_type=E.WITHDRAWAL, amount=-amount_cents, balance_after=account.available_balance,
        reference_type=R.WITHDRAWAL, reference_id=reference or "withdrawal",
    )
    return account


def account_auto_netting_check(*, user_id: str, enabled: bool) -> None:
    """Refuse switching netting on for the AMM's account (seed §3.3, its P0 blocker): the
    AMM holds YES and NO at once on purpose, and netting would take its inventory from under
    its resting sell orders."""
    if enabled and user_id == AMM_USER_ID:
        raise Forbidden("auto-netting stays off for the AMM's account: it holds YES and NO at once on purpose "
                        "(seed §3.3)", code="AMM_AUTO_NETTING", field="auto_netting_enabled")


@transaction.atomic
def account_auto_netting_set(*, user_id: str, enabled: bool, actor: str = "system") -> Account:
    """Switch netting after a trade on or off for one account (refused for the AMM's)."""
    account_auto_netting_check(user_id=user_id, enabled=enabled)
    account = Account.objects.select_for_update().filter(user_id=user_id).first()
    if account is None:
        raise NotFound(f"no account for user {user_id}", code="ACCOUNT_NOT_FOUND")
    if account.auto_netting_enabled != enabled:
        account.auto_netting_enabled = enabled
        account.version += 1
        account.save(update_fields=["auto_netting_enabled", "version"])
        log.info("account %s: auto_netting_enabled=%s by %s", user_id, enabled, actor)
    return account
