"""The oracle poll as an RQ job beside the other loops (amm/runtime/run_loop.py): enqueued
for every running market whose config names an adapter, at its interval, never for the
others; one in flight per market, so a slow source never piles up copies."""
from __future__ import annotations

import threading

import pytest

from amm import state
from amm.runtime.unique_jobs import get_queue
from amm.runtime.run_loop import Scheduler
from amm.services import config_update, instance_emergency, instance_enable, instance_running, instance_start

pytestmark = pytest.mark.django_db(transaction=True)


def running_market(market_id: str, **config) -> str:
    instance_enable(market_id=market_id)
    if config:
        config_update(market_id=market_id, actor="test", **config)
    instance_start(market_id=market_id, actor="test")
    instance_running(market_id=market_id)
    return market_id


def oracle_jobs(queue) -> list[str]:
    return [job.args[0] for job in queue.get_jobs() if job.func_name == "amm.jobs.oracle_poll"]


@pytest.fixture
def queue(redis_conn):
    q = get_queue()
    q.empty()
    yield q
    q.empty()


def test_polls_are_enqueued_for_running_markets_with_an_adapter_and_only_for_them(queue, oracle_server):
    fed = {"oracle_adapter": "http_json", "oracle_url_template": oracle_server.template,
           "oracle_poll_interval_ms": 2_000}
    with_oracle = running_market("MKT-A", **fed)
    in_emergency = running_market("MKT-E", **fed)
    instance_emergency(market_id=in_emergency, reason="test")
    without = running_market("MKT-B")
    stopped = "MKT-C"
    instance_enable(market_id=stopped)
    config_update(market_id=stopped, actor="test", **fed)

    scheduler = Scheduler([with_oracle, in_emergency, without, stopped], arm_deadman=False)
    t0 = 1_000.0
    first = scheduler.tick(now=t0)
    assert first["oracle"] == 0  # the first poll of each comes within a fraction of its interval
    assert scheduler.tick(now=t0 + 0.6)["oracle"] == 2
    assert sorted(oracle_jobs(queue)) == [with_oracle, in_emergency]
    assert {j.id.rsplit("-", 1)[0] for j in queue.get_jobs() if j.func_name == "amm.jobs.oracle_poll"} == {
        "amm-oracle-MKT-A", "amm-oracle-MKT-E"}  # deterministic ids (plus the suffix RQ needs, see amm/runtime/unique_jobs.py)

    # Due again after the interval while both are still queued (no worker): no second copy.
    assert scheduler.tick(now=t0 + 2.7)["oracle"] == 0
    assert sorted(oracle_jobs(queue)) == [with_oracle, in_emergency]

    # The adapter is removed from one config: its polls stop; named on another: they start.
    config_update(market_id=with_oracle, actor="test", oracle_adapter="")
    config_update(market_id=without, actor="test", **fed)
    queue.empty()
    for key in ("oracle:MKT-A", "oracle:MKT-E"):
        state.job_done(key)
    scheduler.tick(now=t0 + 4.0)  # refresh: reads the new configs
    counts = sum(scheduler.tick(now=t0 + 4.0 + s)["oracle"] for s in (0.6, 2.6, 4.6))
    assert counts == 2 and sorted(oracle_jobs(queue)) == sorted([in_emergency, without])


def test_a_slow_source_does_not_pile_up_polls(queue, oracle_server, settings):
    from django.db import connection

    from amm.runtime.job_requests import request_oracle_poll
    from amm.runtime.worker import make_worker

    market = running_market("MKT-SLOW", oracle_adapter="http_json", oracle_url_template=oracle_server.template,
                            oracle_poll_interval_ms=500, oracle_timeout_ms=5_000)
    oracle_server.answer(market, {"probability": 0.55}, hold=True)
    scheduler = Scheduler([market], arm_deadman=False)
    scheduler.tick(now=0.0)
    assert scheduler.tick(now=0.5)["oracle"] == 1
    for job in queue.get_jobs():  # (no platform in this test: the worker runs the poll only)
        if job.func_name != "amm.jobs.oracle_poll":
            queue.remove(job)

    def work() -> None:
        try:  # built in its thread: a worker off the main thread uses the timer death penalty
            make_worker(name="test-oracle-worker").work(burst=True, logging_level="WARNING")
        finally:
            connection.close()

    thread = threading.Thread(target=work, name="rq-worker-oracle", daemon=True)
    thread.start()
    assert oracle_server.held.wait(15), "the worker never asked the source"
    assert not oracle_jobs(queue)  # taken: running, held by the slow source

    polls = [scheduler.tick(now=0.5 + 0.5 * i)["oracle"] for i in range(1, 8)]  # due seven more times meanwhile
    assert polls == [0] * 7 and not oracle_jobs(queue)
    assert not request_oracle_poll(market, timeout_ms=5_000)  # what the scheduler asks: refused, one in flight
    assert oracle_server.requests == [market]
    queue.empty()  # the ticks' other jobs (the feed): no platform here, the worker must not run them

    oracle_server.release()
    thread.join(timeout=20)
    assert not thread.is_alive()
    assert state.oracle_get(market)["price_cents"] == pytest.approx(55.0)
    assert state.job_marker(f"oracle:{market}") is None
    assert scheduler.tick(now=10.0)["oracle"] == 1  # the next poll goes out again
    assert oracle_jobs(queue) == [market]
