"""Orders over HTTP: place (idempotent), list, detail, cancel, cancel-all; object-level auth."""
import uuid

import pytest

from exchange.models import Account, Order, Trade
from exchange.services import market_set_status
from tests.exchange.api.conftest import assert_error

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("clean_invariants")]

ORDER_FIELDS = {"id", "client_order_id", "market_id", "side", "direction", "book_type", "price_cents", "quantity",
                "filled_quantity", "remaining_quantity", "status", "time_in_force", "created_at"}
TRADE_FIELDS = {"id", "market_id", "scenario", "price_cents", "quantity", "buy_order_id", "sell_order_id",
                "buy_user_id", "sell_user_id", "maker_order_id", "taker_order_id", "maker_fee", "taker_fee",
                "buy_realized_pnl", "sell_realized_pnl", "executed_at"}


def test_place_answers_201_with_the_order_and_its_trades(alice, bob, market):
    resting = alice.place(market, "YES", "BUY", 40, 10, coid="a-1")
    assert set(resting) == {"order", "trades"} and resting["trades"] == []
    order = resting["order"]
    assert set(order) == ORDER_FIELDS
    assert order | {"id": None, "created_at": None} == {
        "id": None, "client_order_id": "a-1", "market_id": market, "side": "YES", "direction": "BUY",
        "book_type": "NATIVE_BUY", "price_cents": 40, "quantity": 10, "filled_quantity": 0,
        "remaining_quantity": 10, "status": "OPEN", "time_in_force": "GTC", "created_at": None}

    taker = bob.place(market, "NO", "BUY", 60, 4, tif="IOC")  # SYNTHETIC_SELL at 40: a MINT
    assert taker["order"]["status"] == "FILLED" and taker["order"]["book_type"] == "SYNTHETIC_SELL"
    (trade,) = taker["trades"]
    assert set(trade) == TRADE_FIELDS
    assert (trade["scenario"], trade["price_cents"], trade["quantity"]) == ("MINT", 40, 4)
    assert (trade["buy_user_id"], trade["sell_user_id"]) == (alice.user_id, bob.user_id)
    assert trade["maker_order_id"] == order["id"] and trade["taker_order_id"] == taker["order"]["id"]
    assert isinstance(trade["id"], int) and isinstance(trade["maker_fee"], int)


def test_place_is_idempotent_on_client_order_id(alice, market):
    first = alice.http.post("/orders", json={"market_id": market, "client_order_id": "same", "side": "NO",
                                             "direction": "BUY", "price_cents": 30, "quantity": 5})
    again = alice.http.post("/orders", json={"market_id": market, "client_order_id": "same", "side": "NO",
                                             "direction": "BUY", "price_cents": 30, "quantity": 5,
                                             "time_in_force": "GTC"})
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json() == first.json()
    assert Order.objects.filter(user_id=alice.user_id).count() == 1
    balance = alice.http.get("/account/balance").json()
    assert balance["frozen_balance"] == 5 * (30 + 1)  # frozen once (30 cents + 1 cent worst-case fee)

    changed = alice.http.post("/orders", json={"market_id": market, "client_order_id": "same", "side": "NO",
                                               "direction": "BUY", "price_cents": 31, "quantity": 5})
    body = assert_error(changed, 409, "DUPLICATE_CLIENT_ORDER_ID")
    assert body["field"] == "client_order_id"
    assert Order.objects.filter(user_id=alice.user_id).count() == 1


