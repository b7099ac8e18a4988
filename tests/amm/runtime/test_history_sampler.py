"""run_amm's history sampler (the dashboard's charts): the scheduler enqueues one RQ job for
every driven market each AMM_HISTORY_SAMPLE_S, and that job appends a sample to each."""
from __future__ import annotations

import pytest

from amm import state
from amm.runtime.unique_jobs import get_queue
from amm.runtime.run_loop import Scheduler
from tests.amm.dashboard.support import market

pytestmark = pytest.mark.django_db(transaction=True)  # the scheduler closes old connections, as in run_amm


def _history_jobs():
    return [job for job in get_queue().jobs if job.func_name == "amm.jobs.history_sample"]


def test_the_scheduler_samples_every_driven_market_every_interval(redis_conn, settings):
    settings.AMM_HISTORY_SAMPLE_S = 10
    market("RUN-1", redis_state={"fair_price_cents": 61})
    market("EMERG-1", lifecycle="EMERGENCY", redis_state={"fair_price_cents": 39})
    market("STOPPED-1", lifecycle="STOPPED", redis_state={"fair_price_cents": 50})
    scheduler = Scheduler(arm_deadman=False)
    queue = get_queue()
    queue.empty()

    assert scheduler.tick(now=1000.0)["history"] == 1
    [job] = _history_jobs()
    assert job.args == (["EMERG-1", "RUN-1"],)  # the driven markets; a STOPPED one has nothing to chart
    job.perform()  # what a worker does with it
    assert [s.fair for s in state.history_get("RUN-1")] == [61]
    assert [s.fair for s in state.history_get("EMERG-1")] == [39]
    assert state.history_get("STOPPED-1") == []

    queue.empty()
    assert scheduler.tick(now=1005.0)["history"] == 0  # not due yet
    assert scheduler.tick(now=1010.0)["history"] == 1
    assert len(_history_jobs()) == 1


def test_a_sample_job_still_queued_is_not_queued_twice(redis_conn, settings):
    settings.AMM_HISTORY_SAMPLE_S = 10
    market("RUN-2", redis_state={"fair_price_cents": 55})
    scheduler = Scheduler(arm_deadman=False)
    get_queue().empty()
    assert scheduler.tick(now=1000.0)["history"] == 1
    assert scheduler.tick(now=1010.0)["history"] == 0  # the first is still waiting for a worker
    assert len(_history_jobs()) == 1
