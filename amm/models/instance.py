"""One AMM instance per market and the records of its state machines (SPEC §5, seed §6).

Four django-fsm fields, each `protected=True` (only transitions change them):

- lifecycle (seed §6.1): STOPPED -start-> STARTING; STARTING -running-> RUNNING |
  -start_failed-> STOPPED | -abort_start-> EMERGENCY (kill switch); RUNNING -> EMERGENCY |
  WINDING_DOWN | STOPPED; EMERGENCY -> RUNNING | STOPPED; WINDING_DOWN -> STOPPED.
  A new instance is STOPPED (enabled, not running). The seed enters STARTING when an
  operator starts the AMM ("POST /admin/amm/start"), so `start` (STOPPED -> STARTING) is
  that operator action and begins a new run; STOPPED is terminal for a run, not for the
  instance.
- phase (seed §6.2): EXPLORATION -stabilize(TIME_EXPIRED | VOLUME_REACHED | PRICE_STABLE)->
  STABILIZATION -rollback(EMERGENCY_ROLLBACK)-> EXPLORATION.
- defense level (seed §6.3): NORMAL / WIDEN / ONE_SIDE move freely among themselves as the
  defense stack re-evaluates each cycle; any of them -> KILL_SWITCH; KILL_SWITCH -> NORMAL
  only by `operator_reset`.
- kill switch (seed §9.1): OFF -engage-> ON -reset-> OFF, with who and why, in every
  lifecycle state (docs/state-machines.md draws how the two machines meet).

Transitions change state in memory only; amm.services.instances runs them inside
`transaction.atomic()` on a row locked with `select_for_update`, saves, and records them.
"""
from __future__ import annotations

from django.db import models
from django_fsm import RETURN_VALUE, FSMField, FSMModelMixin, transition

from amm.enums import AMMLifecycleState as L
from amm.enums import AMMPhase as P
from amm.enums import DefenseLevel as D
from amm.enums import KillSwitchState as KS
from amm.enums import PhaseTransitionReason, choices

STABILIZE_REASONS = (
    PhaseTransitionReason.TIME_EXPIRED.value,
    PhaseTransitionReason.VOLUME_REACHED.value,
    PhaseTransitionReason.PRICE_STABLE.value,
)
ROLLBACK_REASON = PhaseTransitionReason.EMERGENCY_ROLLBACK.value
SOFT_LEVELS = (D.NORMAL.value, D.WIDEN.value, D.ONE_SIDE.value)


