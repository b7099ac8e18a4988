"""Instances: durable state from the database with the live working state from Redis; the
list reads Redis once per page and runs the same queries for 3 markets as for 30."""
from __future__ import annotations

import pytest
import redis
from django.db import connection
from django.test.utils import CaptureQueriesContext

from amm import state
from amm.services import config_update, instance_kill
from tests.amm.api.conftest import BASE, enable, run
from tests.amm.conftest import seed_market

pytestmark = pytest.mark.django_db


def order(oid: str, side: str, direction: str, price: int, qty: int, remaining: int, book_type: str):
    return state.OrderEntry(oid, side, direction, price, qty, remaining, book_type, 1_700_000_000_000)


@pytest.fixture
def quoted(redis_conn):
    """A RUNNING market quoting in Redis, and a STOPPED one never synced."""
    running, idle = enable("MKT-A-RUN"), enable("MKT-B-IDLE")
    run(running)
    seed_market(running, cash=90_000, yes=30, no=10, yes_cost=1_400, no_cost=500, orders=[
        order("o-bid", "YES", "BUY", 45, 10, 10, "NATIVE_BUY"),
        order("o-bid2", "NO", "SELL", 54, 5, 4, "SYNTHETIC_BUY"),  # YES-view bid at 46
        order("o-ask", "YES", "SELL", 55, 8, 6, "NATIVE_SELL"),
    ])
    state.state_update(running, fair_price_cents=50, sigma_cents=2.5, inventory_skew=0.5, daily_pnl_cents=-120,
                       total_fills_today=7, last_requote_ms=state.now_ms() - 1500)
    return running, idle


def test_list_shows_database_state_with_live_redis_state(viewer, quoted):
    running, idle = quoted
    body = viewer.get(f"{BASE}/instances").json()
    assert body["count"] == 2 and body["next"] is None
    rows = {row["market_id"]: row for row in body["results"]}
    assert list(rows) == [running, idle]  # by market id
    row = rows[running]
    assert (row["lifecycle_state"], row["phase"], row["kill_switch"], row["budget_cents"]) == (
        "RUNNING", "EXPLORATION", "OFF", 500_000)
    live = row["live"]
    assert live["synced"] is True
    assert live["inventory"]["yes_volume"] == 30 and live["inventory"]["cash_cents"] == 90_000
    assert live["open_orders"] == 3 and "orders" not in live  # the list summarises; the detail lists them
    assert live["best_bid"] == {"price_cents": 46, "quantity": 4}
    assert live["best_ask"] == {"price_cents": 55, "quantity": 6}
    assert (live["fair_price_cents"], live["daily_pnl_cents"], live["total_fills_today"]) == (50, -120, 7)
    assert 1500 <= live["last_requote_age_ms"] < 60_000
    assert live["market_status"] == "ACTIVE"
    never = rows[idle]["live"]
    assert (never["synced"], never["inventory"], never["open_orders"], never["last_requote_ms"],
            never["last_requote_age_ms"], never["best_bid"]) == (False, None, 0, None, None, None)


def test_list_filters_by_state(viewer, quoted, redis_conn):
    running, idle = quoted
    instance_kill(market_id=running, actor="test", reason="filter test")

    def ids(query: str) -> list[str]:
        response = viewer.get(f"{BASE}/instances?{query}")
        assert response.status_code == 200, response.content
        return [row["market_id"] for row in response.json()["results"]]

    assert ids("lifecycle_state=EMERGENCY") == [running]
    assert ids("lifecycle_state=STOPPED") == [idle]
    assert ids("kill_switch=ON&defense_level=KILL_SWITCH") == [running]
    assert ids("kill_switch=OFF") == [idle]
    assert ids("phase=STABILIZATION") == []
    response = viewer.get(f"{BASE}/instances?lifecycle_state=SLEEPING")
    assert response.status_code == 400
    assert response.json()["error"] == "INVALID_INPUT" and response.json()["field"] == "lifecycle_state"


