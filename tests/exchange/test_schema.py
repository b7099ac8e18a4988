"""The schema itself: AMM extension migrations (SPEC §3.3) and database-level constraints."""
import pytest
from django.core.management import call_command
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from exchange.enums import AMM_USER_ID
from exchange.models import Account, Market, Order, Trade, User
from tests.exchange.conftest import new_market, new_user, place

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


@pytest.mark.parametrize("price", [0, 100, -5])
def test_an_order_price_outside_1_99_is_refused_by_the_database(price):
    """ck_orders_price holds even behind the engine's validation."""
    market, user = new_market(), new_user()
    order = place(user, market, "YES", "BUY", 40, 1).order
    with pytest.raises(IntegrityError, match="ck_orders_price"), transaction.atomic(), connection.cursor() as cur:
        cur.execute("UPDATE orders SET price_cents = %s WHERE id = %s", [price, order.id])
    assert Order.objects.get(pk=order.id).price_cents == 40


@pytest.mark.django_db(transaction=True)
def test_extension_migrations_reverse_and_reapply():
    call_command("migrate", "exchange", "0002", verbosity=0)
    columns = [c.name for c in connection.introspection.get_table_description(connection.cursor(), "accounts")]
    assert "auto_netting_enabled" not in columns
    assert not User.objects.filter(pk=AMM_USER_ID).exists()
    call_command("migrate", "exchange", verbosity=0)
    assert Account.objects.get(user_id=AMM_USER_ID).auto_netting_enabled is False


def _insert_self_trade(user_id: str, market: str) -> None:
    """A raw trade row of `user_id` with itself (the database's answer, not the model's)."""
    import uuid

    with transaction.atomic(), connection.cursor() as cur:
        cur.execute(
            "INSERT INTO trades (market_id, scenario, buy_order_id, sell_order_id, buy_user_id, sell_user_id, "
            "maker_order_id, taker_order_id, price_cents, quantity, maker_fee, taker_fee, executed_at) "
            "VALUES (%s, 'MINT', %s, %s, %s, %s, %s, %s, 50, 1, 0, 0, now())",
            [market, uuid.uuid4(), uuid.uuid4(), user_id, user_id, uuid.uuid4(), uuid.uuid4()])


@pytest.mark.django_db(transaction=True)
def test_reversing_the_self_trade_migration_makes_the_constraint_strict_again():
    """Back to 0003 (0004 and the 0005 seed reversed): no self-trade at all, the AMM's
    included; forward again: the AMM's is allowed, anyone else's still refused."""
    market, user = new_market(), new_user()
    try:
        call_command("migrate", "exchange", "0003", verbosity=0)
        for who in (AMM_USER_ID, user):
            with pytest.raises(IntegrityError, match="ck_trades_diff_users"):
                _insert_self_trade(who, market)
    finally:
        call_command("migrate", "exchange", verbosity=0)
    _insert_self_trade(AMM_USER_ID, market)
    with pytest.raises(IntegrityError, match="ck_trades_diff_users"):
        _insert_self_trade(user, market)
    assert Trade.objects.filter(buy_user_id=AMM_USER_ID, sell_user_id=AMM_USER_ID).count() == 1
