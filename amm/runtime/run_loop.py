"""The scheduler loop that `run_amm` runs (SPEC §7): it only enqueues; RQ workers do the work.

Every second the driven markets are re-read from the database (`refresh`): an operator's
stop drops a market, an operator's start (STARTING) enqueues its startup sync
(jobs.start -> startup.market_start), after which it is RUNNING and driven. Without
`market_ids` every AMM instance is considered, also ones enabled after run_amm started.

Every AMM_SCHEDULER_TICK_MS:
- each driven market (lifecycle RUNNING, EMERGENCY or WINDING_DOWN) gets a quote cycle
  every `requote_interval_ms`, the markets' ticks spread over the interval; those due are
  sent every AMM_TICK_DISPATCH_MS, AMM_TICK_BATCH markets to a batch, more when that would
  make more batches than the workers' tick lanes alive (runtime/tick_lane.py: the batches go
  onto `amm:ticks` for them) or, with no lane alive, than workers serving the queue (a batch
  an RQ job; job_requests.tick_batch_size; never two queued cycles per market; a worker
  that died mid-cycle loses the market's lease and marker
  within AMM_LEASE_TTL_MS, after which the next tick enqueues it again for any worker);
- the feed job (fills -> immediate requotes, market statuses) is kept alive: enqueued at
  the front whenever none is queued or running;
- with AMM_PUSH and AMM_BOOK_PUSH, a thread keeps each RUNNING or EMERGENCY market's order
  book from the platform's WebSocket feed in Redis for the cycles (runtime/book_feed.py),
  its heartbeat written every 250 ms;
- each RUNNING or EMERGENCY market whose config names an `oracle_adapter` gets an oracle
  poll every `oracle_poll_interval_ms` (amm/oracle: its own job, one in flight per market;
  a cycle only reads the reading it wrote);
- reconciliation per market every AMM_RECONCILE_INTERVAL_S (5 min), the config reload of
  every market (one job) every AMM_CONFIG_RELOAD_INTERVAL_S (30 s), order journal flush every AMM_JOURNAL_FLUSH_INTERVAL_MS,
  the dashboard's history sample of every market (one job) every AMM_HISTORY_SAMPLE_S (10 s),
  and the daily reset when the local date (settings.TIME_ZONE) changes.

A separate thread re-arms the platform's dead man's switch every timeout/3 while markets
are driven, and stops re-arming when no cycle completed for a whole timeout (workers dead
or stuck: let the platform cancel). A loop that finds itself stalled longer than the
timeout (frozen process) marks every market for re-sync before anything is quoted again.

Only one scheduler runs at a time (lease "scheduler"); a second run_amm waits for it.
"""
from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass

from django.db import close_old_connections

from amm import state
from amm.conf import amm_settings
from amm.connector import ConnectorError
from amm.enums import AMMLifecycleState as L
from amm.models import AMMInstance
from amm.runtime import deadman_arming, fast_lane, tick_lane
from amm.runtime.book_feed import BookFeed, book_feed_wanted
from amm.runtime.context import context
from amm.runtime.daily import local_day
from amm.runtime.history_sampler import sample_interval_s
from amm.runtime.renewer import renewer
from amm.runtime.unique_jobs import workers_serving
from amm.runtime.lease import Lease
from amm.runtime.job_requests import (
    request_config_reload,
    request_cycles,
    request_daily_reset,
    request_feed,
    request_history_sample,
    request_journal_flush,
    request_oracle_poll,
    request_reconcile,
    request_start,
)

log = logging.getLogger(__name__)

DRIVEN = (L.RUNNING.value, L.EMERGENCY.value, L.WINDING_DOWN.value)
ORACLE_POLLED = (L.RUNNING.value, L.EMERGENCY.value)  # winding down quotes no more: its oracle is not needed
CONFIG_FIELDS = ["requote_interval_ms", "dead_man_timeout_ms", "oracle_adapter", "oracle_poll_interval_ms",
                 "oracle_timeout_ms"]


