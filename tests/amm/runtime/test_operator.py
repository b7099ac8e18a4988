"""Operator actions (amm/runtime/operator.py, issue 11): kill, reset_kill_switch, resume,
start and stop, cycle by cycle against the platform over HTTP (the live server), on real
PostgreSQL and Redis. The kill switch holds in every lifecycle state (docs/state-machines.md).
The running system (run_amm picking up a start, a stop under its workers) is in
test_operator_e2e.py."""
from __future__ import annotations

import pytest

from amm import state
from amm.exceptions import ActionRefused, InstanceNotFound
from amm.models import Alert, AMMInstance, DefenseLevelChange, KillSwitchChange, LifecycleChange
from amm.runtime import operator
from amm.runtime.cycle import quote_cycle
from amm.runtime.startup import market_start
from tests.amm.runtime.support import _stop_deadman_sweeper, rt  # noqa: F401 - fixtures

pytestmark = pytest.mark.django_db(transaction=True)

WHO = "operator:test"


def _quoted(rt) -> None:
    rt.start()
    assert quote_cycle(rt.market_id).outcome == "quoted"
    assert rt.quoting()


def _snapshot(market_id: str):
    """Everything an operator action may change: the row, the histories, the mirrored state."""
    row = AMMInstance.objects.values().get(market_id=market_id)
    row.pop("updated_at")
    history = tuple(model.objects.filter(market_id=market_id).count()
                    for model in (LifecycleChange, KillSwitchChange, DefenseLevelChange, Alert))
    return row, history, state.state_get(market_id)


def _lifecycle_path(market_id: str) -> list[tuple[str, str]]:
    return list(LifecycleChange.objects.filter(market_id=market_id).order_by("id")
                .values_list("from_state", "to_state"))


def _wind_down_with_pairs(rt) -> tuple[int, int]:
    """A quoting market with matched YES/NO pairs, RESOLVED on the platform and recorded
    WINDING_DOWN (as the cycle that saw RESOLVED records it, before its first wind-down
    step); returns the position (yes, no)."""
    from amm.services import instance_wind_down

    _quoted(rt)
    for _ in range(3):
        quote_cycle(rt.market_id)
    pos = rt.position()
    assert pos.yes_volume > 0 and pos.no_volume > 0  # minted pairs back the quotes
    rt.set_status("RESOLVED", outcome="YES", watch=False)
    instance_wind_down(market_id=rt.market_id, reason="market RESOLVED")
    return pos.yes_volume, pos.no_volume


# --- kill -----------------------------------------------------------------------------------------
def test_kill_in_starting_aborts_the_start_and_nothing_is_quoted(rt):
    rt.start(rt.market_id)  # a sync of the market, the dead man's switch armed ...
    operator.stop(market_id=rt.market_id, reason="maintenance", actor=WHO)
    operator.start(market_id=rt.market_id, reason="maintenance over", actor=WHO)  # ... then STARTING again
    assert rt.instance().lifecycle_state == "STARTING"

    [result] = operator.kill(market_ids=[rt.market_id], reason="drill during the start", actor=WHO)
    assert result.engaged
    instance = rt.instance()
    assert (instance.lifecycle_state, instance.kill_switch, instance.defense_level) == ("EMERGENCY", "ON",
                                                                                       "KILL_SWITCH")
    assert _lifecycle_path(rt.market_id)[-1] == ("STARTING", "EMERGENCY")
    # The startup job that was on its way leaves it so, and no cycle quotes.
    assert market_start(rt.market_id, only_starting=True) == "EMERGENCY"
    for _ in range(2):
        assert quote_cycle(rt.market_id).outcome == "kill_switch"
    assert rt.open_orders() == {} and rt.tracked() == {}


def test_kill_while_stopped_latches_a_later_start_goes_to_emergency(rt):
    operator.kill(market_ids=[rt.market_id], reason="keep it off", actor=WHO)
    assert rt.instance().lifecycle_state == "STOPPED"  # the switch holds, the lifecycle stays
    operator.start(market_id=rt.market_id, reason="try a start", actor=WHO)
    assert market_start(rt.market_id, only_starting=True) == "EMERGENCY"  # synced, never RUNNING
    assert _lifecycle_path(rt.market_id) == [("STOPPED", "STARTING"), ("STARTING", "EMERGENCY")]
    assert quote_cycle(rt.market_id).outcome == "kill_switch"
    assert rt.open_orders() == {}

    operator.reset_kill_switch(market_id=rt.market_id, reason="all clear", actor=WHO)  # caused by the switch
    assert rt.instance().lifecycle_state == "RUNNING"
    from amm.runtime import deadman_arming as deadman
    from amm.runtime.context import context

    deadman.arm(context(), timeout_ms=30_000, market_ids=[rt.market_id])
    assert quote_cycle(rt.market_id, reason="reset").outcome == "quoted"
    assert rt.quoting()


