"""Requotes that skip the queue (issue 15): a fill's or a book move's cycle runs at once on a
thread of the process that learned of it, instead of waiting in the RQ queue.

Why: in the queue a fill's cycle waited behind the periodic batches and the feed job for
most of tick-to-quote (~65 ms of ~103 ms at p50 with 100 markets, bench/runtime.py), and
every requote paid RQ's own bookkeeping (about twenty Redis commands).

Safety does not depend on where a cycle runs: it is the same `cycle.quote_cycle`, under the
market's lease (a market's cycles never overlap, fencing tokens on every order call, the
kill switch read in the cycle). A lane cycle that finds the lease held (a cycle of that
market running elsewhere) hands the request to that holder as a rerun
(`job_requests.request_cycle`), so the fill is never left unserved; one that fails is handed
to the queue the same way. A request still waiting for a thread when the process dies is
served by the next periodic tick (its fills wait in `amm:fills:{m}`).

Coalescing: per market at most one lane cycle runs or waits; requests meanwhile make it run
once more after (a burst of fills becomes at most two cycles). AMM_FAST_LANE_THREADS threads
per process (0: no lane, every requote goes through the queue).

Installed by the processes that learn of fills and book moves (amm_worker, whose feed job
applies fills; run_amm, whose book feed sees book moves): `install()` makes
`job_requests.request_requote` use this process's lane; `stop()` lets the running cycles
finish before the process goes on to exit (run_amm cancels the markets' orders after its
workers exited, so no lane cycle places an order after that).
"""
from __future__ import annotations

import logging
import threading
from collections import deque

from django.db import close_old_connections, connection

from amm.conf import amm_settings
from amm.runtime import cycle  # cycle.quote_cycle read at each call: the runtime tests wrap it to count cycles
from amm.runtime.job_requests import install_requote_handler, request_cycle

log = logging.getLogger(__name__)


class FastLane:
    """Threads running requested cycles at once, one per market at a time (module docstring)."""

    def __init__(self, threads: int, *, name: str = "amm-fast-lane") -> None:
        self.size = max(1, int(threads))
        self.name = name
        self._lock = threading.Condition()
        self._waiting: deque[str] = deque()  # markets in request order
        self._reasons: dict[str, str] = {}  # market waiting -> its reason
        self._again: dict[str, str | None] = {}  # market running -> reason of a request meanwhile
        self._threads: list[threading.Thread] = []
        self._stopping = False
        self.cycles = 0
        self.handed_over = 0  # requests passed to the queue (lease held elsewhere, error)

    def submit(self, market_id: str, reason: str) -> None:
        with self._lock:
            stopping = self._stopping
            if not stopping:
                self._add(market_id, reason)
        if stopping:
            _to_queue(market_id, reason)

    def _add(self, market_id: str, reason: str) -> None:
        """Under the lock: the request joins the running cycle's rerun, the waiting one, or waits."""
        if market_id in self._again:
            self._again[market_id] = self._again[market_id] or reason
            return
        if market_id in self._reasons:
            return
        self._reasons[market_id] = reason
        self._waiting.append(market_id)
        if len(self._threads) < self.size and len(self._threads) < len(self._waiting) + len(self._again):
            self._start_thread()
        self._lock.notify()

    def busy(self) -> int:
        """Markets waiting or running (0: idle)."""
        with self._lock:
            return len(self._waiting) + len(self._again)

    def stop(self, timeout_s: float = 10.0) -> None:
        """Let the running cycles finish (up to `timeout_s`); the waiting ones go to the queue."""
        with self._lock:
            self._stopping = True
            waiting = [(m, self._reasons.pop(m)) for m in self._waiting]
            self._waiting.clear()
            self._lock.notify_all()
        for market_id, reason in waiting:
            _to_queue(market_id, reason)
        for thread in list(self._threads):
            thread.join(timeout=timeout_s)
            if thread.is_alive():
                log.warning("fast lane: a cycle still running after %.0f s at stop", timeout_s)

    # --- the threads -------------------------------------------------------------------------------
    def _start_thread(self) -> None:
        thread = threading.Thread(target=self._work, name=f"{self.name}-{len(self._threads)}", daemon=True)
        self._threads.append(thread)
        thread.start()

    def _work(self) -> None:
        try:
            self._serve()
        finally:
            connection.close()  # this thread's own database connection

    def _serve(self) -> None:
        while True:
            with self._lock:
                while not self._waiting and not self._stopping:
                    self._lock.wait()
                if not self._waiting:
                    return
                market_id = self._waiting.popleft()
                reason = self._reasons.pop(market_id)
                self._again[market_id] = None
            while True:
                self._run(market_id, reason)
                with self._lock:
                    again, stopping = self._again[market_id], self._stopping
                    if again is None or stopping:
                        del self._again[market_id]
                    else:
                        self._again[market_id] = None
                if again is None:
                    break
                if stopping:
                    _to_queue(market_id, again)
                    break
                reason = again

    def _run(self, market_id: str, reason: str) -> None:
        try:
            close_old_connections()  # this thread's database connection may have been closed meanwhile
            result = cycle.quote_cycle(market_id, reason=reason)
            self.cycles += 1
        except Exception:  # noqa: BLE001 - the queue serves it: a worker retries with a fresh context
            log.exception("fast lane: cycle of %s (%s) failed; handing it to the queue", market_id, reason)
            self.handed_over += 1
            _to_queue(market_id, reason)
            return
        if result.outcome == "busy":  # a cycle of this market runs elsewhere: it runs once more for this
            self.handed_over += 1
            _to_queue(market_id, reason)


def _to_queue(market_id: str, reason: str) -> None:
    try:
        request_cycle(market_id, reason=reason, at_front=True)
    except Exception:  # noqa: BLE001 - the scheduler's tick requotes anyway
        log.warning("could not request a requote of %s (%s)", market_id, reason, exc_info=True)


_lane: FastLane | None = None
_lane_lock = threading.Lock()


def install() -> FastLane | None:
    """Make this process's requotes run on its lane (AMM_FAST_LANE_THREADS > 0); returns it."""
    global _lane
    threads = int(amm_settings.AMM_FAST_LANE_THREADS)
    with _lane_lock:
        if threads <= 0:
            install_requote_handler(None)
            return None
        if _lane is None or _lane._stopping:
            _lane = FastLane(threads)
        install_requote_handler(_lane.submit)
        return _lane


def stop(timeout_s: float = 10.0) -> None:
    """Requotes go through the queue again; the lane's running cycles finish first."""
    global _lane
    with _lane_lock:
        lane, _lane = _lane, None
        install_requote_handler(None)
    if lane is not None:
        lane.stop(timeout_s)
