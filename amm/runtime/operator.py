"""Operator actions (SPEC §9, issue 11): the one entry point of the admin console, the
monitoring API and the management commands for kill, reset, resume, start and stop.

Each takes keyword-only arguments, a non-blank `reason` and an `actor` ("admin:alice",
"api:alice", "operator:bob"), is recorded through the instance's histories
(LifecycleChange, KillSwitchChange, DefenseLevelChange: who, when, why), and:
- raises `InstanceNotFound` for a market without an AMM instance;
- raises `ActionRefused` and changes nothing when the action is illegal now (a blank
  reason, an FSM transition not allowed, a market not in a state that allows it);
- raises `ActionFailed` when an allowed action could not reach the platform (stop's
  cancel); the state machines are then left as they were.

How the kill switch and the lifecycle meet is drawn in docs/state-machines.md.
"""
from __future__ import annotations

import logging
from contextlib import contextmanager
from typing import Iterator

from amm import state
from amm.connector import ConnectorError
from amm.enums import AMMLifecycleState as L
from amm.enums import KillSwitchState as KS
from amm.exceptions import ActionFailed, ActionRefused, InstanceNotFound, TransitionRefused
from amm.models import AMMInstance
from amm.runtime import executor, killswitch
from amm.runtime.context import RuntimeContext, context
from amm.runtime.job_requests import request_cycle
from amm.runtime.killswitch import KillResult
from amm.runtime.lease import lease_ttl_ms, market_lease
from amm.selectors import OPERATOR_STOP_PREFIX, emergency_cause_recorded
from amm.services import instance_reset_kill_switch, instance_start, instance_stop

log = logging.getLogger(__name__)

STOPPABLE = (L.RUNNING.value, L.EMERGENCY.value, L.WINDING_DOWN.value)


def _reason(reason: str) -> str:
    if not isinstance(reason, str) or not reason.strip():
        raise ActionRefused("a reason is required")
    return reason.strip()


def _actor(actor: str) -> str:
    if not isinstance(actor, str) or not actor.strip():
        raise ActionRefused("an actor is required")
    return actor.strip()


def _instance(market_id: str):
    try:
        return AMMInstance.objects.get(market_id=market_id)
    except AMMInstance.DoesNotExist:
        raise InstanceNotFound(f"no AMM instance for market {market_id!r}") from None


@contextmanager
def _refused() -> Iterator[None]:
    """The FSM's refusal (and the runtime's ValueError for a market not ACTIVE) as the
    operator's ActionRefused; the services changed nothing (one transaction)."""
    try:
        yield
    except TransitionRefused as exc:
        raise ActionRefused(str(exc)) from None
    except ValueError as exc:
        raise ActionRefused(str(exc)) from None


def _request_cycle(market_id: str, reason: str) -> None:
    """Run the market's cycle now rather than at its next tick (no queue: nothing runs it)."""
    try:
        request_cycle(market_id, reason=reason, at_front=True)
    except Exception:  # noqa: BLE001
        pass


def kill(*, market_ids: list[str] | None, reason: str, actor: str,
         ctx: RuntimeContext | None = None) -> list[KillResult]:
    """Engage the kill switch of `market_ids` (None: every instance) in any lifecycle state
    and empty their books on the platform before returning (killswitch.kill). Idempotent:
    a switch already ON is reported `engaged=False` and its book is cancelled again. Unknown
    markets: InstanceNotFound before anything is engaged; an empty list: ActionRefused."""
    reason, actor = _reason(reason), _actor(actor)
    if market_ids is not None:
        ids = list(dict.fromkeys(market_ids))
        if not ids:
            raise ActionRefused("name at least one market (None engages every market)")
        known = set(AMMInstance.objects.filter(market_id__in=ids).values_list("market_id", flat=True))
        missing = [m for m in ids if m not in known]
        if missing:
            raise InstanceNotFound(f"no AMM instance for {', '.join(missing)}")
        market_ids = ids
    return killswitch.kill(market_ids=market_ids, reason=reason, actor=actor, ctx=ctx)