def test_list_is_paginated(viewer, redis_conn):
    for n in range(5):
        enable(f"MKT-P{n}")
    first = viewer.get(f"{BASE}/instances?page_size=2").json()
    assert first["count"] == 5 and [r["market_id"] for r in first["results"]] == ["MKT-P0", "MKT-P1"]
    assert "page=2" in first["next"]
    last = viewer.get(f"{BASE}/instances?page_size=2&page=3").json()
    assert [r["market_id"] for r in last["results"]] == ["MKT-P4"] and last["next"] is None
    response = viewer.get(f"{BASE}/instances?page=9")
    assert response.status_code == 404 and response.json()["error"] == "NOT_FOUND"


def test_detail_has_config_orders_and_kill_switch_record(viewer, quoted, django_capture_on_commit_callbacks):
    running, _ = quoted
    with django_capture_on_commit_callbacks(execute=True):  # the config reaches Redis on commit
        config_update(market_id=running, actor="test", requote_interval_ms=700)
        instance_kill(market_id=running, actor="operator:bob", reason="detail test")
    body = viewer.get(f"{BASE}/instances/{running}").json()
    assert (body["kill_switch"], body["kill_switch_by"], body["kill_switch_reason"]) == (
        "ON", "operator:bob", "detail test")
    assert body["lifecycle_state"] == "EMERGENCY" and body["defense_level"] == "KILL_SWITCH"
    assert body["config"]["version"] == 2 and body["config"]["updated_by"] == "test"
    assert body["config"]["parameters"]["requote_interval_ms"] == 700
    assert body["config"]["parameters"]["gamma_short"] == 2.5
    live = body["live"]
    assert live["config_version"] == 2 and live["kill_switch"] == "ON"
    orders = {o["order_id"]: o for o in live["orders"]}
    assert set(orders) == {"o-bid", "o-bid2", "o-ask"}
    assert orders["o-bid2"] == {"order_id": "o-bid2", "side": "NO", "direction": "SELL", "price": 54,
                                "yes_price_cents": 46, "qty": 5, "remaining": 4, "book_type": "SYNTHETIC_BUY",
                                "created_ms": 1_700_000_000_000}


def test_detail_of_an_unknown_market_is_404(viewer, redis_conn):
    response = viewer.get(f"{BASE}/instances/NOPE")
    assert response.status_code == 404
    assert response.json() == {"error": "INSTANCE_NOT_FOUND", "detail": "no AMM instance for market 'NOPE'"}


class RoundTrips:
    """Counts Redis round trips (commands sent alone, pipelines executed) by wrapping redis-py."""

    def __init__(self, monkeypatch) -> None:
        self.count = 0
        single, pipeline = redis.Redis.execute_command, redis.client.Pipeline.execute

        def counted_single(client, *args, **kwargs):
            if not isinstance(client, redis.client.Pipeline):
                self.count += 1
            return single(client, *args, **kwargs)

        def counted_pipeline(pipe, *args, **kwargs):
            self.count += 1
            return pipeline(pipe, *args, **kwargs)

        monkeypatch.setattr(redis.Redis, "execute_command", counted_single)
        monkeypatch.setattr(redis.client.Pipeline, "execute", counted_pipeline)


def _list_cost(viewer, n: int, monkeypatch) -> tuple[int, int]:
    for i in range(n):
        market_id = enable(f"MKT-Q{n}-{i:02d}")
        seed_market(market_id, orders=[order(f"{market_id}-o", "YES", "BUY", 40, 5, 5, "NATIVE_BUY")])
    trips = RoundTrips(monkeypatch)
    with CaptureQueriesContext(connection) as queries:
        response = viewer.get(f"{BASE}/instances?page_size=100")
    assert response.status_code == 200 and response.json()["count"] == n
    assert all(row["live"]["open_orders"] == 1 for row in response.json()["results"])
    return len(queries), trips.count


def test_list_cost_does_not_grow_with_the_markets(viewer, redis_conn, monkeypatch):
    queries_3, trips_3 = _list_cost(viewer, 3, monkeypatch)
    monkeypatch.undo()
    from amm.models import AMMInstance

    AMMInstance.objects.all().delete()
    queries_30, trips_30 = _list_cost(viewer, 30, monkeypatch)
    assert queries_3 == queries_30
    assert trips_3 == trips_30 == 1  # one pipelined round trip for the whole page
