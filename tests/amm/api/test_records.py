"""State-machine histories, alerts (filters, acknowledge) and reconciliation runs."""
from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from amm.models import Alert, ReconciliationRun
from amm.services import alert_raise, defense_level_set, instance_kill, instance_resume, phase_transition
from tests.amm.api.conftest import BASE, enable, run

pytestmark = pytest.mark.django_db


@pytest.fixture
def market(redis_conn) -> str:
    market_id = enable("MKT-HIST")
    run(market_id)
    phase_transition(market_id=market_id, to_phase="STABILIZATION", reason="VOLUME_REACHED", timestamp_ms=1_000)
    defense_level_set(market_id=market_id, level="WIDEN", reason="skew 0.85", timestamp_ms=2_000)
    instance_kill(market_id=market_id, actor="operator:bob", reason="news")  # timestamped now, after the start
    instance_resume(market_id=market_id, actor="operator:carol", reason="all clear")
    enable("MKT-OTHER")
    return market_id


def test_phase_history(viewer, market):
    rows = viewer.get(f"{BASE}/instances/{market}/phase-history").json()["results"]
    assert [(r["from_phase"], r["to_phase"], r["reason"], r["timestamp_ms"]) for r in rows] == [
        ("EXPLORATION", "STABILIZATION", "VOLUME_REACHED", 1_000)]


def test_defense_history_newest_first_with_who_and_why(viewer, market):
    rows = viewer.get(f"{BASE}/instances/{market}/defense-history").json()["results"]
    assert [(r["from_level"], r["to_level"], r["actor"]) for r in rows] == [
        ("KILL_SWITCH", "NORMAL", "operator:carol"),
        ("WIDEN", "KILL_SWITCH", "operator:bob"),
        ("NORMAL", "WIDEN", "strategy"),
    ]
    assert (rows[2]["reason"], rows[2]["timestamp_ms"]) == ("skew 0.85", 2_000)


def test_lifecycle_and_kill_switch_histories(viewer, market):
    lifecycle = viewer.get(f"{BASE}/instances/{market}/lifecycle-history").json()["results"]
    assert [(r["from_state"], r["to_state"], r["actor"]) for r in lifecycle] == [
        ("EMERGENCY", "RUNNING", "operator:carol"), ("RUNNING", "EMERGENCY", "operator:bob"),
        ("STARTING", "RUNNING", "system"), ("STOPPED", "STARTING", "test")]
    kills = viewer.get(f"{BASE}/instances/{market}/kill-switch-history").json()
    assert kills["count"] == 2
    assert [(r["from_state"], r["to_state"], r["actor"], r["reason"]) for r in kills["results"]] == [
        ("ON", "OFF", "operator:carol", "all clear"), ("OFF", "ON", "operator:bob", "news")]
    assert viewer.get(f"{BASE}/instances/MKT-OTHER/kill-switch-history").json()["count"] == 0


def test_history_of_an_unknown_market_is_404(viewer, market):
    response = viewer.get(f"{BASE}/instances/NOPE/phase-history")
    assert response.status_code == 404 and response.json()["error"] == "INSTANCE_NOT_FOUND"


@pytest.fixture
def alerts(db):
    made = [
        alert_raise(type="INVENTORY_DRIFT_CRITICAL", severity="CRITICAL", market_id="MKT-1", payload={"cash": 900}),
        alert_raise(type="ORDER_REJECTED", severity="WARNING", market_id="MKT-1"),
        alert_raise(type="SYNC_FAILED", severity="WARNING", market_id="MKT-2"),
        alert_raise(type="KILL_SWITCH", severity="CRITICAL", market_id="MKT-2"),
    ]
    Alert.objects.filter(pk=made[3].pk).update(acknowledged=True, acknowledged_by="api:earlier")
    return made


