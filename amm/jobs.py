"""RQ jobs of the AMM runtime (queue "amm"): thin — take the ids, call the runtime.

The top layer: each is requested by its dotted path (amm.runtime.job_requests, at most one
queued or running per key), so nothing below imports this module; it runs in an AmmWorker
(amm.runtime.worker). A database connection a long-lived worker kept may have been closed
meanwhile: each job that reads the database starts by dropping stale ones.
"""
from __future__ import annotations

from django.db import close_old_connections

from amm.conf import amm_settings
from amm.runtime import tick_lane
from amm.runtime.config_refresh import config_reload_many
from amm.runtime.cycle_runs import cycle_run, cycles_run_batch
from amm.runtime.daily import daily_reset as daily_counters_reset
from amm.runtime.feed import feed_windows
from amm.runtime.history_sampler import history_sample as history_sample_all
from amm.runtime.job_requests import oracle_job_key
from amm.runtime.lease import lease_ttl_ms
from amm.runtime.oracle_poll import oracle_poll as oracle_poll_once
from amm.runtime.reconcile_lane import reconcile_in_lane
from amm.runtime.startup import market_start
from amm.runtime.unique_jobs import run_unique
from amm.services import order_journal_flush


def quote(market_id: str, reason: str = "tick") -> None:
    """One quote cycle of the market (again while requotes were requested meanwhile)."""
    close_old_connections()
    cycle_run(market_id, reason)


def quote_batch(market_ids: list[str], reason: str = "tick") -> None:
    """Quote cycles of several markets, giving way to a fill's cycle (cycle_runs.cycles_run_batch)."""
    close_old_connections()
    cycles_run_batch(market_ids, reason)


def feed() -> None:
    """Windows of the fill poller and market-status watch (feed.feed_windows)."""
    close_old_connections()
    window = amm_settings.AMM_FEED_WINDOW_MS
    with tick_lane.yielding():  # the fills' path keeps this process (tick_lane: a lane yielding)
        run_unique("feed", lambda _: feed_windows(), marker_ttl_ms=window + lease_ttl_ms(), rerun=False)


def start(market_id: str) -> None:
    """The startup sync of a market an operator started; one that is no longer STARTING is
    left alone (startup.market_start)."""
    close_old_connections()
    run_unique(f"start:{market_id}", lambda _: market_start(market_id, only_starting=True), marker_ttl_ms=60_000,
               rerun=False)


def reconcile(market_id: str) -> None:
    """Reconciliation of one market (SPEC §8), in the market's lane (its lease)."""
    close_old_connections()
    run_unique(f"reconcile:{market_id}", lambda _: reconcile_in_lane(market_id), marker_ttl_ms=120_000, rerun=False)


def config_reload(market_ids: list[str]) -> None:
    """The config reload of every driven market (SPEC §4: a new version noticed within 30 s)."""
    close_old_connections()
    run_unique("config", lambda _: config_reload_many(market_ids), marker_ttl_ms=30_000, rerun=False)


def oracle_poll(market_id: str) -> None:
    """One poll of the market's oracle (amm/runtime/oracle_poll.py): its own job, so a slow source
    delays no cycle; at most one queued or running per market."""
    close_old_connections()
    run_unique(oracle_job_key(market_id), lambda _: oracle_poll_once(market_id=market_id),
               marker_ttl_ms=lease_ttl_ms(), rerun=False)


def journal_flush() -> None:
    close_old_connections()
    run_unique("journal", lambda _: order_journal_flush(), marker_ttl_ms=60_000, rerun=False)


def daily_reset(day: str) -> None:
    run_unique(f"daily:{day}", lambda _: daily_counters_reset(day), marker_ttl_ms=60_000, rerun=False)


def history_sample(market_ids: list[str]) -> None:
    """One sample of every driven market for the dashboard's charts (amm.runtime.history_sampler)."""
    run_unique("history", lambda _: history_sample_all(market_ids), marker_ttl_ms=30_000, rerun=False)


def ping() -> str:
    """A no-op: checks that workers take jobs (and measures the per-job cost of a worker class)."""
    return "pong"
