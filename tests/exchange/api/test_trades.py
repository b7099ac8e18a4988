"""GET /trades?since= is a gap-free cursor, even while trades are being written."""
import random
import threading
import time

import pytest

from exchange.models import Trade
from exchange.services import amm_mint
from tests.exchange.api.conftest import assert_error

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("clean_invariants")]


def test_pages_in_id_order_with_next_since(alice, bob, market):
    assert alice.http.get("/trades").json() == {"results": [], "next_since": 0}
    alice.place(market, "YES", "BUY", 40, 10)
    for _ in range(5):
        bob.place(market, "NO", "BUY", 60, 1)
    page1 = alice.http.get("/trades", params={"limit": 2}).json()
    assert [t["quantity"] for t in page1["results"]] == [1, 1]
    ids = [t["id"] for t in page1["results"]]
    assert ids == sorted(ids) and page1["next_since"] == ids[-1]
    page2 = alice.http.get("/trades", params={"since": page1["next_since"], "limit": 10}).json()
    assert len(page2["results"]) == 3 and page2["results"][0]["id"] > ids[-1]
    page3 = alice.http.get("/trades", params={"since": page2["next_since"]}).json()
    assert page3 == {"results": [], "next_since": page2["next_since"]}  # empty: the cursor stays
    assert alice.http.get("/trades", params={"market_id": "OTHER"}).json()["results"] == []
    assert len(alice.http.get("/trades", params={"market_id": market}).json()["results"]) == 5
    assert_error(alice.http.get("/trades", params={"limit": 5000}), 400, "INVALID_INPUT")


def test_cursor_sees_every_trade_exactly_once_under_concurrent_writers(make_actor, amm_actor, market):
    """Writers cross orders with the AMM on two markets from several threads while the AMM
    pages its feed; every AMM trade id must be seen exactly once, none missing at the end."""
    from exchange.services import market_create

    other = "MKT-CURSOR-2"
    market_create(market_id=other, title="second", maker_fee_bps=10, taker_fee_bps=30)
    markets = [market, other]
    for m in markets:
        amm_mint(user_id=amm_actor.user_id, market_id=m, quantity=2_000, request_id=f"seed-{m}")
    writers = [make_actor(deposit=500_000) for _ in range(4)]
    stop = threading.Event()
    errors: list[BaseException] = []

    def write(actor, seed):
        rng = random.Random(seed)
        try:
            for i in range(15):
                m = rng.choice(markets)
                price = rng.randint(40, 60)
                # The AMM rests a sell, the writer takes it: one trade per round at least.
                amm_actor.place(m, rng.choice(["YES", "NO"]), "SELL", price, 2, coid=f"amm-{seed}-{i}")
                actor.place(m, "YES", "BUY", 99, 1, tif="IOC", coid=f"w-{seed}-{i}-y")
                actor.place(m, "NO", "BUY", 99, 1, tif="IOC", coid=f"w-{seed}-{i}-n")
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    seen: list[int] = []

    def read():
        since = 0
        try:
            while True:
                done = stop.is_set()  # decided before the request: the last page is after every write
                page = amm_actor.http.get("/trades", params={"since": since, "limit": 7}).json()
                seen.extend(t["id"] for t in page["results"])
                assert page["next_since"] >= since
                since = page["next_since"]
                if done and not page["results"]:
                    return
                if not page["results"]:
                    time.sleep(0.01)
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    reader = threading.Thread(target=read)
    threads = [threading.Thread(target=write, args=(actor, n)) for n, actor in enumerate(writers)]
    reader.start()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    stop.set()
    reader.join(timeout=60)
    assert errors == []
    expected = sorted(Trade.objects.filter(buy_user_id=amm_actor.user_id).values_list("id", flat=True).union(
        Trade.objects.filter(sell_user_id=amm_actor.user_id).values_list("id", flat=True)))
    assert len(expected) >= 30
    assert seen == expected  # every trade once, in id order, none missing


def _wait_in_thread(actor, params):
    out: dict = {}

    def run():
        started = time.monotonic()
        out["response"] = actor.http.get("/trades", params=params)
        out["elapsed"] = time.monotonic() - started

    thread = threading.Thread(target=run)
    thread.start()
    return thread, out


def test_a_long_poll_answers_with_the_trade_that_commits_while_it_waits(alice, bob, make_actor, market):
    """wait_ms holds an empty answer until one of the caller's trades commits; another user's
    trade does not end it early with nothing for the caller."""
    carol = make_actor("carol")
    cursor = alice.http.get("/trades").json()["next_since"]
    thread, out = _wait_in_thread(alice, {"since": cursor, "wait_ms": 5000})
    time.sleep(0.3)
    carol.place(market, "YES", "BUY", 30, 2)
    bob.place(market, "NO", "BUY", 70, 2)  # bob and carol trade: not alice's
    time.sleep(0.3)
    assert thread.is_alive()
    alice.place(market, "YES", "BUY", 40, 3)
    bob.place(market, "NO", "BUY", 60, 3)  # alice's trade
    thread.join(timeout=10)
    body = out["response"].json()
    assert out["response"].status_code == 200
    assert [t["quantity"] for t in body["results"]] == [3] and body["next_since"] == body["results"][0]["id"]
    assert out["elapsed"] < 5.0  # it answered at the commit, not at the deadline


def test_a_long_poll_with_no_trade_answers_empty_at_its_deadline(alice):
    cursor = alice.http.get("/trades").json()["next_since"]
    started = time.monotonic()
    response = alice.http.get("/trades", params={"since": cursor, "wait_ms": 400})
    assert response.json() == {"results": [], "next_since": cursor}
    assert time.monotonic() - started >= 0.35
    assert_error(alice.http.get("/trades", params={"wait_ms": 60_000}), 400, "INVALID_INPUT")
    assert_error(alice.http.get("/trades", params={"wait_ms": -1}), 400, "INVALID_INPUT")
