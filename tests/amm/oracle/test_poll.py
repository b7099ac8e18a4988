"""The poller (amm/runtime/oracle_poll.py) with real Redis, PostgreSQL and a real HTTP source: a
good answer lands in `amm:oracle:{m}`; a failure writes nothing, backs off, and the N-th in
a row raises one ORACLE_FAILED alert (not N); the per-market config is validated."""
from __future__ import annotations

import logging

import pytest
from django.core.exceptions import ValidationError

from amm import state
from amm.models import Alert, AlertSeverity, AlertType, MarketConfig
from amm.oracle import OracleAdapter, OracleQuote
from amm.runtime.oracle_poll import oracle_poll
from amm.services import alert_acknowledge, config_update, instance_enable

pytestmark = pytest.mark.django_db(transaction=True)

M = "MKT-ORC"
NOW = 1_733_500_000_000


@pytest.fixture
def market(redis_conn, oracle_server, settings):
    settings.AMM_ORACLE_ALERT_AFTER_FAILURES = 3
    settings.AMM_ORACLE_BACKOFF_MAX_MS = 0  # every poll asks (the back-off has its own test)
    instance_enable(market_id=M)
    config_update(market_id=M, actor="test", oracle_adapter="http_json", oracle_url_template=oracle_server.template,
                  oracle_json_path="data.probability", oracle_ts_json_path="data.ts_ms", oracle_timeout_ms=1_000)
    return M


def alerts() -> list[Alert]:
    return list(Alert.objects.filter(type=AlertType.ORACLE_FAILED, market_id=M))


def test_a_good_answer_is_written_with_its_cents_timestamp_and_source(market, oracle_server):
    oracle_server.answer(M, {"data": {"probability": 0.634, "ts_ms": NOW - 900}})
    result = oracle_poll(market_id=M, now_ms=NOW)
    assert result.outcome == "ok"
    assert state.oracle_get(M) == {"price_cents": pytest.approx(63.4), "ts_ms": NOW - 900, "source": "http_json"}
    assert state.quote_cycle_read(M).oracle["price_cents"] == pytest.approx(63.4)  # what a cycle reads


def test_a_market_without_an_adapter_is_not_polled(redis_conn, oracle_server):
    instance_enable(market_id=M)  # the defaults: an upgrade changes nothing
    assert MarketConfig.objects.get(instance__market_id=M).oracle_adapter == ""
    assert oracle_poll(market_id=M, now_ms=NOW).outcome == "off"
    assert state.oracle_get(M) is None and oracle_server.requests == []


@pytest.mark.parametrize("how", ["bad json", "out of range", "not a number", "error status", "timeout"])
def test_a_failure_writes_nothing_and_keeps_the_last_reading_to_age(market, oracle_server, how):
    oracle_server.answer(M, {"data": {"probability": 0.5, "ts_ms": NOW - 100}})
    assert oracle_poll(market_id=M, now_ms=NOW).outcome == "ok"
    before = state.oracle_get(M)
    if how == "bad json":
        oracle_server.answer(M, body=b"{not json")
    elif how == "out of range":
        oracle_server.answer(M, {"data": {"probability": 1.2, "ts_ms": NOW}})
    elif how == "not a number":
        oracle_server.answer(M, {"data": {"probability": "high", "ts_ms": NOW}})
    elif how == "error status":
        oracle_server.answer(M, {"data": {"probability": 0.7, "ts_ms": NOW}}, status=502)
    else:
        oracle_server.answer(M, {"data": {"probability": 0.7, "ts_ms": NOW}}, hold=True)
    result = oracle_poll(market_id=M, now_ms=NOW + 2_000)
    assert result.outcome == "failed" and result.failures == 1 and not result.alerted, result
    assert state.oracle_get(M) == before  # nothing written: the old reading goes stale
    health = state.oracle_health_get(M)
    assert health["failures"] == 1 and health["last_error"] == result.error and health["last_error_ms"] == NOW + 2_000


def test_n_failures_in_a_row_raise_one_alert_not_n(market, oracle_server, caplog):
    oracle_server.answer(M, {"detail": "down"}, status=503)
    with caplog.at_level(logging.WARNING, logger="amm"):
        results = [oracle_poll(market_id=M, now_ms=NOW + i * 2_000) for i in range(7)]
    assert [r.failures for r in results] == [1, 2, 3, 4, 5, 6, 7]
    assert [r.alerted for r in results] == [False, False, True, False, False, False, False]
    (alert,) = alerts()
    assert alert.severity == AlertSeverity.WARNING and not alert.acknowledged
    assert alert.payload["adapter"] == "http_json" and alert.payload["failures"] == 3
    assert "HTTP 503" in alert.payload["error"]
    warnings = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(warnings) == 2, [r.getMessage() for r in warnings]  # the first failure, the alert: no flood
    assert state.oracle_get(M) is None


