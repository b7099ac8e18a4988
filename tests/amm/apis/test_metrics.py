"""GET /api/amm/v1/metrics (issue 11): Prometheus exposition of markets seeded in Redis and
PostgreSQL, read back with prometheus-client's own parser; who may read it; a constant cost
in SQL queries and Redis round trips whatever the number of markets; the cycle-latency
histogram counting a real quote cycle."""
from __future__ import annotations

import httpx
import pytest
from django.contrib.auth.models import Permission, User
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families

from amm import state
from amm.models import AlertSeverity, AlertType, ReconciliationRun
from amm.services import (
    alert_acknowledge,
    alert_raise,
    instance_enable,
    instance_kill,
    instance_running,
    instance_start,
)
from amm.state import FillLeg, OrderEntry
from tests.amm.conftest import redis_sends, seed_market
from tests.amm.runtime.support import _stop_deadman_sweeper, rt  # noqa: F401 - fixtures

URL = "/api/amm/v1/metrics"
TOKEN = "scrape-token-0123456789abcdef"

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def token(settings):
    settings.AMM_METRICS_TOKEN = TOKEN
    settings.AMM_ALERT_WEBHOOK_URL = ""  # alerts raised here notify nobody
    return TOKEN


def scrape(client, token: str) -> dict:
    response = client.get(URL, HTTP_AUTHORIZATION=f"Bearer {token}")
    assert response.status_code == 200, response.content
    assert response["Content-Type"].startswith("text/plain")
    return {family.name: family for family in text_string_to_metric_families(response.content.decode())}


def value(families: dict, family: str, sample: str | None = None, **labels: str) -> float | None:
    """The value of the one sample of `family` named `sample` (default: the family's name)
    whose labels include `labels`; None when there is none."""
    found = [s.value for s in families[family].samples
             if s.name == (sample or family) and labels.items() <= s.labels.items()]
    assert len(found) <= 1, (family, labels, found)
    return found[0] if found else None


def order(oid: str, side: str, direction: str, price: int, book_type: str, qty: int = 10) -> OrderEntry:
    return OrderEntry(oid, side, direction, price, qty, qty, book_type, 1_000)


def running(market_id: str) -> None:
    instance_enable(market_id=market_id, actor="test")
    instance_start(market_id=market_id, actor="test")
    instance_running(market_id=market_id)


