"""Poller -> Redis -> quote cycle -> fair price, against the platform over HTTP (SPEC §6):
the reading the poller writes is what the strategy sees; a stale one gets L1 weight 0, a
jump is ignored until a reading confirms it; a slow source delays no cycle; and run_amm's
scheduler and workers keep the oracle fresh beside the cycles."""
from __future__ import annotations

import json
import logging
import threading

import pytest

from amm import state
from amm.runtime.oracle_poll import oracle_poll
from amm.runtime.cycle import quote_cycle
from amm.services import config_update
from tests.amm.runtime.support import _stop_deadman_sweeper, rt, wait_until  # noqa: F401 - fixtures

pytestmark = pytest.mark.django_db(transaction=True)


DECIDED = "cycle %s decided %s"  # amm/runtime/cycle.py's DEBUG line: Decision.summary()
_decided: list[logging.LogRecord] = []


class _Decisions(logging.Handler):
    def emit(self, record: logging.LogRecord) -> None:
        if record.msg == DECIDED:
            _decided.append(record)


@pytest.fixture(autouse=True)
def decisions():
    """The cycles' decisions as they log them (at DEBUG: kept in no Redis key), in every thread."""
    logger, handler = logging.getLogger("amm.runtime.cycle"), _Decisions(logging.DEBUG)
    level = logger.level
    logger.setLevel(logging.DEBUG)
    logger.addHandler(handler)
    _decided.clear()
    yield
    logger.removeHandler(handler)
    logger.setLevel(level)


def summary(market_id: str) -> dict:
    """What the last cycle of the market decided (Decision.summary())."""
    record = next((r for r in reversed(list(_decided)) if r.args[0] == market_id), None)
    if record is None:
        raise LookupError(f"no cycle of {market_id} decided anything yet")
    return json.loads(record.args[1])


@pytest.fixture
def fed(rt, oracle_server):
    """The rt market with an HTTP JSON oracle ({"p": ..., "at": ...}); started, not yet quoted."""
    config_update(market_id=rt.market_id, actor="test", oracle_adapter="http_json",
                  oracle_url_template=oracle_server.template, oracle_json_path="p", oracle_ts_json_path="at",
                  oracle_unit="probability", oracle_poll_interval_ms=200)
    rt.start()
    return rt.market_id


def feed_says(oracle_server, market_id: str, probability: float, *, age_ms: int = 0) -> None:
    oracle_server.answer(market_id, {"p": probability, "at": state.now_ms() - age_ms})


def test_the_reading_the_poller_writes_is_the_fair_prices_first_layer(fed, oracle_server):
    feed_says(oracle_server, fed, 0.634)
    assert oracle_poll(market_id=fed).outcome == "ok"
    assert quote_cycle(fed).outcome == "quoted"
    s = summary(fed)
    assert s["oracle_status"] == "OK" and s["layer1_oracle_price"] == pytest.approx(63.4)
    assert s["fair_price_cents"] == 63  # the book holds only the AMM's own quotes; no fills: L1 alone
    assert int(state.state_get(fed)["fair_price_cents"]) == 63


def test_a_stale_reading_gets_no_weight(fed, oracle_server):
    feed_says(oracle_server, fed, 0.80, age_ms=60_000)  # oracle_stale_ms is 30 s
    assert oracle_poll(market_id=fed).outcome == "ok"  # written as it is: staleness is the strategy's call
    quote_cycle(fed)
    s = summary(fed)
    assert s["oracle_status"] == "STALE" and s["layer_weights"][0] == 0
    assert s["fair_price_cents"] == 50  # initial_fair_price_cents: no usable layer


def test_a_jump_is_ignored_until_a_later_reading_confirms_it(fed, oracle_server):
    feed_says(oracle_server, fed, 0.60)
    oracle_poll(market_id=fed)
    quote_cycle(fed)
    assert summary(fed)["fair_price_cents"] == 60

    feed_says(oracle_server, fed, 0.80)  # 20 cents at once; oracle_gap_cents is 5
    oracle_poll(market_id=fed)
    quote_cycle(fed)
    s = summary(fed)
    assert s["oracle_status"] == "JUMP" and s["layer_weights"][0] == 0
    assert s["fair_price_cents"] == 60 and s["defense_level"] == "WIDEN"

    feed_says(oracle_server, fed, 0.81)  # within the gap of the jumped-to reading: confirmed
    oracle_poll(market_id=fed)
    quote_cycle(fed)
    s = summary(fed)
    assert s["oracle_status"] == "OK" and s["fair_price_cents"] == 81


def test_a_failing_source_degrades_to_the_other_layers_without_stopping_the_cycles(fed, oracle_server):
    feed_says(oracle_server, fed, 0.70)
    oracle_poll(market_id=fed)
    quote_cycle(fed)
    assert summary(fed)["fair_price_cents"] == 70
    oracle_server.answer(fed, {"error": "maintenance"}, status=503)
    assert oracle_poll(market_id=fed).outcome == "failed"
    assert quote_cycle(fed).outcome in ("quoted", "unchanged")  # the last reading still counts until stale
    assert summary(fed)["oracle_status"] == "OK"
    later = state.now_ms() + 31_000  # the last good reading is now stale: L1 weight 0
    quote_cycle(fed, now_ms=later)
    s = summary(fed)
    assert s["oracle_status"] == "STALE" and s["layer_weights"][0] == 0
    assert s["fair_price_cents"] == 70  # the previous fair price holds; no other layer has anything


def test_a_slow_source_never_blocks_a_cycle(fed, oracle_server):
    oracle_server.answer(fed, {"p": 0.5, "at": state.now_ms()}, hold=True)
    config_update(market_id=fed, actor="test", oracle_timeout_ms=5_000)
    poll = threading.Thread(target=lambda: oracle_poll(market_id=fed), name="oracle-poll", daemon=True)
    poll.start()
    assert oracle_server.held.wait(15)
    result = quote_cycle(fed)  # the poll is still waiting for its source
    assert result.outcome == "quoted" and poll.is_alive()
    assert summary(fed)["oracle_status"] == "ABSENT"
    oracle_server.release()
    poll.join(timeout=10)
    assert state.oracle_get(fed)["price_cents"] == pytest.approx(50.0)


def test_run_amm_polls_the_oracle_beside_the_cycles(fed, oracle_server):
    feed_says(oracle_server, fed, 0.62)
    rt_market = fed
    from tests.amm.runtime.support import SchedulerThread, WorkerThreads

    pool = WorkerThreads(2).start()
    sched = SchedulerThread([rt_market]).start()
    try:
        wait_until(lambda: summary(rt_market)["fair_price_cents"] == 62, timeout=20,
                   message="a cycle priced from the polled oracle")
        feed_says(oracle_server, rt_market, 0.65)  # a move within the gap: followed
        wait_until(lambda: summary(rt_market)["fair_price_cents"] == 65, timeout=20,
                   message="the next poll's reading reached the fair price")
        assert state.oracle_get(rt_market)["source"] == "http_json"
        assert len(oracle_server.requests) >= 2
    finally:
        sched.stop()
        pool.stop()