@pytest.mark.parametrize("query,expected", [
    ("", [3, 2, 1, 0]),
    ("market=MKT-1", [1, 0]),
    ("severity=CRITICAL", [3, 0]),
    ("acknowledged=false", [2, 1, 0]),
    ("acknowledged=true", [3]),
    ("type=SYNC_FAILED", [2]),
    ("market=MKT-2&severity=WARNING&acknowledged=false", [2]),
    ("market=MKT-9", []),
])
def test_alert_filters(viewer, alerts, query, expected):
    body = viewer.get(f"{BASE}/alerts?{query}").json()
    assert [row["id"] for row in body["results"]] == [alerts[i].id for i in expected]
    assert body["count"] == len(expected)


@pytest.mark.parametrize("query,field", [("severity=LOUD", "severity"), ("acknowledged=yes", "acknowledged"),
                                         ("type=NOPE", "type")])
def test_alert_filter_values_are_checked(viewer, alerts, query, field):
    response = viewer.get(f"{BASE}/alerts?{query}")
    assert response.status_code == 400
    assert response.json()["error"] == "INVALID_INPUT" and response.json()["field"] == field


def test_alert_payload_is_shown(viewer, alerts):
    row = viewer.get(f"{BASE}/alerts?type=INVENTORY_DRIFT_CRITICAL").json()["results"][0]
    assert row["payload"] == {"cash": 900} and row["acknowledged"] is False and row["acknowledged_at"] is None


def test_acknowledge_records_who_and_is_idempotent(api, alerts):
    from tests.amm.api.conftest import client_for, make_user

    alice = make_user("amm.change_alert", "amm.view_amminstance", username="alice")
    client = client_for(alice)
    response = client.post(f"{BASE}/alerts/{alerts[0].id}/acknowledge")
    assert response.status_code == 200
    body = response.json()
    assert body["acknowledged"] is True and body["acknowledged_by"] == "api:alice" and body["acknowledged_at"]
    first = Alert.objects.get(pk=alerts[0].pk)
    assert (first.acknowledged, first.acknowledged_by) == (True, "api:alice")

    bob = client_for(make_user("amm.change_alert", username="bob"))
    again = bob.post(f"{BASE}/alerts/{alerts[0].id}/acknowledge").json()
    assert again["acknowledged_by"] == "api:alice"  # the first acknowledgement stands
    assert Alert.objects.get(pk=alerts[0].pk).acknowledged_at == first.acknowledged_at
    assert [r["id"] for r in client.get(f"{BASE}/alerts?acknowledged=false").json()["results"]] == [
        alerts[2].id, alerts[1].id]


def test_acknowledging_an_unknown_alert_is_404(api, alerts):
    response = api("amm.change_alert").post(f"{BASE}/alerts/999999/acknowledge")
    assert response.status_code == 404 and response.json()["error"] == "NOT_FOUND"


@pytest.fixture
def runs(db):
    now = timezone.now()

    def made(market_id: str, verdict: str, minutes_ago: int) -> ReconciliationRun:
        at = now - dt.timedelta(minutes=minutes_ago)
        return ReconciliationRun.objects.create(market_id=market_id, started_at=at, finished_at=at, verdict=verdict,
                                                diffs={"yes_volume": 0}, rebuilt=verdict == "CRITICAL")

    return [made("MKT-1", "OK", 15), made("MKT-1", "CRITICAL", 10), made("MKT-2", "WARNING", 5)]


@pytest.mark.parametrize("query,expected", [
    ("", [2, 1, 0]), ("market=MKT-1", [1, 0]), ("verdict=CRITICAL", [1]), ("market=MKT-2&verdict=OK", []),
])
def test_reconciliation_runs_filters(viewer, runs, query, expected):
    body = viewer.get(f"{BASE}/reconciliation-runs?{query}").json()
    assert [row["id"] for row in body["results"]] == [runs[i].id for i in expected]


def test_reconciliation_run_fields_and_bad_verdict(viewer, runs):
    row = viewer.get(f"{BASE}/reconciliation-runs?verdict=CRITICAL").json()["results"][0]
    assert (row["market_id"], row["rebuilt"], row["diffs"]) == ("MKT-1", True, {"yes_volume": 0})
    response = viewer.get(f"{BASE}/reconciliation-runs?verdict=FINE")
    assert response.status_code == 400 and response.json()["field"] == "verdict"
