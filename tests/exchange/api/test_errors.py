"""Authentication and the one error body: every failure is {"error", "detail"}, never a 500."""
import json

import pytest
from django.test import override_settings

from exchange.models import Order
from tests.exchange.api.conftest import assert_error

pytestmark = pytest.mark.django_db(transaction=True)


def order_body(market, **overrides):
    body = {"market_id": market, "client_order_id": "c1", "side": "YES", "direction": "BUY",
            "price_cents": 40, "quantity": 10}
    body.update(overrides)
    return body


@pytest.mark.parametrize("headers", [
    {},
    {"Authorization": "Token not-a-key"},
    {"Authorization": "Token"},
    {"Authorization": "Token a b"},
    {"Authorization": "Bearer whatever"},
])
def test_missing_or_bad_key_is_401(client_for, headers):
    http = client_for(None)
    response = http.get("/account/balance", headers=headers)
    body = assert_error(response, 401)
    assert body["error"] in {"NOT_AUTHENTICATED", "INVALID_API_KEY"}
    assert response.headers["WWW-Authenticate"] == "Token"


def test_revoked_key_and_inactive_user_are_401(alice):
    from exchange.models import ApiKey, User

    assert alice.http.get("/account/balance").status_code == 200
    ApiKey.objects.filter(user_id=alice.user_id).update(is_active=False)
    assert_error(alice.http.get("/account/balance"), 401, "INVALID_API_KEY")
    ApiKey.objects.filter(user_id=alice.user_id).update(is_active=True)
    User.objects.filter(pk=alice.user_id).update(is_active=False)
    assert_error(alice.http.get("/account/balance"), 401, "INVALID_API_KEY")


def test_every_route_needs_a_key(anon, market):
    for method, path in [("GET", "/account/balance"), ("GET", f"/positions/{market}"), ("GET", "/markets"),
                         ("GET", f"/markets/{market}"), ("GET", f"/orderbook/{market}"), ("GET", "/orders"),
                         ("POST", "/orders"), ("GET", "/orders/00000000-0000-0000-0000-000000000000"),
                         ("DELETE", "/orders/00000000-0000-0000-0000-000000000000"),
                         ("POST", "/orders/cancel-all"), ("POST", "/orders/cancel-all-after"), ("GET", "/trades"),
                         ("POST", "/amm/orders/replace"), ("POST", "/amm/mint"), ("POST", "/amm/burn"),
                         ("POST", "/staff/deposits"), ("POST", "/staff/withdrawals"), ("POST", "/staff/markets"),
                         ("POST", f"/staff/markets/{market}/status")]:
        assert_error(anon.request(method, path, json={}), 401, "NOT_AUTHENTICATED")


def test_malformed_json_is_400(alice):
    for raw in [b"{", b"not json", b'{"a": NaN}', b"\xff\xfe", b"[" * 30_000]:
        response = alice.http.post("/orders", content=raw, headers={"Content-Type": "application/json"})
        assert_error(response, 400, "MALFORMED_JSON")


def test_body_that_is_not_an_object_is_400(alice):
    for body in [[], [1, 2], "text", 5, None]:
        assert_error(alice.http.post("/orders", json=body), 400, "INVALID_INPUT")


def test_wrong_content_type_is_400(alice, market):
    response = alice.http.post("/orders", content=b"market_id=x", headers={"Content-Type": "text/plain"})
    assert_error(response, 400, "UNSUPPORTED_MEDIA_TYPE")
    response = alice.http.post("/orders", data={"market_id": market})
    assert_error(response, 400, "UNSUPPORTED_MEDIA_TYPE")


