"""Per-user rate limits of the platform API by scope (exchange/apis/ratelimit.py): reads and
writes counted apart under ratelimit:{user_id}:{scope}, 429 with Retry-After and the API's
error body past the limit; the replace call keeps its own scope (test_amm.py)."""
import pytest

from exchange.models import Order
from tests.exchange.api.conftest import assert_error

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("redis_conn")]


def order_body(market, coid, price=10):
    return {"market_id": market, "client_order_id": coid, "side": "YES", "direction": "BUY", "price_cents": price,
            "quantity": 1}


def test_reads_over_the_limit_answer_429_with_retry_after(alice, market, settings, redis_conn):
    settings.EXCHANGE_RATE_LIMIT_READ = 3
    paths = ["/account/balance", f"/markets/{market}", f"/orderbook/{market}"]
    for path in paths:
        assert alice.http.get(path).status_code == 200
    response = alice.http.get("/markets")
    body = assert_error(response, 429, "RATE_LIMITED")
    assert 1 <= int(response.headers["Retry-After"]) <= 60
    assert "more than 3 read calls in 60 s" in body["detail"]
    key = f"ratelimit:{alice.user_id}:read"
    assert int(redis_conn.get(key)) == 4 and 0 < redis_conn.ttl(key) <= 60
    # The window's end lifts it.
    redis_conn.delete(key)
    assert alice.http.get("/markets").status_code == 200


def test_one_user_over_the_limit_does_not_limit_another(alice, bob, market, settings, redis_conn):
    settings.EXCHANGE_RATE_LIMIT_READ = 2
    settings.EXCHANGE_RATE_LIMIT_WRITE = 1
    for _ in range(2):
        alice.http.get("/account/balance")
    alice.place(market, "YES", "BUY", 10, 1)
    assert_error(alice.http.get("/account/balance"), 429, "RATE_LIMITED")
    assert_error(alice.http.post("/orders", json=order_body(market, "a-late")), 429, "RATE_LIMITED")
    assert bob.http.get("/account/balance").status_code == 200
    bob.place(market, "YES", "BUY", 11, 1, coid="b-1")
    assert int(redis_conn.get(f"ratelimit:{bob.user_id}:read")) == 1
    assert int(redis_conn.get(f"ratelimit:{bob.user_id}:write")) == 1


def test_writes_over_the_limit_are_refused_before_they_change_anything(alice, market, settings, redis_conn):
    settings.EXCHANGE_RATE_LIMIT_WRITE = 2
    for i in range(2):
        alice.place(market, "YES", "BUY", 10, 1, coid=f"w-{i}")
    response = alice.http.post("/orders", json=order_body(market, "w-2"))
    assert_error(response, 429, "RATE_LIMITED")
    assert "Retry-After" in response.headers
    assert not Order.objects.filter(client_order_id="w-2").exists()
    order_id = Order.objects.get(client_order_id="w-0").id
    assert_error(alice.http.delete(f"/orders/{order_id}"), 429, "RATE_LIMITED")
    assert Order.objects.get(pk=order_id).status == "OPEN"
    # Reads are a scope of their own.
    assert alice.http.get("/account/balance").status_code == 200


def test_a_long_poll_counts_once(alice, market, redis_conn):
    response = alice.http.get("/trades", params={"since": 0, "wait_ms": 300})
    assert response.status_code == 200 and response.json()["results"] == []
    assert int(redis_conn.get(f"ratelimit:{alice.user_id}:read")) == 1


def test_replace_counts_only_in_its_own_scope(amm_actor, market, redis_conn):
    response = amm_actor.http.post("/amm/orders/replace", json={"market_id": market, "replacements": [
        {"old_order_id": None, "new": {k: v for k, v in order_body(market, "r-1").items() if k != "market_id"}}]})
    assert response.status_code == 200, response.text
    assert int(redis_conn.get(f"ratelimit:{amm_actor.user_id}:replace")) == 1
    assert not redis_conn.exists(f"ratelimit:{amm_actor.user_id}:write")


def test_a_call_without_valid_credentials_is_refused_before_any_count(anon, redis_conn):
    assert_error(anon.get("/account/balance"), 401)
    assert redis_conn.keys("ratelimit:*") == []
