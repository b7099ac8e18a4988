"""The schema itself: AMM extension migrations (SPEC §3.3) and database-level constraints."""
import pytest
from django.core.management import call_command
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from exchange.enums import AMM_USER_ID
from exchange.models import Account, Market, Trade, User
from tests.exchange.conftest import new_market, new_user

pytestmark = pytest.mark.django_db


def test_amm_user_is_seeded_with_fixed_uuid_and_netting_off():
    user = User.objects.get(pk=AMM_USER_ID)
    assert (user.username, user.email, user.is_active) == ("amm_market_maker", "amm@system.internal", True)
    assert not user.password_hash.startswith("pbkdf2") and "NO_LOGIN" in user.password_hash
    account = Account.objects.get(user_id=AMM_USER_ID)
    assert account.auto_netting_enabled is False
    assert Account.objects.get(user_id=new_user()).auto_netting_enabled is True


def _trade(buyer: str, seller: str, market: str) -> Trade:
    import uuid

    return Trade(market_id=market, scenario="MINT", buy_order_id=uuid.uuid4(), sell_order_id=uuid.uuid4(),
                 buy_user_id=buyer, sell_user_id=seller, maker_order_id=uuid.uuid4(), taker_order_id=uuid.uuid4(),
                 price_cents=50, quantity=1, executed_at=timezone.now())


def test_self_trade_constraint_is_relaxed_only_for_the_amm():
    market = new_market()
    _trade(AMM_USER_ID, AMM_USER_ID, market).save()
    user = new_user()
    with pytest.raises(IntegrityError, match="ck_trades_diff_users"), transaction.atomic():
        _trade(user, user, market).save()


@pytest.mark.parametrize("sql,constraint", [
    ("UPDATE accounts SET available_balance = -1 WHERE user_id = %s", "ck_accounts_available_nonneg"),
    ("UPDATE accounts SET frozen_balance = -1 WHERE user_id = %s", "ck_accounts_frozen_nonneg"),
])
def test_negative_balances_are_impossible_in_the_database(sql, constraint):
    user = new_user()
    with pytest.raises(IntegrityError, match=constraint), transaction.atomic(), connection.cursor() as cur:
        cur.execute(sql, [user])


def test_prices_and_ledger_types_are_checked_by_the_database():
    market = new_market()
    with pytest.raises(IntegrityError, match="ck_markets_price_band"), transaction.atomic():
        Market.objects.filter(pk=market).update(min_price_cents=0)
    with pytest.raises(IntegrityError, match="ck_ledger_entry_type"), transaction.atomic(), connection.cursor() as cur:
        cur.execute("INSERT INTO ledger_entries (user_id, entry_type, amount, balance_after, reference_type, "
                    "reference_id, created_at) VALUES ('u', 'AMM_MINT', 1, 1, 'AMM_MINT', 'r', now())")


@pytest.mark.django_db(transaction=True)
def test_extension_migrations_reverse_and_reapply():
    call_command("migrate", "exchange", "0002", verbosity=0)
    columns = [c.name for c in connection.introspection.get_table_description(connection.cursor(), "accounts")]
    assert "auto_netting_enabled" not in columns
    assert not User.objects.filter(pk=AMM_USER_ID).exists()
    call_command("migrate", "exchange", verbosity=0)
    assert Account.objects.get(user_id=AMM_USER_ID).auto_netting_enabled is False
