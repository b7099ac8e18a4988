"""The operator dashboard (SPEC §9) through Django's test client against real PostgreSQL and
Redis: who may see it, what its data endpoint answers and in which order, its history, and
what one answer costs (SQL queries, Redis round trips) whatever the number of markets."""
from __future__ import annotations

import pytest
from django.contrib.auth.models import Permission
from django.contrib.staticfiles import finders
from django.db import connection
from django.templatetags.static import static
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from amm import state
from amm.models import Alert
from amm.runtime.history_sampler import history_sample
from tests.amm.dashboard.support import market, order, redis_round_trips

pytestmark = pytest.mark.django_db

PAGE = "/amm/dashboard/"
DATA = "/amm/dashboard/data"
STATIC = ("amm/dashboard.js", "amm/dashboard.css", "amm/vendor/uplot/uPlot.iife.min.js",
          "amm/vendor/uplot/uPlot.min.css")


@pytest.fixture
def operator(django_user_model):
    user = django_user_model.objects.create_user("viewer", password="x", is_staff=True)
    user.user_permissions.add(Permission.objects.get(codename="view_amminstance", content_type__app_label="amm"))
    return user


@pytest.fixture
def operator_client(client, operator):
    client.force_login(operator)
    return client


# --- access ----------------------------------------------------------------------------------
def test_the_urls_are_the_documented_ones():
    assert reverse("amm_dashboard:dashboard") == PAGE
    assert reverse("amm_dashboard:data") == DATA


def test_anonymous_is_sent_to_the_admin_login_and_the_data_refused(client, redis_conn):
    page = client.get(PAGE)
    assert page.status_code == 302
    assert page["Location"] == f"{reverse('admin:login')}?next={PAGE}"
    data = client.get(DATA)
    assert data.status_code == 403 and "Log in" in data.json()["detail"]


def test_staff_without_the_view_permission_is_refused(client, django_user_model, redis_conn):
    client.force_login(django_user_model.objects.create_user("staff", password="x", is_staff=True))
    assert client.get(PAGE).status_code == 403
    data = client.get(DATA)
    assert data.status_code == 403 and "amm.view_amminstance" in data.json()["detail"]


def test_a_user_with_the_permission_but_not_staff_is_sent_to_login(client, django_user_model, redis_conn):
    user = django_user_model.objects.create_user("outsider", password="x")
    user.user_permissions.add(Permission.objects.get(codename="view_amminstance", content_type__app_label="amm"))
    client.force_login(user)
    assert client.get(PAGE).status_code == 302
    assert client.get(DATA).status_code == 403


def test_the_page_loads_the_vendored_chart_library_and_its_own_script_and_styles(operator_client, redis_conn):
    page = operator_client.get(PAGE)
    assert page.status_code == 200
    html = page.content.decode()
    for path in STATIC:
        assert static(path) in html, path
    assert f'data-url="{DATA}"' in html
    assert "cdn" not in html.lower()  # offline machines: nothing fetched from elsewhere


def test_the_static_files_exist_and_the_vendored_library_keeps_its_license():
    for path in STATIC:
        assert finders.find(path), path
    with open(finders.find("amm/vendor/uplot/uPlot.iife.min.js")) as f:
        assert f.read(64).startswith("/*! https://github.com/leeoniya/uPlot")
    with open(finders.find("amm/vendor/uplot/LICENSE")) as f:
        assert "MIT License" in f.read()
    with open(finders.find("amm/dashboard.js")) as f:
        script = f.read()
    assert "uPlot" in script and "since=" in script  # charts with the vendored library, incremental history


def test_the_admin_links_to_the_dashboard_for_those_who_may_see_it(client, operator, django_user_model, redis_conn):
    client.force_login(operator)
    assert f'href="{PAGE}"' in client.get(reverse("admin:index")).content.decode()
    client.force_login(django_user_model.objects.create_user("staff", password="x", is_staff=True))
    assert f'href="{PAGE}"' not in client.get(reverse("admin:index")).content.decode()


