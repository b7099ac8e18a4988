"""The AMM's calls over HTTP: atomic replace (all or nothing, rate-limited) and mint/burn."""
import pytest

from exchange.models import Account, Order, Position, PrivilegedOp
from exchange.services import market_create, market_set_status
from tests.exchange.api.conftest import assert_error
from tests.exchange.conftest import snapshot

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("clean_invariants")]


def new(coid, side="YES", direction="BUY", price=40, qty=5, tif="GTC"):
    return {"client_order_id": coid, "side": side, "direction": direction, "price_cents": price, "quantity": qty,
            "time_in_force": tif}


def replace(actor, market, *pairs):
    return actor.http.post("/amm/orders/replace", json={
        "market_id": market, "replacements": [{"old_order_id": old, "new": n} for old, n in pairs]})


# --- replace -------------------------------------------------------------------------------
def test_replace_cancels_and_places_in_one_call(amm_actor, alice, market):
    old1 = amm_actor.place(market, "YES", "BUY", 40, 5)["order"]
    old2 = amm_actor.place(market, "NO", "BUY", 40, 5)["order"]
    alice.place(market, "NO", "BUY", 50, 2)  # rests as an ask at 50
    before = alice.http.get(f"/orderbook/{market}").json()["sequence_id"]
    response = replace(amm_actor, market, (old1["id"], new("q-1", price=41)), (old2["id"], None),
                       (None, new("q-2", price=50, qty=3)))  # crosses alice's ask: a MINT of 2
    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == {"cancelled", "placed", "trades", "sequence_id"}
    # the book's sequence once the replace is done: what the order book (and the push feeds) then show
    assert body["sequence_id"] == amm_actor.http.get(f"/orderbook/{market}").json()["sequence_id"]
    assert body["sequence_id"] > before
    assert [o["id"] for o in body["cancelled"]] == [old1["id"], old2["id"]]
    assert all(o["status"] == "CANCELLED" for o in body["cancelled"])
    assert [o["client_order_id"] for o in body["placed"]] == ["q-1", "q-2"]
    assert body["placed"][1]["status"] == "PARTIALLY_FILLED"
    assert [(t["scenario"], t["quantity"], t["price_cents"]) for t in body["trades"]] == [("MINT", 2, 50)]
    assert Order.objects.filter(user_id=amm_actor.user_id, status="OPEN").count() == 1


def test_replace_with_an_order_no_longer_open_changes_nothing(amm_actor, alice, market):
    keep = amm_actor.place(market, "YES", "BUY", 40, 5)["order"]
    gone = amm_actor.place(market, "YES", "BUY", 30, 5)["order"]
    amm_actor.http.delete(f"/orders/{gone['id']}")
    before = snapshot()
    response = replace(amm_actor, market, (keep["id"], new("n-1", price=42)), (gone["id"], new("n-2", price=31)))
    body = assert_error(response, 409, "ORDER_NOT_OPEN")
    assert body["field"] == "replacements[1].old_order_id"
    assert "replacements[1]" in body["detail"] and gone["id"] in body["detail"]
    assert snapshot() == before
    assert Order.objects.get(pk=keep["id"]).status == "OPEN"
    assert not Order.objects.filter(client_order_id__in=["n-1", "n-2"]).exists()


def test_replace_that_cannot_be_funded_changes_nothing(amm_actor, alice, bob, market):
    resting = alice.place(market, "YES", "BUY", 40, 5)["order"]
    bob.place(market, "NO", "BUY", 45, 5)  # rests as ask 55
    before = snapshot()
    balance = alice.http.get("/account/balance").json()
    response = replace(alice, market,
                       (resting["id"], new("ok", price=55, qty=5)),  # would trade with bob
                       (None, new("too-big", qty=100_000)))  # 4 000 000+ cents: not fundable
    body = assert_error(response, 422, "INSUFFICIENT_FUNDS")
    assert body["field"] == "replacements[1].new" and "replacements[1]" in body["detail"]
    assert snapshot() == before
    assert alice.http.get("/account/balance").json() == balance
    assert Order.objects.get(pk=resting["id"]).status == "OPEN"

    no_shares = replace(alice, market, (None, new("s", direction="SELL")))
    assert_error(no_shares, 422, "INSUFFICIENT_SHARES")
    assert snapshot() == before


