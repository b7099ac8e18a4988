"""Staff operations over HTTP: only platform staff; a trader's key answers 403."""
import pytest

from exchange.models import Account, Market, MarketEvent
from tests.exchange.api.conftest import assert_error

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("clean_invariants")]


def test_traders_cannot_reach_staff_operations(alice, market):
    for path, body in [("/staff/deposits", {"username": "alice", "amount_cents": 10**9}),
                       ("/staff/withdrawals", {"username": "alice", "amount_cents": 1}),
                       ("/staff/markets", {"market_id": "X", "title": "x"}),
                       (f"/staff/markets/{market}/status", {"status": "HALTED"})]:
        assert_error(alice.http.post(path, json=body), 403, "STAFF_ONLY")
    assert Account.objects.get(user_id=alice.user_id).available_balance == 1_000_000
    assert Market.objects.get(pk=market).status == "ACTIVE" and not Market.objects.filter(pk="X").exists()


def test_staff_deposit_and_withdraw(staff, alice):
    response = staff.http.post("/staff/deposits", json={"username": "alice", "amount_cents": 2_500})
    assert response.status_code == 200, response.text
    assert response.json()["available_balance"] == 1_002_500 and response.json()["user_id"] == alice.user_id
    assert staff.http.post("/staff/withdrawals", json={"username": "alice", "amount_cents": 500}).json()[
        "available_balance"] == 1_002_000
    assert_error(staff.http.post("/staff/withdrawals", json={"username": "alice", "amount_cents": 10**8}),
                 422, "INSUFFICIENT_FUNDS")
    assert_error(staff.http.post("/staff/deposits", json={"username": "nobody", "amount_cents": 1}),
                 404, "USER_NOT_FOUND")
    assert_error(staff.http.post("/staff/deposits", json={"username": "alice", "amount_cents": 0}),
                 400, "INVALID_INPUT")
    assert_error(staff.http.post("/staff/deposits", json={"username": "alice", "amount_cents": "5"}),
                 400, "INVALID_INPUT")


def test_staff_market_create_and_lifecycle(staff, alice):
    created = staff.http.post("/staff/markets", json={"market_id": "MKT-NEW", "title": "New?", "maker_fee_bps": 10,
                                                      "taker_fee_bps": 30, "trading_end_at": "2027-01-01T00:00:00Z"})
    assert created.status_code == 201, created.text
    assert created.json()["status"] == "ACTIVE" and created.json()["trading_end_at"] == "2027-01-01T00:00:00Z"
    assert_error(staff.http.post("/staff/markets", json={"market_id": "MKT-NEW", "title": "again"}), 409,
                 "MARKET_EXISTS")
    assert_error(staff.http.post("/staff/markets", json={"market_id": "BAD", "title": "t", "min_price_cents": 60,
                                                         "max_price_cents": 40}), 400)
    order = alice.place("MKT-NEW", "YES", "BUY", 30, 1)["order"]
    halted = staff.http.post("/staff/markets/MKT-NEW/status", json={"status": "HALTED"})
    assert halted.status_code == 200 and halted.json()["status"] == "HALTED"
    assert alice.http.get(f"/orders/{order['id']}").json()["status"] == "CANCELLED"  # a passive cancel
    assert_error(staff.http.post("/staff/markets/MKT-NEW/status", json={"status": "SETTLED"}), 409,
                 "ILLEGAL_TRANSITION")
    assert_error(staff.http.post("/staff/markets/MKT-NEW/status", json={"status": "RESOLVED"}), 400)
    resolved = staff.http.post("/staff/markets/MKT-NEW/status", json={"status": "RESOLVED", "outcome": "YES"})
    assert resolved.json()["outcome"] == "YES"
    assert_error(staff.http.post("/staff/markets/NOPE/status", json={"status": "HALTED"}), 404, "MARKET_NOT_FOUND")
    assert MarketEvent.objects.filter(market_id="MKT-NEW", actor="api:ops_staff").count() == 2


def test_staff_with_the_longest_username_is_recorded(make_actor, alice, market):
    long_staff = make_actor("s" * 64, deposit=0, staff=True)
    assert long_staff.http.post("/staff/deposits", json={"username": "alice", "amount_cents": 1}).status_code == 200
    assert long_staff.http.post(f"/staff/markets/{market}/status", json={"status": "HALTED"}).status_code == 200
    assert MarketEvent.objects.get(market_id=market).actor == ("api:" + "s" * 64)[:64]
