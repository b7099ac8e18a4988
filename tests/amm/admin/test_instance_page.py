"""The instance page (SPEC §9): read-only state, a live panel of the market's Redis working
state, the newest transitions of its state machines, alerts (acknowledged through the
service, with its own permission) and reconciliation runs."""
from __future__ import annotations

import re

import pytest
from django.utils import timezone

from amm.admin.instances import HISTORY_ROWS
from amm.models import Alert, AlertSeverity, AlertType, ReconciliationRun
from amm.services import alert_raise, instance_kill, instance_resume, instance_running, instance_start
from tests.amm.admin.conftest import VIEW, enable, order, seed_live

pytestmark = pytest.mark.django_db


def _page(instance) -> str:
    return f"/admin/amm/amminstance/{instance.pk}/change/"


def _text(html: str, element_id: str) -> str:
    match = re.search(rf'<(\w+)[^>]* id="{element_id}"[^>]*>(.*?)</\1>', html, re.S)
    assert match, f"no #{element_id}"
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", match.group(2))).strip()


def test_the_page_is_read_only_with_the_live_panel(login, redis_conn):
    instance = enable("MKT-L", budget_cents=250_000)
    seed_live("MKT-L", yes=30, no=10, cash=90_000, orders=[
        order("ord-bid", side="YES", direction="BUY", price=45, qty=10),
        order("ord-ask", side="NO", direction="BUY", price=44, qty=8, remaining=6),  # YES-view ask at 56
    ], fair_price_cents=51, inventory_skew=0.5, daily_pnl_cents=77)
    client, _ = login(VIEW)
    html = client.get(_page(instance)).content.decode()
    assert 'name="_save"' not in html  # nothing on the instance is edited here
    assert _text(html, "live-fair-price") == "51"
    assert (_text(html, "live-best-bid"), _text(html, "live-best-ask")) == ("45 × 10", "56 × 6")
    assert (_text(html, "live-skew"), _text(html, "live-pnl")) == ("0.5", "77")
    assert (_text(html, "live-yes-volume"), _text(html, "live-no-volume"), _text(html, "live-cash")) == (
        "30", "10", "90000")
    assert _text(html, "live-market-status") == "ACTIVE"
    assert _text(html, "live-config-version").startswith("1 / 1")  # Redis and database agree
    orders = _text(html, "live-orders")
    assert "ord-bid" in orders and "ord-ask" in orders
    assert orders.index("ord-ask") < orders.index("ord-bid")  # asks first, then bids (a book's order)
    assert 'id="live-not-synced"' not in html
    assert 'id="config-link">version 1 (edit)</a>' in html and "250000" in html


def test_a_market_never_synced_says_so(login, redis_conn):
    instance = enable("MKT-U")
    client, _ = login(VIEW)
    html = client.get(_page(instance)).content.decode()
    assert 'id="live-not-synced"' in html
    assert _text(html, "live-config-version").startswith("1 / 1")


