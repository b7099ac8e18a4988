"""Market lifecycle (SPEC §3.4): transitions, passive cancels, settlement, voiding."""
import pytest

from exchange.enums import AMM_USER_ID
from exchange.exceptions import ExchangeError
from exchange.invariants import invariants_check
from exchange.models import LedgerEntry, Market, MarketEvent, Order
from exchange.services import amm_burn, amm_mint, market_set_status
from exchange.signals import market_status_changed
from tests.exchange.conftest import account, new_market, new_user, place, position, snapshot

pytestmark = pytest.mark.django_db

START = 1_000_000


def _minted(market, price=60, qty=10):
    alice, bob = new_user(START), new_user(START)
    place(alice, market, "YES", "BUY", price, qty)
    place(bob, market, "NO", "BUY", 100 - price, qty)
    return alice, bob


LEGAL = [
    ("ACTIVE", "SUSPENDED"), ("SUSPENDED", "ACTIVE"), ("ACTIVE", "HALTED"), ("SUSPENDED", "HALTED"),
    ("HALTED", "ACTIVE"), ("ACTIVE", "VOIDED"), ("HALTED", "VOIDED"),
]


@pytest.mark.parametrize("path", [("SUSPENDED",), ("SUSPENDED", "ACTIVE"), ("HALTED", "ACTIVE"), ("SUSPENDED", "HALTED"),
                                  ("RESOLVED", "VOIDED"), ("HALTED", "RESOLVED", "SETTLED")])
def test_legal_paths_are_recorded(path):
    market = new_market()
    source = "ACTIVE"
    for status in path:
        market_set_status(market_id=market, status=status, outcome="YES", actor="test")
        assert Market.objects.get(pk=market).status == status
        assert MarketEvent.objects.filter(market_id=market, from_status=source, to_status=status, actor="test").exists()
        source = status


@pytest.mark.parametrize("path,illegal", [
    ((), "SETTLED"), ((), "ACTIVE"), (("RESOLVED",), "ACTIVE"), (("RESOLVED", "SETTLED"), "VOIDED"),
    (("VOIDED",), "ACTIVE"), (("HALTED",), "SUSPENDED"),
])
def test_illegal_transitions_raise_and_change_nothing(path, illegal):
    market = new_market()
    for status in path:
        market_set_status(market_id=market, status=status, outcome="NO")
    before = snapshot()
    with pytest.raises(ExchangeError) as info:
        market_set_status(market_id=market, status=illegal, outcome="NO")
    assert (info.value.code, info.value.status) == ("ILLEGAL_TRANSITION", 409)
    assert snapshot() == before


def test_resolved_needs_an_outcome():
    market = new_market()
    with pytest.raises(ExchangeError) as info:
        market_set_status(market_id=market, status="RESOLVED")
    assert info.value.field == "outcome"


@pytest.mark.parametrize("status", ["SUSPENDED", "HALTED", "RESOLVED", "VOIDED"])
def test_leaving_active_cancels_every_open_order(status):
    market = new_market()
    alice, bob = _minted(market)
    orders = [place(alice, market, "YES", "SELL", 80, 3).order, place(bob, market, "YES", "BUY", 20, 5).order]
    market_set_status(market_id=market, status=status, outcome="YES")
    assert {Order.objects.get(pk=o.id).status for o in orders} == {"CANCELLED"}
    assert account(bob).frozen_balance == 0
    assert position(alice, market).yes_pending_sell == 0 or status == "VOIDED"
    assert invariants_check() == []


def test_status_change_signal_fires_after_commit(django_capture_on_commit_callbacks):
    market = new_market()
    seen = []
    handler = lambda **kw: seen.append((kw["market_id"], kw["from_status"], kw["to_status"]))  # noqa: E731
    market_status_changed.connect(handler)
    try:
        with django_capture_on_commit_callbacks(execute=True):
            market_set_status(market_id=market, status="SUSPENDED")
    finally:
        market_status_changed.disconnect(handler)
    assert seen == [(market, "ACTIVE", "SUSPENDED")]


@pytest.mark.parametrize("outcome", ["YES", "NO"])
def test_settlement_pays_100_per_winning_share(outcome):
    market = new_market()
    alice, bob = _minted(market, price=60, qty=10)  # alice 10 YES @60, bob 10 NO @40
    market_set_status(market_id=market, status="RESOLVED", outcome=outcome)
    market_set_status(market_id=market, status="SETTLED")
    winner, loser = (alice, bob) if outcome == "YES" else (bob, alice)
    paid = {alice: 600, bob: 400}
    assert account(winner).available_balance == START - paid[winner] + 1000
    assert account(loser).available_balance == START - paid[loser]
    assert position(winner, market).realized_pnl == 1000 - paid[winner]
    assert position(loser, market).realized_pnl == -paid[loser]
    m = Market.objects.get(pk=market)
    assert (m.reserve_balance, m.total_yes_shares, m.total_no_shares) == (0, 0, 0)
    assert LedgerEntry.objects.filter(user_id=winner, entry_type="SETTLEMENT_PAYOUT", amount=1000).exists()
    assert invariants_check() == []


