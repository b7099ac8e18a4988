"""RQ jobs of the AMM runtime (queue "amm"): thin — take the ids, call the runtime service.

Each is enqueued as a unique job by amm.runtime.job_requests (at most one queued or running
per key) and runs in an AmmWorker (amm.runtime.worker).
"""
from __future__ import annotations

from django.db import close_old_connections

from amm.conf import amm_settings
from amm.runtime.lease import lease_ttl_ms
from amm.runtime.unique_jobs import run_unique


def quote(market_id: str, reason: str = "tick") -> None:
    """One quote cycle of the market (again while requotes were requested meanwhile)."""
    from amm.runtime.cycle import quote_cycle
    from amm.runtime.job_requests import quote_key

    close_old_connections()
    run_unique(quote_key(market_id), lambda again: quote_cycle(market_id, reason=again or reason),
               marker_ttl_ms=lease_ttl_ms())


def quote_batch(market_ids: list[str], reason: str = "tick") -> None:
    """Quote cycles of several markets one after the other (the scheduler's periodic ticks,
    amm.runtime.job_requests.request_cycles). When a fill's (or an operator's) cycle waits at
    the head of the queue, the rest of the batch goes back to the queue and this worker takes
    that one: a market of the rest with a request of its own waiting (a fill came while the
    batch held it) goes to the front as a cycle of its own, the others to the back as a
    batch. One market's error does not starve the others; the first is raised at the end, so
    RQ records the job as failed."""
    import logging

    from amm import state
    from amm.runtime.cycle import quote_cycle
    from amm.runtime.renewer import renewer
    from amm.runtime.unique_jobs import urgent_waiting
    from amm.runtime.job_requests import quote_key, request_cycle, request_cycles

    close_old_connections()
    ttl = lease_ttl_ms()
    keys = [quote_key(m) for m in market_ids]
    at = [0]
    state.job_renew_many(keys, ttl_ms=ttl)  # running now: a worker that dies frees them within the TTL
    handle = renewer.add(lambda: state.job_renew_many(keys[at[0] + 1:], ttl_ms=ttl))  # the markets still waiting
    first_error: Exception | None = None
    try:
        for i, market_id in enumerate(market_ids):
            at[0] = i
            if i and urgent_waiting():
                rest = list(zip(market_ids[i:], keys[i:]))
                waiting = state.job_reruns(keys[i:])
                for _, key in rest:
                    state.job_done(key)
                for m, key in rest:
                    if key in waiting:
                        request_cycle(m, reason=waiting[key], at_front=True)
                request_cycles([m for m, key in rest if key not in waiting], reason=reason)
                break
            try:
                run_unique(keys[i], lambda again, m=market_id: quote_cycle(m, reason=again or reason), marker_ttl_ms=ttl)
            except Exception as exc:  # noqa: BLE001 - logged, raised after the others ran
                logging.getLogger(__name__).exception("quote cycle of %s failed", market_id)
                first_error = first_error or exc
    finally:
        renewer.remove(handle)
    if first_error is not None:
        raise first_error


def feed() -> None:
    """One window of the fill poller and market-status watch."""
    
    from amm.runtime.feed import feed_loop

    close_old_connections()
    window = amm_settings.AMM_FEED_WINDOW_MS
    run_unique("feed", lambda _: feed_loop(), marker_ttl_ms=window + lease_ttl_ms(), rerun=False)


def start(market_id: str) -> None:
    """The startup sync of a market an operator started; one that is no longer STARTING is
    left alone (startup.market_start)."""
    from amm.runtime.startup import market_start

    close_old_connections()
    run_unique(f"start:{market_id}", lambda _: market_start(market_id, only_starting=True), marker_ttl_ms=60_000,
               rerun=False)


def reconcile(market_id: str) -> None:
    """Reconciliation of one market (SPEC §8), in the market's lane (its lease)."""
    from amm.runtime.reconcile_lane import reconcile_in_lane

    close_old_connections()
    run_unique(f"reconcile:{market_id}", lambda _: reconcile_in_lane(market_id), marker_ttl_ms=120_000, rerun=False)


def config_reload(market_ids: list[str]) -> None:
    """The config reload of every driven market (SPEC §4: a new version noticed within 30 s)."""
    from amm.runtime.config_refresh import config_reload_many

    close_old_connections()
    run_unique("config", lambda _: config_reload_many(market_ids), marker_ttl_ms=30_000, rerun=False)


def oracle_poll(market_id: str) -> None:
    """One poll of the market's oracle (amm/oracle/poll.py): its own job, so a slow source
    delays no cycle; at most one queued or running per market."""
    from amm.oracle.poll import oracle_poll as poll
    from amm.runtime.job_requests import oracle_job_key

    close_old_connections()
    run_unique(oracle_job_key(market_id), lambda _: poll(market_id=market_id), marker_ttl_ms=lease_ttl_ms(),
               rerun=False)


def journal_flush() -> None:
    from amm.services import order_journal_flush

    close_old_connections()
    run_unique("journal", lambda _: order_journal_flush(), marker_ttl_ms=60_000, rerun=False)


def daily_reset(day: str) -> None:
    from amm.runtime.daily import daily_reset as reset

    run_unique(f"daily:{day}", lambda _: reset(day), marker_ttl_ms=60_000, rerun=False)


def history_sample(market_ids: list[str]) -> None:
    """One sample of every driven market for the dashboard's charts (amm.runtime.history_sampler)."""
    from amm.runtime.history_sampler import history_sample as sample

    run_unique("history", lambda _: sample(market_ids), marker_ttl_ms=30_000, rerun=False)


def ping() -> str:
    """A no-op: checks that workers take jobs (and measures the per-job cost of a worker class)."""
    return "pong"
