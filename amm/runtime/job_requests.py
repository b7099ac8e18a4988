"""Requests for jobs (what the scheduler loop, the feed and operators call): each a unique
job on the "amm" queue (amm/runtime/unique_jobs.py), executed by amm/jobs.py; periodic cycles
go to the workers' tick lanes instead while any is alive (amm/runtime/tick_lane.py).

Jobs are named by their dotted path: RQ imports the function in the worker that runs it,
so the runtime never imports amm/jobs.py, the thin layer above it.
"""
from __future__ import annotations

import secrets
from typing import Callable

from amm import state
from amm.conf import amm_settings
from amm.runtime.lease import lease_ttl_ms
from amm.runtime.unique_jobs import enqueue_unique, enqueue_unique_many, queued_marker_ttl_ms

# The jobs (functions of amm/jobs.py), by the dotted path RQ stores and imports.
QUOTE = "amm.jobs.quote"
QUOTE_BATCH = "amm.jobs.quote_batch"
FEED = "amm.jobs.feed"
START = "amm.jobs.start"
RECONCILE = "amm.jobs.reconcile"
CONFIG_RELOAD = "amm.jobs.config_reload"
ORACLE_POLL = "amm.jobs.oracle_poll"
JOURNAL_FLUSH = "amm.jobs.journal_flush"
DAILY_RESET = "amm.jobs.daily_reset"
HISTORY_SAMPLE = "amm.jobs.history_sample"
TICK_QUEUED_TTL_S = 30  # a periodic batch not started by then is dropped (RQ's ttl, a tick lane's check)
JOBS = (QUOTE, QUOTE_BATCH, FEED, START, RECONCILE, CONFIG_RELOAD, ORACLE_POLL, JOURNAL_FLUSH, DAILY_RESET,
        HISTORY_SAMPLE)


def quote_key(market_id: str) -> str:
    return f"quote:{market_id}"


def oracle_job_key(market_id: str) -> str:
    return f"oracle:{market_id}"


def request_cycle(market_id: str, *, reason: str = "tick", at_front: bool = False) -> bool:
    """Enqueue the market's quote cycle unless one is queued or running (that one then runs
    once more). Fills, status changes and operator actions go to the front of the queue."""
    return enqueue_unique(quote_key(market_id), QUOTE, market_id, reason, marker_ttl_ms=lease_ttl_ms(),
                          at_front=at_front, reason=reason, timeout_s=60, queued_ttl_s=30)


# A requote that should not wait in the queue (a fill, a book move): the process's fast lane
# when one is installed (amm/runtime/fast_lane.py, which sits above this module), else the
# market's cycle at the front of the queue.
_requote_handler: Callable[[str, str], None] | None = None


def install_requote_handler(handler: Callable[[str, str], None] | None) -> None:
    global _requote_handler
    _requote_handler = handler


def request_requote(market_id: str, *, reason: str) -> None:
    """A requote of the market at once (a fill, a book move): on this process's fast lane, or
    its cycle at the front of the queue."""
    handler = _requote_handler
    if handler is not None:
        handler(market_id, reason)
    else:
        request_cycle(market_id, reason=reason, at_front=True)


