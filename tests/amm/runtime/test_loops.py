"""The quoting loops end to end (issue 6): real RQ workers (AmmWorker threads), the
scheduler, real Redis and PostgreSQL, the platform over HTTP (live_server)."""
from __future__ import annotations

import time

import pytest

from amm import state
from tests.amm.runtime.support import _stop_deadman_sweeper, rt, wait_until  # noqa: F401 - fixtures

pytestmark = pytest.mark.django_db(transaction=True)


def test_quoting_starts_keeps_both_sides_live_and_a_fill_triggers_a_requote(rt):
    m = rt.market_id
    rt.start()
    rt.run(workers=2)
    wait_until(rt.quoting, timeout=15, message="both sides quoted and tracked")
    first = state.state_get(m)["last_requote_ms"]
    wait_until(lambda: state.state_get(m)["last_requote_ms"] > first, timeout=5, message="cycles keep running")
    assert rt.quoting()

    before = set(rt.open_orders())
    fill_reasons_before = _fill_cycles(m)
    trades = rt.take("YES", 5)
    assert trades, "the taker got no fill"
    filled_at = time.time()
    wait_until(lambda: _fill_cycles(m) > fill_reasons_before, timeout=5, message="a cycle with reason 'fill'")
    wait_until(lambda: rt.quoting() and set(rt.open_orders()) != before, timeout=5, message="quotes replaced")
    latency = (state.state_get(m)["last_requote_ms"] / 1000) - filled_at
    assert latency < 2.0, latency
    pos = rt.position()
    wait_until(lambda: (state.inventory_get(m).yes_volume, state.inventory_get(m).no_volume)
               == (pos.yes_volume, pos.no_volume), timeout=5, message="inventory equal to the platform's")


def _fill_cycles(market_id: str) -> int:
    """How many cycles ran with reason 'fill' (journalled in amm:runtime last_reason + cycles)."""
    from tests.amm.runtime.support import FILL_CYCLES

    return FILL_CYCLES.get(market_id, 0)


def test_periodic_ticks_of_many_markets_go_several_to_a_job(rt, settings, redis_conn):
    """The scheduler's ticks travel AMM_TICK_BATCH markets to an RQ job; a market whose cycle
    is already queued is left to that one; a fill of a market in a queued batch moves the
    batch to the front and makes that market's cycle a fill's; a worker runs every market of
    a batch."""
    from amm.runtime.unique_jobs import get_queue
    from amm.runtime.job_requests import request_cycle, request_cycles
    from tests.amm.runtime.support import WorkerThreads

    settings.AMM_TICK_BATCH = 2
    markets = [rt.market_id, rt.new_market(), rt.new_market()]
    rt.start(*markets)
    queue = get_queue()
    queue.empty()
    assert request_cycle(markets[0], reason="status")  # already queued on its own
    assert request_cycles(markets, reason="tick") == 2
    assert not state.job_started(f"quote:{markets[0]}")  # the queued one serves the tick: no rerun asked
    from amm.runtime.lease import lease_ttl_ms

    queued_ttl = redis_conn.pttl(f"amm:job:quote:{markets[1]}")
    assert queued_ttl > 5 * lease_ttl_ms()  # a backlog never lets a second copy in
    assert queue.count == 2  # the single job, and one batch of the two others
    batch = [job for job in queue.get_jobs() if job.func_name == "amm.jobs.quote_batch"]
    assert [job.args[0] for job in batch] == [markets[1:]]
    assert not request_cycle(markets[2], reason="fill", at_front=True)  # its batch is queued: moved to the front
    assert queue.job_ids[0] == batch[0].id

    before = {m: state.runtime_get(m).get("cycles", 0) for m in markets}
    pool = WorkerThreads(1).start()
    rt.started.append(pool)
    wait_until(lambda: all(state.runtime_get(m).get("cycles", 0) > before[m] for m in markets), timeout=15,
               message="every market's cycle ran")
    wait_until(lambda: queue.count == 0 and not any(state.job_marker(f"quote:{m}") for m in markets), timeout=5,
               message="markers released")
    assert all(rt.quoting(m) for m in markets)
    assert _fill_cycles(markets[2]) == 1 and _fill_cycles(markets[1]) == 0  # the fill's request made it a fill's cycle


def test_periodic_ticks_go_no_more_jobs_than_workers_serve_the_queue(rt, settings):
    """Seven markets due at once with AMM_TICK_BATCH 2: four jobs while the workers are not
    known; with 2 workers serving the queue, two jobs (4 and 3 markets): jobs beyond one a
    worker would only wait in the queue, each paying RQ's bookkeeping."""
    from amm.runtime.job_requests import request_cycles, tick_batch_size
    from amm.runtime.unique_jobs import get_queue

    settings.AMM_TICK_BATCH = 2
    assert [tick_batch_size(7, w) for w in (0, 1, 2, 3, 4, 10)] == [2, 7, 4, 3, 2, 2]
    markets = [rt.market_id] + [rt.new_market() for _ in range(6)]
    queue = get_queue()
    queue.empty()
    assert request_cycles(markets, reason="tick") == 7
    assert sorted(len(job.args[0]) for job in queue.get_jobs()) == [1, 2, 2, 2]
    for m in markets:
        state.job_done(f"quote:{m}")
    queue.empty()
    assert request_cycles(markets, reason="tick", workers=2) == 7
    assert sorted(len(job.args[0]) for job in queue.get_jobs()) == [3, 4]


