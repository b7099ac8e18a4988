"""AMM instance services: enable, lifecycle, phase, defense level, kill switch (SPEC §5).

Each transition runs in `transaction.atomic()` on the instance row locked with
`select_for_update`; an illegal one raises `amm.exceptions.TransitionRefused` and changes
nothing (neither the row nor Redis). After commit the new phase / defense level / kill
switch is mirrored into `amm:state:{market_id}` for the running loop and the monitors, with
the row's new version (`instance_version`, announced "pending" before the transaction): the
cycles re-read the row when it changes (amm/runtime/instance_cache.py).
HTTP (cancelling orders on a kill) is the runtime's job, never done inside a transition.
"""
from __future__ import annotations

import logging
from contextlib import contextmanager
from typing import Callable, Iterator

from django.db import transaction
from django.utils import timezone
from django_fsm import TransitionNotAllowed, can_proceed

from amm import clock, state
from amm.alerts import alert_raise
from amm.enums import AMMLifecycleState as L
from amm.enums import AMMPhase as P
from amm.enums import DefenseLevel as D
from amm.enums import KillSwitchState as KS
from amm.enums import PhaseTransitionReason
from amm.exceptions import InvalidInput, TransitionRefused
from amm.models import (
    AlertSeverity,
    AlertType,
    AMMInstance,
    DefenseLevelChange,
    KillSwitchChange,
    LifecycleChange,
    MarketConfig,
    PhaseTransition,
)
from amm.selectors import emergency_cause_recorded, instance_version_of
from amm.services.market_config import config_save

log = logging.getLogger(__name__)

ROLLBACK_COOLDOWN_MS = 10 * 60 * 1000  # SPEC §5: at most one EMERGENCY_ROLLBACK per 10 minutes


def _locked(market_id: str) -> AMMInstance:
    try:
        return AMMInstance.objects.select_for_update().get(market_id=market_id)
    except AMMInstance.DoesNotExist:
        raise AMMInstance.DoesNotExist(f"no AMM instance for market {market_id!r} (run amm_enable)") from None


def _apply(instance: AMMInstance, method: Callable, *args) -> None:
    """Run one transition or raise TransitionRefused naming it."""
    if not can_proceed(method):
        raise TransitionRefused(
            f"{instance.market_id}: {method.__name__} is not allowed from "
            f"lifecycle={instance.lifecycle_state} phase={instance.phase} "
            f"defense={instance.defense_level} kill_switch={instance.kill_switch}",
            object=instance, method=method.__name__,
        )
    try:
        method(*args)
    except TransitionNotAllowed as exc:  # a condition the model checks itself: refused all the same
        raise TransitionRefused(str(exc), object=instance, method=method.__name__) from exc
    except ValueError as exc:  # the model refused the transition's arguments (e.g. a phase reason)
        raise InvalidInput(str(exc)) from exc


class _RowChange:
    """One change of an instance row, as `_row_change` hands it to the block making it."""

    def __init__(self, market_id: str) -> None:
        self.market_id = market_id
        self.saved = False

    def mirror(self, instance: AMMInstance, **fields: str) -> None:
        """The row saved: once the transaction commits, its new version (and `fields`, the
        kill switch / phase / defense level, into `amm:state`) written to Redis together."""
        self.saved = True
        market_id, version = self.market_id, instance_version_of(instance.updated_at)
        transaction.on_commit(lambda: state.instance_mirror(market_id, version=version, state_fields=fields))


def _best_effort(what: str, write: Callable[[], None]) -> None:
    try:
        write()
    except Exception:  # noqa: BLE001 - the change itself must not depend on Redis (amm/runtime/instance_cache.py)
        log.warning("could not %s in Redis", what, exc_info=True)