def test_concurrent_repeats_place_one_order(alice, market):
    import threading

    body = {"market_id": market, "client_order_id": "race", "side": "YES", "direction": "BUY",
            "price_cents": 20, "quantity": 3}
    statuses = []

    def send():
        statuses.append(alice.http.post("/orders", json=body).status_code)

    threads = [threading.Thread(target=send) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(statuses) == [200, 200, 200, 201]
    assert Order.objects.filter(user_id=alice.user_id, client_order_id="race").count() == 1


def test_place_errors(alice, bob, market):
    base = {"client_order_id": "e", "side": "YES", "direction": "BUY", "price_cents": 50, "quantity": 1}
    assert_error(alice.http.post("/orders", json={**base, "market_id": "NO-SUCH-MARKET"}), 404, "MARKET_NOT_FOUND")
    poor = alice.http.post("/orders", json={**base, "market_id": market, "client_order_id": "big",
                                            "quantity": 1_000_000})
    assert_error(poor, 422, "INSUFFICIENT_FUNDS")
    no_shares = alice.http.post("/orders", json={**base, "market_id": market, "client_order_id": "sell",
                                                 "direction": "SELL"})
    assert_error(no_shares, 422, "INSUFFICIENT_SHARES")
    market_set_status(market_id=market, status="SUSPENDED")
    assert_error(alice.http.post("/orders", json={**base, "market_id": market}), 409, "MARKET_NOT_ACTIVE")
    assert not Order.objects.exists()
    assert Account.objects.get(user_id=alice.user_id).frozen_balance == 0


def test_price_outside_the_market_band_is_400(alice):
    from exchange.services import market_create

    market_create(market_id="BAND", title="narrow", min_price_cents=10, max_price_cents=90)
    response = alice.http.post("/orders", json={"market_id": "BAND", "client_order_id": "x", "side": "YES",
                                                "direction": "BUY", "price_cents": 5, "quantity": 1})
    assert_error(response, 400, "PRICE_OUT_OF_RANGE")


def test_list_filters_and_detail(alice, bob, market):
    a1 = alice.place(market, "YES", "BUY", 30, 5, coid="a1")["order"]
    a2 = alice.place(market, "NO", "BUY", 30, 5, coid="a2")["order"]
    alice.http.delete(f"/orders/{a2['id']}")
    bob.place(market, "YES", "BUY", 31, 5, coid="b1")

    everything = alice.http.get("/orders").json()
    assert set(everything) == {"results"}
    assert [o["client_order_id"] for o in everything["results"]] == ["a2", "a1"]  # newest first, only alice's
    open_ = alice.http.get("/orders", params={"market_id": market, "status": "OPEN,PARTIALLY_FILLED"}).json()
    assert [o["id"] for o in open_["results"]] == [a1["id"]]
    cancelled = alice.http.get("/orders", params={"status": "CANCELLED"}).json()["results"]
    assert [o["id"] for o in cancelled] == [a2["id"]]
    by_coid = alice.http.get("/orders", params={"client_order_id": "a1"}).json()["results"]
    assert [o["id"] for o in by_coid] == [a1["id"]]
    assert alice.http.get("/orders", params={"client_order_id": "b1"}).json() == {"results": []}
    assert alice.http.get("/orders", params={"market_id": "OTHER"}).json() == {"results": []}
    assert alice.http.get(f"/orders/{a1['id']}").json() == a1


def test_another_users_orders_and_trades_are_invisible(alice, bob, market):
    mine = alice.place(market, "YES", "BUY", 45, 10)["order"]
    bob.place(market, "YES", "SELL", 45, 1, expect=422)  # bob has no shares: nothing happens
    bob.place(market, "NO", "BUY", 55, 2)  # crosses alice: one MINT trade between them
    assert Trade.objects.count() == 1

    # Someone else's order answers exactly like one that does not exist.
    for response in (bob.http.get(f"/orders/{mine['id']}"), bob.http.delete(f"/orders/{mine['id']}")):
        assert assert_error(response, 404, "ORDER_NOT_FOUND")["detail"] == f"order {mine['id']} not found"
    ghost = uuid.uuid4()
    missing = assert_error(bob.http.get(f"/orders/{ghost}"), 404, "ORDER_NOT_FOUND")
    assert missing["detail"] == f"order {ghost} not found"
    assert_error(bob.http.get("/orders/not-a-uuid"), 404, "ORDER_NOT_FOUND")
    assert mine["id"] not in {o["id"] for o in bob.http.get("/orders").json()["results"]}
    assert Order.objects.get(pk=mine["id"]).status == "PARTIALLY_FILLED"

    # The shared trade is each party's own; a third user sees none of it.
    from exchange.services import account_deposit, api_key_issue, user_get_or_create

    carol, _ = user_get_or_create(username="carol")
    account_deposit(user_id=str(carol.id), amount_cents=100)
    import httpx

    with httpx.Client(base_url=str(alice.http.base_url), headers={
            "Authorization": f"Token {api_key_issue(user=carol)}", "Connection": "close"}) as carol_http:
        assert carol_http.get("/trades").json() == {"results": [], "next_since": 0}
        assert carol_http.get("/orders").json() == {"results": []}
        assert carol_http.get("/account/balance").json()["available_balance"] == 100
        assert carol_http.get(f"/positions/{market}").json()["yes_volume"] == 0
    assert len(alice.http.get("/trades").json()["results"]) == 1
    assert len(bob.http.get("/trades").json()["results"]) == 1


def test_cancel_one_and_cancel_all(alice, bob, market):
    o1 = alice.place(market, "YES", "BUY", 30, 5)["order"]
    o2 = alice.place(market, "NO", "BUY", 40, 5)["order"]
    o3 = alice.place(market, "YES", "BUY", 20, 5)["order"]
    bob_order = bob.place(market, "YES", "BUY", 25, 5)["order"]

    cancelled = alice.http.delete(f"/orders/{o1['id']}")
    assert cancelled.status_code == 200
    assert cancelled.json()["id"] == o1["id"] and cancelled.json()["status"] == "CANCELLED"
    assert_error(alice.http.delete(f"/orders/{o1['id']}"), 409, "ORDER_NOT_OPEN")

    response = alice.http.post("/orders/cancel-all", json={"market_id": market})
    assert response.status_code == 200
    assert sorted(o["id"] for o in response.json()["cancelled"]) == sorted([o2["id"], o3["id"]])
    assert all(o["status"] == "CANCELLED" for o in response.json()["cancelled"])
    assert alice.http.post("/orders/cancel-all", json={"market_id": market}).json() == {"cancelled": []}
    assert Order.objects.get(pk=bob_order["id"]).status == "OPEN"
    assert alice.http.get("/account/balance").json()["frozen_balance"] == 0
    assert_error(alice.http.post("/orders/cancel-all", json={"market_id": "NOPE"}), 404, "MARKET_NOT_FOUND")
    assert_error(alice.http.post("/orders/cancel-all", json={}), 400, "INVALID_INPUT")
