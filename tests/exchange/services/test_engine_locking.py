"""What the engine locks, and for how long (issue 2, throughput).

An operation locks its market, then in one sorted statement the accounts it may touch: the
caller's and the counterparties' only as deep into the book as its quantity can go. The fee
account is not among them: fees are credited at flush, under the trade-feed lock, so trades
in different markets no longer queue on that one row."""
import threading
import uuid

import pytest
from django.db import OperationalError, connection, transaction
from django.utils import timezone

from exchange.enums import FEE_USER_ID
from exchange.invariants import invariants_check
from exchange.models import LedgerEntry, Trade
from exchange.services import NewOrder, Replacement, amm_mint, orders_replace
from tests.exchange.conftest import account, new_market, new_user, place


def test_fee_lines_carry_the_running_balance_of_the_fee_account(db):
    market = new_market(maker_fee_bps=100, taker_fee_bps=200)
    makers = [new_user() for _ in range(3)]
    for i, maker in enumerate(makers):
        place(maker, market, "NO", "BUY", 45 - i, 4)  # asks at 55, 56, 57
    before = account(FEE_USER_ID).available_balance
    result = place(new_user(), market, "YES", "BUY", 60, 12)
    assert len(result.trades) == 3
    lines = list(LedgerEntry.objects.filter(user_id=FEE_USER_ID, entry_type="FEE",
                                            reference_id__in=[str(t.id) for t in result.trades]).order_by("id"))
    fees = sum(t.maker_fee + t.taker_fee for t in result.trades)
    assert sum(line.amount for line in lines) == fees and len(lines) == 6  # one line per fee paid
    running = before
    for line in lines:
        running += line.amount
        assert line.balance_after == running
    assert account(FEE_USER_ID).available_balance == before + fees
    assert invariants_check() == []


def test_matching_goes_past_own_orders_to_every_counterparty_it_needs(db):
    """The accounts lock looks only as deep as the new quantity, not counting the caller's
    own orders (skipped by self-trade prevention): the fills below need all three others."""
    market = new_market()
    me, *others = (new_user() for _ in range(4))
    place(me, market, "NO", "BUY", 50, 5)  # my asks at 50 and 51, ahead of everyone
    place(me, market, "NO", "BUY", 49, 5)
    for i, other in enumerate(others):
        place(other, market, "NO", "BUY", 48 - i, 2)  # asks at 52, 53, 54
    result = place(me, market, "YES", "BUY", 55, 6)
    assert [(t.sell_user_id, t.price_cents, t.quantity) for t in result.trades] == [
        (others[0], 52, 2), (others[1], 53, 2), (others[2], 54, 2)]
    assert invariants_check() == []


def test_a_replace_trades_past_the_orders_it_cancels(db, amm):
    market = new_market()
    amm_mint(user_id=amm, market_id=market, quantity=20, request_id=uuid.uuid4().hex)
    olds = [place(amm, market, "YES", "SELL", price, 5).order for price in (50, 51)]  # AMM asks ahead
    y, z = new_user(), new_user()
    place(y, market, "NO", "BUY", 48, 2)  # ask at 52
    place(z, market, "NO", "BUY", 47, 3)  # ask at 53
    result = orders_replace(user_id=amm, market_id=market, replacements=[
        Replacement(str(olds[0].id), NewOrder(uuid.uuid4().hex, "YES", "BUY", 55, 2)),
        Replacement(str(olds[1].id), NewOrder(uuid.uuid4().hex, "YES", "BUY", 55, 3)),
    ])
    assert [(t.sell_user_id, t.price_cents, t.quantity) for t in result.trades] == [(y, 52, 2), (z, 53, 3)]
    assert invariants_check() == []


def _pause_before_trades_insert(paused: threading.Event, release: threading.Event):
    def wrapper(execute, sql, params, many, context):
        if sql.startswith('INSERT INTO "trades"'):
            paused.set()
            release.wait(20)
        return execute(sql, params, many, context)
    return wrapper


def _in_thread(fn, errors: list):
    def run():
        try:
            fn()
        except BaseException as exc:  # noqa: BLE001 - reported by the test
            errors.append(exc)
        finally:
            connection.close()
    thread = threading.Thread(target=run)
    thread.start()
    return thread


def _locked(user_id: str) -> bool:
    """Whether another transaction holds this account's row lock right now."""
    try:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("SELECT 1 FROM accounts WHERE user_id = %s FOR UPDATE NOWAIT", [user_id])
        return False
    except OperationalError:
        return True


@pytest.mark.django_db(transaction=True)
def test_an_operation_locks_neither_the_fee_account_nor_counterparties_it_cannot_reach():
    market = new_market(maker_fee_bps=100, taker_fee_bps=100)
    makers = [new_user() for _ in range(4)]
    for i, maker in enumerate(makers):
        place(maker, market, "NO", "BUY", 48 - i, 2)  # asks at 52, 53, 54, 55
    taker = new_user()
    paused, release, errors = threading.Event(), threading.Event(), []

    def trade():
        with connection.execute_wrapper(_pause_before_trades_insert(paused, release)):
            place(taker, market, "YES", "BUY", 60, 3)  # takes 2 at 52 and 1 at 53

    thread = _in_thread(trade, errors)
    try:
        assert paused.wait(20), errors
        assert _locked(taker) and _locked(makers[0]) and _locked(makers[1])
        assert not _locked(makers[2]) and not _locked(makers[3])
        assert not _locked(FEE_USER_ID)
    finally:
        release.set()
        thread.join(20)
    assert not errors, errors
    assert invariants_check() == []