# --- what the data says -------------------------------------------------------------------------
def test_the_data_has_every_markets_figures_from_redis_and_the_database(operator_client, redis_conn):
    now = state.now_ms()
    market("M-OK", phase="STABILIZATION", yes=1200, no=800, orders=[
        order("b1", "YES", "BUY", 51, 60, "NATIVE_BUY"),
        order("b2", "NO", "SELL", 47, 25, "SYNTHETIC_BUY"),  # SELL NO at 47: a YES-view bid at 53
        order("a1", "YES", "SELL", 55, 30, "NATIVE_SELL"),
        order("a2", "NO", "BUY", 44, 10, "SYNTHETIC_SELL"),  # BUY NO at 44: a YES-view ask at 56
    ], redis_state={"fair_price_cents": 54, "sigma_cents": 2.5, "inventory_skew": 0.2, "daily_pnl_cents": -1234,
                    "total_fills_today": 17, "last_requote_ms": now - 500})
    market("M-STOP", lifecycle="STOPPED", in_redis=False)

    body = operator_client.get(DATA).json()

    rows = {row["market_id"]: row for row in body["markets"]}
    assert set(rows) == {"M-OK", "M-STOP"}
    ok = rows["M-OK"]
    assert (ok["fair"], ok["bid"], ok["bid_qty"], ok["ask"], ok["ask_qty"]) == (54, 53, 25, 55, 30)
    assert (ok["yes"], ok["no"], ok["skew"], ok["pnl_cents"], ok["fills_today"]) == (1200, 800, 0.2, -1234, 17)
    assert (ok["lifecycle"], ok["phase"], ok["defense"], ok["kill_switch"]) == ("RUNNING", "STABILIZATION",
                                                                                "NORMAL", "OFF")
    assert ok["orders"] == 4 and ok["market_status"] == "ACTIVE" and ok["has_state"]
    assert 500 <= ok["requote_age_ms"] < 60_000
    assert ok["flags"] == [] and ok["level"] == "ok"
    stop = rows["M-STOP"]
    assert stop["lifecycle"] == "STOPPED" and stop["fair"] is None and stop["level"] == "idle"
    summary = body["summary"]
    assert summary["markets"] == 2 and summary["lifecycles"] == {"RUNNING": 1, "STOPPED": 1}
    assert summary["pnl_cents"] == -1234 and summary["fills_today"] == 17 and summary["orders"] == 4
    assert summary["scheduler_age_ms"] is None  # no run_amm heartbeat in Redis


def test_markets_that_need_attention_come_first_most_urgent_first(operator_client, redis_conn):
    now = state.now_ms()
    fresh = {"last_requote_ms": now - 200, "fair_price_cents": 50, "inventory_skew": 0.1}
    market("A-OK", redis_state=fresh)
    market("B-STOPPED", lifecycle="STOPPED", redis_state=fresh)
    market("C-WARN", redis_state=fresh)
    Alert.objects.create(type="UNKNOWN_ORDER_OUTCOME", severity="WARNING", market_id="C-WARN")
    market("D-SKEW", redis_state={**fresh, "inventory_skew": -0.7})
    market("E-STALE", redis_state={**fresh, "last_requote_ms": now - 60_000})
    market("F-WIDEN", defense="WIDEN", redis_state=fresh)
    market("G-ONE-SIDE", defense="ONE_SIDE", redis_state=fresh)
    market("H-CRITICAL", redis_state=fresh)
    Alert.objects.create(type="INVENTORY_DRIFT_CRITICAL", severity="CRITICAL", market_id="H-CRITICAL")
    Alert.objects.create(type="INVENTORY_DRIFT_CRITICAL", severity="CRITICAL", market_id="A-OK", acknowledged=True)
    market("I-DEFENSE-KILL", defense="KILL_SWITCH", redis_state=fresh)
    market("J-EMERGENCY", lifecycle="EMERGENCY", redis_state=fresh)
    state.runtime_update("J-EMERGENCY", emergency_cause="SUSPENDED")
    market("K-KILL-SWITCH", lifecycle="EMERGENCY", defense="KILL_SWITCH", kill_switch="ON", redis_state=fresh)

    body = operator_client.get(DATA).json()

    order_ = [row["market_id"] for row in body["markets"]]
    assert order_ == ["K-KILL-SWITCH", "J-EMERGENCY", "I-DEFENSE-KILL", "H-CRITICAL", "G-ONE-SIDE", "F-WIDEN",
                      "E-STALE", "D-SKEW", "C-WARN", "A-OK", "B-STOPPED"]
    rows = {row["market_id"]: row for row in body["markets"]}
    assert [f["code"] for f in rows["K-KILL-SWITCH"]["flags"]] == ["kill_switch", "emergency", "defense_kill"]
    assert rows["J-EMERGENCY"]["flags"][0]["detail"] == "emergency: SUSPENDED"
    assert rows["E-STALE"]["flags"][0]["label"].startswith("STALE 60")
    assert rows["D-SKEW"]["flags"][0]["label"] == "SKEW -0.70"
    assert rows["H-CRITICAL"]["alerts_critical"] == 1 and rows["A-OK"]["alerts_critical"] == 0  # acknowledged
    assert [rows[m]["level"] for m in order_] == ["critical"] * 4 + ["warning"] * 3 + ["watch"] * 2 + ["ok", "idle"]
    assert body["summary"]["attention"] == 7
    assert (body["summary"]["alerts_critical"], body["summary"]["alerts_warning"]) == (1, 1)


