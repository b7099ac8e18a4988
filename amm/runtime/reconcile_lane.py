"""Slow periodic work in a market's lane: reconciliation (SPEC §8) and config reload (§4)."""
from __future__ import annotations

import logging

from amm import state
from amm.runtime.context import context
from amm.runtime.renewer import keeper
from amm.runtime.lease import market_lease

log = logging.getLogger(__name__)


def reconcile_in_lane(market_id: str, *, wait_ms: int = 2000):
    """Reconcile one market while holding its lease (never concurrently with its cycle), then
    trim its processed-id set; None when the lease could not be had (the next period tries
    again)."""
    from amm.services import reconcile_market

    ctx = context()
    lease = market_lease(market_id)
    if not lease.acquire(wait_ms=wait_ms):
        log.info("reconciliation of %s skipped: the market is busy", market_id)
        return None
    handle = keeper.add(lease.renew)
    try:
        run = reconcile_market(market_id=market_id, connector=ctx.connector, feed=ctx.feed)
        trimmed = state.processed_trim(market_id, now=state.now_ms())
        if trimmed:
            log.info("%s: %d processed ids past the dedup window dropped", market_id, trimmed)
        return run
    finally:
        keeper.remove(handle)
        lease.release()


def config_reload_noticed(market_id: str) -> int | None:
    """Re-read `amm:config:{m}` (republished from the database if Redis lost it); returns the
    new version when this worker had an older one. Cycles also check the version each time."""
    from amm.services import config_reload

    ctx = context()
    cached = ctx.configs.get(market_id)
    loaded = config_reload(market_id=market_id, known_version=cached[0] if cached else None)
    if loaded is None:
        return None
    ctx.configs[market_id] = loaded
    if cached is not None:
        log.info("config of %s: version %d noticed (was %d)", market_id, loaded[0], cached[0])
    return loaded[0]


def config_reload_many(market_ids: list[str]) -> list[str]:
    """config_reload_noticed for every market whose `amm:config` version is not the one this
    worker holds (or is gone), the versions read in one round trip; returns those reloaded."""
    from amm import state

    ctx = context()
    versions = state.config_fields_many(market_ids, [state.CONFIG_VERSION_FIELD])
    stale = [m for m in market_ids
             if (cached := ctx.configs.get(m)) is None or versions[m].get(state.CONFIG_VERSION_FIELD) is None
             or int(versions[m][state.CONFIG_VERSION_FIELD]) != cached[0]]
    for market_id in stale:
        config_reload_noticed(market_id)
    return stale