@pytest.mark.django_db(transaction=True)
def test_a_trade_in_another_market_does_not_wait_for_one_still_matching():
    """A is paused after matching, before inserting its trade; B trades in another market
    with other users and commits meanwhile. B then holds the smaller trade id, so the feed
    stays in id order."""
    m1, m2 = new_market(maker_fee_bps=50, taker_fee_bps=50), new_market(maker_fee_bps=50, taker_fee_bps=50)
    a_maker, a_taker, b_maker, b_taker = (new_user() for _ in range(4))
    place(a_maker, m1, "YES", "BUY", 50, 1)
    place(b_maker, m2, "YES", "BUY", 50, 1)
    paused, release, errors = threading.Event(), threading.Event(), []

    def trade_a():
        with connection.execute_wrapper(_pause_before_trades_insert(paused, release)):
            place(a_taker, m1, "NO", "BUY", 50, 1)

    a = _in_thread(trade_a, errors)
    try:
        assert paused.wait(20), errors
        b = _in_thread(lambda: place(b_taker, m2, "NO", "BUY", 50, 1), errors)
        b.join(10)
        assert not b.is_alive(), "B waited for A, which trades in another market"
        assert Trade.objects.filter(market_id=m2).count() == 1
    finally:
        release.set()
        a.join(20)
    assert not errors, errors
    a_trade, b_trade = Trade.objects.get(market_id=m1), Trade.objects.get(market_id=m2)
    assert b_trade.id < a_trade.id
    assert account(FEE_USER_ID).available_balance >= a_trade.maker_fee + b_trade.maker_fee
    assert invariants_check() == []


def test_a_sweep_reads_the_book_page_after_page(db):
    from exchange.services.clearing import BOOK_PAGE

    market = new_market()
    makers = [new_user() for _ in range(3)]
    resting = [place(makers[i % 3], market, "NO", "BUY", 40 + i % 7, 1).order for i in range(BOOK_PAGE + 5)]
    result = place(new_user(), market, "YES", "BUY", 60, BOOK_PAGE + 5)
    expected = sorted(resting, key=lambda o: (o.yes_price, o.priority))  # best (lowest) ask first, then time
    assert [t.maker_order_id for t in result.trades] == [o.id for o in expected]
    assert result.order.status == "FILLED"
    assert invariants_check() == []


def test_the_engine_runs_unprepared_too(db, amm, settings):
    """EXCHANGE_PREPARED_STATEMENTS = False (behind a pooler that cannot keep prepared
    statements): the same statements, bound client-side like the ORM's."""
    settings.EXCHANGE_PREPARED_STATEMENTS = False
    market = new_market(maker_fee_bps=100, taker_fee_bps=200)
    amm_mint(user_id=amm, market_id=market, quantity=20, request_id=uuid.uuid4().hex)
    old = place(amm, market, "YES", "SELL", 55, 5).order  # ask at 55
    taken = place(new_user(), market, "YES", "BUY", 58, 2)
    assert [t.maker_order_id for t in taken.trades] == [old.id]
    resting = place(new_user(), market, "YES", "BUY", 54, 3).order  # bid at 54
    result = orders_replace(user_id=amm, market_id=market, replacements=[
        Replacement(str(old.id), NewOrder(uuid.uuid4().hex, "YES", "SELL", 54, 4))])
    assert [(t.maker_order_id, t.quantity) for t in result.trades] == [(resting.id, 3)]
    from exchange.services import order_cancel

    assert order_cancel(user_id=amm, order_id=result.placed[0].id).status == "CANCELLED"
    assert invariants_check() == []


@pytest.mark.django_db(transaction=True)
def test_a_trade_is_timed_when_its_operation_holds_the_market_not_while_it_waits():
    """Another transaction holds the market row; a crossing order meanwhile waits for it. Its
    trade's executed_at is taken once the order holds the market, after the other one
    released it: so trades of one market are timed in their commit order, and tick-to-quote
    (bench/runtime.py) starts at the fill, not at the taker's wait (take `now` before the
    lock and this test fails)."""
    market = new_market()
    place(new_user(), market, "YES", "BUY", 50, 5)
    held, waited = threading.Event(), threading.Event()
    released_at: list = []
    errors: list[BaseException] = []

    def hold_market() -> None:
        try:
            with transaction.atomic():
                with connection.cursor() as cursor:
                    cursor.execute("SELECT id FROM markets WHERE id = %s FOR UPDATE", [market])
                held.set()
                waited.wait(20)
                released_at.append(timezone.now())
        except BaseException as exc:
            errors.append(exc)
        finally:
            connection.close()

    holder = threading.Thread(target=hold_market)
    holder.start()
    assert held.wait(20)
    threading.Timer(0.3, waited.set).start()  # the crossing order below waits on the lock meanwhile
    started = timezone.now()
    result = place(new_user(), market, "NO", "BUY", 50, 5)
    holder.join(timeout=20)
    assert not errors, errors
    assert len(result.trades) == 1
    executed = Trade.objects.get(id=result.trades[0].id).executed_at
    assert executed >= released_at[0] > started
