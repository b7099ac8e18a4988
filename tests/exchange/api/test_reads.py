"""Reads over HTTP: balance, positions, markets, order book (levels and sequence_id)."""
import pytest

from exchange.services import market_set_status
from tests.exchange.api.conftest import assert_error

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("clean_invariants")]

MARKET_FIELDS = {"id", "title", "status", "min_price_cents", "max_price_cents", "maker_fee_bps", "taker_fee_bps",
                 "trading_end_at", "resolution_date", "reserve_balance", "total_yes_shares", "total_no_shares",
                 "outcome", "sequence_id"}
POSITION_FIELDS = {"market_id", "yes_volume", "yes_cost_sum", "yes_pending_sell", "no_volume", "no_cost_sum",
                   "no_pending_sell", "yes_available", "no_available", "realized_pnl"}


def test_balance_is_the_callers_own(alice, bob, market):
    body = alice.http.get("/account/balance").json()
    assert body == {"user_id": alice.user_id, "available_balance": 1_000_000, "frozen_balance": 0,
                    "version": body["version"]}
    alice.place(market, "YES", "BUY", 40, 10)
    after = alice.http.get("/account/balance").json()
    assert after["frozen_balance"] == 10 * (40 + 1) and after["available_balance"] == 1_000_000 - 410
    assert after["version"] > body["version"]
    assert bob.http.get("/account/balance").json()["user_id"] == bob.user_id


def test_position_zeros_then_after_a_trade(alice, bob, market):
    zeros = alice.http.get(f"/positions/{market}").json()
    assert set(zeros) == POSITION_FIELDS
    assert zeros == {field: 0 for field in POSITION_FIELDS} | {"market_id": market}
    alice.place(market, "YES", "BUY", 40, 10)
    bob.place(market, "NO", "BUY", 60, 10)  # MINT: alice 10 YES at 40, bob 10 NO at 60
    yes = alice.http.get(f"/positions/{market}").json()
    assert (yes["yes_volume"], yes["yes_cost_sum"], yes["no_volume"]) == (10, 400, 0)
    alice.place(market, "YES", "SELL", 70, 4)
    yes = alice.http.get(f"/positions/{market}").json()
    assert (yes["yes_pending_sell"], yes["yes_available"]) == (4, 6)
    no = bob.http.get(f"/positions/{market}").json()
    assert (no["no_volume"], no["no_cost_sum"], no["yes_volume"]) == (10, 600, 0)
    assert_error(alice.http.get("/positions/NO-SUCH"), 404, "MARKET_NOT_FOUND")


def test_markets_list_and_detail(alice, market):
    from exchange.services import market_create

    market_create(market_id="ZZ-OTHER", title="other")
    market_set_status(market_id="ZZ-OTHER", status="HALTED")
    listing = alice.http.get("/markets").json()
    assert [m["id"] for m in listing["results"]] == sorted([market, "ZZ-OTHER"])
    assert all(set(m) == MARKET_FIELDS for m in listing["results"])
    active = alice.http.get("/markets", params={"status": "ACTIVE"}).json()["results"]
    assert [m["id"] for m in active] == [market]
    detail = alice.http.get(f"/markets/{market}").json()
    assert detail | {"sequence_id": 0} == {
        "id": market, "title": "Will the test pass?", "status": "ACTIVE", "min_price_cents": 1,
        "max_price_cents": 99, "maker_fee_bps": 20, "taker_fee_bps": 50, "trading_end_at": None,
        "resolution_date": None, "reserve_balance": 0, "total_yes_shares": 0, "total_no_shares": 0,
        "outcome": None, "sequence_id": 0}
    assert_error(alice.http.get("/markets/NO-SUCH"), 404, "MARKET_NOT_FOUND")