def test_metrics_report_the_markets_seeded_in_redis_and_the_database(client, redis_conn, token):
    # M-A: RUNNING, two bids (YES-view 40 and 48) and two asks (55 and 58), two fills.
    running("M-A")
    seed_market("M-A", yes=30, no=20, orders=[
        order("a1", "YES", "BUY", 40, "NATIVE_BUY"), order("a2", "NO", "SELL", 52, "SYNTHETIC_BUY"),
        order("a3", "NO", "BUY", 45, "SYNTHETIC_SELL"), order("a4", "YES", "SELL", 58, "NATIVE_SELL")])
    for trade_id in (101, 102):  # a fill of an order not tracked: inventory and counters only
        assert state.fill_apply("M-A", trade_id=trade_id, legs=[FillLeg("x1", "YES", "BUY", 40, 5, 0, "NATIVE_BUY")])
    state.state_update("M-A", inventory_skew=0.25, daily_pnl_cents=-150, fair_price_cents=52,
                       last_requote_ms=state.now_ms() - 2_500)
    # M-B: killed (EMERGENCY, defense KILL_SWITCH), no quotes, never requoted.
    running("M-B")
    seed_market("M-B", cash=90_000)
    instance_kill(market_id="M-B", actor="ops", reason="test")
    rejected = alert_raise(type=AlertType.ORDER_REJECTED, severity=AlertSeverity.WARNING, market_id="M-A")
    alert_acknowledge(alert_id=rejected.pk, actor="ops")
    alert_raise(type=AlertType.ORDER_REJECTED, severity=AlertSeverity.WARNING, market_id="M-A")
    now = timezone.now()
    ReconciliationRun.objects.create(market_id="M-A", started_at=now - timezone.timedelta(minutes=5),
                                     finished_at=now - timezone.timedelta(minutes=5), verdict="CRITICAL",
                                     rebuilt=True, diffs={"yes_volume": 9, "cash": 700})
    ReconciliationRun.objects.create(market_id="M-A", started_at=now, finished_at=now, verdict="WARNING",
                                     rebuilt=False, diffs={"trigger": "periodic", "yes_volume": 1, "no_volume": 0,
                                                           "cash": 3, "beyond_tolerance": []})
    state.cycle_commit("M-A", latency_s=0.03, outcome="quoted")
    state.cycle_commit("M-A", latency_s=0.04, outcome="quoted")
    state.cycle_commit("M-A", latency_s=0.2, outcome="unchanged")
    state.cycle_end(now=state.now_ms(), outcome="rate_limited", latency_s=12.0)

    m = scrape(client, token)

    # quotes per side, best price, spread (YES view)
    assert value(m, "amm_quotes_live", market_id="M-A", side="bid") == 2
    assert value(m, "amm_quotes_live", market_id="M-A", side="ask") == 2
    assert value(m, "amm_quote_best_price_cents", market_id="M-A", side="bid") == 48
    assert value(m, "amm_quote_best_price_cents", market_id="M-A", side="ask") == 55
    assert value(m, "amm_quote_spread_cents", market_id="M-A") == 7
    assert value(m, "amm_quotes_live", market_id="M-B", side="bid") == 0
    assert value(m, "amm_quote_best_price_cents", market_id="M-B", side="bid") is None
    assert value(m, "amm_quote_spread_cents", market_id="M-B") is None
    # inventory, cash, PnL, fills
    assert value(m, "amm_inventory_shares", market_id="M-A", share="YES") == 40
    assert value(m, "amm_inventory_shares", market_id="M-A", share="NO") == 20
    assert value(m, "amm_inventory_skew", market_id="M-A") == 0.25
    assert value(m, "amm_fair_price_cents", market_id="M-A") == 52
    for market_id in ("M-A", "M-B"):
        assert value(m, "amm_cash_cents", market_id=market_id) == state.inventory_get(market_id).cash_cents
    assert value(m, "amm_daily_pnl_cents", market_id="M-A") == -150
    assert value(m, "amm_fills_today", market_id="M-A") == 2
    assert value(m, "amm_fills", "amm_fills_total", market_id="M-A") == 2
    assert value(m, "amm_fills", "amm_fills_total", market_id="M-B") == 0
    assert 2.5 <= value(m, "amm_last_requote_age_seconds", market_id="M-A") < 600
    assert value(m, "amm_last_requote_age_seconds", market_id="M-B") is None
    # the state machines, from the database
    assert value(m, "amm_lifecycle", market_id="M-A", amm_lifecycle="RUNNING") == 1
    assert value(m, "amm_lifecycle", market_id="M-B", amm_lifecycle="EMERGENCY") == 1
    assert value(m, "amm_lifecycle", market_id="M-B", amm_lifecycle="RUNNING") == 0
    assert value(m, "amm_kill_switch", market_id="M-B", amm_kill_switch="ON") == 1
    assert value(m, "amm_kill_switch", market_id="M-A", amm_kill_switch="ON") == 0
    assert value(m, "amm_defense_level", market_id="M-B", amm_defense_level="KILL_SWITCH") == 1
    assert value(m, "amm_defense_level", market_id="M-A", amm_defense_level="NORMAL") == 1
    assert value(m, "amm_phase", market_id="M-A", amm_phase="EXPLORATION") == 1
    # alerts by type and severity: open and total
    assert value(m, "amm_alerts_open", type="ORDER_REJECTED", severity="WARNING") == 1
    assert value(m, "amm_alerts", "amm_alerts_total", type="ORDER_REJECTED", severity="WARNING") == 2
    assert value(m, "amm_alerts_open", type="KILL_SWITCH", severity="CRITICAL") == 1
    assert value(m, "amm_alerts", "amm_alerts_total", type="KILL_SWITCH", severity="CRITICAL") == 1
    assert value(m, "amm_alerts_open", type="SYNC_FAILED", severity="CRITICAL") == 0
    # reconciliation: the latest run per market
    assert value(m, "amm_reconciliation_verdict", market_id="M-A", amm_reconciliation_verdict="WARNING") == 1
    assert value(m, "amm_reconciliation_verdict", market_id="M-A", amm_reconciliation_verdict="CRITICAL") == 0
    assert value(m, "amm_reconciliation_diff", market_id="M-A", field="yes_volume") == 1
    assert value(m, "amm_reconciliation_diff", market_id="M-A", field="cash") == 3
    assert value(m, "amm_reconciliation_rebuilt", market_id="M-A") == 0
    assert value(m, "amm_reconciliation_last_run_timestamp_seconds", market_id="M-A") == pytest.approx(
        now.timestamp())
    assert value(m, "amm_reconciliation_verdict", market_id="M-B", amm_reconciliation_verdict="OK") is None
    # the cycle-latency histogram, per outcome (cumulative buckets)
    h = "amm_quote_cycle_duration_seconds"
    assert value(m, h, f"{h}_count", outcome="quoted") == 2
    assert value(m, h, f"{h}_sum", outcome="quoted") == pytest.approx(0.07)
    assert value(m, h, f"{h}_bucket", outcome="quoted", le="0.025") == 0
    assert value(m, h, f"{h}_bucket", outcome="quoted", le="0.05") == 2
    assert value(m, h, f"{h}_bucket", outcome="quoted", le="+Inf") == 2
    assert value(m, h, f"{h}_bucket", outcome="unchanged", le="0.1") == 0
    assert value(m, h, f"{h}_bucket", outcome="unchanged", le="0.25") == 1
    assert value(m, h, f"{h}_bucket", outcome="rate_limited", le="10.0") == 0
    assert value(m, h, f"{h}_bucket", outcome="rate_limited", le="+Inf") == 1