def test_kill_in_winding_down_keeps_the_book_empty_and_burns_nothing_until_the_reset(rt):
    yes, no = _wind_down_with_pairs(rt)
    assert rt.tracked()  # the wind-down has not run yet (the platform cancelled them passively)

    [result] = operator.kill(market_ids=[rt.market_id], reason="stop the wind-down", actor=WHO)
    assert result.engaged and rt.open_orders() == {} and rt.tracked() == {}
    for _ in range(3):
        assert quote_cycle(rt.market_id, reason="status").outcome == "kill_switch"
    instance = rt.instance()
    assert (instance.lifecycle_state, instance.kill_switch) == ("WINDING_DOWN", "ON")
    pos = rt.position()
    assert (pos.yes_volume, pos.no_volume) == (yes, no), "burned while the kill switch was ON"
    assert rt.open_orders() == {}

    instance = operator.reset_kill_switch(market_id=rt.market_id, reason="wind down after all", actor=WHO)
    assert (instance.lifecycle_state, instance.kill_switch, instance.defense_level) == ("WINDING_DOWN", "OFF",
                                                                                       "NORMAL")
    assert quote_cycle(rt.market_id, reason="reset").outcome == "stopped"
    pos = rt.position()
    assert min(pos.yes_volume, pos.no_volume) == 0, "the wind-down did not burn the matched pairs"
    assert rt.instance().lifecycle_state == "STOPPED"


def test_kill_again_recancels_and_reports_not_engaged(rt):
    _quoted(rt)
    operator.kill(market_ids=[rt.market_id], reason="first", actor=WHO)
    [again] = operator.kill(market_ids=[rt.market_id], reason="second", actor=WHO)
    assert not again.engaged and again.error == ""
    assert rt.instance().kill_switch_reason == "first"  # the first engagement is the record
    assert KillSwitchChange.objects.filter(market_id=rt.market_id).count() == 1


# --- reset ------------------------------------------------------------------------------------------
def test_reset_from_emergency_resumes_quoting_after_a_resync(rt):
    _quoted(rt)
    operator.kill(market_ids=[rt.market_id], reason="drill", actor=WHO)
    instance = operator.reset_kill_switch(market_id=rt.market_id, reason="drill over", actor="admin:alice")
    assert (instance.lifecycle_state, instance.kill_switch, instance.defense_level) == ("RUNNING", "OFF", "NORMAL")
    assert state.runtime_get(rt.market_id).get("resync")  # the next cycle reads the platform's orders first
    assert state.state_get(rt.market_id)["kill_switch"] == "OFF"
    change = KillSwitchChange.objects.filter(market_id=rt.market_id).order_by("-id").first()
    assert (change.from_state, change.to_state, change.actor, change.reason) == ("ON", "OFF", "admin:alice",
                                                                                  "drill over")
    assert DefenseLevelChange.objects.filter(market_id=rt.market_id, to_level="NORMAL", actor="admin:alice").exists()
    assert quote_cycle(rt.market_id, reason="reset").outcome == "quoted"
    assert rt.quoting()


def test_reset_of_a_switch_engaged_during_a_suspension_leaves_the_market_its_own_way_out(rt):
    _quoted(rt)
    rt.set_status("SUSPENDED")
    assert quote_cycle(rt.market_id, reason="status").outcome == "emergency"
    operator.kill(market_ids=[rt.market_id], reason="while suspended", actor=WHO)
    instance = operator.reset_kill_switch(market_id=rt.market_id, reason="switch off", actor=WHO)
    assert (instance.lifecycle_state, instance.kill_switch) == ("EMERGENCY", "OFF")  # still SUSPENDED
    assert quote_cycle(rt.market_id, reason="status").outcome == "emergency"
    rt.set_status("ACTIVE")  # SUSPENDED resumes by itself
    assert quote_cycle(rt.market_id, reason="status").outcome == "quoted"
    assert rt.instance().lifecycle_state == "RUNNING"


def test_reset_while_stopped_changes_only_the_switch_and_defense(rt):
    operator.kill(market_ids=[rt.market_id], reason="off for now", actor=WHO)
    instance = operator.reset_kill_switch(market_id=rt.market_id, reason="on again", actor=WHO)
    assert (instance.lifecycle_state, instance.kill_switch, instance.defense_level) == ("STOPPED", "OFF", "NORMAL")
    assert _lifecycle_path(rt.market_id) == []
    assert quote_cycle(rt.market_id).outcome == "idle"


