"""Money in the platform admin (SPEC §9): balances, positions, ledger, trades, orders and market
events are read-only for everyone (a superuser too); an account's netting flag is the one
thing edited, through the service, and the AMM's account cannot have it switched on (the
seed's P0 blocker, seed §3.3): refused with a message, nothing saved."""
from __future__ import annotations

import pytest
from django.conf import settings
from django.contrib.auth.models import User as StaffUser

from exchange.models import LedgerEntry, Market, MarketEvent, Order, Position, Trade
from exchange.services import market_set_status
from tests.exchange.conftest import account, new_market, new_user, place, snapshot

pytestmark = pytest.mark.django_db


@pytest.fixture
def superuser(client):
    client.force_login(StaffUser.objects.create_superuser(username="root", email="root@example.invalid"))
    return client


def _change_url(obj) -> str:
    return f"/admin/exchange/{obj._meta.model_name}/{obj.pk}/change/"


def test_the_amm_account_cannot_have_auto_netting_switched_on(superuser, amm):
    amm_account = account(settings.AMM_USER_ID)
    assert amm_account.auto_netting_enabled is False
    before = snapshot()
    response = superuser.post(_change_url(amm_account), {"auto_netting_enabled": "on", "_save": "Save"})
    assert response.status_code == 200
    html = response.content.decode()
    assert "Please correct the error below." in html
    assert "auto-netting stays off for the AMM&#x27;s account" in html
    assert account(settings.AMM_USER_ID).auto_netting_enabled is False
    assert snapshot() == before


def test_an_ordinary_account_switches_netting_through_the_service_balances_untouched(superuser):
    user = new_user(5_000)
    before = account(user)
    response = superuser.post(_change_url(before), {"auto_netting_enabled": "", "available_balance": "999999",
                                                     "frozen_balance": "7", "_save": "Save"})
    assert response.status_code == 302
    after = account(user)
    assert after.auto_netting_enabled is False
    assert (after.available_balance, after.frozen_balance, after.version) == (
        before.available_balance, before.frozen_balance, before.version + 1)


def test_accounts_are_neither_added_nor_deleted(superuser):
    user = new_user(1_000)
    assert superuser.get("/admin/exchange/account/add/").status_code == 403
    assert superuser.post(f"/admin/exchange/account/{account(user).pk}/delete/", {"post": "yes"}).status_code == 403
    assert account(user).available_balance == 1_000


def test_money_records_are_read_only_even_for_a_superuser(superuser):
    market = new_market()
    alice, bob = new_user(), new_user()
    place(alice, market, "YES", "BUY", 60, 10)
    place(bob, market, "NO", "BUY", 40, 10)
    market_set_status(market_id=market, status="SUSPENDED", actor="test")
    before = snapshot()
    records = [Position.objects.first(), Order.objects.first(), Trade.objects.first(), LedgerEntry.objects.first(),
               MarketEvent.objects.first()]
    for record in records:
        model = record._meta.model_name
        page = superuser.get(_change_url(record))
        assert page.status_code == 200 and 'name="_save"' not in page.content.decode(), model  # a view, no form
        assert superuser.post(_change_url(record), {"_save": "Save"}).status_code == 403, model
        assert superuser.get(f"/admin/exchange/{model}/add/").status_code == 403, model
        assert superuser.post(f"/admin/exchange/{model}/{record.pk}/delete/", {"post": "yes"}).status_code == 403
        listing = superuser.get(f"/admin/exchange/{model}/").content.decode()
        assert 'value="delete_selected"' not in listing, model
    assert snapshot() == before


def test_markets_edit_only_their_title_and_dates(superuser):
    market = new_market()
    alice, bob = new_user(), new_user()
    place(alice, market, "YES", "BUY", 60, 10)
    place(bob, market, "NO", "BUY", 40, 10)
    before = snapshot()
    response = superuser.post(f"/admin/exchange/market/{market}/change/", {
        "title": "renamed", "trading_end_at_0": "", "trading_end_at_1": "", "resolution_date_0": "",
        "resolution_date_1": "", "status": "SETTLED", "reserve_balance": "0", "maker_fee_bps": "999",
        "_save": "Save"})
    assert response.status_code == 302
    row = Market.objects.get(pk=market)
    assert (row.title, row.status, row.maker_fee_bps) == ("renamed", "ACTIVE", 0)
    assert snapshot() == before  # reserve, shares and sequence as they were
    assert superuser.get("/admin/exchange/market/add/").status_code == 403
