"""The four scenarios of SPEC §3.2 with hand-computed cash, cost basis, fees and reserve.

Market fees: maker 100 bps, taker 200 bps; a BUY freezes price + ceil(price × 200 / 10000)
per share. Every figure below is worked out in the comments.
"""
import pytest

from exchange.enums import FEE_USER_ID
from exchange.invariants import invariants_check
from exchange.models import LedgerEntry, Market, Order
from tests.exchange.conftest import account, new_market, new_user, place, position

pytestmark = pytest.mark.django_db

START = 1_000_000


@pytest.fixture
def minted():
    """alice buys YES 60 × 10 (resting), bob buys NO at 45 × 10: MINT at the maker's 60."""
    market = new_market(maker_fee_bps=100, taker_fee_bps=200)
    alice, bob = new_user(START), new_user(START)
    rest = place(alice, market, "YES", "BUY", 60, 10)
    assert rest.trades == [] and rest.order.status == "OPEN"
    assert account(alice).frozen_balance == 620  # 10 × (60 + ceil(1.2))
    taker = place(bob, market, "NO", "BUY", 45, 10)
    return market, alice, bob, rest, taker


def test_mint_creates_pairs_at_maker_price(minted):
    market, alice, bob, rest, taker = minted
    (trade,) = taker.trades
    assert (trade.scenario, trade.price_cents, trade.quantity) == ("MINT", 60, 10)
    assert (trade.buy_user_id, trade.sell_user_id) == (alice, bob)
    assert (trade.maker_order_id, trade.taker_order_id) == (rest.order.id, taker.order.id)
    assert (trade.maker_fee, trade.taker_fee) == (6, 8)  # ceil(600 × 1%), ceil(400 × 2%)
    assert trade.buy_realized_pnl is None and trade.sell_realized_pnl is None
    # bob pays his own side at the maker's price: 100 − 60 = 40 (better than his 45).
    assert (account(alice).available_balance, account(alice).frozen_balance) == (START - 606, 0)
    assert (account(bob).available_balance, account(bob).frozen_balance) == (START - 408, 0)
    assert account(FEE_USER_ID).available_balance >= 14
    a, b = position(alice, market), position(bob, market)
    assert (a.yes_volume, a.yes_cost_sum, a.no_volume) == (10, 600, 0)
    assert (b.no_volume, b.no_cost_sum, b.yes_volume) == (10, 400, 0)
    m = Market.objects.get(pk=market)
    assert (m.reserve_balance, m.total_yes_shares, m.total_no_shares) == (1000, 10, 10)
    assert Order.objects.get(pk=taker.order.id).status == "FILLED"
    assert invariants_check() == []


def test_transfer_yes_releases_cost_at_average(minted):
    market, alice, bob, *_ = minted
    carol = new_user(START)
    ask = place(alice, market, "YES", "SELL", 70, 4)
    assert position(alice, market).yes_pending_sell == 4
    taker = place(carol, market, "YES", "BUY", 75, 4)
    (trade,) = taker.trades
    assert (trade.scenario, trade.price_cents, trade.buy_user_id, trade.sell_user_id) == ("TRANSFER_YES", 70, carol, alice)
    assert (trade.maker_fee, trade.taker_fee) == (3, 6)  # ceil(2.8), ceil(5.6)
    # alice released 600 × 4 // 10 = 240 of cost: realized = 280 − 240 − 3.
    assert trade.sell_realized_pnl == 37 and trade.buy_realized_pnl is None
    assert account(alice).available_balance == START - 606 + 280 - 3
    # carol froze 4 × 77 = 308 and paid 280 + 6: the 22 excess went back.
    assert (account(carol).available_balance, account(carol).frozen_balance) == (START - 286, 0)
    a, c = position(alice, market), position(carol, market)
    assert (a.yes_volume, a.yes_cost_sum, a.yes_pending_sell, a.realized_pnl) == (6, 360, 0, 40)
    assert (c.yes_volume, c.yes_cost_sum) == (4, 280)
    assert Order.objects.get(pk=ask.order.id).status == "FILLED"
    assert Market.objects.get(pk=market).reserve_balance == 1000  # a transfer leaves custody alone
    assert invariants_check() == []


