"""Health: 200 when the database, Redis, the platform, the quote loops and the fill feed are
fine, 503 naming the failing check otherwise; anonymous callers see only ok / failing."""
from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from amm import state
from amm.models import AMMInstance
from amm.runtime.feed import feed_loop
from amm.services import config_update
from tests.amm.api.conftest import BASE, VIEW, client_for, enable, make_user, run
from tests.amm.runtime.harness import free_port

pytestmark = pytest.mark.django_db(transaction=True)

CHECKS = ["database", "redis", "platform", "quote_loops", "fill_feed"]


@pytest.fixture
def healthy(platform, settings) -> str:
    """A RUNNING market that just requoted, and a feed window run against the live platform
    (it records its heartbeat). Its requote interval is 10 s: stale after 30 s, however slow
    the machine is meanwhile."""
    settings.AMM_FILL_WAIT_MS = 50
    settings.AMM_HEALTH_FEED_STALE_MS = 30_000  # (the default 10 s) generous for a slow machine
    settings.AMM_HEALTH_TIMEOUT_MS = 5_000
    market_id = enable(platform.market_id)
    config_update(market_id=market_id, actor="test", requote_interval_ms=10_000)
    run(market_id)
    state.state_update(market_id, last_requote_ms=state.now_ms())
    counters = feed_loop(window_ms=100)
    assert counters["polls"] >= 1 and counters["errors"] == 0, counters
    return market_id


def health(client: APIClient | None = None):
    response = (client or APIClient()).get(f"{BASE}/health")
    return response.status_code, response.json()


def failing(body: dict) -> list[str]:
    return [name for name, check in body["checks"].items() if check["status"] != "ok"]


def viewer():
    return client_for(make_user(VIEW))


def test_healthy_is_200_and_anonymous_callers_see_only_ok(healthy):
    status, body = health()
    assert status == 200, body
    assert body == {"status": "ok", "checks": {name: {"status": "ok"} for name in CHECKS}}


def test_a_viewer_sees_the_details(healthy, settings):
    status, body = health(viewer())
    assert status == 200, body
    checks = body["checks"]
    assert list(checks) == CHECKS
    assert checks["quote_loops"]["data"]["running"] == 1 and checks["quote_loops"]["data"]["stale"] == []
    assert checks["fill_feed"]["data"]["age_ms"] is not None
    assert checks["platform"]["detail"] == settings.AMM_PLATFORM_BASE_URL
    # a user without the view permission is treated as anonymous
    _, body = health(client_for(make_user()))
    assert body["checks"]["platform"] == {"status": "ok"}


def test_redis_down_is_503(healthy, settings):
    settings.REDIS_URL = f"redis://127.0.0.1:{free_port()}/0"  # nothing listens there
    status, body = health()
    assert status == 503
    assert body["status"] == "failing" and body["checks"]["redis"] == {"status": "failing"}
    assert body["checks"]["database"] == {"status": "ok"} and body["checks"]["platform"] == {"status": "ok"}
    _, detailed = health(viewer())
    assert "ConnectionError" in detailed["checks"]["redis"]["detail"]
    assert detailed["checks"]["quote_loops"]["detail"] == "redis unavailable"


def test_platform_unreachable_is_503(healthy, settings):
    settings.AMM_PLATFORM_BASE_URL = f"http://127.0.0.1:{free_port()}"
    status, body = health()
    assert status == 503 and failing(body) == ["platform"], body
    _, detailed = health(viewer())
    assert settings.AMM_PLATFORM_BASE_URL in detailed["checks"]["platform"]["detail"]


def test_a_rejected_platform_key_fails_the_platform_check(healthy, settings):
    settings.AMM_PLATFORM_API_KEY = "not-the-amm-key"
    status, body = health()
    assert status == 503 and failing(body) == ["platform"]


def test_a_running_market_that_stopped_requoting_is_503(healthy):
    old = timezone.now() - dt.timedelta(minutes=5)
    AMMInstance.objects.filter(market_id=healthy).update(updated_at=old)  # running for a while
    state.state_update(healthy, last_requote_ms=state.now_ms() - 60_000)  # 6 intervals ago
    status, body = health()
    assert status == 503 and failing(body) == ["quote_loops"], body
    _, detailed = health(viewer())
    (stale,) = detailed["checks"]["quote_loops"]["data"]["stale"]
    assert stale["market_id"] == healthy and stale["limit_ms"] == 30_000 and stale["age_ms"] >= 60_000

    state.state_update(healthy, last_requote_ms=state.now_ms())  # it requotes again
    assert health()[0] == 200


def test_a_market_just_resumed_is_not_stale_before_its_first_cycle(healthy):
    state.state_update(healthy, last_requote_ms=state.now_ms() - 60_000)  # quiet while paused
    # its instance changed state just now (the resume), so it has 3 intervals from there
    assert health()[0] == 200


def test_a_fill_feed_that_stopped_is_503(healthy):
    state.run_update(feed_ms=state.now_ms() - 120_000)
    status, body = health()
    assert status == 503 and failing(body) == ["fill_feed"], body
    _, detailed = health(viewer())
    assert detailed["checks"]["fill_feed"]["data"]["age_ms"] >= 120_000


def test_a_fill_feed_that_never_ran_is_503_while_a_market_runs(platform, redis_conn):
    market_id = enable(platform.market_id)
    run(market_id)
    status, body = health()
    assert status == 503 and failing(body) == ["fill_feed"]


def test_no_running_market_expects_no_loop_and_no_feed(platform, redis_conn):
    enable(platform.market_id)  # STOPPED
    status, body = health(viewer())
    assert status == 200, body
    assert body["checks"]["fill_feed"]["detail"].startswith("no market RUNNING")