def test_an_empty_installation_still_exposes_every_family(client, redis_conn, token):
    m = scrape(client, token)
    h = "amm_quote_cycle_duration_seconds"
    assert value(m, h, f"{h}_count", outcome="quoted") == 0
    assert value(m, "amm_alerts_open", type="KILL_SWITCH", severity="CRITICAL") == 0
    assert {"amm_lifecycle", "amm_quotes_live", "amm_fills", "amm_reconciliation_verdict"} <= set(m)


def _user(username: str, *, staff: bool, perm: bool = False) -> User:
    user = User.objects.create_user(username=username, password="pw-0123456789", is_staff=staff)
    if perm:
        user.user_permissions.add(Permission.objects.get(content_type__app_label="amm", codename="view_amminstance"))
    return user


def test_who_may_read_the_metrics(client, redis_conn, settings):
    settings.AMM_METRICS_TOKEN = ""
    anonymous = client.get(URL)
    assert anonymous.status_code == 401 and anonymous.json()["error"] == "NOT_AUTHENTICATED"
    assert anonymous["WWW-Authenticate"].startswith("Bearer")
    assert client.get(URL, HTTP_AUTHORIZATION=f"Bearer {TOKEN}").status_code == 401  # token access off

    client.force_login(_user("trader", staff=False, perm=True))
    assert client.get(URL).status_code == 403  # not staff
    client.force_login(_user("staff", staff=True))
    denied = client.get(URL)
    assert denied.status_code == 403 and denied.json()["error"] == "FORBIDDEN"  # staff without the permission
    client.force_login(_user("operator", staff=True, perm=True))
    assert client.get(URL).status_code == 200
    client.logout()

    settings.AMM_METRICS_TOKEN = TOKEN
    assert client.get(URL, HTTP_AUTHORIZATION=f"Bearer {TOKEN}").status_code == 200
    wrong = client.get(URL, HTTP_AUTHORIZATION=f"Bearer {TOKEN}x")
    assert wrong.status_code == 401 and wrong.json()["error"] == "INVALID_TOKEN"
    assert client.get(URL, HTTP_AUTHORIZATION=f"Token {TOKEN}").status_code == 401
    posted = client.post(URL, HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
    assert posted.status_code == 405 and posted.json()["error"] == "METHOD_NOT_ALLOWED"


def _cost(client, token, monkeypatch) -> tuple[int, int, dict]:
    sends = redis_sends(monkeypatch)
    with CaptureQueriesContext(connection) as queries:
        m = scrape(client, token)
    monkeypatch.undo()
    return len(queries), len(sends), m


def test_a_scrape_costs_the_same_for_2_and_20_markets(client, redis_conn, token, monkeypatch):
    for i in range(20):
        instance_enable(market_id=f"M-{i:02d}", actor="test")
        seed_market(f"M-{i:02d}", orders=[order(f"o{i}", "YES", "BUY", 40, "NATIVE_BUY")])
        alert_raise(type=AlertType.ORDER_REJECTED, severity=AlertSeverity.WARNING, market_id=f"M-{i:02d}")
        ReconciliationRun.objects.create(market_id=f"M-{i:02d}", started_at=timezone.now(),
                                         finished_at=timezone.now(), verdict="OK", diffs={"cash": 0})
    from amm.models import AMMInstance

    kept = AMMInstance.objects.filter(market_id__in=["M-00", "M-01"])
    others = list(AMMInstance.objects.exclude(pk__in=kept).values_list("market_id", flat=True))
    AMMInstance.objects.filter(market_id__in=others).delete()
    queries_2, trips_2, m2 = _cost(client, token, monkeypatch)
    assert {s.labels["market_id"] for s in m2["amm_quotes_live"].samples} == {"M-00", "M-01"}

    for market_id in others:
        instance_enable(market_id=market_id, actor="test")
    queries_20, trips_20, m20 = _cost(client, token, monkeypatch)
    assert len({s.labels["market_id"] for s in m20["amm_quotes_live"].samples}) == 20
    assert (queries_20, trips_20) == (queries_2, trips_2)
    assert (queries_2, trips_2) == (2, 1)  # instances with their latest run, alerts; one pipeline


def test_a_quote_cycle_is_counted_in_the_latency_histogram_over_http(rt, token):
    """A real cycle quoting against the platform, then a scrape over real HTTP (the live
    server): the quoted cycle is in the histogram, its quotes and inventory in the gauges."""
    from amm.runtime.cycle import quote_cycle

    rt.start()
    result = quote_cycle(rt.market_id, reason="start")
    assert result.outcome == "quoted", result
    response = httpx.get(f"{rt.url}{URL}", headers={"Authorization": f"Bearer {token}"}, timeout=10)
    assert response.status_code == 200, response.text
    m = {f.name: f for f in text_string_to_metric_families(response.text)}
    h = "amm_quote_cycle_duration_seconds"
    assert value(m, h, f"{h}_count", outcome="quoted") == 1
    assert 0 < value(m, h, f"{h}_sum", outcome="quoted")
    orders = state.orders_get(rt.market_id)
    bids = sum(1 for o in orders.values() if o.book_type in ("NATIVE_BUY", "SYNTHETIC_BUY"))
    assert value(m, "amm_quotes_live", market_id=rt.market_id, side="bid") == bids > 0
    assert value(m, "amm_quotes_live", market_id=rt.market_id, side="ask") == len(orders) - bids > 0
    inventory = state.inventory_get(rt.market_id)
    assert value(m, "amm_inventory_shares", market_id=rt.market_id, share="YES") == inventory.yes_volume
    assert value(m, "amm_lifecycle", market_id=rt.market_id, amm_lifecycle="RUNNING") == 1
    assert value(m, "amm_last_requote_age_seconds", market_id=rt.market_id) >= 0


def test_a_cycle_that_quotes_nothing_is_counted_under_its_outcome(redis_conn, token, client):
    """An instance that is not running: its cycle ends `idle`, counted in the same round trip
    as the run's heartbeat (state.cycle_end)."""
    from amm.runtime.cycle import quote_cycle

    instance_enable(market_id="M-IDLE", actor="test")
    assert quote_cycle("M-IDLE").outcome == "idle"
    m = scrape(client, token)
    h = "amm_quote_cycle_duration_seconds"
    assert value(m, h, f"{h}_count", outcome="idle") == 1
    assert value(m, h, f"{h}_count", outcome="quoted") == 0
