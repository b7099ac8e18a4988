"""The instances' changelist (SPEC §9): state from the database beside the live figures from
Redis, read for the whole page in one pipelined round trip."""
from __future__ import annotations

import re

import pytest
import redis
from django.db import connection
from django.test.utils import CaptureQueriesContext

from amm.services import instance_kill, instance_running, instance_start
from tests.amm.admin.conftest import VIEW, enable, order, seed_live

pytestmark = pytest.mark.django_db

URL = "/admin/amm/amminstance/"


def _row(html: str, market_id: str) -> str:
    """The changelist row of one market (its <tr>)."""
    match = re.search(r"<tr>(?:(?!</tr>).)*>" + re.escape(market_id) + r"</a>(?:(?!</tr>).)*</tr>", html, re.S)
    assert match, f"no row for {market_id}"
    return match.group(0)


def _cells(row: str) -> dict[str, str]:
    return {name: re.sub(r"<[^>]+>", "", value).strip()
            for name, value in re.findall(r'<t[dh] class="field-([a-z_]+)[^"]*"[^>]*>(.*?)</t[dh]>', row, re.S)}


def test_list_shows_state_and_live_figures(login, redis_conn):
    enable("MKT-A", budget_cents=300_000)
    instance_start(market_id="MKT-A", actor="test")
    instance_running(market_id="MKT-A")
    instance_kill(market_id="MKT-A", actor="test", reason="drill")
    seed_live("MKT-A", yes=120, no=40, orders=[
        order("b1", side="YES", direction="BUY", price=47, qty=10),
        order("b2", side="NO", direction="SELL", price=52, qty=5),  # a YES-view bid at 48
        order("a1", side="YES", direction="SELL", price=53, qty=7, remaining=4),
        order("a2", side="NO", direction="BUY", price=46, qty=9),  # a YES-view ask at 54
    ], fair_price_cents=50, inventory_skew=0.5, daily_pnl_cents=-1234)
    enable("MKT-B")  # never synced: no live figures

    client, _ = login(VIEW)
    response = client.get(URL)
    assert response.status_code == 200
    html = response.content.decode()
    a = _cells(_row(html, "MKT-A"))
    assert (a["lifecycle_state"], a["phase"], a["defense_level"], a["kill_switch"]) == (
        "EMERGENCY", "EXPLORATION", "KILL_SWITCH", "ON")
    assert (a["market_status"], a["fair_price"], a["best_bid"], a["best_ask"]) == ("ACTIVE", "50", "48 × 5", "53 × 4")
    assert (a["skew"], a["pnl_today"], a["live_orders"], a["budget"]) == ("+0.50", "-1234", "4", "300000")
    b = _cells(_row(html, "MKT-B"))
    assert (b["lifecycle_state"], b["kill_switch"]) == ("STOPPED", "OFF")
    assert all(b[name] == "-" for name in ("market_status", "fair_price", "best_bid", "best_ask", "skew",
                                            "pnl_today", "live_orders"))


class _RoundTrips:
    """Counts what this process sends to Redis: one packed send is one round trip (a
    pipeline sends all its commands at once)."""

    def __init__(self, monkeypatch):
        self.count = 0
        original = redis.connection.AbstractConnection.send_packed_command

        def counting(conn, command, check_health=True):
            self.count += 1
            return original(conn, command, check_health)

        monkeypatch.setattr(redis.connection.AbstractConnection, "send_packed_command", counting)


def _page_cost(client, round_trips: _RoundTrips) -> tuple[int, int]:
    before = round_trips.count
    with CaptureQueriesContext(connection) as queries:
        response = client.get(URL)
    assert response.status_code == 200
    return round_trips.count - before, len(queries)


def test_a_page_costs_one_redis_round_trip_and_the_same_sql_whatever_its_rows(login, redis_conn, monkeypatch):
    client, _ = login(VIEW)
    for i in range(2):
        enable(f"MKT-{i:02d}")
        seed_live(f"MKT-{i:02d}", orders=[order(f"o{i}", side="YES", direction="BUY", price=40, qty=1)],
                  fair_price_cents=41)
    client.get(URL)  # warm: sessions, content types, the permission cache
    round_trips = _RoundTrips(monkeypatch)
    small = _page_cost(client, round_trips)
    for i in range(2, 12):
        enable(f"MKT-{i:02d}")
        seed_live(f"MKT-{i:02d}", orders=[order(f"o{i}", side="YES", direction="BUY", price=40, qty=1)],
                  fair_price_cents=41)
    large = _page_cost(client, round_trips)
    assert small[0] == large[0] == 1  # the whole page's live figures: one pipelined round trip
    assert small[1] == large[1]  # SQL: the same queries for 2 rows as for 12
    assert client.get(URL).content.decode().count('class="field-fair_price">41<') == 12