def tick_batch_size(due: int, workers: int) -> int:
    """Markets per job for `due` periodic cycles: AMM_TICK_BATCH, or more where that would
    make more jobs than the `workers` serving the queue (0: not known) could take at once:
    jobs beyond one a worker only wait in the queue, each with RQ's bookkeeping to pay."""
    batch = max(1, amm_settings.AMM_TICK_BATCH)
    return max(batch, -(-due // workers)) if workers > 0 else batch


def request_cycles(market_ids: list[str], *, reason: str = "tick", workers: int = 0, lanes: int = 0) -> int:
    """The periodic cycles of many markets, several to a batch (tick_batch_size). With `lanes`
    (the workers' tick lanes alive, amm/runtime/tick_lane.py) the batches go onto `amm:ticks`
    for them, no more batches a call than lanes; else each batch is an RQ job, whose own
    bookkeeping (about sixty Redis commands) costs more than a quiet cycle. A market with a
    cycle queued or running is left to it, not asked to run again: under load, ticks that pile
    up would otherwise double the work. Returns the cycles requested."""
    if lanes > 0:
        return state.ticks_request([quote_key(m) for m in market_ids], market_ids, f"lane-{secrets.token_hex(4)}",
                                   batch_size=tick_batch_size(len(market_ids), lanes), reason=reason,
                                   ttl_ms=queued_marker_ttl_ms(lease_ttl_ms(), TICK_QUEUED_TTL_S),
                                   now_ms=state.now_ms())
    return enqueue_unique_many([quote_key(m) for m in market_ids], QUOTE_BATCH,
                               lambda keys: ([k.split(":", 1)[1] for k in keys], reason),
                               batch_size=tick_batch_size(len(market_ids), workers),
                               marker_ttl_ms=lease_ttl_ms(), reason=reason, rerun=False, timeout_s=60,
                               queued_ttl_s=TICK_QUEUED_TTL_S)


def request_feed() -> bool:
    """The fill poller / market-status watcher (one alive at a time)."""
    window = amm_settings.AMM_FEED_WINDOW_MS
    job_s = max(1, amm_settings.AMM_FEED_WINDOWS_PER_JOB) * window // 1000
    return enqueue_unique("feed", FEED, marker_ttl_ms=window + lease_ttl_ms(), at_front=True,
                          reason="feed", timeout_s=job_s + 60, queued_ttl_s=30)


def request_reconcile(market_id: str) -> bool:
    return enqueue_unique(f"reconcile:{market_id}", RECONCILE, market_id, marker_ttl_ms=120_000,
                          reason="reconcile", timeout_s=120, queued_ttl_s=300)


def request_config_reload(market_ids: list[str]) -> bool:
    """One job for every market: each checks its config version (a cycle also does, on
    every read; this republishes a config Redis lost even while no cycle runs)."""
    return enqueue_unique("config", CONFIG_RELOAD, list(market_ids), marker_ttl_ms=30_000, reason="config",
                          timeout_s=30, queued_ttl_s=60)


def request_oracle_poll(market_id: str, *, timeout_ms: int) -> bool:
    """A poll of the market's oracle unless one is queued or running: a slow source never
    has two polls in flight (the one running serves the request). The job's own time limit
    is a backstop: the adapter gives up after `timeout_ms`."""
    return enqueue_unique(oracle_job_key(market_id), ORACLE_POLL, market_id, marker_ttl_ms=lease_ttl_ms(),
                          reason="oracle", timeout_s=int(timeout_ms) // 1000 + 10, queued_ttl_s=30)


def request_journal_flush() -> bool:
    return enqueue_unique("journal", JOURNAL_FLUSH, marker_ttl_ms=60_000, reason="journal", timeout_s=60,
                          queued_ttl_s=60)


def request_daily_reset(day: str) -> bool:
    return enqueue_unique(f"daily:{day}", DAILY_RESET, day, marker_ttl_ms=60_000, reason="daily reset",
                          timeout_s=60, queued_ttl_s=3600)


def request_history_sample(market_ids: list[str]) -> bool:
    """The dashboard's history sample of every driven market (one job for all of them)."""
    return enqueue_unique("history", HISTORY_SAMPLE, list(market_ids), marker_ttl_ms=30_000, reason="history",
                          timeout_s=30, queued_ttl_s=30)


def request_start(market_id: str) -> bool:
    """The startup sync of a market an operator started (STARTING), on a worker: the
    scheduler's loop must not wait for the platform."""
    return enqueue_unique(f"start:{market_id}", START, market_id, marker_ttl_ms=60_000, at_front=True,
                          reason="start", timeout_s=60, queued_ttl_s=60)
