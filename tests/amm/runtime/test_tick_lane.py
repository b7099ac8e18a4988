"""Periodic cycles on the workers' tick lanes (amm/runtime/tick_lane.py): batches in
`amm:ticks` instead of RQ jobs while a lane is alive, each market's cycle run once under its
job marker, a stopping lane ending its batch, a batch no lane took in time dropped. Real
Redis and PostgreSQL, the platform over HTTP (live_server)."""
from __future__ import annotations

import json

import pytest

from amm import state
from tests.amm.runtime.support import _stop_deadman_sweeper, rt, wait_until  # noqa: F401 - fixtures

pytestmark = pytest.mark.django_db(transaction=True)


def _cycles(market_id: str) -> int:
    return int(state.runtime_get(market_id).get("cycles", 0))


def test_with_a_tick_lane_alive_periodic_ticks_go_to_it_not_to_the_rq_queue(rt, settings, redis_conn):
    """Three markets due with a lane alive: one batch on `amm:ticks` (the one lane takes it
    whole), no RQ job; a market whose cycle is already queued is left to it; the lane runs
    every market of the batch once and each marker is released."""
    from amm.runtime import tick_lane
    from amm.runtime.job_requests import request_cycle, request_cycles
    from amm.runtime.unique_jobs import get_queue

    settings.AMM_TICK_BATCH = 2
    markets = [rt.market_id, rt.new_market(), rt.new_market(), rt.new_market()]
    rt.start(*markets)
    queue = get_queue()
    queue.empty()
    assert request_cycle(markets[0], reason="status")  # queued on its own, as an RQ job
    assert request_cycles(markets, reason="tick", lanes=1) == 3
    assert queue.count == 1  # only the single market's job
    (raw,) = redis_conn.lrange("amm:ticks", 0, -1)
    enqueued_ms, reason, batch = json.loads(raw)
    assert batch == markets[1:] and reason == "tick" and abs(int(enqueued_ms) - state.now_ms()) < 5000
    assert all(state.job_marker(f"quote:{m}") for m in markets[1:])
    assert request_cycles(markets[1:], reason="tick", lanes=1) == 0  # queued on the lane: not twice

    before = {m: _cycles(m) for m in markets}
    lane = tick_lane.TickLane(name="test-lane").start()
    rt.started.append(lane)
    assert tick_lane.lanes_alive() == 1
    wait_until(lambda: all(_cycles(m) == before[m] + 1 for m in markets[1:]), timeout=15,
               message="the lane ran every market of its batch")
    wait_until(lambda: not any(state.job_marker(f"quote:{m}") for m in markets[1:]), timeout=5,
               message="markers released")
    assert _cycles(markets[0]) == before[markets[0]]  # its queued RQ job is not the lane's
    assert state.ticks_waiting() == 0 and lane.batches == 1 and lane.cycles == 3
    assert all(rt.quoting(m) for m in markets[1:])


def test_the_scheduler_uses_the_lanes_only_while_one_is_alive(rt, settings):
    """The scheduler counts the lanes at its refresh: none alive (a stopped lane leaves the set;
    a heartbeat older than AMM_TICK_LANE_ALIVE_MS is a dead one), the due cycles go to RQ
    jobs; one alive, to `amm:ticks`."""
    from amm.runtime import tick_lane
    from amm.runtime.run_loop import Plan, Scheduler
    from amm.runtime.unique_jobs import get_queue

    markets = [rt.market_id, rt.new_market()]
    queue = get_queue()
    queue.empty()
    scheduler = Scheduler(markets, arm_deadman=False)

    def batch_jobs() -> int:
        return sum(job.func_name == "amm.jobs.quote_batch" for job in queue.get_jobs())

    def dispatch(now: float) -> int:
        scheduler.refresh(now)
        scheduler._refresh_due = scheduler._dispatch_due = float("inf")
        scheduler.plans = {m: Plan("RUNNING", 1.0, due=now, reconcile_due=float("inf")) for m in markets}
        scheduler._dispatch_due = 0.0
        cycles = scheduler.tick(now=now)["cycles"]
        for m in markets:
            state.job_done(f"quote:{m}")
        return cycles

    state.tick_lane_beat("old-lane", state.now_ms() - settings.AMM_TICK_LANE_ALIVE_MS - 1000)  # died long ago
    assert dispatch(1000.0) == 2 and scheduler.lanes == 0
    assert batch_jobs() == 1 and state.ticks_waiting() == 0  # one RQ job for both
    assert list(state.tick_lane_names()) == []  # the dead lane's entry dropped
    queue.empty()

    lane = tick_lane.TickLane(name="alive-lane")
    state.tick_lane_beat(lane.name, state.now_ms())  # alive, not serving: the batch stays to be seen
    assert dispatch(2000.0) == 2 and scheduler.lanes == 1
    assert batch_jobs() == 0 and state.ticks_waiting() == 1
    state.get_redis().delete("amm:ticks")

    lane.stop()  # never started: it only leaves the set
    assert dispatch(3000.0) == 2 and scheduler.lanes == 0 and batch_jobs() == 1
    queue.empty()


