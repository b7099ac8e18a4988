"""The kill switch (SPEC §5, §3.7 amm_kill / amm_resume).

`kill()` — an operator's, for some markets or all, in two passes so that all markets stop
within one cycle however many there are: first set every switch ON with who and why
(`instance_kill`: defense KILL_SWITCH, RUNNING -> EMERGENCY, alert) — from then on no cycle
quotes; then, market by market, take its lease (waiting for the one cycle that may be
mid-flight, else taking it over: a stuck holder is fenced out), cancel every AMM order of
the market on the platform (cancel-all: also orders Redis does not track) and release them
in Redis. Every later cycle sees `kill_switch=ON` and only keeps the book empty (and cancels
again while an order call's outcome is unknown: a fenced holder's call may land late).

`engage_by_defense()` — the defense stack's (decision.engage_kill_switch), inside a cycle
that already holds the lease: records the switch and returns the lifecycle the cycle goes
on with; the cycle then cancels every order.

`resume()` — the only way back: the operator's confirmed reset through the FSM
(`instance_resume`, refused where illegal); the next cycle re-syncs before quoting.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Iterable

from amm import state
from amm.conf import amm_settings
from amm.connector import ConnectorError
from amm.enums import AMMLifecycleState as L
from amm.exceptions import InvalidInput, TransitionRefused
from amm.models import AMMInstance
from amm.runtime import executor
from amm.runtime.context import RuntimeContext, context
from amm.runtime.job_requests import request_cycle
from amm.runtime.lease import market_lease
from amm.services import instance_kill, instance_resume

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class KillResult:
    market_id: str
    engaged: bool  # False: it was already ON (orders cancelled again all the same)
    cancelled: int
    lease: str  # acquired | taken over
    error: str = ""


def _wait_ms(market_id: str) -> int:
    """One quote cycle: the market's requote interval, within [lease TTL / 3, lease TTL]."""
    ttl = amm_settings.AMM_LEASE_TTL_MS
    try:
        interval = int(state.config_get(market_id).get("requote_interval_ms") or 1000)
    except Exception:  # noqa: BLE001
        interval = 1000
    return max(ttl // 3, min(interval, ttl))


def kill(*, market_ids: Iterable[str] | None, reason: str, actor: str,
         ctx: RuntimeContext | None = None) -> list[KillResult]:
    """Engage the kill switch of `market_ids` (None: every AMM instance)."""
    if not reason:
        raise InvalidInput("a kill switch needs a reason")
    ids = list(market_ids) if market_ids is not None else list(
        AMMInstance.objects.order_by("market_id").values_list("market_id", flat=True))
    ctx = ctx or context()
    engaged: dict[str, bool] = {}
    for market_id in ids:  # 1. no cycle quotes from here on
        try:
            instance_kill(market_id=market_id, actor=actor, reason=reason)
            engaged[market_id] = True
        except TransitionRefused:
            engaged[market_id] = False  # already ON: still make sure the book is empty
        state.runtime_update(market_id, emergency_cause="KILL_SWITCH")
    results = []
    for market_id in ids:  # 2. empty each book
        lease = market_lease(market_id)
        how = "acquired" if lease.acquire(wait_ms=_wait_ms(market_id)) else "taken over"
        if how != "acquired":
            lease.steal()
        try:
            error = ""
            cancelled = 0
            try:
                cancelled = executor.cancel_all(ctx, market_id)
            except ConnectorError as exc:
                error = f"cancel-all failed ({exc}); the next cycle cancels again"
                log.error("kill switch %s: %s", market_id, error)
            results.append(KillResult(market_id, engaged[market_id], cancelled, how, error))
            log.warning("KILL SWITCH %s by %s: %s (%s, %d orders cancelled)", market_id, actor, reason,
                        "engaged" if engaged[market_id] else "already on", cancelled)
        finally:
            lease.release()
        try:
            request_cycle(market_id, reason="kill", at_front=True)
        except Exception:  # noqa: BLE001 - no queue: nothing is quoting either
            pass
    return results


def engage_by_defense(market_id: str, *, reason: str, now: int) -> str:
    """The defense stack reached KILL_SWITCH: switch ON, EMERGENCY, alert. Returns the
    lifecycle the cycle goes on with (EMERGENCY); the cycle, holding the lease, then cancels
    every order."""
    try:
        instance_kill(market_id=market_id, actor="defense", reason=reason, now_ms=now)
    except TransitionRefused as exc:
        log.warning("%s: %s", market_id, exc)
    state.runtime_update(market_id, emergency_cause="KILL_SWITCH")
    return L.EMERGENCY.value


def resume(*, market_id: str, reason: str, actor: str, check_market: bool = True,
           ctx: RuntimeContext | None = None, reset_kill_switch: bool = True):
    """The operator's resume (EMERGENCY -> RUNNING, kill switch OFF unless
    `reset_kill_switch` is False: then refused while it is ON); TransitionRefused where
    illegal. With `check_market`, refused (InvalidInput) while the market is not ACTIVE."""
    if not reason:
        raise InvalidInput("a resume needs a reason")
    if check_market:
        ctx = ctx or context()
        try:
            status = ctx.connector.market_get(market_id).status
        except ConnectorError as exc:
            log.warning("resume %s: could not read the market (%s); resuming anyway", market_id, exc)
        else:
            if status != "ACTIVE":
                raise InvalidInput(f"market {market_id} is {status}: resume once it is ACTIVE")
    instance = instance_resume(market_id=market_id, actor=actor, reason=reason, reset_kill_switch=reset_kill_switch)
    state.runtime_update(market_id, emergency_cause="", resync=f"resumed by {actor}")
    try:
        request_cycle(market_id, reason="resume", at_front=True)
    except Exception:  # noqa: BLE001
        pass
    return instance