def test_burn_pays_both_sellers_from_the_reserve(minted):
    market, alice, bob, *_ = minted
    resting = place(bob, market, "NO", "SELL", 35, 3)  # YES-view bid at 65
    taker = place(alice, market, "YES", "SELL", 62, 3)  # YES-view ask at 62 crosses 65
    (trade,) = taker.trades
    assert (trade.scenario, trade.price_cents, trade.buy_order_id, trade.sell_order_id) == (
        "BURN", 65, resting.order.id, taker.order.id)
    # alice gets 65 × 3 = 195 (taker fee 4), bob 35 × 3 = 105 (maker fee 2).
    assert (trade.maker_fee, trade.taker_fee) == (2, 4)
    assert trade.sell_realized_pnl == 195 - 180 - 4  # alice released 600 × 3 // 10
    assert trade.buy_realized_pnl == 105 - 120 - 2  # bob released 400 × 3 // 10
    m = Market.objects.get(pk=market)
    assert (m.reserve_balance, m.total_yes_shares, m.total_no_shares) == (700, 7, 7)
    assert account(alice).available_balance == START - 606 + 195 - 4
    assert account(bob).available_balance == START - 408 + 105 - 2
    kinds = set(LedgerEntry.objects.filter(reference_id=str(trade.id)).values_list("entry_type", flat=True))
    assert {"BURN_REVENUE", "BURN_RESERVE_OUT", "FEE"} <= kinds
    assert invariants_check() == []


def test_transfer_no_moves_no_shares_between_users(minted):
    market, alice, bob, *_ = minted
    dave = new_user(START)
    place(bob, market, "NO", "SELL", 30, 2)  # YES-view bid at 70
    taker = place(dave, market, "NO", "BUY", 40, 2)  # YES-view ask at 60: crosses at 70
    (trade,) = taker.trades
    assert (trade.scenario, trade.price_cents, trade.buy_user_id, trade.sell_user_id) == ("TRANSFER_NO", 70, bob, dave)
    # dave pays his own price 100 − 70 = 30 per share, not his limit 40.
    assert account(dave).available_balance == START - 60 - 2
    assert trade.buy_realized_pnl == 60 - 80 - 1  # bob released 400 × 2 // 10, maker fee ceil(0.6)
    assert (position(dave, market).no_volume, position(dave, market).no_cost_sum) == (2, 60)
    assert Market.objects.get(pk=market).reserve_balance == 1000
    assert invariants_check() == []


def test_price_time_priority_and_partial_fills():
    market = new_market()
    makers = [new_user() for _ in range(3)]
    first = place(makers[0], market, "NO", "BUY", 45, 5)  # ask at 55
    second = place(makers[1], market, "NO", "BUY", 45, 5)  # ask at 55, later
    better = place(makers[2], market, "NO", "BUY", 48, 5)  # ask at 52: best price
    taker = place(new_user(), market, "YES", "BUY", 60, 12)
    fills = [(t.maker_order_id, t.price_cents, t.quantity) for t in taker.trades]
    assert fills == [(better.order.id, 52, 5), (first.order.id, 55, 5), (second.order.id, 55, 2)]
    assert Order.objects.get(pk=second.order.id).status == "PARTIALLY_FILLED"
    assert Order.objects.get(pk=second.order.id).remaining_quantity == 3
    assert Order.objects.get(pk=taker.order.id).status == "FILLED"
    assert invariants_check() == []


def test_ioc_remainder_is_cancelled_and_released():
    market = new_market()
    maker, taker_user = new_user(), new_user(START)
    place(maker, market, "NO", "BUY", 50, 3)  # ask at 50
    result = place(taker_user, market, "YES", "BUY", 55, 10, tif="IOC")
    assert sum(t.quantity for t in result.trades) == 3
    order = Order.objects.get(pk=result.order.id)
    assert (order.status, order.filled_quantity, order.frozen_amount) == ("CANCELLED", 3, 0)
    assert (account(taker_user).available_balance, account(taker_user).frozen_balance) == (START - 150, 0)
    assert invariants_check() == []


def test_cancel_releases_cash_and_shares(minted):
    market, alice, *_ = minted
    buy = place(alice, market, "YES", "BUY", 30, 10)
    sell = place(alice, market, "YES", "SELL", 90, 7)
    assert account(alice).frozen_balance == 10 * (30 + 1)
    assert position(alice, market).yes_pending_sell == 7
    from exchange.services import order_cancel

    order_cancel(user_id=alice, order_id=buy.order.id)
    order_cancel(user_id=alice, order_id=sell.order.id)
    assert account(alice).frozen_balance == 0
    assert position(alice, market).yes_pending_sell == 0
    assert Order.objects.get(pk=buy.order.id).status == "CANCELLED"
    assert invariants_check() == []


def test_self_trade_prevention_skips_own_resting_orders():
    market = new_market()
    alice, bob = new_user(), new_user()
    own = place(alice, market, "NO", "BUY", 50, 5)  # alice's ask at 50
    other = place(bob, market, "NO", "BUY", 48, 5)  # bob's ask at 52, worse
    result = place(alice, market, "YES", "BUY", 55, 5)
    assert [t.maker_order_id for t in result.trades] == [other.order.id]
    assert Order.objects.get(pk=own.order.id).status == "OPEN"
    assert invariants_check() == []