@contextmanager
def _row_change(market_id: str) -> Iterator[_RowChange]:
    """A change of the instance row in its transaction, announced to the running cycles
    (amm/runtime/instance_cache.py): `instance_version` "pending" before it, the row's new
    version after the commit (`_RowChange.mirror`), the field dropped when nothing changed."""
    _best_effort("announce the change of the instance", lambda: state.instance_version_pending(
        market_id, now=clock.now_ms()))
    change = _RowChange(market_id)
    try:
        with transaction.atomic():
            yield change
    except BaseException:
        _best_effort("withdraw the change of the instance", lambda: state.instance_version_drop(market_id))
        raise
    if not change.saved:
        _best_effort("withdraw the change of the instance", lambda: state.instance_version_drop(market_id))


# --- enable -------------------------------------------------------------------------------
def instance_enable(*, market_id: str, budget_cents: int | None = None, actor: str = "system") -> tuple[AMMInstance, bool]:
    """Create the AMM instance (STOPPED) and its config with the seed defaults, and write
    `amm:config:{market_id}`; an existing instance is returned (its budget updated if given).
    The budget lives in the config only (`budget_limit_cents`, the one the strategy reads)."""
    if not market_id or len(market_id) > 64:
        raise InvalidInput("market id must be 1-64 characters")
    if budget_cents is not None and (not isinstance(budget_cents, int) or budget_cents < 0):
        raise InvalidInput("budget must be a non-negative number of cents")
    with transaction.atomic():
        instance, created = AMMInstance.objects.select_for_update().get_or_create(market_id=market_id)
        config = MarketConfig.objects.filter(instance=instance).first()
        if config is None:
            config = MarketConfig(instance=instance)
            if budget_cents is not None:
                config.budget_limit_cents = budget_cents
            config_save(config=config, actor=actor)
        elif budget_cents is not None and config.budget_limit_cents != budget_cents:
            config.budget_limit_cents = budget_cents
            config_save(config=config, actor=actor)
        instance.config = config
    return instance, created


# --- lifecycle (seed §6.1) ----------------------------------------------------------------
def _lifecycle(market_id: str, method_name: str, *, actor: str, reason: str, now_ms: int | None) -> AMMInstance:
    with _row_change(market_id) as change:
        instance = _locked(market_id)
        source = instance.lifecycle_state
        _apply(instance, getattr(instance, method_name))
        if instance.lifecycle_state == L.STARTING.value:
            instance.started_at, instance.stopped_at = timezone.now(), None
        elif instance.lifecycle_state == L.STOPPED.value:
            instance.stopped_at = timezone.now()
        instance.save()
        change.mirror(instance)
        LifecycleChange.objects.create(
            instance=instance, market_id=market_id, from_state=source, to_state=instance.lifecycle_state,
            reason=reason[:255], actor=actor, timestamp_ms=now_ms if now_ms is not None else clock.now_ms(),
        )
    log.info("AMM %s lifecycle %s -> %s (%s, by %s)", market_id, source, instance.lifecycle_state, reason, actor)
    return instance


def instance_start(*, market_id: str, actor: str, reason: str = "operator start", now_ms: int | None = None) -> AMMInstance:
    """STOPPED -> STARTING: an operator starts a run (then the runtime syncs and calls instance_running)."""
    return _lifecycle(market_id, "start", actor=actor, reason=reason, now_ms=now_ms)


def instance_running(*, market_id: str, actor: str = "system", reason: str = "initialised",
                     now_ms: int | None = None) -> AMMInstance:
    return _lifecycle(market_id, "running", actor=actor, reason=reason, now_ms=now_ms)


def instance_start_complete(*, market_id: str, actor: str = "system", reason: str = "initialised",
                            now_ms: int | None = None) -> AMMInstance:
    """The startup sync is done: STARTING -> RUNNING, or -> EMERGENCY when the kill switch is
    ON (engaged before the start: the latch holds, nothing is quoted). A market no longer
    STARTING (the kill switch moved it to EMERGENCY during the sync) is left as it is."""
    now_ms = now_ms if now_ms is not None else clock.now_ms()
    with _row_change(market_id) as change:
        instance = _locked(market_id)
        if instance.lifecycle_state != L.STARTING.value:
            return instance
        if instance.kill_switch == KS.ON.value:
            _apply(instance, instance.abort_start)
            reason = f"kill switch: still ON at the start ({instance.kill_switch_reason})"
        else:
            _apply(instance, instance.running)
        instance.save()
        change.mirror(instance)
        LifecycleChange.objects.create(instance=instance, market_id=market_id, from_state=L.STARTING.value,
                                       to_state=instance.lifecycle_state, reason=reason[:255], actor=actor,
                                       timestamp_ms=now_ms)
    log.info("AMM %s lifecycle STARTING -> %s (%s, by %s)", market_id, instance.lifecycle_state, reason, actor)
    return instance


