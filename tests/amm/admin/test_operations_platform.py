"""Operator actions from the console end to end (SPEC §9): the admin calls
amm.runtime.operator, which cancels the AMM's orders on the platform over real HTTP (the
live server) before the page answers; the records name the admin user."""
from __future__ import annotations

import pytest
from django.contrib.messages import get_messages

from amm.models import KillSwitchChange, LifecycleChange
from amm.runtime.cycle import quote_cycle
from tests.amm.admin.conftest import OPERATOR_PERMS, VIEW
from tests.amm.runtime.support import _stop_deadman_sweeper, rt  # noqa: F401 - fixtures

pytestmark = pytest.mark.django_db(transaction=True)

LIST = "/admin/amm/amminstance/"


def _quoting(rt) -> None:
    rt.start()
    assert quote_cycle(rt.market_id).outcome == "quoted"
    assert rt.quoting()


def _messages(response) -> list[tuple[str, str]]:
    return [(m.level_tag, m.message) for m in get_messages(response.wsgi_request)]


def test_kill_from_the_list_empties_the_book_then_reset_and_stop_from_the_instance_page(rt, login):
    _quoting(rt)
    instance = rt.instance()
    client, _ = login(VIEW, *OPERATOR_PERMS, name="carol")

    response = client.post(LIST, {"action": "kill", "_selected_action": [instance.pk], "reason": "bad oracle",
                                  "confirm": "1"}, follow=True)
    [(level, text)] = _messages(response)
    assert level == "success" and text.startswith(f"{rt.market_id}: kill switch engaged, ")
    instance = rt.instance()
    assert (instance.lifecycle_state, instance.kill_switch, instance.defense_level) == (
        "EMERGENCY", "ON", "KILL_SWITCH")
    assert rt.open_orders() == {} and rt.tracked() == {}  # empty on the platform when the page answered
    change = KillSwitchChange.objects.filter(market_id=rt.market_id).first()
    assert (change.to_state, change.actor, change.reason) == ("ON", "admin:carol", "bad oracle")

    page = f"{LIST}{instance.pk}/change/"
    response = client.post(f"{LIST}{instance.pk}/operate/reset_kill_switch/", {"reason": "oracle fixed",
                                                                                "confirm": "1"}, follow=True)
    assert [hop for hop, _ in response.redirect_chain] == [page]
    instance = rt.instance()
    assert (instance.lifecycle_state, instance.kill_switch, instance.defense_level) == ("RUNNING", "OFF", "NORMAL")
    assert quote_cycle(rt.market_id).outcome == "quoted" and rt.quoting()

    response = client.post(f"{LIST}{instance.pk}/operate/stop/", {"reason": "end of day", "confirm": "1"},
                           follow=True)
    [(level, text)] = _messages(response)
    assert (level, text) == ("success", f"{rt.market_id}: Stop done — now STOPPED, kill switch OFF")
    assert rt.instance().lifecycle_state == "STOPPED"
    assert rt.open_orders() == {}
    change = LifecycleChange.objects.filter(market_id=rt.market_id).first()
    assert (change.from_state, change.to_state, change.actor) == ("RUNNING", "STOPPED", "admin:carol")
    assert change.reason.endswith("end of day")


def test_resume_from_emergency_once_the_market_is_active_again(rt, login):
    _quoting(rt)
    instance = rt.instance()
    client, _ = login(VIEW, "amm.operate_instance", name="dave")
    rt.set_status("HALTED")  # HALTED needs an operator to come back
    assert quote_cycle(rt.market_id, reason="status").outcome == "emergency"
    assert rt.instance().lifecycle_state == "EMERGENCY"

    url = f"{LIST}{instance.pk}/operate/resume/"
    response = client.post(url, {"reason": "halt lifted?", "confirm": "1"}, follow=True)  # still HALTED: refused
    [(level, text)] = _messages(response)
    assert level == "error" and "resume once it is ACTIVE" in text
    assert rt.instance().lifecycle_state == "EMERGENCY"

    rt.set_status("ACTIVE")  # the feed's status watch sees it; a HALTED market still waits for the operator
    assert quote_cycle(rt.market_id, reason="status").outcome == "emergency"
    response = client.post(url, {"reason": "halt lifted", "confirm": "1"}, follow=True)
    [(level, text)] = _messages(response)
    assert (level, text) == ("success", f"{rt.market_id}: Resume done — now RUNNING, kill switch OFF")
    change = LifecycleChange.objects.filter(market_id=rt.market_id).first()
    assert (change.from_state, change.to_state, change.actor, change.reason) == (
        "EMERGENCY", "RUNNING", "admin:dave", "halt lifted")
    assert quote_cycle(rt.market_id).outcome == "quoted" and rt.quoting()
