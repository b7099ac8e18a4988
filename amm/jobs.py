"""RQ jobs of the AMM runtime (queue "amm"): thin — take the ids, call the runtime service.

Each is enqueued as a unique job by amm.runtime.scheduling (at most one queued or running
per key) and runs in an AmmWorker (amm.runtime.worker).
"""
from __future__ import annotations

from django.db import close_old_connections

from amm.runtime.lease import lease_ttl_ms
from amm.runtime.queue import run_unique


def quote(market_id: str, reason: str = "tick") -> None:
    """One quote cycle of the market (again while requotes were requested meanwhile)."""
    from amm.runtime.cycle import quote_cycle
    from amm.runtime.scheduling import quote_key

    close_old_connections()
    run_unique(quote_key(market_id), lambda again: quote_cycle(market_id, reason=again or reason),
               marker_ttl_ms=lease_ttl_ms())


def feed() -> None:
    """One window of the fill poller and market-status watch."""
    from django.conf import settings

    from amm.runtime.feed import feed_loop

    close_old_connections()
    window = int(getattr(settings, "AMM_FEED_WINDOW_MS", 1000))
    run_unique("feed", lambda _: feed_loop(), marker_ttl_ms=window + lease_ttl_ms(), rerun=False)


def reconcile(market_id: str) -> None:
    """Reconciliation of one market (SPEC §8), in the market's lane (its lease)."""
    from amm.runtime.recon import reconcile_in_lane

    close_old_connections()
    run_unique(f"reconcile:{market_id}", lambda _: reconcile_in_lane(market_id), marker_ttl_ms=120_000, rerun=False)


def config_reload(market_id: str) -> None:
    from amm.runtime.recon import config_reload_noticed

    close_old_connections()
    run_unique(f"config:{market_id}", lambda _: config_reload_noticed(market_id), marker_ttl_ms=30_000, rerun=False)


def journal_flush() -> None:
    from amm.services import order_journal_flush

    close_old_connections()
    run_unique("journal", lambda _: order_journal_flush(), marker_ttl_ms=60_000, rerun=False)


def daily_reset(day: str) -> None:
    from amm.runtime.daily import daily_reset as reset

    run_unique(f"daily:{day}", lambda _: reset(day), marker_ttl_ms=60_000, rerun=False)


def ping() -> str:
    """A no-op: checks that workers take jobs (and measures the per-job cost of a worker class)."""
    return "pong"