def test_amm_may_match_itself(amm):
    market = new_market()
    resting = place(amm, market, "NO", "BUY", 50, 5)  # AMM ask at 50
    result = place(amm, market, "YES", "BUY", 50, 5)
    (trade,) = result.trades
    assert trade.buy_user_id == trade.sell_user_id == amm
    assert trade.maker_order_id == resting.order.id and trade.scenario == "MINT"
    pos = position(amm, market)
    assert (pos.yes_volume, pos.no_volume) == (5, 5)  # netting is off for the AMM: pairs are kept
    assert invariants_check() == []



def test_without_the_exemption_the_amm_does_not_match_itself(amm, settings):
    """EXCHANGE_SELF_TRADE_EXEMPT_USERS emptied: the AMM is prevented like any user, its
    crossing orders both rest (and the next counterparty is still reached)."""
    settings.EXCHANGE_SELF_TRADE_EXEMPT_USERS = []
    market = new_market()
    resting = place(amm, market, "NO", "BUY", 50, 5)  # AMM ask at 50
    result = place(amm, market, "YES", "BUY", 50, 5)  # AMM bid at 50: crosses only itself
    assert result.trades == [] and result.order.status == "OPEN"
    assert Order.objects.get(pk=resting.order.id).status == "OPEN"
    alice = new_user()
    (trade,) = place(alice, market, "NO", "BUY", 50, 5).trades  # alice's ask meets the AMM's bid
    assert (trade.buy_user_id, trade.sell_user_id) == (amm, alice)
    assert invariants_check() == []

def test_netting_burns_pairs_for_ordinary_users_only(amm):
    market = new_market()
    alice, bob = new_user(), new_user()
    place(alice, market, "YES", "BUY", 60, 10)
    place(bob, market, "NO", "BUY", 40, 10)  # MINT: alice 10 YES, bob 10 NO
    # alice now buys NO from the AMM's pairs: she holds YES and NO, so netting burns them.
    from exchange.services import amm_mint

    amm_mint(user_id=amm, market_id=market, quantity=20, request_id="net-1")
    place(amm, market, "NO", "SELL", 45, 4)  # AMM sells NO: YES-view bid at 55
    result = place(alice, market, "NO", "BUY", 45, 4)  # alice buys NO at 45: ask at 55
    assert result.trades and result.trades[0].scenario == "TRANSFER_NO"
    a = position(alice, market)
    assert (a.yes_volume, a.no_volume) == (6, 0)  # 4 pairs netted into 400 cents
    assert LedgerEntry.objects.filter(user_id=alice, reference_type="NETTING", entry_type="BURN_REVENUE",
                                      amount=400).exists()
    # The AMM holds YES and NO at once and keeps them (auto_netting_enabled = FALSE).
    p = position(amm, market)
    assert (p.yes_volume, p.no_volume) == (20, 16)
    assert not LedgerEntry.objects.filter(user_id=amm, reference_type="NETTING").exists()
    assert invariants_check() == []


def _holds_yes_and_no(market: str, user: str) -> tuple[int, int]:
    """`user` buys 4 YES (a MINT against a counterparty), then 4 NO from that counterparty
    (a TRANSFER_NO, user the taker): it ends holding 4 pairs unless they are netted."""
    counterparty = new_user(START)
    place(user, market, "YES", "BUY", 60, 4)
    place(counterparty, market, "NO", "BUY", 40, 4)  # MINT: user 4 YES, counterparty 4 NO
    place(counterparty, market, "NO", "SELL", 45, 4)  # YES-view bid at 55
    result = place(user, market, "NO", "BUY", 45, 4)  # ask at 55: crosses
    assert [t.scenario for t in result.trades] == ["TRANSFER_NO"]
    pos = position(user, market)
    return pos.yes_volume, pos.no_volume


def test_netting_follows_each_accounts_flag_not_the_users_identity():
    """seed §3.3: the engine reads auto_netting_enabled. An ordinary user with the flag off
    keeps its pairs; one with it on has them burned back into cash."""
    from exchange.models import Account

    keeper, netter = new_user(START), new_user(START)
    Account.objects.filter(user_id=keeper).update(auto_netting_enabled=False)
    market = new_market()

    assert _holds_yes_and_no(market, keeper) == (4, 4)
    assert not LedgerEntry.objects.filter(user_id=keeper, reference_type="NETTING").exists()

    assert _holds_yes_and_no(market, netter) == (0, 0)
    assert LedgerEntry.objects.filter(user_id=netter, reference_type="NETTING", entry_type="BURN_REVENUE",
                                      amount=400).exists()
    assert invariants_check() == []
