"""Lifecycle reactions to the market's status and the kill switch (SPEC §5), one step per
quote cycle: `step(view: LifecycleInput, ctx=) -> LifecycleOutcome`. The step takes the
values the cycle read and returns the cycle's outcome when it must not quote (None when the
market is RUNNING, ACTIVE and the kill switch is OFF) with the lifecycle and runtime flags
as they are after it; the cycle keeps them. The kill switch holds in every lifecycle
state; the whole machine, with the operator's actions, is drawn in docs/state-machines.md.

| AMM | market | reaction |
|---|---|---|
| STOPPED / STARTING | any | idle (a STARTING market is the startup job's, startup.py) |
| RUNNING | SUSPENDED / HALTED | EMERGENCY (cause recorded), cancel all |
| RUNNING | RESOLVED | WINDING_DOWN, then wind down |
| RUNNING | SETTLED / VOIDED | cancel all, STOPPED |
| RUNNING | kill switch ON | EMERGENCY, cancel all |
| EMERGENCY | any | keep the book empty; no quoting |
| EMERGENCY (kill switch ON) | not SETTLED / VOIDED | stays: only the operator's reset |
| EMERGENCY (cause SUSPENDED, switch OFF) | ACTIVE | RUNNING (resync, then quote) |
| EMERGENCY (cause HALTED, switch OFF) | ACTIVE | stays: only an operator's resume |
| EMERGENCY (switch OFF) | RESOLVED | RUNNING -> WINDING_DOWN (the FSM's only path) |
| EMERGENCY | SETTLED / VOIDED | STOPPED |
| WINDING_DOWN (kill switch ON) | any | keep the book empty; no burn, no STOPPED until the reset |
| WINDING_DOWN | RESOLVED | cancel, burn matched pairs (`wind_down`), STOPPED when flat |
| WINDING_DOWN | SETTLED / VOIDED | STOPPED (no burn after settlement) |
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from typing import Any, Callable, Mapping

from amm import state
from amm.connector import bounded_request_id
from amm.enums import AMMLifecycleState as L
from amm.enums import KillSwitchState as KS
from amm.exceptions import TransitionRefused
from amm.runtime import executor
from amm.runtime.context import RuntimeContext
from amm.selectors import emergency_cause_recorded
from amm.services import instance_emergency, instance_resume, instance_stop, instance_wind_down
from amm.strategy import LiveOrder, wind_down

log = logging.getLogger(__name__)

ACTIVE = "ACTIVE"
PAUSED = ("SUSPENDED", "HALTED")
FINAL = ("SETTLED", "VOIDED")
RESOLVED = "RESOLVED"
SYSTEM = "system"


@dataclass(frozen=True)
class LifecycleInput:
    """What a lifecycle step knows of its cycle: values, changed by nobody."""

    market_id: str
    lifecycle: str
    market_status: str
    kill_switch_on: bool
    runtime: Mapping[str, Any]  # amm:runtime:{m} as the cycle read it (resync flags, emergency cause)
    orders_tracked: bool  # the cycle's read found AMM orders in Redis
    now: int


@dataclass(frozen=True)
class LifecycleOutcome:
    """The cycle's outcome when it must not quote (None: quote), and its lifecycle and
    runtime flags after the step."""

    outcome: str | None
    lifecycle: str
    runtime: Mapping[str, Any]


def _done(view: LifecycleInput, outcome: str | None) -> LifecycleOutcome:
    return LifecycleOutcome(outcome, view.lifecycle, view.runtime)


def is_kill_on(instance_kill_switch: str, redis_kill_switch: str | None) -> bool:
    return instance_kill_switch == KS.ON.value or redis_kill_switch == KS.ON.value


def step(view: LifecycleInput, *, ctx: RuntimeContext) -> LifecycleOutcome:
    lifecycle, status, kill_on = view.lifecycle, view.market_status, view.kill_switch_on
    if lifecycle in (L.STOPPED.value, L.STARTING.value):
        return _done(view, "idle")
    if lifecycle == L.RUNNING.value:
        if kill_on:
            return _enter_emergency(view, ctx, cause="KILL_SWITCH")
        if status in PAUSED:
            return _enter_emergency(view, ctx, cause=status)
        if status == RESOLVED:
            return _start_wind_down(view, ctx)
        if status in FINAL:
            return _stop(view, ctx, reason=f"market {status}")
        return _done(view, None)
    if lifecycle == L.EMERGENCY.value:
        return _emergency_step(view, ctx)
    if lifecycle == L.WINDING_DOWN.value:
        if kill_on:  # the switch holds the wind-down: nothing but an empty book until the reset
            return _done(_empty_book(view, ctx), "kill_switch")
        return _wind_down_step(view, ctx)
    return _done(view, "idle")


def _transition(view: LifecycleInput, service: Callable[..., Any], **kwargs: Any) -> bool:
    try:
        service(market_id=view.market_id, now_ms=view.now, **kwargs)
        return True
    except TransitionRefused as exc:
        log.warning("%s: %s", view.market_id, exc)
        return False


def _empty_book(view: LifecycleInput, ctx: RuntimeContext, *, force: bool = False) -> LifecycleInput:
    """Cancel every AMM order of the market when Redis tracks any, when an order call's
    outcome is unknown (it may have placed orders Redis never saw, or still land within the
    grace period), or when forced. The cancel-all answers the re-sync flag: it cancels what
    Redis does not track too."""
    rt = view.runtime
    if force or executor.resync_due(rt, view.now) or view.orders_tracked or state.orders_get(view.market_id):
        executor.cancel_all(ctx, view.market_id, now=view.now)
        if rt.get("resync"):
            state.runtime_update(view.market_id, resync="")
            return replace(view, runtime={**rt, "resync": ""})
    return view


def _emergency_cause(view: LifecycleInput) -> str:
    return view.runtime.get("emergency_cause") or emergency_cause_recorded(market_id=view.market_id)


def _enter_emergency(view: LifecycleInput, ctx: RuntimeContext, *, cause: str) -> LifecycleOutcome:
    if _transition(view, instance_emergency, reason=f"market {cause}" if cause in PAUSED else cause):
        state.runtime_update(view.market_id, emergency_cause=cause)
    view = _empty_book(replace(view, lifecycle=L.EMERGENCY.value), ctx, force=True)
    return _done(view, "emergency")


def _stop(view: LifecycleInput, ctx: RuntimeContext, *, reason: str) -> LifecycleOutcome:
    view = _empty_book(view, ctx)
    _transition(view, instance_stop, actor=SYSTEM, reason=reason)
    return _done(replace(view, lifecycle=L.STOPPED.value), "stopped")


def _emergency_step(view: LifecycleInput, ctx: RuntimeContext) -> LifecycleOutcome:
    view = _empty_book(view, ctx)
    status, m = view.market_status, view.market_id
    if status in FINAL:
        return _stop(view, ctx, reason=f"market {status}")
    if view.kill_switch_on:
        return _done(view, "kill_switch")
    cause = _emergency_cause(view)
    if status == "HALTED" and cause == "SUSPENDED":  # SUSPENDED -> HALTED: now an operator must resume
        state.runtime_update(m, emergency_cause="HALTED")
        return _done(view, "emergency")
    if status == RESOLVED and cause in PAUSED:
        if _transition(view, instance_resume, actor=SYSTEM, reason="market RESOLVED: winding down"):
            return _start_wind_down(replace(view, lifecycle=L.RUNNING.value), ctx)
        return _done(view, "emergency")
    if status == ACTIVE and cause == "SUSPENDED":
        if _transition(view, instance_resume, actor=SYSTEM, reason="market ACTIVE again after SUSPENDED"):
            # The flag is for the market's next cycles: this one goes on with the flags it read.
            state.runtime_update(m, emergency_cause="", resync="resumed after SUSPENDED")
            log.info("%s: market ACTIVE again, quoting resumes", m)
            return _done(replace(view, lifecycle=L.RUNNING.value), None)
    return _done(view, "emergency")


def _start_wind_down(view: LifecycleInput, ctx: RuntimeContext) -> LifecycleOutcome:
    if _transition(view, instance_wind_down, reason="market RESOLVED"):
        return _wind_down_step(replace(view, lifecycle=L.WINDING_DOWN.value), ctx)
    return _done(view, "idle")


def _wind_down_step(view: LifecycleInput, ctx: RuntimeContext) -> LifecycleOutcome:
    """Cancel what is live, burn matched YES/NO pairs (deterministic request id), STOPPED
    when nothing is left (SPEC §5 WINDING_DOWN)."""
    m, now = view.market_id, view.now
    if view.market_status in FINAL:
        return _stop(view, ctx, reason=f"market {view.market_status}")
    orders = state.orders_get(m)
    inventory = state.inventory_get(m)
    plan = wind_down(inventory, [LiveOrder(o.order_id, o.side, o.direction, o.price, o.remaining)
                                 for o in orders.values()])
    if plan.cancel_order_ids:
        executor.cancel_all(ctx, m, now=now)
        inventory = state.inventory_get(m)
        plan = wind_down(inventory, [])
    if plan.burn_pairs > 0:
        # The same inventory gives the same id: a retry after a lost answer burns once.
        request_id = bounded_request_id(f"amm_{m}_winddown_{inventory.yes_volume}_{inventory.no_volume}")
        executor.burn(ctx, m, quantity=plan.burn_pairs, request_id=request_id, now=now)
        log.info("%s: winding down, burned %d pairs", m, plan.burn_pairs)
        inventory = state.inventory_get(m)
        plan = wind_down(inventory, [])
    if plan.complete:
        return _stop(view, ctx, reason="wound down: orders cancelled, matched pairs burned")
    return _done(view, "winding_down")