def test_a_stopping_lane_ends_its_batch_at_the_next_market_and_releases_the_rest(rt):
    """run_amm's shutdown stops the workers' lanes: the market being cycled finishes, the rest
    of the batch is not cycled and its markers are released, so the next run's first tick
    requests them at once."""
    from amm.runtime.cycle_runs import cycles_run_batch
    from amm.runtime.job_requests import request_cycles

    markets = [rt.market_id, rt.new_market(), rt.new_market()]
    rt.start(*markets)
    assert request_cycles(markets, reason="tick", lanes=1) == 3
    batch = state.ticks_pop(1.0)
    before = {m: _cycles(m) for m in markets}
    asked = []

    def stopping() -> bool:
        asked.append(1)
        return len(asked) > 1  # stop is requested while the first market cycles

    cycles_run_batch(batch.market_ids, batch.reason, give_way=False, stopping=stopping)

    assert [_cycles(m) - before[m] for m in markets] == [1, 0, 0]
    assert not any(state.job_marker(f"quote:{m}") for m in markets)


def test_a_batch_no_lane_took_within_the_queued_ttl_is_dropped(rt):
    """Every worker down for longer than the queued TTL: the batch waiting since then is
    dropped, not run late (its markers have expired; the scheduler has asked again)."""
    from amm.runtime import tick_lane
    from amm.runtime.job_requests import TICK_QUEUED_TTL_S, quote_key

    m = rt.market_id
    rt.start(m)
    long_ago = state.now_ms() - TICK_QUEUED_TTL_S * 1000 - 1000
    assert state.ticks_request([quote_key(m)], [m], "lane-old", batch_size=10, reason="tick", ttl_ms=60_000,
                               now_ms=long_ago) == 1
    before = _cycles(m)
    lane = tick_lane.TickLane(name="late-lane")
    lane._serve_one()
    assert lane.dropped == 1 and lane.batches == 0 and _cycles(m) == before
    assert state.ticks_waiting() == 0


def test_the_lane_of_the_process_running_the_feed_only_takes_batches_the_others_left_waiting(rt, settings):
    """While the feed job runs on this process (fills applied and requoted here), its lane
    leaves a fresh batch to the other lanes and takes one only once it has waited
    AMM_TICK_LANE_HELP_MS: with no other lane, the cycles still run."""
    from amm.runtime import tick_lane
    from amm.runtime.job_requests import request_cycles

    m = rt.market_id
    rt.start(m)
    lane = tick_lane.TickLane(name="feed-lane")
    settings.AMM_TICK_LANE_HELP_MS = 60_000
    assert request_cycles([m], reason="tick", lanes=1) == 1
    before = _cycles(m)
    with tick_lane.yielding():
        lane._serve_one()  # looks for POP_TIMEOUT_S, finds only a fresh batch
        assert state.ticks_waiting() == 1 and _cycles(m) == before
        settings.AMM_TICK_LANE_HELP_MS = 0  # it has waited long enough now
        lane._serve_one()
    assert state.ticks_waiting() == 0 and _cycles(m) == before + 1 and lane.batches == 1


def test_a_worker_runs_as_many_lanes_as_set_and_its_stop_takes_them_all_out(settings, redis_conn):
    """amm_worker's lanes: AMM_TICK_LANE_THREADS of them alive once installed, none after its
    stop (their threads ended, out of `amm:tick_lanes`); none with AMM_TICK_LANE off."""
    from amm.runtime import tick_lane

    settings.AMM_TICK_LANE_THREADS = 2
    lanes = tick_lane.install()
    try:
        assert len(lanes) == 2 and len({lane.name for lane in lanes}) == 2
        assert tick_lane.install() == lanes  # installed once per process
        assert tick_lane.lanes_alive() == 2
    finally:
        tick_lane.stop()
    assert tick_lane.lanes_alive() == 0 and not any(lane._thread.is_alive() for lane in lanes)
    settings.AMM_TICK_LANE = False
    assert tick_lane.install() == [] and tick_lane.lanes_alive() == 0
