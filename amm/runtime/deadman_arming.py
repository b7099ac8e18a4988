"""The AMM side of the platform's dead man's switch (`POST /orders/cancel-all-after`).

While markets are quoted the scheduler re-arms it every timeout/3 (SPEC §7), so a frozen
or dead AMM leaves no live orders: the platform cancels them `dead_man_timeout_ms` after
the last arm. `amm:deadman` remembers until when the switch is surely armed (the send time
plus the timeout: the platform's own deadline is later); quote cycles send orders only
while that lies ahead (AMM_DEADMAN_REQUIRED). When an arm finds the previous one expired
— the AMM froze, or stopped arming — every market is marked for re-sync first: the
platform may have cancelled everything (and the arm call itself fires an expired switch
before it is served), so nothing is quoted until each market has read its open orders.
"""
from __future__ import annotations

import logging
from typing import Iterable

from amm import state
from amm.runtime.context import RuntimeContext

log = logging.getLogger(__name__)

DEFAULT_TIMEOUT_MS = 10_000


def timeout_for(market_ids: Iterable[str], *, configs: dict[str, dict] | None = None) -> int:
    """The smallest `dead_man_timeout_ms` of the markets' configs (one switch per user);
    `configs` as state.config_fields_many gives them, else read in one round trip."""
    if configs is None:
        configs = state.config_fields_many(market_ids, ["dead_man_timeout_ms"])
    values = [int(float(c["dead_man_timeout_ms"])) for m in market_ids
              if (c := configs.get(m)) and c.get("dead_man_timeout_ms")]
    return min(values) if values else DEFAULT_TIMEOUT_MS


def arm(ctx: RuntimeContext, *, timeout_ms: int, market_ids: Iterable[str]) -> bool:
    """Arm (re-arm) the switch; returns True when the previous arm had expired (the
    markets were then marked for re-sync)."""
    now = state.now_ms()
    previous = state.deadman_get()
    expired = bool(previous) and int(previous.get("armed_until_ms") or 0) <= now
    if expired:
        ids = list(market_ids)
        state.resync_request(ids, reason="dead man's switch expired")
        log.warning("dead man's switch had expired %d ms ago: re-syncing %d markets before quoting",
                    now - int(previous["armed_until_ms"]), len(ids))
    ctx.connector.cancel_all_after(int(timeout_ms))
    state.deadman_record(armed_at_ms=now, timeout_ms=int(timeout_ms))
    return expired


def disarm(ctx: RuntimeContext) -> None:
    ctx.connector.cancel_all_after(0)
    state.deadman_record(armed_at_ms=state.now_ms(), timeout_ms=0)