def _batch_taken_and_a_fill_waiting(rt, settings):
    """Four markets: a batch of the last three taken by a worker (this test), and a fill's
    cycle of the first waiting at the head of the queue. Returns (markets, queue, batch)."""
    from amm.runtime.unique_jobs import get_queue
    from amm.runtime.job_requests import request_cycle, request_cycles

    settings.AMM_TICK_BATCH = 3
    markets = [rt.market_id, rt.new_market(), rt.new_market(), rt.new_market()]
    rt.start(*markets)
    queue = get_queue()
    queue.empty()
    assert request_cycles(markets[1:], reason="tick") == 3
    (batch,) = queue.get_jobs()
    queue.remove(batch)  # this test is the worker that took it
    assert request_cycle(markets[0], reason="fill", at_front=True)
    return markets, queue, batch


def test_a_batch_of_periodic_cycles_gives_way_to_a_fills_cycle(rt, settings):
    """A single market's cycle at the head of the queue (a fill's, a status change's) stops a
    running batch after its current market: the rest goes back to the queue, behind it."""
    from amm import jobs

    markets, queue, batch = _batch_taken_and_a_fill_waiting(rt, settings)
    cycles = {m: state.runtime_get(m).get("cycles", 0) for m in markets}

    jobs.quote_batch(*batch.args)

    after = {m: state.runtime_get(m).get("cycles", 0) for m in markets}
    assert after[markets[1]] == cycles[markets[1]] + 1  # the market it was on
    assert [after[m] - cycles[m] for m in markets[2:]] == [0, 0]  # given back
    head, rest = queue.get_jobs()
    assert head.func_name == "amm.jobs.quote" and head.args[0] == markets[0]
    assert rest.func_name == "amm.jobs.quote_batch" and rest.args[0] == markets[2:]
    assert all(state.job_marker(f"quote:{m}") == rest.id for m in markets[2:])


def test_a_market_whose_fill_came_while_a_batch_held_it_jumps_the_queue_when_the_batch_gives_way(rt, settings):
    """The batch held the market's marker, so the fill's request only asked it to run again.
    When the batch gives way, that market goes to the front as a cycle of its own (with the
    fill's reason), not to the back of the queue with the rest of the batch."""
    from amm import jobs
    from amm.runtime.job_requests import request_cycle

    markets, queue, batch = _batch_taken_and_a_fill_waiting(rt, settings)
    assert not request_cycle(markets[3], reason="fill", at_front=True)  # held by the batch: asked to run again

    jobs.quote_batch(*batch.args)

    first, second, last = queue.get_jobs()
    assert {(first.func_name, first.args[0]), (second.func_name, second.args[0])} == {
        ("amm.jobs.quote", markets[0]), ("amm.jobs.quote", markets[3])}
    assert last.func_name == "amm.jobs.quote_batch" and last.args[0] == [markets[2]]
    assert state.runtime_get(markets[3]).get("cycles", 0) == 0  # not run yet: it waits at the front
    jobs.quote(*(first if first.args[0] == markets[3] else second).args)
    assert state.runtime_get(markets[3])["last_reason"] == "fill"


def test_a_scheduler_that_stalled_keeps_each_markets_phase(redis_conn):
    """A stall longer than the interval (a frozen process, a starved CPU) makes every market
    late at once: each is due once, then again on its own phase, not all of them together at
    the same instant ever after (which would send every market in one dispatch each second)."""
    from amm.runtime.run_loop import Plan, Scheduler, next_due
    from amm.runtime.unique_jobs import get_queue

    assert next_due(100.0, 1.0, 100.0) == 101.0 and next_due(100.0, 1.0, 100.4) == 101.0
    assert next_due(100.0, 2.0, 105.9) == 106.0
    scheduler = Scheduler(arm_deadman=False)
    scheduler._refresh_due = float("inf")  # these plans, not the database's
    phases = {"PH-1": 100.1, "PH-2": 100.35, "PH-3": 100.6, "PH-4": 100.85}  # spread over 1 s
    scheduler.plans = {m: Plan("RUNNING", 1.0, due=d, reconcile_due=float("inf")) for m, d in phases.items()}
    get_queue().empty()
    now = 104.5  # the loop stalled 4.4 s
    assert scheduler.tick(now=now)["cycles"] == 4  # every market once: no burst to catch up
    after = {m: plan.due for m, plan in scheduler.plans.items()}
    assert all(now < d <= now + 1.0 for d in after.values())
    assert {m: round(d % 1.0, 2) for m, d in after.items()} == {"PH-1": 0.1, "PH-2": 0.35, "PH-3": 0.6, "PH-4": 0.85}
    for m in phases:
        state.job_done(f"quote:{m}")
    # next due: PH-3 104.6, PH-4 104.85, PH-1 105.1, PH-2 105.35 (restarting them all at
    # now + 1 s would make them due together at 105.5, and every second after)
    assert [scheduler.tick(now=now + t)["cycles"] for t in (0.2, 0.5, 0.95)] == [1, 1, 2]