def test_void_refunds_at_cost():
    market = new_market()
    alice, bob = _minted(market, price=70, qty=5)
    market_set_status(market_id=market, status="VOIDED")
    assert account(alice).available_balance == START
    assert account(bob).available_balance == START
    assert Market.objects.get(pk=market).reserve_balance == 0
    assert invariants_check() == []


def test_void_after_trading_shares_the_whole_reserve_by_cost():
    market = new_market()
    alice, bob = _minted(market, price=60, qty=10)  # cost 600 + 400 = reserve 1000
    carol = new_user(START)
    place(alice, market, "YES", "SELL", 90, 10)
    place(carol, market, "YES", "BUY", 90, 10)  # carol's cost 900: Σcost 1300 > reserve 1000
    market_set_status(market_id=market, status="VOIDED")
    # refunds: carol 1000 × 900/1300 = 692.3, bob 1000 × 400/1300 = 307.7 -> 692 + 308 by largest remainder
    assert account(carol).available_balance == START - 900 + 692
    assert account(bob).available_balance == START - 400 + 308
    assert Market.objects.get(pk=market).reserve_balance == 0
    assert invariants_check() == []


def test_amm_mint_and_burn_are_privileged_idempotent_and_consistent(amm):
    market = new_market()
    m0 = Market.objects.get(pk=market)
    first = amm_mint(user_id=amm, market_id=market, quantity=30, request_id="mint-1")
    again = amm_mint(user_id=amm, market_id=market, quantity=30, request_id="mint-1")
    assert (first.created, again.created) == (True, False)
    pos = position(amm, market)
    assert (pos.yes_volume, pos.no_volume, pos.yes_cost_sum, pos.no_cost_sum) == (30, 30, 1500, 1500)  # 50/50 split
    m = Market.objects.get(pk=market)
    assert (m.reserve_balance - m0.reserve_balance, m.total_yes_shares) == (3000, 30)  # seed §8.4
    assert LedgerEntry.objects.filter(user_id=amm, entry_type="MINT_COST", reference_type="AMM_MINT",
                                      reference_id="mint-1").count() == 1
    amm_burn(user_id=amm, market_id=market, quantity=10, request_id="burn-1")
    pos = position(amm, market)
    assert (pos.yes_volume, pos.no_volume, pos.yes_cost_sum, pos.realized_pnl) == (20, 20, 1000, 0)
    assert LedgerEntry.objects.filter(user_id=amm, entry_type="BURN_REVENUE", reference_type="AMM_BURN").count() == 1
    with pytest.raises(ExchangeError) as info:
        amm_mint(user_id=amm, market_id=market, quantity=31, request_id="mint-1")
    assert info.value.code == "DUPLICATE_REQUEST_ID"
    with pytest.raises(ExchangeError) as info:
        amm_burn(user_id=amm, market_id=market, quantity=21, request_id="burn-2")
    assert info.value.code == "INSUFFICIENT_SHARES"
    assert invariants_check() == []


def test_mint_is_refused_to_ordinary_users_and_burn_allowed_after_resolution(amm):
    market = new_market()
    trader = new_user()
    before = snapshot()
    with pytest.raises(ExchangeError) as info:
        amm_mint(user_id=trader, market_id=market, quantity=1, request_id="x")
    assert (info.value.status, snapshot()) == (403, before)
    amm_mint(user_id=amm, market_id=market, quantity=5, request_id="m")
    market_set_status(market_id=market, status="RESOLVED", outcome="YES")
    with pytest.raises(ExchangeError):
        amm_mint(user_id=amm, market_id=market, quantity=1, request_id="m2")
    amm_burn(user_id=AMM_USER_ID, market_id=market, quantity=5, request_id="wind-down")
    assert position(amm, market).yes_volume == 0
    assert invariants_check() == []


def test_an_open_markets_schedule_moves_and_a_closed_ones_does_not():
    import datetime as dt

    from exchange.services import market_schedule_set

    market = new_market()
    end = dt.datetime(2030, 1, 1, tzinfo=dt.timezone.utc)
    market_schedule_set(market_id=market, trading_end_at=end, resolution_date=end + dt.timedelta(hours=1))
    assert Market.objects.get(pk=market).trading_end_at == end
    for bad in (dict(trading_end_at=end.replace(tzinfo=None), resolution_date=None),
                dict(trading_end_at=end, resolution_date=end - dt.timedelta(seconds=1))):
        with pytest.raises(ExchangeError):
            market_schedule_set(market_id=market, **bad)
    with pytest.raises(ExchangeError) as missing:
        market_schedule_set(market_id="MKT-NONE", trading_end_at=end, resolution_date=None)
    assert missing.value.status == 404
    market_set_status(market_id=market, status="RESOLVED", outcome="YES", actor="test")
    with pytest.raises(ExchangeError):
        market_schedule_set(market_id=market, trading_end_at=None, resolution_date=None)
    assert Market.objects.get(pk=market).trading_end_at == end  # unchanged
