"""Concurrent requests on the same markets and accounts never corrupt balances (issue 2).

Real threads, each with its own PostgreSQL connection, hammer two markets shared by the same
users (the case that deadlocks when accounts are locked in discovery order), then every
invariant of SPEC §3.5 is checked."""
import random
import threading

import pytest
from django.db import connection

from exchange.exceptions import ExchangeError
from exchange.invariants import invariants_check
from exchange.models import Account, Order, Trade
from exchange.services import NewOrder, Replacement, amm_mint, order_cancel, order_place, orders_replace
from tests.exchange.conftest import new_market, new_user

THREADS = 6
OPS_PER_THREAD = 40


@pytest.mark.django_db(transaction=True)
def test_concurrent_crossing_orders_keep_every_invariant(amm):
    markets = [new_market(maker_fee_bps=50, taker_fee_bps=100) for _ in range(2)]
    users = [new_user(200_000) for _ in range(4)]
    for market in markets:
        amm_mint(user_id=amm, market_id=market, quantity=500, request_id=f"seed-{market}")
    errors: list[BaseException] = []
    unexpected: list[str] = []
    barrier = threading.Barrier(THREADS)

    def worker(seed: int) -> None:
        rng = random.Random(seed)
        try:
            barrier.wait()
            for i in range(OPS_PER_THREAD):
                market = rng.choice(markets)
                user = rng.choice(users + [amm])
                try:
                    roll = rng.random()
                    if roll < 0.15:
                        mine = list(Order.objects.filter(user_id=user, market_id=market,
                                                         status__in=["OPEN", "PARTIALLY_FILLED"])[:1])
                        if mine:
                            order_cancel(user_id=user, order_id=mine[0].id)
                    elif roll < 0.3 and user == amm:
                        orders_replace(user_id=amm, market_id=market, replacements=[
                            Replacement(None, NewOrder(f"r{seed}-{i}-a", "YES", "SELL", rng.randint(45, 60), 5)),
                            Replacement(None, NewOrder(f"r{seed}-{i}-b", "NO", "SELL", rng.randint(45, 60), 5)),
                        ])
                    else:
                        new = NewOrder(f"o{seed}-{i}", rng.choice(["YES", "NO"]), rng.choice(["BUY", "BUY", "SELL"]),
                                       rng.randint(35, 65), rng.randint(1, 20))
                        order_place(user_id=user, market_id=market, new=new)
                except ExchangeError as exc:
                    if exc.code not in {"INSUFFICIENT_SHARES", "INSUFFICIENT_FUNDS", "ORDER_NOT_OPEN"}:
                        unexpected.append(f"{exc.code}: {exc.detail}")
        except BaseException as exc:  # deadlocks, serialization failures, anything
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(seed,)) for seed in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors, errors[:3]
    assert not unexpected, unexpected[:3]
    assert Trade.objects.filter(market_id__in=markets).count() > 20, "the run should have crossed orders"
    assert invariants_check() == []
    assert all(a.available_balance >= 0 and a.frozen_balance >= 0 for a in Account.objects.all())


@pytest.mark.django_db(transaction=True)
def test_a_later_trade_never_commits_before_an_earlier_id():
    """Transaction A is held open right after inserting its trade (id N); B then trades in
    another market (id N+1). If B could commit first, a reader polling `id > since` would
    see N+1, move its cursor past N, and never see N: the feed would have a gap. B waits
    until A commits because the engine takes the trade-feed advisory lock before drawing
    trade ids (remove it and this test fails)."""
    m1, m2 = new_market(), new_market()
    a_maker, a_taker, b_maker, b_taker = (new_user() for _ in range(4))
    order_place(user_id=a_maker, market_id=m1, new=NewOrder("am", "YES", "BUY", 50, 1))
    order_place(user_id=b_maker, market_id=m2, new=NewOrder("bm", "YES", "BUY", 50, 1))
    baseline = Trade.objects.order_by("-id").values_list("id", flat=True).first() or 0
    inserted, release = threading.Event(), threading.Event()
    errors: list[BaseException] = []

    def hold_after_trade_insert(execute, sql, params, many, context):
        result = execute(sql, params, many, context)
        if sql.startswith('INSERT INTO "trades"'):
            inserted.set()
            release.wait(20)
        return result

    def run(fn):
        try:
            fn()
        except BaseException as exc:
            errors.append(exc)
        finally:
            connection.close()

    def trade_a():
        with connection.execute_wrapper(hold_after_trade_insert):
            order_place(user_id=a_taker, market_id=m1, new=NewOrder("at", "NO", "BUY", 50, 1))

    a = threading.Thread(target=run, args=(trade_a,))
    a.start()
    assert inserted.wait(20)
    b = threading.Thread(target=run, args=(lambda: order_place(
        user_id=b_taker, market_id=m2, new=NewOrder("bt", "NO", "BUY", 50, 1)),))
    b.start()
    b.join(timeout=1.0)
    visible_while_a_open = list(Trade.objects.filter(id__gt=baseline).values_list("id", flat=True))
    release.set()
    a.join(timeout=20)
    b.join(timeout=20)
    assert not errors, errors
    assert visible_while_a_open == [], "B's trade committed while A's lower trade id was still in flight"
    ids = list(Trade.objects.filter(id__gt=baseline).order_by("id").values_list("id", flat=True))
    assert len(ids) == 2 and Trade.objects.get(id=ids[0]).market_id == m1
