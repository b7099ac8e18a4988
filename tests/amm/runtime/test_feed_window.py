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


@pytest.mark.parametrize("workers, windows_read", [(2, 4), (1, 1)])
def test_one_feed_job_reads_windows_back_to_back_only_while_other_workers_serve_the_queue(rt, settings, monkeypatch,
                                                                                          workers, windows_read):
    """Between two feed jobs no fill is read until a worker takes the next one: with two workers
    or more a job reads AMM_FEED_WINDOWS_PER_JOB windows in a row; alone on the queue it reads
    one and gives its worker back to the periodic cycles."""
    from amm.runtime import feed

    settings.AMM_PUSH = False
    settings.AMM_FEED_WINDOW_MS = 300
    settings.AMM_FEED_WINDOWS_PER_JOB = 4
    windows = []
    real = feed.feed_loop
    monkeypatch.setattr(feed, "feed_loop", lambda **kw: windows.append(1) or real(**kw))
    rt.start()
    pool = WorkerThreads(workers).start()
    rt.started.append(pool)
    assert request_feed()
    wait_until(lambda: windows, timeout=10, message="the feed job started")
    wait_until(lambda: not state.job_marker("feed"), timeout=15, message="the feed job ended")
    assert len(windows) == windows_read  # one job: no scheduler runs to enqueue another