def test_orderbook_levels_in_the_yes_view(alice, bob, market):
    empty = alice.http.get(f"/orderbook/{market}").json()
    assert empty == {"market_id": market, "sequence_id": 0, "bids": [], "asks": []}
    alice.place(market, "YES", "BUY", 40, 5)   # bid 40
    alice.place(market, "YES", "BUY", 40, 3)   # bid 40
    bob.place(market, "NO", "SELL", 62, 1, expect=422)  # no shares: not in the book
    alice.place(market, "YES", "BUY", 38, 2)   # bid 38
    bob.place(market, "NO", "BUY", 45, 7)      # BUY NO 45 = ask 55
    bob.place(market, "NO", "BUY", 40, 1)      # ask 60
    book = alice.http.get(f"/orderbook/{market}").json()
    assert book["bids"] == [[40, 8], [38, 2]]
    assert book["asks"] == [[55, 7], [60, 1]]
    seq = book["sequence_id"]

    bob.place(market, "NO", "BUY", 60, 6)      # ask 40: fills 6 of the bids at 40
    book2 = alice.http.get(f"/orderbook/{market}").json()
    assert book2["bids"] == [[40, 2], [38, 2]] and book2["asks"] == [[55, 7], [60, 1]]
    assert book2["sequence_id"] > seq
    top = alice.http.get(f"/orderbook/{market}", params={"depth": 1}).json()
    assert top["bids"] == [[40, 2]] and top["asks"] == [[55, 7]]
    assert top["sequence_id"] == book2["sequence_id"]  # reading does not move it

    alice.http.post("/orders/cancel-all", json={"market_id": market})
    book3 = bob.http.get(f"/orderbook/{market}").json()
    assert book3["bids"] == [] and book3["sequence_id"] > book2["sequence_id"]
    assert_error(alice.http.get("/orderbook/NO-SUCH"), 404, "MARKET_NOT_FOUND")


def test_sequence_id_grows_with_every_book_change(alice, bob, market):
    seen = [alice.http.get(f"/orderbook/{market}").json()["sequence_id"]]

    def step():
        seen.append(alice.http.get(f"/orderbook/{market}").json()["sequence_id"])
        assert seen[-1] > seen[-2], seen

    order = alice.place(market, "YES", "BUY", 30, 5)["order"]
    step()
    bob.place(market, "NO", "BUY", 70, 2)  # trades
    step()
    alice.http.delete(f"/orders/{order['id']}")
    step()
    alice.http.post("/amm/orders/replace", json={"market_id": market, "replacements": [
        {"old_order_id": None, "new": {"client_order_id": "r", "side": "YES", "direction": "BUY",
                                       "price_cents": 20, "quantity": 1}}]})
    step()
    market_set_status(market_id=market, status="SUSPENDED")  # cancels every open order
    step()


def test_orderbook_with_trades_shows_the_markets_tape_newest_first_and_no_one_in_it(alice, bob, market):
    assert "recent_trades" not in alice.http.get(f"/orderbook/{market}").json()  # asked for only
    alice.place(market, "YES", "BUY", 40, 5)
    bob.place(market, "NO", "BUY", 60, 2)  # ask 40: 2 at 40
    alice.place(market, "YES", "BUY", 45, 3)
    bob.place(market, "NO", "BUY", 55, 3)  # ask 45: 3 at 45
    tape = bob.http.get(f"/orderbook/{market}", params={"trades": 10}).json()["recent_trades"]
    assert [(t["price_cents"], t["quantity"]) for t in tape] == [(45, 3), (40, 2)]
    assert tape[0]["id"] > tape[1]["id"] and tape[0]["executed_ms"] >= tape[1]["executed_ms"] > 0
    assert set(tape[0]) == {"id", "price_cents", "quantity", "executed_ms"}  # nothing of who traded
    one = alice.http.get(f"/orderbook/{market}", params={"trades": 1}).json()["recent_trades"]
    assert one == tape[:1]
    assert_error(alice.http.get(f"/orderbook/{market}", params={"trades": 101}), 400, None)