def test_replace_input_errors(amm_actor, alice, bob, market):
    theirs = bob.place(market, "YES", "BUY", 10, 1)["order"]
    assert_error(replace(alice, market, (theirs["id"], None)), 404, "ORDER_NOT_FOUND")
    assert_error(replace(alice, "NOPE", (None, new("x"))), 404, "MARKET_NOT_FOUND")
    assert_error(alice.http.post("/amm/orders/replace", json={"market_id": market, "replacements": []}), 400)
    assert_error(replace(alice, market, (None, None)), 400, "INVALID_INPUT")
    assert_error(replace(alice, market, (None, new("d")), (None, new("d"))), 400, "DUPLICATE_CLIENT_ORDER_ID")
    assert_error(replace(alice, market, ("not-a-uuid", None)), 400, "INVALID_INPUT")
    too_many = [(None, new(f"m{i}")) for i in range(41)]
    assert_error(replace(alice, market, *too_many), 400, "INVALID_INPUT")
    body = assert_error(replace(alice, market, (None, new("p", price=True))), 400, "INVALID_INPUT")
    assert body["field"] == "replacements[0].new.price_cents"
    alice.place(market, "YES", "BUY", 10, 1, coid="used")
    assert_error(replace(alice, market, (None, new("used", price=11))), 409, "DUPLICATE_CLIENT_ORDER_ID")


def test_replace_rate_limit_answers_429_with_retry_after(alice, market, settings, redis_conn):
    settings.EXCHANGE_REPLACE_RATE_LIMIT = 3
    for i in range(3):
        assert replace(alice, market, (None, new(f"r{i}", price=10, qty=1))).status_code == 200
    response = replace(alice, market, (None, new("r3", price=10, qty=1)))
    body = assert_error(response, 429, "RATE_LIMITED")
    assert 1 <= int(response.headers["Retry-After"]) <= 60
    assert "3" in body["detail"]
    key = f"ratelimit:{alice.user_id}:replace"
    assert int(redis_conn.get(key)) == 4 and 0 < redis_conn.ttl(key) <= 60
    assert not Order.objects.filter(client_order_id="r3").exists()
    # Other users and other calls are not limited; the window's end lifts it.
    assert alice.http.get("/account/balance").status_code == 200
    redis_conn.delete(key)
    assert replace(alice, market, (None, new("r4", price=10, qty=1))).status_code == 200


@pytest.mark.parametrize("path", [["SUSPENDED"], ["HALTED"], ["RESOLVED"], ["VOIDED"]], ids=lambda p: p[-1])
def test_replace_in_a_market_not_active_is_409_and_changes_nothing(amm_actor, market, path):
    for status in path:
        market_set_status(market_id=market, status=status, outcome="YES" if status == "RESOLVED" else None)
    before = snapshot()
    body = assert_error(replace(amm_actor, market, (None, new("na-1"))), 409, "MARKET_NOT_ACTIVE")
    assert market in body["detail"] and path[-1] in body["detail"]
    assert snapshot() == before


def test_replace_naming_an_order_of_another_market_is_404_and_changes_nothing(amm_actor, market):
    other = "MKT-OTHER-" + market[-8:]
    market_create(market_id=other, title="another market")
    elsewhere = amm_actor.place(other, "YES", "BUY", 40, 5)["order"]
    before = snapshot()
    response = replace(amm_actor, market, (elsewhere["id"], new("x-1", price=41)))
    body = assert_error(response, 404, "ORDER_NOT_FOUND")
    assert body["field"] == "replacements[0].old_order_id" and elsewhere["id"] in body["detail"]
    assert snapshot() == before
    assert Order.objects.get(pk=elsewhere["id"]).status == "OPEN"
    assert not Order.objects.filter(client_order_id="x-1").exists()


def test_replace_rate_limit_is_per_user(alice, bob, market, settings, redis_conn):
    """One user over the limit does not limit another (ratelimit:{user_id}:replace)."""
    settings.EXCHANGE_REPLACE_RATE_LIMIT = 2
    for i in range(2):
        assert replace(alice, market, (None, new(f"a{i}", price=10, qty=1))).status_code == 200
    assert_error(replace(alice, market, (None, new("a2", price=10, qty=1))), 429, "RATE_LIMITED")
    response = replace(bob, market, (None, new("b0", price=10, qty=1)))
    assert response.status_code == 200, response.text
    assert Order.objects.filter(user_id=bob.user_id, client_order_id="b0", status="OPEN").exists()
    assert int(redis_conn.get(f"ratelimit:{bob.user_id}:replace")) == 1
    assert_error(replace(alice, market, (None, new("a3", price=10, qty=1))), 429, "RATE_LIMITED")


# --- mint / burn ---------------------------------------------------------------------------
def test_a_request_id_longer_than_the_ledger_keeps_is_refused_and_changes_nothing(amm_actor, market):
    """The ledger keeps the request id as its reference (64 characters): a longer one is a
    clear 400, never a 500 half-way through the mint."""
    body = {"market_id": market, "quantity": 1, "request_id": "r" * 65}
    assert_error(amm_actor.http.post("/amm/mint", json=body), 400, "INVALID_INPUT")
    assert PrivilegedOp.objects.count() == 0
    assert Account.objects.get(user_id=amm_actor.user_id).available_balance == 1_000_000
    assert amm_actor.http.post("/amm/mint", json={**body, "request_id": "r" * 64}).status_code == 201