class AMMInstance(FSMModelMixin, models.Model):
    market_id = models.CharField(max_length=64, unique=True)
    lifecycle_state = FSMField(default=L.STOPPED.value, choices=choices(L), protected=True)
    phase = FSMField(default=P.EXPLORATION.value, choices=choices(P), protected=True)
    defense_level = FSMField(default=D.NORMAL.value, choices=choices(D), protected=True)
    kill_switch = FSMField(default=KS.OFF.value, choices=choices(KS), protected=True)
    kill_switch_by = models.CharField(max_length=150, blank=True, default="")
    kill_switch_reason = models.TextField(blank=True, default="")
    kill_switch_changed_at = models.DateTimeField(null=True, blank=True)
    phase_changed_at_ms = models.BigIntegerField(default=0)
    last_rollback_at_ms = models.BigIntegerField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    stopped_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "amm_instance"
        verbose_name = "AMM instance"
        # Operator actions, each its own permission (SPEC §9): staff without one neither see nor run it.
        permissions = [
            ("operate_instance", "Can start, stop and resume an AMM instance"),
            ("engage_killswitch", "Can engage the AMM kill switch"),
            ("reset_killswitch", "Can reset the AMM kill switch"),
        ]

    def __str__(self) -> str:
        return f"AMM {self.market_id} [{self.lifecycle_state}]"

    @property
    def budget_cents(self) -> int:
        """The market's budget: one source, the config's `budget_limit_cents` (what the
        strategy spends against, seed §4.4); kept here as a read-only name for callers."""
        return self.config.budget_limit_cents

    # --- lifecycle (seed §6.1) ------------------------------------------------------------
    @transition(field=lifecycle_state, source=L.STOPPED.value, target=L.STARTING.value)
    def start(self) -> None:
        """Operator starts a run: load config, sync platform -> Redis, subscribe feeds."""

    @transition(field=lifecycle_state, source=L.STARTING.value, target=L.RUNNING.value)
    def running(self) -> None:
        """Initialisation done."""

    @transition(field=lifecycle_state, source=L.STARTING.value, target=L.STOPPED.value)
    def start_failed(self) -> None:
        """Initialisation failed."""

    @transition(field=lifecycle_state, source=L.RUNNING.value, target=L.EMERGENCY.value)
    def emergency(self) -> None:
        """Kill switch, or the market SUSPENDED / HALTED: orders cancelled, quoting paused."""

    @transition(field=lifecycle_state, source=L.STARTING.value, target=L.EMERGENCY.value)
    def abort_start(self) -> None:
        """The kill switch during the startup (or still ON from before it): the run never
        quotes; only the operator's reset of the switch leads on to RUNNING."""

    @transition(field=lifecycle_state, source=L.EMERGENCY.value, target=L.RUNNING.value)
    def resume(self) -> None:
        """Operator resume (or the market ACTIVE again after SUSPENDED)."""

    @transition(field=lifecycle_state, source=L.RUNNING.value, target=L.WINDING_DOWN.value)
    def wind_down(self) -> None:
        """Market RESOLVED: no new orders, flatten, burn pairs."""

    @transition(
        field=lifecycle_state,
        source=[L.RUNNING.value, L.EMERGENCY.value, L.WINDING_DOWN.value],
        target=L.STOPPED.value,
    )
    def stop(self) -> None:
        """Operator stop, stop from EMERGENCY, or flattening done."""

    # --- phase (seed §6.2) -----------------------------------------------------------------
    @transition(field=phase, source=P.EXPLORATION.value, target=P.STABILIZATION.value)
    def stabilize(self, reason: str, timestamp_ms: int) -> None:
        if reason not in STABILIZE_REASONS:
            raise ValueError(f"EXPLORATION -> STABILIZATION needs one of {STABILIZE_REASONS}, not {reason!r}")
        self.phase_changed_at_ms = timestamp_ms

    @transition(field=phase, source=P.STABILIZATION.value, target=P.EXPLORATION.value)
    def rollback(self, reason: str, timestamp_ms: int) -> None:
        if reason != ROLLBACK_REASON:
            raise ValueError(f"STABILIZATION -> EXPLORATION needs {ROLLBACK_REASON}, not {reason!r}")
        self.phase_changed_at_ms = timestamp_ms
        self.last_rollback_at_ms = timestamp_ms

    # --- defense level (seed §6.3) ------------------------------------------------------------
    @transition(field=defense_level, source=list(SOFT_LEVELS), target=RETURN_VALUE(*SOFT_LEVELS))
    def set_level(self, level: str) -> str:
        """NORMAL / WIDEN / ONE_SIDE as the defense stack re-evaluates them."""
        return level

    @transition(field=defense_level, source=list(SOFT_LEVELS), target=D.KILL_SWITCH.value)
    def kill(self) -> None:
        """Skew > 0.95, daily loss, asset floor, or an operator's kill switch."""

    @transition(field=defense_level, source=D.KILL_SWITCH.value, target=D.NORMAL.value)
    def operator_reset(self) -> None:
        """The only way out of KILL_SWITCH: an operator's confirmed reset."""

    # --- kill switch ------------------------------------------------------------------------------
    @transition(field=kill_switch, source=KS.OFF.value, target=KS.ON.value)
    def engage_kill_switch(self) -> None:
        pass

    @transition(field=kill_switch, source=KS.ON.value, target=KS.OFF.value)
    def reset_kill_switch(self) -> None:
        pass


class _Record(models.Model):
    instance = models.ForeignKey(AMMInstance, on_delete=models.CASCADE, related_name="+")
    market_id = models.CharField(max_length=64, db_index=True)
    timestamp_ms = models.BigIntegerField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        abstract = True
        ordering = ["-timestamp_ms", "-id"]


class PhaseTransition(_Record):
    """seed §6.2: from_phase, to_phase, reason, timestamp_ms."""

    from_phase = models.CharField(max_length=16, choices=choices(P))
    to_phase = models.CharField(max_length=16, choices=choices(P))
    reason = models.CharField(max_length=24, choices=choices(PhaseTransitionReason))

    class Meta(_Record.Meta):
        db_table = "amm_phase_transition"


class DefenseLevelChange(_Record):
    from_level = models.CharField(max_length=16, choices=choices(D))
    to_level = models.CharField(max_length=16, choices=choices(D))
    reason = models.CharField(max_length=255)
    actor = models.CharField(max_length=150)

    class Meta(_Record.Meta):
        db_table = "amm_defense_level_change"


class LifecycleChange(_Record):
    from_state = models.CharField(max_length=16, choices=choices(L))
    to_state = models.CharField(max_length=16, choices=choices(L))
    reason = models.CharField(max_length=255)
    actor = models.CharField(max_length=150)

    class Meta(_Record.Meta):
        db_table = "amm_lifecycle_change"


class KillSwitchChange(_Record):
    from_state = models.CharField(max_length=3, choices=choices(KS))
    to_state = models.CharField(max_length=3, choices=choices(KS))
    reason = models.TextField()
    actor = models.CharField(max_length=150)

    class Meta(_Record.Meta):
        db_table = "amm_kill_switch_change"
