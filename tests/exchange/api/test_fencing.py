"""Fencing tokens on order calls (issue 15): the platform keeps the highest `X-Fencing-Token`
per (user, market); a lower one is refused with 409 STALE_FENCING_TOKEN and changes nothing,
a higher one is accepted and raises the floor, a call without one is not checked."""
import uuid

import pytest

from exchange.models import FencingToken, Order
from tests.exchange.api.conftest import assert_error
from tests.exchange.conftest import snapshot

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("clean_invariants")]


def fenced(token: int | str) -> dict:
    return {"X-Fencing-Token": str(token)}


def order_body(market, coid=None, price=40, qty=5):
    return {"market_id": market, "client_order_id": coid or uuid.uuid4().hex, "side": "YES", "direction": "BUY",
            "price_cents": price, "quantity": qty, "time_in_force": "GTC"}


def floor(user_id, market) -> int | None:
    row = FencingToken.objects.filter(user_id=user_id, market_id=market).first()
    return row.token if row else None


def test_a_higher_token_is_accepted_and_raises_the_floor(amm_actor, market):
    first = amm_actor.http.post("/orders", json=order_body(market), headers=fenced(5))
    assert first.status_code == 201, first.text
    assert floor(amm_actor.user_id, market) == 5
    same = amm_actor.http.post("/orders", json=order_body(market), headers=fenced(5))  # one holder, many calls
    assert same.status_code == 201, same.text
    higher = amm_actor.http.post("/orders/cancel-all", json={"market_id": market}, headers=fenced(9))
    assert higher.status_code == 200, higher.text
    assert len(higher.json()["cancelled"]) == 2
    assert floor(amm_actor.user_id, market) == 9


def test_a_stale_token_is_refused_on_every_order_call_and_changes_nothing(amm_actor, market):
    resting = amm_actor.place(market, "YES", "BUY", 40, 5)["order"]
    assert amm_actor.http.post("/orders/cancel-all-after", json={"timeout_ms": 0}).status_code == 200
    new_holder = amm_actor.http.post("/orders", json=order_body(market, price=30), headers=fenced(100))
    assert new_holder.status_code == 201, new_holder.text
    before = snapshot()
    stale = fenced(99)
    calls = {
        "place": amm_actor.http.post("/orders", json=order_body(market, coid="late-place"), headers=stale),
        "cancel": amm_actor.http.delete(f"/orders/{resting['id']}", headers=stale),
        "cancel-all": amm_actor.http.post("/orders/cancel-all", json={"market_id": market}, headers=stale),
        "replace": amm_actor.http.post("/amm/orders/replace", headers=stale, json={
            "market_id": market, "replacements": [{"old_order_id": resting["id"],
                                                   "new": {k: v for k, v in order_body(market, "late-r").items()
                                                           if k != "market_id"}}]}),
        "mint": amm_actor.http.post("/amm/mint", json={"market_id": market, "quantity": 3, "request_id": "late-m"},
                                    headers=stale),
        "burn": amm_actor.http.post("/amm/burn", json={"market_id": market, "quantity": 1, "request_id": "late-b"},
                                    headers=stale),
    }
    for name, response in calls.items():
        assert response.status_code == 409, (name, response.text)
        assert_error(response, 409, "STALE_FENCING_TOKEN")
    assert snapshot() == before
    assert floor(amm_actor.user_id, market) == 100
    assert Order.objects.get(pk=resting["id"]).status == "OPEN"
    assert not Order.objects.filter(client_order_id__in=["late-place", "late-r"]).exists()


def test_the_floor_is_per_user_and_market_and_calls_without_a_token_are_not_checked(amm_actor, alice, market):
    assert amm_actor.http.post("/orders", json=order_body(market), headers=fenced(50)).status_code == 201
    # Another user, and a call without the header, go through as before.
    assert alice.http.post("/orders", json=order_body(market), headers=fenced(1)).status_code == 201
    assert amm_actor.http.post("/orders", json=order_body(market)).status_code == 201
    assert floor(amm_actor.user_id, market) == 50 and floor(alice.user_id, market) == 1


@pytest.mark.parametrize("bad", ["-1", "1.5", "abc", "", str(2**63), "0x10"])
def test_a_malformed_token_is_refused_before_anything_is_done(amm_actor, market, bad):
    before = snapshot()
    response = amm_actor.http.post("/orders", json=order_body(market, coid="bad-token"), headers=fenced(bad))
    body = assert_error(response, 400, "INVALID_INPUT")
    assert body["field"] == "X-Fencing-Token"
    assert snapshot() == before and floor(amm_actor.user_id, market) is None


def test_the_schema_documents_the_header_on_every_order_changing_call(anon):
    schema = anon.get("/schema/", headers={"Accept": "application/json"}).json()
    fenced_ops = {("/api/v1/orders", "post"), ("/api/v1/orders/{order_id}", "delete"),
                  ("/api/v1/orders/cancel-all", "post"), ("/api/v1/amm/orders/replace", "post"),
                  ("/api/v1/amm/mint", "post"), ("/api/v1/amm/burn", "post")}
    documented = {(path, method) for path, ops in schema["paths"].items() for method, op in ops.items()
                  if any(p["name"] == "X-Fencing-Token" and p["in"] == "header" for p in op.get("parameters", []))}
    assert documented == fenced_ops


def test_a_fenced_call_on_a_market_that_does_not_exist_answers_not_found_and_records_no_floor(amm_actor):
    response = amm_actor.http.post("/orders", json=order_body("NO-SUCH-MARKET"), headers=fenced(5))
    assert_error(response, 404, "MARKET_NOT_FOUND")
    assert not FencingToken.objects.filter(user_id=amm_actor.user_id).exists()
