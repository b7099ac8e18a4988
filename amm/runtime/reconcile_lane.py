"""Reconciliation (SPEC §8) in the market's lane: under its lease, never concurrently with
its quote cycle; the service itself is amm.services.reconcile_market."""
from __future__ import annotations

import logging

from amm import state
from amm.runtime.context import context
from amm.runtime.lease import market_lease
from amm.runtime.renewer import renewer
from amm.services import reconcile_market

log = logging.getLogger(__name__)


def reconcile_in_lane(market_id: str, *, wait_ms: int = 2000):
    """Reconcile one market while holding its lease (never concurrently with its cycle), then
    trim its processed-id set; None when the lease could not be had (the next period tries
    again)."""
    ctx = context()
    lease = market_lease(market_id)
    if not lease.acquire(wait_ms=wait_ms):
        log.info("reconciliation of %s skipped: the market is busy", market_id)
        return None
    handle = renewer.add(lease.renew)
    try:
        run = reconcile_market(market_id=market_id, connector=ctx.connector, feed=ctx.feed)
        trimmed = state.processed_trim(market_id, now=state.now_ms())
        if trimmed:
            log.info("%s: %d processed ids past the dedup window dropped", market_id, trimmed)
        return run
    finally:
        renewer.remove(handle)
        lease.release()