def instance_start_failed(*, market_id: str, reason: str, actor: str = "system", now_ms: int | None = None) -> AMMInstance:
    return _lifecycle(market_id, "start_failed", actor=actor, reason=reason, now_ms=now_ms)


def instance_emergency(*, market_id: str, reason: str, actor: str = "system", now_ms: int | None = None) -> AMMInstance:
    """RUNNING -> EMERGENCY (market SUSPENDED/HALTED; the kill switch goes through instance_kill)."""
    return _lifecycle(market_id, "emergency", actor=actor, reason=reason, now_ms=now_ms)


def instance_wind_down(*, market_id: str, reason: str = "market RESOLVED", actor: str = "system",
                       now_ms: int | None = None) -> AMMInstance:
    return _lifecycle(market_id, "wind_down", actor=actor, reason=reason, now_ms=now_ms)


def instance_stop(*, market_id: str, actor: str, reason: str, now_ms: int | None = None) -> AMMInstance:
    return _lifecycle(market_id, "stop", actor=actor, reason=reason, now_ms=now_ms)


def instance_resume(*, market_id: str, actor: str, reason: str, now_ms: int | None = None,
                    reset_kill_switch: bool = True) -> AMMInstance:
    """EMERGENCY -> RUNNING. With the kill switch ON this is the operator's confirmed reset:
    kill switch OFF and defense KILL_SWITCH -> NORMAL in the same transaction — unless
    `reset_kill_switch` is False (a resume by someone who may not reset the switch): then
    refused while it is ON. Illegal anywhere else (TransitionRefused, nothing changed)."""
    now_ms = now_ms if now_ms is not None else clock.now_ms()
    with _row_change(market_id) as change:
        instance = _locked(market_id)
        source = instance.lifecycle_state
        if not reset_kill_switch and instance.kill_switch == KS.ON.value:
            raise TransitionRefused(f"{market_id}: the kill switch is ON: only its reset resumes the market",
                                       object=instance, method="resume")
        _apply(instance, instance.resume)
        mirror: dict[str, str] = {}
        if instance.kill_switch == KS.ON.value:
            _apply(instance, instance.reset_kill_switch)
            _kill_switch_fields(instance, actor, reason)
            KillSwitchChange.objects.create(instance=instance, market_id=market_id, from_state=KS.ON.value,
                                            to_state=KS.OFF.value, reason=reason, actor=actor, timestamp_ms=now_ms)
            mirror["kill_switch"] = KS.OFF.value
        if instance.defense_level == D.KILL_SWITCH.value:
            _apply(instance, instance.operator_reset)
            DefenseLevelChange.objects.create(instance=instance, market_id=market_id, from_level=D.KILL_SWITCH.value,
                                              to_level=D.NORMAL.value, reason=reason[:255], actor=actor,
                                              timestamp_ms=now_ms)
            mirror["defense_level"] = D.NORMAL.value
        instance.save()
        LifecycleChange.objects.create(instance=instance, market_id=market_id, from_state=source,
                                       to_state=instance.lifecycle_state, reason=reason[:255], actor=actor,
                                       timestamp_ms=now_ms)
        change.mirror(instance, **mirror)
    log.warning("AMM %s resumed by %s: %s", market_id, actor, reason)
    return instance


