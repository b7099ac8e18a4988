"""SPEC §5 state machines through the services: legal paths recorded, illegal ones raise and
change nothing (row, history, Redis)."""
from __future__ import annotations

import pytest
from django_fsm import TransitionNotAllowed

from amm import state
from amm.models import (
    Alert,
    AMMInstance,
    DefenseLevelChange,
    KillSwitchChange,
    LifecycleChange,
    PhaseTransition,
)
from amm.services import (
    defense_level_set,
    instance_emergency,
    instance_enable,
    instance_kill,
    instance_resume,
    instance_running,
    instance_start,
    instance_start_failed,
    instance_stop,
    instance_wind_down,
    phase_transition,
)

pytestmark = pytest.mark.django_db(transaction=True)

M = "MKT-FSM"
MINUTE = 60_000


@pytest.fixture
def instance(redis_conn):
    instance_enable(market_id=M)
    return M


def snapshot(redis_conn):
    row = AMMInstance.objects.values().get(market_id=M)
    row.pop("updated_at")
    history = (LifecycleChange.objects.count(), PhaseTransition.objects.count(), DefenseLevelChange.objects.count(),
               KillSwitchChange.objects.count(), Alert.objects.count())
    return row, history, redis_conn.hgetall(f"amm:state:{M}")


def running(actor="ops"):
    instance_start(market_id=M, actor=actor)
    return instance_running(market_id=M)


def test_lifecycle_happy_path_is_recorded(instance):
    assert AMMInstance.objects.get(market_id=M).lifecycle_state == "STOPPED"
    running()
    instance_wind_down(market_id=M, reason="market RESOLVED")
    instance_stop(market_id=M, actor="system", reason="flattened")
    instance_start(market_id=M, actor="ops", reason="new run")
    instance_start_failed(market_id=M, reason="platform down")
    path = list(LifecycleChange.objects.order_by("id").values_list("from_state", "to_state", "actor"))
    assert path == [("STOPPED", "STARTING", "ops"), ("STARTING", "RUNNING", "system"),
                    ("RUNNING", "WINDING_DOWN", "system"), ("WINDING_DOWN", "STOPPED", "system"),
                    ("STOPPED", "STARTING", "ops"), ("STARTING", "STOPPED", "system")]


@pytest.mark.parametrize("setup, illegal", [
    ([], lambda: instance_running(market_id=M)),  # STOPPED -> RUNNING
    ([], lambda: instance_resume(market_id=M, actor="ops", reason="x")),  # STOPPED -> RUNNING via resume
    ([], lambda: instance_stop(market_id=M, actor="ops", reason="x")),  # STOPPED -> STOPPED
    (["start"], lambda: instance_emergency(market_id=M, reason="x")),  # STARTING -> EMERGENCY
    (["start", "run"], lambda: instance_start(market_id=M, actor="ops")),  # RUNNING -> STARTING
    (["start", "run", "wind"], lambda: instance_resume(market_id=M, actor="ops", reason="x")),  # WINDING_DOWN -> RUNNING
    (["start", "run", "wind"], lambda: instance_emergency(market_id=M, reason="x")),
    (["start", "run", "emergency"], lambda: instance_wind_down(market_id=M)),  # EMERGENCY -> WINDING_DOWN
])
def test_illegal_lifecycle_transitions_raise_and_change_nothing(instance, redis_conn, setup, illegal):
    steps = {"start": lambda: instance_start(market_id=M, actor="ops"), "run": lambda: instance_running(market_id=M),
             "wind": lambda: instance_wind_down(market_id=M),
             "emergency": lambda: instance_emergency(market_id=M, reason="market SUSPENDED")}
    for step in setup:
        steps[step]()
    before = snapshot(redis_conn)
    with pytest.raises(TransitionNotAllowed):
        illegal()
    assert snapshot(redis_conn) == before


def test_phase_transitions_need_their_reasons_and_are_recorded(instance, redis_conn):
    phase_transition(market_id=M, to_phase="STABILIZATION", reason="VOLUME_REACHED", timestamp_ms=1 * MINUTE)
    before = snapshot(redis_conn)
    with pytest.raises(TransitionNotAllowed):  # already STABILIZATION
        phase_transition(market_id=M, to_phase="STABILIZATION", reason="PRICE_STABLE", timestamp_ms=2 * MINUTE)
    with pytest.raises(ValueError):  # the way back is only EMERGENCY_ROLLBACK
        phase_transition(market_id=M, to_phase="EXPLORATION", reason="TIME_EXPIRED", timestamp_ms=2 * MINUTE)
    assert snapshot(redis_conn) == before
    phase_transition(market_id=M, to_phase="EXPLORATION", reason="EMERGENCY_ROLLBACK", timestamp_ms=3 * MINUTE)
    phase_transition(market_id=M, to_phase="STABILIZATION", reason="TIME_EXPIRED", timestamp_ms=4 * MINUTE)
    with pytest.raises(TransitionNotAllowed):  # a second rollback within 10 minutes
        phase_transition(market_id=M, to_phase="EXPLORATION", reason="EMERGENCY_ROLLBACK", timestamp_ms=12 * MINUTE)
    phase_transition(market_id=M, to_phase="EXPLORATION", reason="EMERGENCY_ROLLBACK", timestamp_ms=13 * MINUTE)
    rows = list(PhaseTransition.objects.order_by("id").values_list("from_phase", "to_phase", "reason", "timestamp_ms"))
    assert rows == [("EXPLORATION", "STABILIZATION", "VOLUME_REACHED", MINUTE),
                    ("STABILIZATION", "EXPLORATION", "EMERGENCY_ROLLBACK", 3 * MINUTE),
                    ("EXPLORATION", "STABILIZATION", "TIME_EXPIRED", 4 * MINUTE),
                    ("STABILIZATION", "EXPLORATION", "EMERGENCY_ROLLBACK", 13 * MINUTE)]
    assert state.state_get(M)["phase"] == "EXPLORATION"


