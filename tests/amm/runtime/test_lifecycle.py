"""Lifecycle reactions to the market's status, the kill switch and wind-down (issue 6,
SPEC §5), cycle by cycle against the platform over HTTP."""
from __future__ import annotations

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from amm import state
from amm.constants import AMM_USER_ID
from exchange.models import Account
from amm.models import Alert, AlertType, KillSwitchChange
from amm.runtime.context import context
from amm.runtime.cycle import quote_cycle
from tests.amm.runtime.support import _stop_deadman_sweeper, rt, wait_until  # noqa: F401 - fixtures

pytestmark = pytest.mark.django_db(transaction=True)


def _quoted(rt) -> None:
    rt.start()
    assert quote_cycle(rt.market_id).outcome == "quoted"
    assert rt.quoting()


def test_suspension_cancels_and_pauses_then_active_again_resumes(rt):
    _quoted(rt)
    rt.set_status("SUSPENDED")  # the platform cancels the AMM's orders passively, too
    result = quote_cycle(rt.market_id, reason="status")
    assert result.outcome == "emergency", result
    assert rt.instance().lifecycle_state == "EMERGENCY"
    assert rt.open_orders() == {} and rt.tracked() == {}
    assert quote_cycle(rt.market_id).outcome == "emergency"  # paused: nothing sent

    rt.set_status("ACTIVE")
    result = quote_cycle(rt.market_id, reason="status")
    assert result.outcome == "quoted", result
    assert rt.instance().lifecycle_state == "RUNNING"
    assert rt.quoting()


def test_halted_needs_an_operator_resume(rt):
    _quoted(rt)
    rt.set_status("HALTED")
    assert quote_cycle(rt.market_id).outcome == "emergency"
    rt.set_status("ACTIVE")
    assert quote_cycle(rt.market_id).outcome == "emergency"  # HALTED does not resume by itself
    assert rt.open_orders() == {}
    assert rt.instance().lifecycle_state == "EMERGENCY"

    call_command("amm_resume", rt.market_id, reason="market reviewed after the halt")
    assert rt.instance().lifecycle_state == "RUNNING"
    assert quote_cycle(rt.market_id).outcome == "quoted"
    assert rt.quoting()
    with pytest.raises(CommandError):  # RUNNING -> RUNNING is illegal
        call_command("amm_resume", rt.market_id, reason="again")


def test_resolution_winds_down_burns_matched_pairs_and_stops(rt):
    _quoted(rt)
    for _ in range(3):
        quote_cycle(rt.market_id)
    pos = rt.position()
    assert pos.yes_volume > 0 and pos.no_volume > 0  # minted pairs back the quotes
    rt.set_status("RESOLVED", outcome="YES")
    result = quote_cycle(rt.market_id, reason="status")
    assert result.outcome == "stopped", result
    assert rt.instance().lifecycle_state == "STOPPED"
    assert rt.open_orders() == {} and rt.tracked() == {}
    pos = rt.position()
    assert min(pos.yes_volume, pos.no_volume) == 0, "matched pairs left unburned"
    inv = state.inventory_get(rt.market_id)
    account = Account.objects.get(user_id=AMM_USER_ID)
    assert (inv.yes_volume, inv.no_volume, inv.cash_cents) == (pos.yes_volume, pos.no_volume,
                                                              account.available_balance)
    assert quote_cycle(rt.market_id).outcome == "idle"


def test_settled_market_stops_the_instance(rt):
    _quoted(rt)
    rt.set_status("VOIDED")
    assert quote_cycle(rt.market_id, reason="status").outcome == "stopped"
    assert rt.instance().lifecycle_state == "STOPPED"
    assert rt.open_orders() == {}


