"""The feed job: long-polls the platform's trade feed (`GET /trades?since=&wait_ms=`, up to
AMM_FILL_WAIT_MS; a platform that answers at once is polled every AMM_FILL_POLL_INTERVAL_MS)
for AMM_FEED_WINDOW_MS, applying AMM fills exactly once (amm.bookkeeping.FillFeed) and
requesting a cycle of each market that got one at the front of the queue (reason "fill");
every AMM_STATUS_POLL_MS it reads every market's status (one GET /markets) into
`amm:market:{m}` and requests a cycle of each market whose status changed (reason
"status"). One feed job runs at a time (lease "feed"); the scheduler enqueues the next as
soon as this one ends, and a dead one's lease expires within a few seconds. Each window
records when the platform last answered a poll (`feed_ms` of the run heartbeat): the
monitoring API's health check calls a feed whose heartbeat is old stopped.

How a fill becomes a requote: the platform commits the trade -> the waiting poll answers
with it -> the feed applies it to Redis and pushes it to `amm:fills:{m}` -> the market's
cycle job is enqueued at the front (or, if one is queued/running, asked to run once more)
-> a worker runs the cycle: it reads the fill with its one Redis read, decides, replaces.
"""
from __future__ import annotations

import logging
import time

from amm import state
from amm.bookkeeping.snapshot import market_meta
from amm.conf import amm_settings
from amm.connector import ConnectorError
from amm.runtime.context import RuntimeContext, context
from amm.runtime.job_requests import request_cycle
from amm.runtime.lease import Lease, lease_ttl_ms
from amm.runtime.renewer import renewer

log = logging.getLogger(__name__)


def status_watch(ctx: RuntimeContext) -> list[str]:
    """Refresh the status of the markets the scheduler drives; request a cycle of each one
    whose status changed. Returns those markets."""
    markets = state.run_markets_get()
    if not markets:
        return []
    now = state.now_ms()
    known = state.market_status_many(markets)
    metas, changed = {}, []
    for market in ctx.connector.markets_list():
        if market.id not in markets:
            continue
        metas[market.id] = {**market_meta(market), "updated_at_ms": now}
        if known.get(market.id) not in (None, market.status):
            changed.append(market.id)
    state.market_status_write_many(metas)
    for market_id in changed:
        log.warning("market %s is now %s", market_id, metas[market_id]["status"])
        request_cycle(market_id, reason="status", at_front=True)
    return changed


def feed_loop(*, window_ms: int | None = None, ctx: RuntimeContext | None = None) -> dict[str, int]:
    """One feed window (module docstring). Returns counters."""
    ctx = ctx or context()
    window_ms = amm_settings.AMM_FEED_WINDOW_MS if window_ms is None else window_ms
    poll_s = amm_settings.AMM_FILL_POLL_INTERVAL_MS / 1000
    wait_s = amm_settings.AMM_FILL_WAIT_MS / 1000
    status_s = amm_settings.AMM_STATUS_POLL_MS / 1000
    lease = Lease("feed", ttl_ms=lease_ttl_ms())
    if not lease.acquire():
        return {"busy": 1}
    handle = renewer.add(lease.renew)
    counters = {"polls": 0, "fills": 0, "status_changes": 0, "errors": 0}
    answered_ms = 0  # the last poll the platform answered: the feed's heartbeat (health)
    try:
        start = time.monotonic()
        end = start + window_ms / 1000
        next_status = start
        while lease.held:
            now = time.monotonic()
            if now >= next_status:
                next_status = now + status_s
                try:
                    counters["status_changes"] += len(status_watch(ctx))
                except ConnectorError as exc:
                    counters["errors"] += 1
                    log.warning("market status watch: %s", exc)
            # Long poll until the next status watch (or the window's end); the platform
            # answers at once when a trade is there or commits meanwhile.
            wait = max(0.0, min(wait_s, next_status - time.monotonic(), end - time.monotonic()))
            asked = time.monotonic()
            try:
                result = ctx.feed.poll(wait_ms=int(wait * 1000))
                counters["fills"] += result.applied
                answered_ms = state.now_ms()
            except ConnectorError as exc:
                counters["errors"] += 1
                log.warning("fill feed: %s", exc)
                result = None
            counters["polls"] += 1
            if time.monotonic() >= end:
                break
            if result is None or (not result.fetched and time.monotonic() - asked < wait / 2):
                # An error, or an empty answer long before its wait: the platform does not
                # hold answers (plain polling) — pace the next poll.
                time.sleep(max(0.0, min(poll_s, next_status - time.monotonic())) if poll_s > 0 else 0)
    finally:
        renewer.remove(handle)
        lease.release()
        if answered_ms:  # once per window, not per poll
            state.run_update(feed_ms=answered_ms)
    return counters
