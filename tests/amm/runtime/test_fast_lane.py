"""The fast lane (issue 15, amm/runtime/fast_lane.py): a fill's requote runs at once on a thread
of the process that applied the fill, not in the RQ queue; one market's lane cycles never
overlap and a burst coalesces; a cycle that finds the market's lease held hands the request to
the queue. Real Redis, PostgreSQL and the platform over HTTP (live_server); no RQ worker runs
unless a test says so."""
from __future__ import annotations

import threading
import time

import pytest

from amm import state
from amm.runtime import cycle as cycle_module
from amm.runtime import fast_lane
from amm.runtime.feed import feed_loop
from amm.runtime.job_requests import request_requote
from amm.runtime.lease import market_lease
from amm.runtime.unique_jobs import get_queue
from tests.amm.runtime.support import FILL_CYCLES, _stop_deadman_sweeper, rt, wait_until  # noqa: F401 - fixtures

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def lane(settings):
    settings.AMM_FAST_LANE_THREADS = 2
    installed = fast_lane.install()
    yield installed
    fast_lane.stop()


def _quoted(rt) -> dict[str, int]:
    assert cycle_module.quote_cycle(rt.market_id, reason="tick").outcome == "quoted"
    wait_until(rt.quoting, timeout=5, message="both sides quoted")
    return rt.open_orders()


def _feed_in_thread(stop: threading.Event) -> threading.Thread:
    def run() -> None:
        from django.db import connection

        try:
            while not stop.is_set():
                feed_loop(window_ms=300)
        finally:
            connection.close()

    thread = threading.Thread(target=run, name="test-feed", daemon=True)
    thread.start()
    return thread


def _quote_jobs() -> list[str]:
    queue = get_queue()
    return [job.description for job in queue.get_jobs() if job.description.startswith("quote:")]


def test_a_fill_is_requoted_on_the_lane_while_no_worker_serves_the_queue(rt, lane, settings):
    settings.AMM_PUSH = False  # the REST fill feed: the live server publishes no event stream
    rt.start()
    before = _quoted(rt)
    get_queue().empty()
    fills_before = FILL_CYCLES.get(rt.market_id, 0)
    stop = threading.Event()
    feed = _feed_in_thread(stop)
    try:
        assert rt.take("YES", 5), "the taker got no fill"
        wait_until(lambda: FILL_CYCLES.get(rt.market_id, 0) > fills_before, timeout=5, message="a fill's cycle")
        wait_until(lambda: rt.quoting() and set(rt.open_orders()) != set(before), timeout=5,
                   message="the lost order replaced")
    finally:
        stop.set()
        feed.join(timeout=5)
    assert lane.cycles >= 1
    assert _quote_jobs() == []  # nothing went through the queue
    pos = rt.position()
    inventory = state.inventory_get(rt.market_id)
    assert (inventory.yes_volume, inventory.no_volume) == (pos.yes_volume, pos.no_volume)


def test_without_the_lane_a_fill_waits_in_the_queue(rt, settings):
    settings.AMM_PUSH = False
    settings.AMM_FAST_LANE_THREADS = 0
    assert fast_lane.install() is None
    rt.start()
    before = _quoted(rt)
    get_queue().empty()
    stop = threading.Event()
    feed = _feed_in_thread(stop)
    try:
        assert rt.take("YES", 5)
        wait_until(lambda: _quote_jobs(), timeout=5, message="the fill's cycle queued")
    finally:
        stop.set()
        feed.join(timeout=5)
    assert _quote_jobs() == [f"quote:{rt.market_id} (fill)"]
    after = rt.open_orders()
    assert set(after) <= set(before) and after != before  # the fill shrank an order and nothing replaced it


def test_a_burst_for_one_market_runs_one_cycle_at_a_time_and_once_more_after(rt, lane):
    rt.start()
    _quoted(rt)
    running, overlap, reasons = [0], [0], []
    inner = cycle_module.quote_cycle
    guard = threading.Lock()

    def slow(market_id, *, reason="tick", **kwargs):
        with guard:
            running[0] += 1
            overlap[0] = max(overlap[0], running[0])
            reasons.append(reason)
        try:
            time.sleep(0.2)  # long enough for the whole burst to arrive while it runs
            return inner(market_id, reason=reason, **kwargs)
        finally:
            with guard:
                running[0] -= 1

    cycle_module.quote_cycle = slow
    try:
        request_requote(rt.market_id, reason="fill")
        wait_until(lambda: running[0] == 1, timeout=5, message="the first cycle running")
        for _ in range(20):
            request_requote(rt.market_id, reason="book")
        wait_until(lambda: lane.busy() == 0, timeout=10, message="the lane idle")
    finally:
        cycle_module.quote_cycle = inner
    assert overlap[0] == 1
    assert reasons == ["fill", "book"]  # the burst became one more cycle
    assert _quote_jobs() == []


def test_a_lane_cycle_that_finds_the_lease_held_hands_the_request_to_the_queue(rt, lane):
    rt.start()
    _quoted(rt)
    get_queue().empty()
    held = market_lease(rt.market_id)
    assert held.acquire()
    try:
        request_requote(rt.market_id, reason="fill")
        wait_until(lambda: lane.handed_over == 1 and lane.busy() == 0, timeout=5, message="handed over")
        assert _quote_jobs() == [f"quote:{rt.market_id} (fill)"]  # its holder (or a worker) serves it
    finally:
        held.release()


def test_stopping_the_lane_finishes_the_running_cycle_and_queues_the_waiting_ones(rt, settings):
    settings.AMM_FAST_LANE_THREADS = 1
    lane = fast_lane.install()
    second = rt.new_market()
    rt.start(rt.market_id, second)
    get_queue().empty()
    inner = cycle_module.quote_cycle
    started, finished = threading.Event(), []

    def slow(market_id, *, reason="tick", **kwargs):
        started.set()
        time.sleep(0.3)
        result = inner(market_id, reason=reason, **kwargs)
        finished.append(market_id)
        return result

    cycle_module.quote_cycle = slow
    try:
        request_requote(rt.market_id, reason="fill")
        assert started.wait(5)
        request_requote(second, reason="fill")  # one thread: this one waits
        fast_lane.stop()
    finally:
        cycle_module.quote_cycle = inner
    assert finished == [rt.market_id]
    assert lane.busy() == 0
    assert _quote_jobs() == [f"quote:{second} (fill)"]
    assert rt.quoting()