def test_refusals_change_nothing(rt):
    _quoted(rt)
    m = rt.market_id
    before = _snapshot(m)
    refused = [
        lambda: operator.reset_kill_switch(market_id=m, reason="switch is OFF", actor=WHO),
        lambda: operator.resume(market_id=m, reason="RUNNING already", actor=WHO),
        lambda: operator.start(market_id=m, reason="RUNNING already", actor=WHO),
        lambda: operator.kill(market_ids=[m], reason="   ", actor=WHO),
        lambda: operator.kill(market_ids=[], reason="no market named", actor=WHO),
        lambda: operator.stop(market_id=m, reason="", actor=WHO),
        lambda: operator.stop(market_id=m, reason="no actor", actor=" "),
    ]
    for action in refused:
        with pytest.raises(ActionRefused):
            action()
    assert _snapshot(m) == before
    assert rt.quoting()

    operator.kill(market_ids=[m], reason="drill", actor=WHO)
    before = _snapshot(m)
    with pytest.raises(ActionRefused, match="kill switch is ON"):  # resume may not reset the switch
        operator.resume(market_id=m, reason="sneak past the reset", actor=WHO, check_market=False)
    with pytest.raises(ActionRefused):
        operator.reset_kill_switch(market_id=m, reason="", actor=WHO)
    assert _snapshot(m) == before


def test_unknown_market_is_not_found_and_kill_engages_nothing(rt):
    for action in (
        lambda: operator.kill(market_ids=[rt.market_id, "NOPE"], reason="x", actor=WHO),
        lambda: operator.reset_kill_switch(market_id="NOPE", reason="x", actor=WHO),
        lambda: operator.resume(market_id="NOPE", reason="x", actor=WHO),
        lambda: operator.start(market_id="NOPE", reason="x", actor=WHO),
        lambda: operator.stop(market_id="NOPE", reason="x", actor=WHO),
    ):
        with pytest.raises(InstanceNotFound):
            action()
    assert rt.instance().kill_switch == "OFF"


# --- resume, stop, start -------------------------------------------------------------------------------
def test_resume_after_a_halt(rt):
    _quoted(rt)
    rt.set_status("HALTED")
    assert quote_cycle(rt.market_id).outcome == "emergency"
    with pytest.raises(ActionRefused, match="HALTED"):  # not while the market is not ACTIVE
        operator.resume(market_id=rt.market_id, reason="too early", actor=WHO)
    rt.set_status("ACTIVE")
    instance = operator.resume(market_id=rt.market_id, reason="halt reviewed", actor=WHO)
    assert instance.lifecycle_state == "RUNNING"
    assert _lifecycle_path(rt.market_id)[-1] == ("EMERGENCY", "RUNNING")
    assert quote_cycle(rt.market_id).outcome == "quoted"


def test_stop_cancels_on_the_platform_and_the_market_stays_stopped(rt):
    _quoted(rt)
    instance = operator.stop(market_id=rt.market_id, reason="maintenance", actor="api:bob")
    assert instance.lifecycle_state == "STOPPED"
    assert rt.open_orders() == {} and rt.tracked() == {}
    change = LifecycleChange.objects.filter(market_id=rt.market_id).order_by("-id").first()
    assert (change.from_state, change.to_state, change.actor) == ("RUNNING", "STOPPED", "api:bob")
    assert "maintenance" in change.reason
    for _ in range(2):
        assert quote_cycle(rt.market_id).outcome == "idle"
    assert rt.open_orders() == {}
    with pytest.raises(ActionRefused):  # STOPPED -> STOPPED
        operator.stop(market_id=rt.market_id, reason="again", actor=WHO)

    instance = operator.start(market_id=rt.market_id, reason="maintenance over", actor="api:bob")
    assert instance.lifecycle_state == "STARTING"
    assert market_start(rt.market_id, only_starting=True) == "RUNNING"
    assert quote_cycle(rt.market_id).outcome == "quoted"


def test_stop_from_emergency(rt):
    _quoted(rt)
    operator.kill(market_ids=[rt.market_id], reason="drill", actor=WHO)
    assert operator.stop(market_id=rt.market_id, reason="done for today", actor=WHO).lifecycle_state == "STOPPED"
    assert rt.instance().kill_switch == "ON"  # the switch stays latched


def test_run_amm_leaves_a_market_an_operator_stopped_until_it_is_started_or_named(rt):
    from amm.runtime.startup import market_shutdown, markets_to_start

    held, shut, fresh = rt.market_id, rt.new_market(), rt.new_market()
    rt.start(held, shut)
    operator.stop(market_id=held, reason="maintenance", actor=WHO)
    market_shutdown(shut)  # run_amm exiting: STOPPED too, but not an operator's stop
    everything = [held, shut, fresh]
    assert markets_to_start(everything, named=[]) == [shut, fresh]
    assert markets_to_start(everything, named=[held]) == everything  # naming it is an operator's start
    operator.start(market_id=held, reason="maintenance over", actor=WHO)
    assert markets_to_start(everything, named=[]) == everything  # STARTING: the next run finishes the start