def test_mint_and_burn_are_idempotent_on_request_id(amm_actor, market):
    body = {"market_id": market, "quantity": 10, "request_id": "mint-1"}
    first = amm_actor.http.post("/amm/mint", json=body)
    assert first.status_code == 201, first.text
    answer = first.json()
    assert set(answer) == {"market_id", "quantity", "balance", "position"}
    assert (answer["market_id"], answer["quantity"]) == (market, 10)
    assert set(answer["balance"]) == {"user_id", "available_balance", "frozen_balance", "version"}
    assert answer["balance"]["available_balance"] == 1_000_000 - 1000
    position = answer["position"]
    assert (position["yes_volume"], position["no_volume"], position["yes_cost_sum"], position["no_cost_sum"]) == (
        10, 10, 500, 500)
    again = amm_actor.http.post("/amm/mint", json=body)
    assert again.status_code == 200 and again.json() == answer
    assert PrivilegedOp.objects.count() == 1
    assert Account.objects.get(user_id=amm_actor.user_id).available_balance == 999_000

    assert_error(amm_actor.http.post("/amm/mint", json={**body, "quantity": 11}), 409, "DUPLICATE_REQUEST_ID")
    burn = amm_actor.http.post("/amm/burn", json={"market_id": market, "quantity": 4, "request_id": "burn-1"})
    assert burn.status_code == 201 and burn.json()["position"]["yes_volume"] == 6
    assert amm_actor.http.post("/amm/burn", json={"market_id": market, "quantity": 4,
                                                  "request_id": "burn-1"}).status_code == 200
    assert Position.objects.get(user_id=amm_actor.user_id, market_id=market).yes_volume == 6
    assert_error(amm_actor.http.post("/amm/burn", json={"market_id": market, "quantity": 7, "request_id": "b2"}),
                 422, "INSUFFICIENT_SHARES")
    assert_error(amm_actor.http.post("/amm/mint", json={"market_id": market, "quantity": 20_000,
                                                        "request_id": "m2"}), 422, "INSUFFICIENT_FUNDS")
    assert_error(amm_actor.http.post("/amm/mint", json={"market_id": "NOPE", "quantity": 1, "request_id": "m3"}),
                 404, "MARKET_NOT_FOUND")
    assert_error(amm_actor.http.post("/amm/mint", json={"market_id": market, "quantity": True,
                                                        "request_id": "m4"}), 400, "INVALID_INPUT")


def test_mint_and_burn_are_forbidden_to_traders(alice, market):
    for path in ("/amm/mint", "/amm/burn"):
        body = {"market_id": market, "quantity": 1, "request_id": "r"}
        assert_error(alice.http.post(path, json=body), 403, "NOT_PRIVILEGED")
        assert_error(alice.http.post(path, json={"garbage": True}), 403, "NOT_PRIVILEGED")
    assert not PrivilegedOp.objects.exists()
    assert alice.http.get("/account/balance").json()["available_balance"] == 1_000_000


def test_mint_in_a_suspended_market_is_409(amm_actor, market):
    from exchange.services import market_set_status

    market_set_status(market_id=market, status="SUSPENDED")
    assert_error(amm_actor.http.post("/amm/mint", json={"market_id": market, "quantity": 1, "request_id": "s"}),
                 409, "MARKET_NOT_ACTIVE")


@pytest.mark.parametrize("path", [["RESOLVED", "SETTLED"], ["VOIDED"]], ids=["SETTLED", "VOIDED"])
def test_burn_after_settlement_or_void_is_409(amm_actor, market, path):
    """Burn is allowed until RESOLVED only; after SETTLED or VOIDED the market state is refused
    (409) before the closed position is looked at (which would be 422)."""
    mint = {"market_id": market, "quantity": 5, "request_id": "pre-mint"}
    assert amm_actor.http.post("/amm/mint", json=mint).status_code == 201
    for status in path:
        market_set_status(market_id=market, status=status, outcome="YES" if status == "RESOLVED" else None)
    before = snapshot()
    body = assert_error(amm_actor.http.post("/amm/burn", json={"market_id": market, "quantity": 1,
                                                              "request_id": "late-burn"}), 409, "MARKET_NOT_ACTIVE")
    assert path[-1] in body["detail"]
    assert snapshot() == before
    assert not PrivilegedOp.objects.filter(request_id="late-burn").exists()
