"""The staff commands of SPEC §3.7, by their fixed names, as operators run them."""
import io

import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from exchange.models import Account, ApiKey, Market, User
from exchange.services.accounts import api_key_hash

pytestmark = pytest.mark.django_db


def run(*args) -> str:
    out = io.StringIO()
    call_command(*args, stdout=out, stderr=io.StringIO())
    return out.getvalue()


def test_exchange_user_creates_or_finds_and_prints_a_working_key_last():
    key = run("exchange_user", "carol", "--deposit", "5000").strip().splitlines()[-1]
    user = User.objects.get(username="carol")
    assert ApiKey.objects.get(key_hash=api_key_hash(key)).user == user
    assert Account.objects.get(user_id=str(user.id)).available_balance == 5000
    again = run("exchange_user", "carol", "--staff").strip().splitlines()[-1]
    assert again != key and User.objects.filter(username="carol").count() == 1
    assert User.objects.get(username="carol").is_staff


def test_deposit_and_withdraw_by_name():
    run("exchange_user", "dave")
    assert "available 700" in run("exchange_deposit", "dave", "700")
    assert "available 200" in run("exchange_withdraw", "dave", "500")
    with pytest.raises(CommandError, match="INSUFFICIENT_FUNDS"):
        run("exchange_withdraw", "dave", "201")
    with pytest.raises(CommandError, match="USER_NOT_FOUND"):
        run("exchange_deposit", "nobody", "1")


def test_exchange_market_create_and_status():
    run("exchange_market", "create", "MKT-CMD", "--title", "T", "--maker-bps", "5", "--taker-bps", "10",
        "--trading-end", "2026-12-31T00:00:00")
    market = Market.objects.get(pk="MKT-CMD")
    assert (market.status, market.maker_fee_bps, market.taker_fee_bps) == ("ACTIVE", 5, 10)
    assert market.trading_end_at.tzinfo is not None
    assert "RESOLVED outcome NO" in run("exchange_market", "status", "MKT-CMD", "RESOLVED", "--outcome", "NO")
    with pytest.raises(CommandError, match="ILLEGAL_TRANSITION"):
        run("exchange_market", "status", "MKT-CMD", "ACTIVE")
    assert "SETTLED" in run("exchange_market", "status", "MKT-CMD", "SETTLED")


def test_check_invariants_passes_clean_and_names_each_violation():
    assert "all invariants hold" in run("check_invariants")
    run("exchange_user", "erin", "--deposit", "1000")
    run("exchange_market", "create", "MKT-BAD", "--title", "T")
    with connection.cursor() as cursor:  # corrupt two things behind the engine's back
        cursor.execute("UPDATE accounts SET available_balance = available_balance + 1 WHERE user_id = "
                       "(SELECT id::text FROM users WHERE username = 'erin')")
        cursor.execute("UPDATE markets SET reserve_balance = 300 WHERE id = 'MKT-BAD'")
    err = io.StringIO()
    with pytest.raises(CommandError, match="violation"):
        call_command("check_invariants", stdout=io.StringIO(), stderr=err)
    report = err.getvalue()
    assert "I2 custody: market MKT-BAD" in report
    assert "I4 global zero-sum" in report
    assert "account available = Σ ledger" in report