def next_due(due: float, interval: float, now: float) -> float:
    """The first time after `now` on the grid `due` + k × `interval`: the market keeps its
    phase, and a loop that fell behind (stalled longer than the interval) neither bursts to
    catch up nor restarts every late market at `now` + interval, which would put them all in
    one phase for good (every market due in the same dispatch, each second)."""
    return due + (int((now - due) // interval) + 1) * interval


@dataclass
class Plan:
    lifecycle: str
    interval_s: float
    due: float = 0.0
    reconcile_due: float = 0.0
    oracle_interval_s: float = 0.0  # 0: no oracle to poll
    oracle_timeout_ms: int = 1000
    oracle_due: float = 0.0


class Scheduler:
    def __init__(self, market_ids: list[str] | None = None, *, arm_deadman: bool = True) -> None:
        self.market_ids = list(market_ids) if market_ids else None
        self.arm_deadman = arm_deadman
        self.stop_event = threading.Event()
        self.lease = Lease("scheduler")
        self.plans: dict[str, Plan] = {}
        self.tick_s = amm_settings.AMM_SCHEDULER_TICK_MS / 1000
        self.dispatch_s = amm_settings.AMM_TICK_DISPATCH_MS / 1000
        self._refresh_due = self._feed_due = self._journal_due = self._daily_due = self._dispatch_due = 0.0
        self._config_due = time.monotonic() + amm_settings.AMM_CONFIG_RELOAD_INTERVAL_S
        self._history_due = 0.0
        self._last_tick = 0.0
        self._day = ""
        self._deadman_thread: threading.Thread | None = None
        self._started_ms = state.now_ms()
        self.deadman_timeout_ms = deadman_arming.DEFAULT_TIMEOUT_MS
        self.active = False
        self.book_feed: BookFeed | None = None  # the WebSocket books (run(): with AMM_PUSH and AMM_BOOK_PUSH)
        self._beat_due = 0.0
        self.workers = 0  # RQ workers serving the queue, as the last refresh counted them
        self.lanes = 0  # the workers' tick lanes alive, as the last refresh counted them

    # --- ownership -----------------------------------------------------------------------------
    def acquire(self, *, wait_ms: int) -> bool:
        """Become the scheduler (waiting for a dead run's lease to expire)."""
        if not self.lease.acquire(wait_ms=wait_ms, poll_ms=100):
            return False
        self._renewal = renewer.add(self.lease.renew)
        self.active = True
        return True

    def release(self) -> None:
        renewer.remove(getattr(self, "_renewal", 0))
        try:
            self.lease.release()
        except Exception:  # noqa: BLE001
            pass

    # --- markets -------------------------------------------------------------------------------
    def refresh(self, now: float) -> None:
        """Re-read which markets are driven (the database) and their intervals (Redis config),
        every second: a market an operator stopped leaves the plans, one an operator started
        (STARTING) gets its startup job, and once RUNNING its cycles."""
        close_old_connections()
        rows = AMMInstance.objects.all()
        if self.market_ids is not None:
            rows = rows.filter(market_id__in=self.market_ids)
        lifecycles = dict(rows.values_list("market_id", "lifecycle_state"))
        driven = {m: lc for m, lc in lifecycles.items() if lc in DRIVEN}
        for market_id, lifecycle in lifecycles.items():  # an operator's start: the startup sync on a worker
            if lifecycle == L.STARTING.value:
                request_start(market_id)
        for market_id in list(self.plans):
            if market_id not in driven:
                del self.plans[market_id]
        recon_s = amm_settings.AMM_RECONCILE_INTERVAL_S
        configs = state.config_fields_many(driven, CONFIG_FIELDS)
        for i, (market_id, lifecycle) in enumerate(sorted(driven.items())):
            raw = configs[market_id].get("requote_interval_ms")
            interval_s = max(0.05, int(float(raw)) / 1000) if raw else 1.0
            spread = (i + 1) / (len(driven) + 1)
            plan = self.plans.get(market_id)
            if plan is None:  # spread the markets' ticks and slow jobs over their periods
                plan = self.plans[market_id] = Plan(lifecycle, interval_s, due=now + interval_s * spread,
                                                    reconcile_due=now + recon_s * (0.5 + spread / 2))
            else:
                plan.lifecycle, plan.interval_s = lifecycle, interval_s
            self._plan_oracle(plan, configs[market_id], now=now, spread=spread)
        state.run_markets_set(self.plans)
        self.workers = workers_serving()
        self.lanes = tick_lane.lanes_alive()
        if self.book_feed is not None:
            self.book_feed.set_markets([m for m, plan in self.plans.items() if plan.lifecycle in ORACLE_POLLED])
        if self.plans:
            self.deadman_timeout_ms = deadman_arming.timeout_for(self.plans, configs=configs)

    @staticmethod
    def _plan_oracle(plan: Plan, config: dict, *, now: float, spread: float) -> None:
        """The market's oracle poll period from its config (0: none); a newly named adapter
        is polled within a spread fraction of the period."""
        adapter = (config.get("oracle_adapter") or "").strip()
        if not adapter or plan.lifecycle not in ORACLE_POLLED:
            plan.oracle_interval_s = 0.0
            return
        raw_interval, raw_timeout = config.get("oracle_poll_interval_ms"), config.get("oracle_timeout_ms")
        interval_s = max(0.1, int(float(raw_interval)) / 1000) if raw_interval else 2.0
        if not plan.oracle_interval_s:
            plan.oracle_due = now + interval_s * spread / 4
        plan.oracle_interval_s = interval_s
        plan.oracle_timeout_ms = int(float(raw_timeout)) if raw_timeout else 1000

    # --- one pass --------------------------------------------------------------------------------
    def tick(self, now: float | None = None) -> dict[str, int]:
        """One scheduling pass; returns what it enqueued (for tests and the status line)."""
        now = time.monotonic() if now is None else now
        counts = {"cycles": 0, "feed": 0, "reconcile": 0, "config": 0, "journal": 0, "daily": 0, "history": 0, "oracle": 0}
        if self._last_tick and (now - self._last_tick) * 1000 > self.deadman_timeout_ms and self.plans:
            log.warning("scheduler loop stalled %.1f s (frozen?): every market re-syncs before quoting",
                        now - self._last_tick)
            state.resync_request(self.plans, reason="scheduler stalled")
        self._last_tick = now
        if now >= self._refresh_due:
            self._refresh_due = now + 1.0
            self.refresh(now)
        if now >= self._dispatch_due:  # ticks due are sent together, a batch to a job
            self._dispatch_due = now + self.dispatch_s
            due = []
            for market_id, plan in self.plans.items():
                if now >= plan.due:
                    plan.due = next_due(plan.due, plan.interval_s, now)
                    due.append(market_id)
            counts["cycles"] += request_cycles(due, reason="tick", workers=self.workers, lanes=self.lanes)
        for market_id, plan in self.plans.items():
            if plan.oracle_interval_s and now >= plan.oracle_due:
                plan.oracle_due = next_due(plan.oracle_due, plan.oracle_interval_s, now)
                counts["oracle"] += request_oracle_poll(market_id, timeout_ms=plan.oracle_timeout_ms)
            if now >= plan.reconcile_due:
                plan.reconcile_due = now + amm_settings.AMM_RECONCILE_INTERVAL_S
                counts["reconcile"] += request_reconcile(market_id)
        if self.plans and now >= self._config_due:
            self._config_due = now + amm_settings.AMM_CONFIG_RELOAD_INTERVAL_S
            counts["config"] += request_config_reload(sorted(self.plans))
        if self.plans and now >= self._history_due:
            self._history_due = now + sample_interval_s()
            counts["history"] += request_history_sample(sorted(self.plans))
        if self.plans and now >= self._feed_due:
            self._feed_due = now + 0.05
            counts["feed"] += request_feed()
        if now >= self._journal_due:
            self._journal_due = now + amm_settings.AMM_JOURNAL_FLUSH_INTERVAL_MS / 1000
            counts["journal"] += request_journal_flush()
        if now >= self._daily_due:
            self._daily_due = now + 1.0
            day = local_day()
            if day != self._day:
                seen = state.daily_reset_day()
                if seen is None or seen < day:
                    counts["daily"] += request_daily_reset(day)
                else:
                    self._day = day
        if self.book_feed is not None and now >= self._beat_due:
            self._beat_due = now + 0.25
            self.book_feed.beat()
        state.run_update(scheduler_ms=state.now_ms())
        return counts

    # --- the loop ----------------------------------------------------------------------------------
    def run(self) -> None:
        """Tick until `stop_event`; survives Redis and database errors (logged, retried)."""
        if self.arm_deadman:
            self._deadman_thread = threading.Thread(target=self._deadman_loop, name="amm-deadman", daemon=True)
            self._deadman_thread.start()
        if book_feed_wanted() and self.book_feed is None:
            fast_lane.install()  # book moves requote on this process's lane
            self.book_feed = BookFeed().start()
        while not self.stop_event.is_set():
            try:
                if not self.lease.check() and not self.lease.acquire():
                    self.active = False
                    self.stop_event.wait(0.5)
                    continue
                self.active = True
                self.tick()
            except Exception:  # noqa: BLE001 - Redis restarting, database hiccup: keep going
                log.exception("scheduler tick failed")
                self.stop_event.wait(0.5)
                continue
            self.stop_event.wait(self.tick_s)

    def stop(self) -> None:
        self.stop_event.set()
        if self._deadman_thread is not None:
            self._deadman_thread.join(timeout=5)
        if self.book_feed is not None:
            try:
                self.book_feed.stop()
            except Exception:  # noqa: BLE001 - Redis gone at shutdown: the keys go stale by themselves
                log.exception("book feed: stop failed")
            fast_lane.stop(timeout_s=amm_settings.AMM_SHUTDOWN_TIMEOUT_S / 2)

    def _deadman_loop(self) -> None:
        ctx = context()
        while not self.stop_event.is_set():
            timeout = self.deadman_timeout_ms
            try:
                if self.plans and self.active and self._workers_alive(timeout):
                    deadman_arming.arm(ctx, timeout_ms=timeout, market_ids=list(self.plans))
            except ConnectorError as exc:
                log.warning("dead man's switch: arm failed: %s", exc)
            except Exception:  # noqa: BLE001
                log.exception("dead man's switch: arm failed")
            self.stop_event.wait(timeout / 3000)

    def _workers_alive(self, timeout_ms: int) -> bool:
        """Some cycle completed within the timeout (or the run is younger than that)."""
        last = int(state.run_get().get("last_cycle_ms") or 0)
        now = state.now_ms()
        alive = now - max(last, self._started_ms) < timeout_ms
        if not alive:
            log.error("no quote cycle completed for %d ms: not re-arming the dead man's switch", now - last)
        return alive
