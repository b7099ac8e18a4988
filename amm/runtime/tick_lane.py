"""Periodic quote cycles without an RQ job a batch: a thread in each worker process takes the
scheduler's batches from `amm:ticks` and runs them (amm/state/tick_queue.py).

Why: RQ's bookkeeping of one job is about sixty Redis commands, 4 ms of a worker's CPU
(bench/worker_class.py), more than a batch's quiet cycles cost each. At 600 markets that was
30 jobs a second and a tenth of the AMM's CPU (py-spy, bench/runtime.py). On the lane a batch
costs one blocking pop. And a batch no longer holds the worker's RQ thread, so a fill's cycle
or the feed never waits behind one: the batch need not give way.

Safety does not depend on where a cycle runs: the same `cycle.quote_cycle` under the market's
lease, with the job markers an RQ batch holds (claimed with the push, renewed while the batch
runs, released by each market's cycle), so a market never has two periodic cycles queued; a
lane that dies mid-batch frees its markets within the lease TTL, and the next tick requests
them again. A batch older than the queued TTL (no lane took it: every worker was down) is
dropped, its markers expiring with it, as RQ drops a queued job past its ttl.

A lane whose process runs the feed job (fills applied and requoted there) takes only batches
that waited AMM_TICK_LANE_HELP_MS: the fills' path keeps that process, as it kept its worker
when batches were RQ jobs, and the lane still serves when the others cannot (a single worker).

The scheduler sends batches to the lanes while any is alive (its heartbeat in
`amm:tick_lanes` younger than AMM_TICK_LANE_ALIVE_MS), else RQ jobs as before: a worker run
without a lane (`rqworker`, the tests' worker threads) still serves periodic cycles.

Installed by amm_worker (AMM_TICK_LANE, AMM_TICK_LANE_THREADS lanes a process); `stop()` lets
the running batch end at its next market (the rest's markers released) before the process
exits, so that no lane cycle places an order after run_amm's shutdown cancelled the orders.
"""
from __future__ import annotations

import logging
import os
import secrets
import threading
import time
from contextlib import contextmanager

from django.db import close_old_connections, connection

from amm import state
from amm.conf import amm_settings
from amm.runtime.cycle_runs import cycles_run_batch
from amm.runtime.job_requests import TICK_QUEUED_TTL_S, quote_key
from amm.state import TickBatch

log = logging.getLogger(__name__)

POP_TIMEOUT_S = 0.5  # the longest a stop waits for an idle lane; its heartbeat's period at most
HELP_POLL_MS = 50  # a yielding lane looks at the oldest batch this often

# Set while this process's RQ thread runs the feed job (amm.jobs.feed): fills are applied and
# requoted here (the fast lane), and a batch of periodic cycles on this process would hold the
# GIL they need. The lane then only helps with batches the other lanes left waiting.
_yielding = threading.Event()


@contextmanager
def yielding():
    """While the block runs, this process's tick lane yields to it (`_help_pop`)."""
    _yielding.set()
    try:
        yield
    finally:
        _yielding.clear()