def test_defense_levels_move_freely_but_kill_switch_leaves_only_by_operator_reset(instance, redis_conn):
    running()
    assert defense_level_set(market_id=M, level="WIDEN", reason="skew 0.82") is not None
    assert defense_level_set(market_id=M, level="WIDEN", reason="same") is None
    defense_level_set(market_id=M, level="ONE_SIDE", reason="skew 0.91")
    defense_level_set(market_id=M, level="NORMAL", reason="skew back")
    defense_level_set(market_id=M, level="KILL_SWITCH", reason="daily loss")
    assert Alert.objects.filter(type="KILL_SWITCH").count() == 1
    before = snapshot(redis_conn)
    for level in ("NORMAL", "WIDEN", "ONE_SIDE"):
        with pytest.raises(TransitionNotAllowed):
            defense_level_set(market_id=M, level=level, reason="strategy thinks it is fine")
    assert snapshot(redis_conn) == before
    assert state.state_get(M)["defense_level"] == "KILL_SWITCH"


def test_kill_switch_and_operator_resume(instance, redis_conn):
    running()
    instance_kill(market_id=M, actor="alice", reason="drill")
    row = AMMInstance.objects.get(market_id=M)
    assert (row.kill_switch, row.defense_level, row.lifecycle_state) == ("ON", "KILL_SWITCH", "EMERGENCY")
    assert (row.kill_switch_by, row.kill_switch_reason) == ("alice", "drill")
    assert state.state_get(M)["kill_switch"] == "ON"
    before = snapshot(redis_conn)
    with pytest.raises(TransitionNotAllowed):  # already ON
        instance_kill(market_id=M, actor="bob", reason="again")
    assert snapshot(redis_conn) == before
    instance_resume(market_id=M, actor="carol", reason="checked, resuming")
    row = AMMInstance.objects.get(market_id=M)
    assert (row.kill_switch, row.defense_level, row.lifecycle_state) == ("OFF", "NORMAL", "RUNNING")
    assert state.state_get(M)["kill_switch"] == "OFF" and state.state_get(M)["defense_level"] == "NORMAL"
    assert list(KillSwitchChange.objects.order_by("id").values_list("to_state", "actor")) == [("ON", "alice"),
                                                                                             ("OFF", "carol")]


def test_protected_fields_cannot_be_assigned(instance):
    row = AMMInstance.objects.get(market_id=M)
    with pytest.raises(AttributeError):
        row.lifecycle_state = "RUNNING"


@pytest.mark.parametrize("setup, after_kill, after_reset", [
    (["start"], "EMERGENCY", "RUNNING"),  # the start aborted; the reset resumes (the switch caused it)
    (["start", "run"], "EMERGENCY", "RUNNING"),
    (["start", "run", "wind"], "WINDING_DOWN", "WINDING_DOWN"),  # held, then winds down again
    ([], "STOPPED", "STOPPED"),  # latched
])
def test_kill_switch_holds_in_every_lifecycle_state_and_its_reset(instance, redis_conn, setup, after_kill,
                                                                   after_reset):
    from amm.services import instance_reset_kill_switch

    steps = {"start": lambda: instance_start(market_id=M, actor="ops"), "run": lambda: instance_running(market_id=M),
             "wind": lambda: instance_wind_down(market_id=M)}
    for step in setup:
        steps[step]()
    instance_kill(market_id=M, actor="alice", reason="drill")
    row = AMMInstance.objects.get(market_id=M)
    assert (row.lifecycle_state, row.kill_switch, row.defense_level) == (after_kill, "ON", "KILL_SWITCH")
    instance_reset_kill_switch(market_id=M, actor="carol", reason="drill over")
    row = AMMInstance.objects.get(market_id=M)
    assert (row.lifecycle_state, row.kill_switch, row.defense_level) == (after_reset, "OFF", "NORMAL")
    assert state.state_get(M)["kill_switch"] == "OFF" and state.state_get(M)["defense_level"] == "NORMAL"
    before = snapshot(redis_conn)
    with pytest.raises(TransitionNotAllowed):  # the switch is OFF: nothing to reset
        instance_reset_kill_switch(market_id=M, actor="carol", reason="again")
    assert snapshot(redis_conn) == before


def test_a_start_completes_in_emergency_while_the_kill_switch_is_on(instance):
    from amm.services import instance_start_complete

    instance_kill(market_id=M, actor="alice", reason="keep it off")
    instance_start(market_id=M, actor="ops")
    assert instance_start_complete(market_id=M).lifecycle_state == "EMERGENCY"  # never RUNNING
    assert instance_start_complete(market_id=M).lifecycle_state == "EMERGENCY"  # no longer STARTING: left alone
    path = list(LifecycleChange.objects.order_by("id").values_list("from_state", "to_state"))
    assert path == [("STOPPED", "STARTING"), ("STARTING", "EMERGENCY")]