@pytest.mark.parametrize("field,value", [
    ("quantity", True), ("quantity", "10"), ("quantity", 10.0), ("quantity", None), ("quantity", [10]),
    ("price_cents", False), ("price_cents", "40"), ("price_cents", 40.5),
    ("side", 1), ("side", "MAYBE"), ("direction", True), ("time_in_force", "FOK"),
    ("client_order_id", 7), ("client_order_id", ""), ("client_order_id", "x" * 129), ("client_order_id", "a\x00b"),
    ("market_id", 5), ("market_id", "bad id with spaces"), ("market_id", "\ud800"),
])
def test_wrong_types_are_400_with_the_field(alice, market, field, value):
    raw = json.dumps(order_body(market, **{field: value}))  # ASCII: a lone surrogate goes as \ud800
    response = alice.http.post("/orders", content=raw, headers={"Content-Type": "application/json"})
    body = assert_error(response, 400)
    assert body.get("field") == field
    assert field in body["detail"]
    assert not Order.objects.exists()


@pytest.mark.parametrize("field,value,code", [
    ("price_cents", 0, "PRICE_OUT_OF_RANGE"), ("price_cents", 100, "PRICE_OUT_OF_RANGE"),
    ("quantity", 0, "INVALID_QUANTITY"), ("quantity", -5, "INVALID_QUANTITY"),
    ("quantity", 10**30, "INVALID_QUANTITY"),
])
def test_out_of_range_numbers_are_400_with_a_code(alice, market, field, value, code):
    body = assert_error(alice.http.post("/orders", json=order_body(market, **{field: value})), 400, code)
    assert body["field"] == field


def test_missing_field_is_400(alice, market):
    body = order_body(market)
    del body["side"]
    assert assert_error(alice.http.post("/orders", json=body), 400, "INVALID_INPUT")["field"] == "side"


def test_unknown_fields_are_400(alice, market):
    body = assert_error(alice.http.post("/orders", json=order_body(market, leverage=10)), 400, "UNKNOWN_FIELD")
    assert body["field"] == "leverage"
    new_order = {k: v for k, v in order_body(market).items() if k != "market_id"}
    response = alice.http.post("/amm/orders/replace", json={"market_id": market, "replacements": [
        {"old_order_id": None, "new": {**new_order, "extra": 1}}]})
    body = assert_error(response, 400, "UNKNOWN_FIELD")
    assert body["field"] == "replacements[0].new.extra"
    assert_error(alice.http.post("/orders/cancel-all-after", json={"timeout_ms": 0, "x": 1}), 400, "UNKNOWN_FIELD")


def test_oversized_body_is_400(alice, market):
    with override_settings(EXCHANGE_MAX_BODY_BYTES=1024):
        padded = order_body(market, client_order_id="x" * 2000)
        assert_error(alice.http.post("/orders", json=padded), 400, "BODY_TOO_LARGE")
    huge = b'{"market_id": "' + b"x" * (70 * 1024) + b'"}'
    response = alice.http.post("/orders", content=huge, headers={"Content-Type": "application/json"})
    assert_error(response, 400, "BODY_TOO_LARGE")


def test_unknown_path_and_method_answer_the_error_body(alice):
    assert_error(alice.http.get("/no/such/thing"), 404, "NOT_FOUND")
    assert_error(alice.http.get("/markets/bad%20id"), 404, "NOT_FOUND")
    assert_error(alice.http.put("/orders", json={}), 405, "METHOD_NOT_ALLOWED")
    assert_error(alice.http.delete("/account/balance"), 405, "METHOD_NOT_ALLOWED")


def test_accept_header_does_not_matter(alice):
    response = alice.http.get("/account/balance", headers={"Accept": "text/html"})
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("application/json")


def test_bad_query_parameters_are_400(alice, market):
    assert_error(alice.http.get("/trades", params={"since": "abc"}), 400, "INVALID_INPUT")
    assert_error(alice.http.get("/trades", params={"since": -1}), 400, "INVALID_INPUT")
    assert_error(alice.http.get("/trades", params={"limit": 0}), 400, "INVALID_INPUT")
    assert_error(alice.http.get("/trades", params={"market_id": "a\x00"}), 400, "INVALID_INPUT")
    assert_error(alice.http.get("/orders", params={"status": "OPEN,WHATEVER"}), 400, "INVALID_INPUT")
    assert_error(alice.http.get(f"/orderbook/{market}", params={"depth": 1000}), 400, "INVALID_INPUT")
    assert_error(alice.http.get("/markets", params={"status": "NOPE"}), 400, "INVALID_INPUT")