# --- kill switch ---------------------------------------------------------------------------------
def _kill_switch_fields(instance: AMMInstance, actor: str, reason: str) -> None:
    instance.kill_switch_by = actor
    instance.kill_switch_reason = reason
    instance.kill_switch_changed_at = timezone.now()


def instance_kill(*, market_id: str, actor: str, reason: str, now_ms: int | None = None) -> AMMInstance:
    """Engage the kill switch: ON (who, why), defense -> KILL_SWITCH, alert, and RUNNING or
    STARTING -> EMERGENCY; WINDING_DOWN and STOPPED keep their lifecycle state with the switch
    latched ON (docs/state-machines.md). The running loop sees `kill_switch=ON` in amm:state
    and cancels every order."""
    now_ms = now_ms if now_ms is not None else clock.now_ms()
    with _row_change(market_id) as change:
        instance = _locked(market_id)
        _apply(instance, instance.engage_kill_switch)
        _kill_switch_fields(instance, actor, reason)
        KillSwitchChange.objects.create(instance=instance, market_id=market_id, from_state=KS.OFF.value,
                                        to_state=KS.ON.value, reason=reason, actor=actor, timestamp_ms=now_ms)
        if instance.defense_level != D.KILL_SWITCH.value:
            source = instance.defense_level
            _apply(instance, instance.kill)
            DefenseLevelChange.objects.create(instance=instance, market_id=market_id, from_level=source,
                                              to_level=D.KILL_SWITCH.value, reason=f"kill switch: {reason}"[:255],
                                              actor=actor, timestamp_ms=now_ms)
        source = instance.lifecycle_state
        if source in (L.RUNNING.value, L.STARTING.value):  # WINDING_DOWN and STOPPED keep their state
            _apply(instance, instance.emergency if source == L.RUNNING.value else instance.abort_start)
            LifecycleChange.objects.create(instance=instance, market_id=market_id, from_state=source,
                                           to_state=L.EMERGENCY.value, reason=f"kill switch: {reason}"[:255],
                                           actor=actor, timestamp_ms=now_ms)
        instance.save()
        change.mirror(instance, kill_switch=KS.ON.value, defense_level=D.KILL_SWITCH.value)
        alert_raise(type=AlertType.KILL_SWITCH, severity=AlertSeverity.CRITICAL, market_id=market_id,
                    payload={"actor": actor, "reason": reason})
    return instance


def instance_reset_kill_switch(*, market_id: str, actor: str, reason: str, now_ms: int | None = None) -> AMMInstance:
    """The operator's confirmed reset of the kill switch, in any lifecycle state: switch
    ON -> OFF and defense KILL_SWITCH -> NORMAL; an EMERGENCY the kill switch caused ->
    RUNNING (the runtime re-syncs before quoting). An EMERGENCY with another recorded cause
    (the market SUSPENDED / HALTED before the switch) stays for the market's own way out;
    WINDING_DOWN, STOPPED and STARTING keep their lifecycle state. Switch already OFF:
    TransitionRefused, nothing changed."""

    now_ms = now_ms if now_ms is not None else clock.now_ms()
    with _row_change(market_id) as change:
        instance = _locked(market_id)
        _apply(instance, instance.reset_kill_switch)
        _kill_switch_fields(instance, actor, reason)
        KillSwitchChange.objects.create(instance=instance, market_id=market_id, from_state=KS.ON.value,
                                        to_state=KS.OFF.value, reason=reason, actor=actor, timestamp_ms=now_ms)
        mirror = {"kill_switch": KS.OFF.value}
        if instance.defense_level == D.KILL_SWITCH.value:
            _apply(instance, instance.operator_reset)
            DefenseLevelChange.objects.create(instance=instance, market_id=market_id, from_level=D.KILL_SWITCH.value,
                                              to_level=D.NORMAL.value, reason=f"kill switch reset: {reason}"[:255],
                                              actor=actor, timestamp_ms=now_ms)
            mirror["defense_level"] = D.NORMAL.value
        if (instance.lifecycle_state == L.EMERGENCY.value
                and emergency_cause_recorded(market_id=market_id) == "KILL_SWITCH"):
            _apply(instance, instance.resume)
            LifecycleChange.objects.create(instance=instance, market_id=market_id, from_state=L.EMERGENCY.value,
                                           to_state=L.RUNNING.value, reason=f"kill switch reset: {reason}"[:255],
                                           actor=actor, timestamp_ms=now_ms)
        instance.save()
        change.mirror(instance, **mirror)
    log.warning("AMM %s kill switch reset by %s (%s): %s", market_id, actor, instance.lifecycle_state, reason)
    return instance