def test_a_driven_market_redis_does_not_know_is_flagged(operator_client, redis_conn):
    market("GONE", in_redis=False)
    row = operator_client.get(DATA).json()["markets"][0]
    assert row["has_state"] is False and [f["code"] for f in row["flags"]] == ["no_state"]


def test_since_must_be_whole_seconds(operator_client, redis_conn):
    answer = operator_client.get(DATA, {"since": "yesterday"})
    assert answer.status_code == 400 and "since" in answer.json()["detail"]


# --- history ------------------------------------------------------------------------------------------
def test_the_data_carries_the_sampled_history_and_since_sends_only_what_is_new(operator_client, redis_conn):
    market("H-1", yes=300, no=100, orders=[order("b", "YES", "BUY", 40, 5, "NATIVE_BUY")],
           redis_state={"fair_price_cents": 42, "inventory_skew": 0.5, "daily_pnl_cents": 70})
    t0 = state.now_ms() - 20_000
    history_sample(["H-1"], now_ms=t0)
    state.state_update("H-1", fair_price_cents=44)
    history_sample(["H-1"], now_ms=t0 + 10_000)

    history = operator_client.get(DATA).json()["markets"][0]["history"]
    assert history["t"] == [t0 // 1000, t0 // 1000 + 10]
    assert history["fair"] == [42, 44] and history["bid"] == [40, 40] and history["ask"] == [None, None]
    assert history["yes"] == [300, 300] and history["no"] == [100, 100]
    assert history["skew"] == [0.5, 0.5] and history["pnl"] == [70, 70]

    newer = operator_client.get(DATA, {"since": t0 // 1000}).json()["markets"][0]["history"]
    assert newer["t"] == [t0 // 1000 + 10] and newer["fair"] == [44]


def test_the_first_answer_thins_an_hour_to_a_chart_and_later_ones_send_every_sample(operator_client, redis_conn,
                                                                                    settings):
    from amm.dashboard.selectors import HISTORY_POINTS

    market("LONG", redis_state={"fair_price_cents": 50})
    start = state.now_ms() - 3_600_000
    samples = 3 * HISTORY_POINTS
    for i in range(samples):
        history_sample(["LONG"], now_ms=start + i * 10_000)
    newest = (start + (samples - 1) * 10_000) // 1000

    first = operator_client.get(DATA).json()["markets"][0]["history"]
    assert len(first["t"]) == HISTORY_POINTS and first["t"][-1] == newest and first["step_s"] == 30
    assert {b - a for a, b in zip(first["t"], first["t"][1:])} == {30}

    later = operator_client.get(DATA, {"since": newest - 60}).json()["markets"][0]["history"]
    assert later["t"] == [newest - 50, newest - 40, newest - 30, newest - 20, newest - 10, newest]
    assert later["step_s"] == 10


# --- cost ---------------------------------------------------------------------------------------------
def _many(count: int) -> None:
    now = state.now_ms()
    ids = []
    for i in range(count):
        m = f"N-{count}-{i:03d}"
        market(m, lifecycle="EMERGENCY" if i % 3 == 0 else "RUNNING", yes=10 * i, no=5 * i,
               orders=[order(f"{m}-b", "YES", "BUY", 40, 5, "NATIVE_BUY"), order(f"{m}-a", "NO", "BUY", 55, 5,
                                                                                 "SYNTHETIC_SELL")],
               redis_state={"fair_price_cents": 42, "last_requote_ms": now, "inventory_skew": 0.1})
        if i % 4 == 0:
            Alert.objects.create(type="ORDER_REJECTED", severity="WARNING", market_id=m)
        ids.append(m)
    for k in range(3):
        history_sample(ids, now_ms=now - (3 - k) * 10_000)


def _cost(client, **params) -> tuple[int, int, int]:
    with CaptureQueriesContext(connection) as queries, redis_round_trips() as trips:
        answer = client.get(DATA, params)
    assert answer.status_code == 200
    amm_queries = [q["sql"] for q in queries.captured_queries if '"amm_' in q["sql"]]
    return len(queries.captured_queries), len(amm_queries), trips["n"]


@pytest.mark.parametrize("params", [{}, {"since": "1"}], ids=["whole-hour", "since"])
def test_one_answer_costs_the_same_for_3_markets_as_for_30(operator_client, redis_conn, params):
    _many(3)
    few = _cost(operator_client, **params)
    assert len(operator_client.get(DATA).json()["markets"]) == 3
    _many(27)
    many = _cost(operator_client, **params)
    body = operator_client.get(DATA, params).json()
    assert len(body["markets"]) == 30 and all(len(row["history"]["t"]) == 3 for row in body["markets"])
    assert few == many
    total, amm, trips = many
    assert amm == 2  # the instances; open alerts counted per market and severity
    assert trips == 1  # state, orders, inventory, history of every market and the heartbeat: one pipeline