def reset_kill_switch(*, market_id: str, reason: str, actor: str):
    """The operator's confirmed reset: switch OFF, defense KILL_SWITCH -> NORMAL; an
    EMERGENCY the switch caused -> RUNNING (re-sync, then quoting); an EMERGENCY the market
    caused (SUSPENDED / HALTED before the switch) stays for its own way out; WINDING_DOWN
    winds down again; STOPPED and STARTING keep their state. Switch OFF: ActionRefused."""
    reason, actor = _reason(reason), _actor(actor)
    instance = _instance(market_id)
    if instance.kill_switch != KS.ON.value:
        raise ActionRefused(f"{market_id}: the kill switch is not ON")
    with _refused():
        instance = instance_reset_kill_switch(market_id=market_id, actor=actor, reason=reason)
    if instance.lifecycle_state == L.RUNNING.value:  # resumed: read the platform's orders before quoting
        state.runtime_update(market_id, emergency_cause="", resync=f"kill switch reset by {actor}")
    else:  # the cause the switch's kill() overwrote: the market's own way out of EMERGENCY
        cause = emergency_cause_recorded(market_id=market_id) if instance.lifecycle_state == L.EMERGENCY.value else ""
        state.runtime_update(market_id, emergency_cause=cause)
    _request_cycle(market_id, "kill switch reset")
    return instance


def resume(*, market_id: str, reason: str, actor: str, check_market: bool = True,
           ctx: RuntimeContext | None = None):
    """EMERGENCY -> RUNNING (killswitch.resume: re-sync, then quoting); refused while the
    market is not ACTIVE (unless not `check_market`: amm_resume --force), and while the
    kill switch is ON (that is reset_kill_switch's, a permission of its own)."""
    reason, actor = _reason(reason), _actor(actor)
    instance = _instance(market_id)
    if instance.kill_switch == KS.ON.value:
        raise ActionRefused(f"{market_id}: the kill switch is ON: reset it instead")
    if instance.lifecycle_state != L.EMERGENCY.value:
        raise ActionRefused(f"{market_id}: resume is only from EMERGENCY, not {instance.lifecycle_state}")
    with _refused():
        return killswitch.resume(market_id=market_id, reason=reason, actor=actor, check_market=check_market, ctx=ctx,
                                 reset_kill_switch=False)


def start(*, market_id: str, reason: str, actor: str):
    """STOPPED -> STARTING. A running `run_amm` picks the market up within about a second
    (its scheduler's refresh): startup sync, then RUNNING and quoting — or EMERGENCY at once
    when the kill switch is still ON. Without a run_amm it starts with the next one."""
    reason, actor = _reason(reason), _actor(actor)
    _instance(market_id)
    with _refused():
        return instance_start(market_id=market_id, actor=actor, reason=reason)


def stop(*, market_id: str, reason: str, actor: str, ctx: RuntimeContext | None = None):
    """RUNNING / EMERGENCY / WINDING_DOWN -> STOPPED: under the market's lease (no cycle
    runs meanwhile; a stuck holder is fenced out after one lease TTL) cancel every AMM order
    of the market on the platform, then record STOPPED. The scheduler stops driving it and
    run_amm leaves it stopped (even across restarts) until an operator starts it. A cancel
    the platform does not answer: ActionFailed, the lifecycle unchanged."""
    reason, actor = _reason(reason), _actor(actor)
    instance = _instance(market_id)
    if instance.lifecycle_state not in STOPPABLE:
        raise ActionRefused(f"{market_id}: cannot stop from {instance.lifecycle_state}")
    ctx = ctx or context()
    lease = market_lease(market_id)
    if not lease.acquire(wait_ms=lease_ttl_ms()):
        lease.steal()
    try:
        try:
            cancelled = executor.cancel_all(ctx, market_id)
        except ConnectorError as exc:
            raise ActionFailed(f"{market_id}: cancelling its orders failed ({exc}); not stopped") from None
        with _refused():
            instance = instance_stop(market_id=market_id, actor=actor, reason=f"{OPERATOR_STOP_PREFIX}{reason}")
    finally:
        lease.release()
    log.warning("AMM %s stopped by %s (%d orders cancelled): %s", market_id, actor, cancelled, reason)
    return instance


__all__ = ["ActionFailed", "ActionRefused", "InstanceNotFound", "KillResult", "kill", "reset_kill_switch", "resume",
           "start", "stop"]