# --- phase (seed §6.2) -------------------------------------------------------------------------------
def phase_transition(*, market_id: str, to_phase: str, reason: str, timestamp_ms: int) -> PhaseTransition:
    """EXPLORATION -> STABILIZATION (TIME_EXPIRED / VOLUME_REACHED / PRICE_STABLE) or
    STABILIZATION -> EXPLORATION (EMERGENCY_ROLLBACK, at most once per 10 minutes); recorded
    with from_phase, to_phase, reason, timestamp_ms."""
    to_phase = getattr(to_phase, "value", to_phase)
    reason = getattr(reason, "value", reason)
    with _row_change(market_id) as change:
        instance = _locked(market_id)
        source = instance.phase
        if to_phase == P.STABILIZATION.value:
            _apply(instance, instance.stabilize, reason, timestamp_ms)
        elif to_phase == P.EXPLORATION.value:
            last = instance.last_rollback_at_ms
            if source == P.STABILIZATION.value and last is not None and timestamp_ms - last < ROLLBACK_COOLDOWN_MS:
                raise TransitionRefused(
                    f"{market_id}: EMERGENCY_ROLLBACK within the 10-minute cooldown (last at {last})",
                    object=instance, method="rollback")
            _apply(instance, instance.rollback, reason, timestamp_ms)
        else:
            raise InvalidInput(f"unknown phase {to_phase!r}")
        instance.save()
        record = PhaseTransition.objects.create(instance=instance, market_id=market_id, from_phase=source,
                                                to_phase=instance.phase, reason=reason, timestamp_ms=timestamp_ms)
        change.mirror(instance, phase=instance.phase)
    log.info("AMM %s phase %s -> %s (%s)", market_id, source, to_phase, reason)
    return record


# --- defense level (seed §6.3) -------------------------------------------------------------------------------
def defense_level_set(*, market_id: str, level: str, reason: str, actor: str = "strategy",
                      timestamp_ms: int | None = None) -> DefenseLevelChange | None:
    """Record the defense stack's new level (None when unchanged). KILL_SWITCH from here is the
    automatic kill (alerted); leaving KILL_SWITCH is refused — only instance_resume resets it."""
    level = getattr(level, "value", level)
    timestamp_ms = timestamp_ms if timestamp_ms is not None else clock.now_ms()
    with _row_change(market_id) as change:
        instance = _locked(market_id)
        source = instance.defense_level
        if source == level:
            return None
        if level == D.KILL_SWITCH.value:
            _apply(instance, instance.kill)
        else:
            _apply(instance, instance.set_level, level)
        instance.save()
        record = DefenseLevelChange.objects.create(instance=instance, market_id=market_id, from_level=source,
                                                   to_level=level, reason=reason[:255], actor=actor,
                                                   timestamp_ms=timestamp_ms)
        change.mirror(instance, defense_level=level)
        if level == D.KILL_SWITCH.value:
            alert_raise(type=AlertType.KILL_SWITCH, severity=AlertSeverity.CRITICAL, market_id=market_id,
                        payload={"actor": actor, "reason": reason, "from_level": source})
    return record


__all__ = [
    "PhaseTransitionReason",
    "instance_emergency",
    "instance_enable",
    "instance_kill",
    "instance_reset_kill_switch",
    "instance_resume",
    "instance_running",
    "instance_start",
    "instance_start_complete",
    "instance_start_failed",
    "instance_stop",
    "instance_wind_down",
    "phase_transition",
    "defense_level_set",
]