class TickLane:
    """One thread taking batches from `amm:ticks` (module docstring)."""

    def __init__(self, name: str | None = None) -> None:
        self.name = name or f"{os.uname().nodename}-{os.getpid()}-{secrets.token_hex(3)}"
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.batches = 0
        self.cycles = 0
        self.dropped = 0  # batches older than the queued TTL
        self._beat_at = 0.0  # monotonic: the heartbeat last written

    def start(self) -> "TickLane":
        state.tick_lane_beat(self.name, state.now_ms())
        self._thread = threading.Thread(target=self._work, name=f"amm-tick-lane-{self.name}", daemon=True)
        self._thread.start()
        return self

    def request_stop(self) -> None:
        """The running batch ends at its next market; no batch is taken after it."""
        self._stop.set()

    def stop(self, timeout_s: float = 10.0) -> None:
        """request_stop, then wait for the thread; the lane leaves `amm:tick_lanes`."""
        self.request_stop()
        if self._thread is not None:
            self._thread.join(timeout=timeout_s)
            if self._thread.is_alive():
                log.warning("tick lane %s: a cycle still running after %.0f s at stop", self.name, timeout_s)
        try:
            state.tick_lane_gone(self.name)
        except Exception:  # noqa: BLE001 - Redis down: the heartbeat ages out by itself
            pass

    def _work(self) -> None:
        try:
            while not self._stop.is_set():
                try:
                    self._serve_one()
                except Exception:  # noqa: BLE001 - Redis or the database away a moment: try again
                    log.exception("tick lane %s: serving a batch failed", self.name)
                    self._stop.wait(POP_TIMEOUT_S)
        finally:
            connection.close()  # this thread's own database connection

    def _serve_one(self) -> None:
        if time.monotonic() - self._beat_at >= POP_TIMEOUT_S:  # not at every batch: a round trip each
            state.tick_lane_beat(self.name, state.now_ms())
            self._beat_at = time.monotonic()
        if _yielding.is_set():
            batch = self._help_pop()
        else:
            batch = state.ticks_pop(POP_TIMEOUT_S)
        if batch is None:
            return
        if self._stop.is_set():  # taken while stopping: the markers go, the next tick asks again
            state.jobs_done([quote_key(m) for m in batch.market_ids])
            return
        age_ms = state.now_ms() - batch.enqueued_ms
        if age_ms > TICK_QUEUED_TTL_S * 1000:
            self.dropped += 1
            log.warning("tick lane %s: dropped a batch of %d markets queued %d ms ago", self.name,
                        len(batch.market_ids), age_ms)
            return
        close_old_connections()  # this thread's database connection may have been closed meanwhile
        self.batches += 1
        try:
            cycles_run_batch(batch.market_ids, batch.reason, give_way=False, stopping=self._stop.is_set)
        finally:
            self.cycles += len(batch.market_ids)

    def _help_pop(self) -> TickBatch | None:
        """While this process's feed runs: a batch only once it has waited AMM_TICK_LANE_HELP_MS
        (the other lanes are behind, or there are none), so that the fills' path here keeps
        the process's CPU."""
        deadline = time.monotonic() + POP_TIMEOUT_S
        while not self._stop.is_set() and _yielding.is_set():
            oldest = state.ticks_oldest_ms()
            wait_ms = HELP_POLL_MS
            if oldest is not None:
                waited = state.now_ms() - oldest
                if waited >= amm_settings.AMM_TICK_LANE_HELP_MS:
                    return state.ticks_pop(None)
                wait_ms = min(wait_ms, amm_settings.AMM_TICK_LANE_HELP_MS - waited)
            if time.monotonic() >= deadline:
                return None
            self._stop.wait(max(wait_ms, 1) / 1000)
        return None


def lanes_alive() -> int:
    """The tick lanes alive now (0: the scheduler sends RQ jobs)."""
    return state.tick_lanes_alive(state.now_ms(), max_age_ms=amm_settings.AMM_TICK_LANE_ALIVE_MS)


_lanes: list[TickLane] = []
_lanes_lock = threading.Lock()


def install() -> list[TickLane]:
    """This process's tick lanes, started (AMM_TICK_LANE, AMM_TICK_LANE_THREADS of them); none when off."""
    if not amm_settings.AMM_TICK_LANE:
        return []
    with _lanes_lock:
        if not _lanes:
            _lanes.extend(TickLane().start() for _ in range(max(1, amm_settings.AMM_TICK_LANE_THREADS)))
        return list(_lanes)


def stop(timeout_s: float = 10.0) -> None:
    """Every lane of this process ends its batch at the next market, together."""
    with _lanes_lock:
        lanes = list(_lanes)
        _lanes.clear()
    for lane in lanes:
        lane.request_stop()
    for lane in lanes:
        lane.stop(timeout_s)
