"""Lifecycle reactions to the market's status and the kill switch (SPEC §5), one step per
quote cycle. `step()` returns the cycle's outcome when it must not quote, or None when the
market is RUNNING, ACTIVE and the kill switch is OFF. The kill switch holds in every
lifecycle state; the whole machine, with the operator's actions, is drawn in
docs/state-machines.md.

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
from typing import TYPE_CHECKING

from django_fsm import TransitionNotAllowed

from amm import state
from amm.connector import bounded_request_id
from amm.enums import AMMLifecycleState as L
from amm.enums import KillSwitchState as KS
from amm.runtime import executor
from amm.strategy import Inventory, LiveOrder, wind_down

if TYPE_CHECKING:
    from amm.runtime.cycle import Cycle

log = logging.getLogger(__name__)

ACTIVE = "ACTIVE"
PAUSED = ("SUSPENDED", "HALTED")
FINAL = ("SETTLED", "VOIDED")
RESOLVED = "RESOLVED"
SYSTEM = "system"


def emergency_cause(cycle: "Cycle") -> str:
    from amm.selectors import emergency_cause_recorded

    return cycle.runtime.get("emergency_cause") or emergency_cause_recorded(market_id=cycle.market_id)


def _transition(cycle: "Cycle", service, **kwargs) -> bool:
    try:
        service(market_id=cycle.market_id, now_ms=cycle.now, **kwargs)
        return True
    except TransitionNotAllowed as exc:
        log.warning("%s: %s", cycle.market_id, exc)
        return False


def _empty_book(cycle: "Cycle", *, force: bool = False) -> None:
    """Cancel every AMM order of the market when Redis tracks any, when an order call's
    outcome is unknown (it may have placed orders Redis never saw, or still land within the
    grace period), or when forced. The cancel-all answers the re-sync flag: it cancels what
    Redis does not track too."""
    rt = cycle.runtime
    if force or executor.resync_due(rt, cycle.now) or cycle.read.quote.orders or state.orders_get(cycle.market_id):
        executor.cancel_all(cycle.ctx, cycle.market_id, now=cycle.now)
        if rt.get("resync"):
            state.runtime_update(cycle.market_id, resync="")
            cycle.runtime = {**rt, "resync": ""}


def enter_emergency(cycle: "Cycle", *, cause: str) -> str:
    from amm.services import instance_emergency

    if _transition(cycle, instance_emergency, reason=f"market {cause}" if cause in PAUSED else cause):
        state.runtime_update(cycle.market_id, emergency_cause=cause)
    cycle.lifecycle = L.EMERGENCY.value
    _empty_book(cycle, force=True)
    return "emergency"


def stop(cycle: "Cycle", *, reason: str) -> str:
    from amm.services import instance_stop

    _empty_book(cycle)
    _transition(cycle, instance_stop, actor=SYSTEM, reason=reason)
    cycle.lifecycle = L.STOPPED.value
    return "stopped"


def step(cycle: "Cycle") -> str | None:
    lifecycle, status = cycle.lifecycle, cycle.market_status
    kill_on = cycle.kill_switch_on
    if lifecycle in (L.STOPPED.value, L.STARTING.value):
        return "idle"
    if lifecycle == L.RUNNING.value:
        if kill_on:
            return enter_emergency(cycle, cause="KILL_SWITCH")
        if status in PAUSED:
            return enter_emergency(cycle, cause=status)
        if status == RESOLVED:
            return start_wind_down(cycle)
        if status in FINAL:
            return stop(cycle, reason=f"market {status}")
        return None
    if lifecycle == L.EMERGENCY.value:
        return emergency_step(cycle, status=status, kill_on=kill_on)
    if lifecycle == L.WINDING_DOWN.value:
        if kill_on:  # the switch holds the wind-down: nothing but an empty book until the reset
            _empty_book(cycle)
            return "kill_switch"
        return wind_down_step(cycle)
    return "idle"


def emergency_step(cycle: "Cycle", *, status: str, kill_on: bool) -> str | None:
    from amm.services import instance_resume

    _empty_book(cycle)
    if status in FINAL:
        return stop(cycle, reason=f"market {status}")
    if kill_on:
        return "kill_switch"
    cause = emergency_cause(cycle)
    if status == "HALTED" and cause == "SUSPENDED":  # SUSPENDED -> HALTED: now an operator must resume
        state.runtime_update(cycle.market_id, emergency_cause="HALTED")
        return "emergency"
    if status == RESOLVED and cause in PAUSED:
        if _transition(cycle, instance_resume, actor=SYSTEM, reason="market RESOLVED: winding down"):
            cycle.lifecycle = L.RUNNING.value
            return start_wind_down(cycle)
        return "emergency"
    if status == ACTIVE and cause == "SUSPENDED":
        if _transition(cycle, instance_resume, actor=SYSTEM, reason="market ACTIVE again after SUSPENDED"):
            state.runtime_update(cycle.market_id, emergency_cause="", resync="resumed after SUSPENDED")
            cycle.lifecycle = L.RUNNING.value
            log.info("%s: market ACTIVE again, quoting resumes", cycle.market_id)
            return None
    return "emergency"


def start_wind_down(cycle: "Cycle") -> str:
    from amm.services import instance_wind_down

    if _transition(cycle, instance_wind_down, reason="market RESOLVED"):
        cycle.lifecycle = L.WINDING_DOWN.value
        return wind_down_step(cycle)
    return "idle"


def wind_down_step(cycle: "Cycle") -> str:
    """Cancel what is live, burn matched YES/NO pairs (deterministic request id), STOPPED
    when nothing is left (SPEC §5 WINDING_DOWN)."""
    m, ctx = cycle.market_id, cycle.ctx
    if cycle.market_status in FINAL:
        return stop(cycle, reason=f"market {cycle.market_status}")
    orders = state.orders_get(m)
    inventory = Inventory.from_mapping(state.inventory_get(m).as_dict())
    plan = wind_down(inventory, [LiveOrder(o.order_id, o.side, o.direction, o.price, o.remaining)
                                 for o in orders.values()])
    if plan.cancel_order_ids:
        executor.cancel_all(ctx, m, now=cycle.now)
        inventory = Inventory.from_mapping(state.inventory_get(m).as_dict())
        plan = wind_down(inventory, [])
    if plan.burn_pairs > 0:
        # The same inventory gives the same id: a retry after a lost answer burns once.
        request_id = bounded_request_id(f"amm_{m}_winddown_{inventory.yes_volume}_{inventory.no_volume}")
        executor.burn(ctx, m, quantity=plan.burn_pairs, request_id=request_id, now=cycle.now)
        log.info("%s: winding down, burned %d pairs", m, plan.burn_pairs)
        inventory = Inventory.from_mapping(state.inventory_get(m).as_dict())
        plan = wind_down(inventory, [])
    if plan.complete:
        return stop(cycle, reason="wound down: orders cancelled, matched pairs burned")
    return "winding_down"


def is_kill_on(instance_kill_switch: str, redis_kill_switch: str | None) -> bool:
    return instance_kill_switch == KS.ON.value or redis_kill_switch == KS.ON.value