def test_a_recovery_ends_the_run_and_a_new_run_raises_again_only_once_the_alert_is_acknowledged(
        market, oracle_server, caplog):
    oracle_server.answer(M, {}, status=500)
    for i in range(3):
        oracle_poll(market_id=M, now_ms=NOW + i)
    assert len(alerts()) == 1

    oracle_server.answer(M, {"data": {"probability": 0.41, "ts_ms": NOW + 10}})
    with caplog.at_level(logging.INFO, logger="amm.oracle"):
        assert oracle_poll(market_id=M, now_ms=NOW + 10).outcome == "ok"
    assert any("answers again after 3 failed polls" in r.getMessage() for r in caplog.records)
    assert state.oracle_health_get(M)["failures"] == 0

    oracle_server.answer(M, {}, status=500)
    for i in range(4):  # a new run of failures while the first alert is still open: no second alert
        oracle_poll(market_id=M, now_ms=NOW + 20 + i)
    assert len(alerts()) == 1

    alert_acknowledge(alert_id=alerts()[0].pk, actor="ops")
    oracle_server.answer(M, {"data": {"probability": 0.41, "ts_ms": NOW + 30}})
    oracle_poll(market_id=M, now_ms=NOW + 30)
    oracle_server.answer(M, {}, status=500)
    for i in range(3):
        oracle_poll(market_id=M, now_ms=NOW + 40 + i)
    assert [a.acknowledged for a in alerts()] == [False, True]  # newest first: a new one for the new run


def test_a_failing_source_is_asked_less_often(market, oracle_server, settings):
    settings.AMM_ORACLE_BACKOFF_MAX_MS = 10_000
    config_update(market_id=M, actor="test", oracle_poll_interval_ms=1_000)
    oracle_server.answer(M, {}, status=500)
    assert oracle_poll(market_id=M, now_ms=NOW).failures == 1  # next: at the normal interval
    assert oracle_poll(market_id=M, now_ms=NOW + 1_000).failures == 2  # next: 1 s later than usual
    assert oracle_poll(market_id=M, now_ms=NOW + 1_999).outcome == "backoff"
    assert oracle_poll(market_id=M, now_ms=NOW + 2_000).failures == 3  # next: 3 s later
    assert oracle_poll(market_id=M, now_ms=NOW + 4_999).outcome == "backoff"
    assert oracle_poll(market_id=M, now_ms=NOW + 5_000).failures == 4  # next: 7 s later
    assert oracle_poll(market_id=M, now_ms=NOW + 14_000).failures == 5  # capped at 10 s
    assert state.oracle_health_get(M)["retry_at_ms"] == NOW + 24_000
    assert len(oracle_server.requests) == 5

    oracle_server.answer(M, {"data": {"probability": 0.5, "ts_ms": NOW + 24_000}})
    assert oracle_poll(market_id=M, now_ms=NOW + 24_000).outcome == "ok"
    assert state.oracle_health_get(M)["retry_at_ms"] == 0


def test_an_unknown_adapter_in_redis_is_a_failure_not_a_crash(market, oracle_server):
    mapping = state.config_get(M)
    state.config_write(M, {**{k: v for k, v in mapping.items() if k != "version"}, "oracle_adapter": "gone"},
                       version=int(mapping["version"]) + 1)
    result = oracle_poll(market_id=M, now_ms=NOW)
    assert result.outcome == "failed" and "no oracle adapter named 'gone'" in result.error


def test_adapters_named_in_settings_are_used(market, oracle_server, settings):
    settings.AMM_ORACLE_ADAPTERS = {"fixed": "tests.amm.oracle.test_poll.FixedOracle"}
    config_update(market_id=M, actor="test", oracle_adapter="fixed")
    assert oracle_poll(market_id=M, now_ms=NOW).outcome == "ok"
    assert state.oracle_get(M) == {"price_cents": 42.0, "ts_ms": NOW, "source": "fixed"}
    assert oracle_server.requests == []


class FixedOracle(OracleAdapter):
    """An adapter of a project's own, registered by dotted path."""

    def read(self, market_id, config, now_ms):
        return OracleQuote(price_cents=42.0, ts_ms=now_ms, source=self.name)


@pytest.mark.parametrize("changes, field", [
    ({"oracle_adapter": "nope"}, "oracle_adapter"),
    ({"oracle_adapter": "http_json", "oracle_url_template": ""}, "oracle_url_template"),
    ({"oracle_adapter": "http_json", "oracle_json_path": "data..p"}, "oracle_json_path"),
    ({"oracle_unit": "percent"}, "oracle_unit"),
    ({"oracle_poll_interval_ms": 10}, "oracle_poll_interval_ms"),
    ({"oracle_timeout_ms": 60_000}, "oracle_timeout_ms"),
])
def test_a_bad_oracle_config_is_refused_and_changes_nothing(redis_conn, oracle_server, changes, field):
    instance_enable(market_id=M)
    before = state.config_get(M)
    with pytest.raises(ValidationError) as err:
        config_update(market_id=M, actor="test", **{"oracle_url_template": oracle_server.template, **changes})
    assert field in err.value.message_dict
    assert state.config_get(M) == before and MarketConfig.objects.get(instance__market_id=M).version == 1


def test_the_sim_adapter_needs_only_its_url(redis_conn, oracle_server):
    instance_enable(market_id=M)
    config_update(market_id=M, actor="test", oracle_adapter="sim", oracle_url_template=oracle_server.template)
    oracle_server.answer(M, {"probability": 0.634, "ts_ms": NOW - 50})
    assert oracle_poll(market_id=M, now_ms=NOW).outcome == "ok"
    assert state.oracle_get(M) == {"price_cents": pytest.approx(63.4), "ts_ms": NOW - 50, "source": "sim"}