def test_histories_newest_first_and_bounded(login, redis_conn):
    instance = enable("MKT-H")
    instance_start(market_id="MKT-H", actor="test", now_ms=1_000)
    instance_running(market_id="MKT-H", now_ms=2_000)
    for i in range(HISTORY_ROWS // 2 + 1):  # each round: two kill-switch changes, two lifecycle changes
        instance_kill(market_id="MKT-H", actor="ops", reason=f"kill {i}", now_ms=10_000 + 10 * i)
        instance_resume(market_id="MKT-H", actor="ops", reason=f"resume {i}", now_ms=10_005 + 10 * i)
    client, _ = login(VIEW)
    html = client.get(_page(instance)).content.decode()
    kill = _text(html, "history-killswitchchange-table")
    last = HISTORY_ROWS // 2
    assert kill.count(" ops ") == HISTORY_ROWS  # bounded ...
    assert kill.index(f"resume {last}") < kill.index(f"kill {last}") < kill.index(f"resume {last - 1}")  # newest first
    assert "kill 0" not in kill  # ... the oldest beyond the bound are one link away
    assert '/admin/amm/killswitchchange/?market_id=MKT-H">All kill switch changes</a>' in html
    lifecycle = _text(html, "history-lifecyclechange-table")
    assert "STOPPED STARTING test" not in lifecycle  # beyond the bound as well
    assert _text(html, "history-phasetransition") == "Phase history"
    assert "None yet." in html


def test_alerts_acknowledged_from_the_page_with_their_permission(login, redis_conn):
    instance = enable("MKT-AL")
    alert = alert_raise(type=AlertType.ORDER_REJECTED, severity=AlertSeverity.WARNING, market_id="MKT-AL",
                        payload={"order": "x"})
    other = alert_raise(type=AlertType.SYNC_FAILED, severity=AlertSeverity.CRITICAL, market_id="MKT-OTHER")
    url = f"/admin/amm/amminstance/{instance.pk}/alerts/{alert.pk}/acknowledge/"

    viewer, _ = login(VIEW)
    html = viewer.get(_page(instance)).content.decode()
    assert f'data-alert-id="{alert.pk}"' in html and f'data-alert-id="{other.pk}"' not in html
    assert f'id="acknowledge-alert-{alert.pk}"' not in html
    assert viewer.post(url).status_code == 403
    assert not Alert.objects.get(pk=alert.pk).acknowledged

    client, _ = login(VIEW, "amm.change_alert", name="erin")
    html = client.get(_page(instance)).content.decode()
    assert f'id="acknowledge-alert-{alert.pk}" value="Acknowledge"' in html
    assert client.get(url).status_code == 403  # a GET changes nothing
    wrong_market = f"/admin/amm/amminstance/{instance.pk}/alerts/{other.pk}/acknowledge/"
    assert client.post(wrong_market).status_code == 404
    response = client.post(url)
    assert response.status_code == 302 and response.url == _page(instance) + "#alerts"
    alert.refresh_from_db()
    assert alert.acknowledged and alert.acknowledged_by == "admin:erin"
    assert not Alert.objects.get(pk=other.pk).acknowledged
    assert "by admin:erin" in client.get(_page(instance)).content.decode()


def test_alerts_acknowledged_from_their_list(login, redis_conn):
    alerts = [alert_raise(type=AlertType.KILL_SWITCH, severity=AlertSeverity.CRITICAL, market_id=f"M{i}")
              for i in range(3)]
    viewer, _ = login("amm.view_alert")
    assert '<option value="acknowledge">' not in viewer.get("/admin/amm/alert/").content.decode()
    viewer.post("/admin/amm/alert/", {"action": "acknowledge", "_selected_action": [alerts[0].pk]})
    assert not Alert.objects.filter(acknowledged=True).exists()

    client, _ = login("amm.view_alert", "amm.change_alert", name="fay")
    assert '<option value="acknowledge">' in client.get("/admin/amm/alert/").content.decode()
    client.post("/admin/amm/alert/", {"action": "acknowledge", "_selected_action": [a.pk for a in alerts[:2]]})
    assert set(Alert.objects.filter(acknowledged=True).values_list("pk", "acknowledged_by")) == {
        (alerts[0].pk, "admin:fay"), (alerts[1].pk, "admin:fay")}


def test_reconciliation_runs_on_the_page(login, redis_conn):
    instance = enable("MKT-RC")
    now = timezone.now()
    ReconciliationRun.objects.create(market_id="MKT-RC", started_at=now, finished_at=now, verdict="WARNING",
                                     diffs={"yes_volume": 3}, rebuilt=True, detail="rebuilt from the platform")
    client, _ = login(VIEW)
    table = _text(client.get(_page(instance)).content.decode(), "reconciliation-table")
    assert "WARNING yes" in table and "yes_volume" in table and "rebuilt from the platform" in table


def test_without_redis_the_console_still_lists_and_shows_instances(login, redis_conn, settings):
    instance = enable("MKT-NR")
    seed_live("MKT-NR", fair_price_cents=50)
    client, _ = login(VIEW)
    settings.REDIS_URL = "redis://127.0.0.1:1/0"  # nothing listens there
    listing = client.get("/admin/amm/amminstance/")
    assert listing.status_code == 200
    html = listing.content.decode()
    assert "Redis did not answer (ConnectionError): no live figures" in html and ">MKT-NR</a>" in html
    page = client.get(_page(instance))
    assert page.status_code == 200 and 'id="live-unavailable"' in page.content.decode()
