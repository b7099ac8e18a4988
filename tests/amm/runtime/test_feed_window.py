"""The feed job's window (amm/runtime/feed.py): long, so fills are rarely left unread between two
windows, yet its heartbeat is written every second and a warm stop of its worker (what run_amm's
SIGTERM does through RQ) ends it at once. Real RQ worker thread, Redis, PostgreSQL, platform."""
from __future__ import annotations


import pytest

from amm import state
from amm.runtime.job_requests import request_feed
from tests.amm.runtime.support import WorkerThreads, _stop_deadman_sweeper, rt, wait_until  # noqa: F401 - fixtures

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_long_feed_window_beats_every_second_and_ends_when_its_worker_is_asked_to_stop(rt, settings):
    settings.AMM_PUSH = False
    settings.AMM_FEED_WINDOW_MS = 60_000
    rt.start()
    pool = WorkerThreads(1).start()
    rt.started.append(pool)
    assert request_feed()
    wait_until(lambda: state.run_get().get("feed_ms"), timeout=10, message="the feed's first heartbeat")
    first = int(state.run_get()["feed_ms"])
    wait_until(lambda: int(state.run_get().get("feed_ms") or 0) > first, timeout=5,
               message="a heartbeat within the window")
    assert state.job_marker("feed")  # the window still runs


    for worker in pool.workers:
        worker._stop_requested = True  # RQ's warm shutdown (SIGTERM) sets this on a busy worker
    wait_until(lambda: not state.job_marker("feed"), timeout=10, message="the window ended")
