"""The periodic config reload (SPEC §4: a new version noticed within 30 s): this worker's
parsed configs brought to the version `amm:config:{m}` publishes, and a config Redis lost
republished from the database even while no cycle runs (cycles also check the version on
every read, RuntimeContext.config)."""
from __future__ import annotations

import logging

from amm import state
from amm.runtime.context import context
from amm.services import config_reload

log = logging.getLogger(__name__)


def config_reload_noticed(market_id: str) -> int | None:
    """Re-read `amm:config:{m}` (republished from the database if Redis lost it); returns the
    new version when this worker had an older one."""
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
    ctx = context()
    versions = state.config_fields_many(market_ids, [state.CONFIG_VERSION_FIELD])
    stale = [m for m in market_ids
             if (cached := ctx.configs.get(m)) is None or versions[m].get(state.CONFIG_VERSION_FIELD) is None
             or int(versions[m][state.CONFIG_VERSION_FIELD]) != cached[0]]
    for market_id in stale:
        config_reload_noticed(market_id)
    return stale