def test_kill_switch_command_empties_the_book_and_only_resume_brings_it_back(rt):
    _quoted(rt)
    call_command("amm_kill", rt.market_id, reason="operator test")
    assert rt.open_orders() == {} and rt.tracked() == {}
    instance = rt.instance()
    assert (instance.kill_switch, instance.lifecycle_state, instance.kill_switch_reason) == ("ON", "EMERGENCY",
                                                                                          "operator test")
    assert instance.kill_switch_by.startswith("operator:")
    assert Alert.objects.filter(type=AlertType.KILL_SWITCH, market_id=rt.market_id).exists()
    assert state.state_get(rt.market_id)["kill_switch"] == "ON"
    for _ in range(2):
        assert quote_cycle(rt.market_id).outcome == "kill_switch"
    assert rt.open_orders() == {}

    call_command("amm_resume", rt.market_id, reason="checked, all clear")
    instance = rt.instance()
    assert (instance.kill_switch, instance.lifecycle_state) == ("OFF", "RUNNING")
    assert KillSwitchChange.objects.filter(market_id=rt.market_id, to_state="OFF").exists()
    assert quote_cycle(rt.market_id).outcome == "quoted"
    assert rt.quoting()


def test_kill_all_and_refusals(rt):
    other = rt.new_market()
    rt.start(rt.market_id, other)
    for m in (rt.market_id, other):
        assert quote_cycle(m).outcome == "quoted"
    with pytest.raises(CommandError):
        call_command("amm_kill", rt.market_id, reason="x", all=True)  # markets or --all, not both
    call_command("amm_kill", all=True, reason="everything off")
    for m in (rt.market_id, other):
        assert rt.open_orders(m) == {}
        assert rt.instance(m).kill_switch == "ON"


def test_defense_kill_switch_engages_within_one_cycle(rt):
    _quoted(rt)
    state.state_update(rt.market_id, daily_pnl_cents=-60_000)  # > max_loss_daily_cents (50,000)
    result = quote_cycle(rt.market_id)
    assert result.outcome == "kill_switch", result
    instance = rt.instance()
    assert (instance.kill_switch, instance.defense_level, instance.lifecycle_state) == ("ON", "KILL_SWITCH",
                                                                                       "EMERGENCY")
    assert instance.kill_switch_by == "defense"
    assert rt.open_orders() == {} and rt.tracked() == {}
    assert Alert.objects.filter(type=AlertType.KILL_SWITCH, market_id=rt.market_id).exists()
    assert quote_cycle(rt.market_id).outcome == "kill_switch"


def test_amm_status_prints_one_line_per_market(rt, capsys):
    _quoted(rt)
    call_command("amm_status")
    out = capsys.readouterr().out.strip().splitlines()
    line = [ln for ln in out if rt.market_id in ln]
    assert len(line) == 1
    for part in ("RUNNING", "EXPLORATION", "NORMAL", "kill=OFF", "fair=", "bid=", "ask=", "YES=", "pnl=", "requote"):
        assert part in line[0], (part, line[0])


def test_status_of_many_markets_is_a_summary_and_the_markets_that_want_attention(rt):
    from amm.runtime.status_lines import status_lines

    markets = [rt.market_id, rt.new_market(), rt.new_market()]
    rt.start(*markets[:2])  # the third stays STOPPED
    for m in markets[:2]:
        state.state_update(m, last_requote_ms=state.now_ms(), total_fills_today=3, daily_pnl_cents=-60)
    lines = status_lines(markets, max_lines=2)
    assert lines[0].startswith("3 markets: 2 RUNNING, 1 STOPPED; fills today 6, pnl today -120;"), lines
    assert "1 want attention" in lines[0], lines
    assert len(lines) == 2 and lines[1].startswith(markets[2]) and "STOPPED" in lines[1]
    state.state_update(markets[0], last_requote_ms=state.now_ms() - 60_000)  # running, but its requote is late
    lines = status_lines(markets, max_lines=2)
    assert "2 want attention" in lines[0] and [ln.split()[0] for ln in lines[1:]] == [markets[0], markets[2]], lines
    assert len(status_lines(markets, max_lines=3)) == 3  # few enough: a line each
