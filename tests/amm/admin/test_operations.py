"""Operator actions in the console (SPEC §9): each needs its own permission (a staff user
without it neither sees it nor runs it, also not by POSTing its name), asks for a reason
on a confirmation page, calls amm.runtime.operator, and shows a refusal as an error
message with nothing changed. These need no platform (refusals come before any platform
call; start and the kill switch's reset touch only the database and Redis); kill, stop and
resume over HTTP are in test_operations_platform.py."""
from __future__ import annotations

import pytest
from django.contrib.admin.models import LogEntry
from django.contrib.messages import get_messages

from amm.models import KillSwitchChange, LifecycleChange
from amm.services import instance_kill, instance_running, instance_start
from tests.amm.admin.conftest import OPERATOR_PERMS, VIEW, enable, snapshot

pytestmark = pytest.mark.django_db

LIST = "/admin/amm/amminstance/"
PERMISSION = {"start": "amm.operate_instance", "stop": "amm.operate_instance", "resume": "amm.operate_instance",
              "kill": "amm.engage_killswitch", "reset_kill_switch": "amm.reset_killswitch"}


def _page(instance) -> str:
    return f"{LIST}{instance.pk}/change/"


def _operate(instance, name: str) -> str:
    return f"{LIST}{instance.pk}/operate/{name}/"


def _run_from_list(client, name: str, *instances, reason: str | None = "test reason"):
    data = {"action": name, "_selected_action": [i.pk for i in instances], "confirm": "1"}
    if reason is not None:
        data["reason"] = reason
    return client.post(LIST, data, follow=True)


def _confirm(client, instance, name: str, reason: str = "test reason"):
    return client.post(_operate(instance, name), {"reason": reason, "confirm": "1"}, follow=True)


def _redirected_to(response, url: str) -> bool:
    return [hop for hop, _status in response.redirect_chain] == [url]


def _messages(response) -> list[tuple[str, str]]:
    """The messages the page shows (following the redirect consumes them)."""
    return [(m.level_tag, m.message) for m in get_messages(response.wsgi_request)]


@pytest.mark.parametrize("name", list(PERMISSION))
def test_without_its_permission_an_action_is_neither_shown_nor_run(name, login, redis_conn):
    instance = enable("MKT-P")
    others = [p for p in OPERATOR_PERMS if p != PERMISSION[name]]
    client, _ = login(VIEW, *others)
    before = snapshot("MKT-P")

    listing = client.get(LIST).content.decode()
    assert f'<option value="{name}">' not in listing
    page = client.get(_page(instance)).content.decode()
    assert f'id="operate-{name}"' not in page
    # Forced: the action's name POSTed to the changelist is not an action for this user ...
    response = _run_from_list(client, name, instance)
    assert _redirected_to(response, LIST)
    assert _messages(response) == [("warning", "No action selected.")]
    # ... and its URL on the instance page is forbidden, GET and POST.
    assert client.get(_operate(instance, name)).status_code == 403
    assert client.post(_operate(instance, name), {"reason": "forced", "confirm": "1"}).status_code == 403
    assert snapshot("MKT-P") == before
    assert not LogEntry.objects.exists()


@pytest.mark.parametrize("name", list(PERMISSION))
def test_with_its_permission_an_action_is_shown_and_asks_for_a_reason(name, login, redis_conn):
    instance = enable("MKT-P")
    client, _ = login(VIEW, PERMISSION[name])
    assert f'<option value="{name}">' in client.get(LIST).content.decode()
    page = client.get(_page(instance)).content.decode()
    assert f'id="operate-{name}" class="operate-button"' in page
    before = snapshot("MKT-P")

    # From the changelist: the action opens the confirmation page, nothing runs yet.
    response = client.post(LIST, {"action": name, "_selected_action": [instance.pk]})
    html = response.content.decode()
    assert response.status_code == 200 and 'id="operation-form"' in html
    assert 'name="reason"' in html and 'name="confirm"' in html
    assert f'<input type="hidden" name="action" value="{name}">' in html
    # From the instance page: the same page.
    html = client.get(_operate(instance, name)).content.decode()
    assert 'id="operation-form"' in html and 'name="reason"' in html and 'name="confirm"' in html
    # Confirmed without a reason: the form says so, nothing runs.
    for response in (_run_from_list(client, name, instance, reason="   "), _confirm(client, instance, name, "")):
        assert response.status_code == 200 and not response.redirect_chain
        assert "This field is required." in response.content.decode()
    assert snapshot("MKT-P") == before


def test_start_runs_with_the_admin_user_as_actor(login, redis_conn):
    instance = enable("MKT-S")
    client, user = login(VIEW, "amm.operate_instance", name="alice")
    response = _confirm(client, instance, "start", "  market opens  ")
    assert _redirected_to(response, _page(instance))
    change = LifecycleChange.objects.get(market_id="MKT-S")
    assert (change.from_state, change.to_state, change.actor, change.reason) == (
        "STOPPED", "STARTING", "admin:alice", "market opens")
    assert ("success", "MKT-S: Start done — now STARTING, kill switch OFF") in _messages(response)
    entry = LogEntry.objects.get()
    assert (entry.user_id, entry.object_id, entry.change_message) == (user.pk, str(instance.pk),
                                                                      "Start: market opens")


def test_reset_kill_switch_from_the_list_on_the_selected_instances(login, redis_conn):
    a, b, c = enable("MKT-R1"), enable("MKT-R2"), enable("MKT-R3")
    for m in ("MKT-R1", "MKT-R2"):
        instance_kill(market_id=m, actor="test", reason="drill")
    client, _ = login(VIEW, "amm.reset_killswitch", name="bob")
    response = _run_from_list(client, "reset_kill_switch", a, b, reason="drill over")
    assert _redirected_to(response, LIST)
    for m in ("MKT-R1", "MKT-R2"):
        change = KillSwitchChange.objects.filter(market_id=m).first()  # newest first
        assert (change.from_state, change.to_state, change.actor, change.reason) == ("ON", "OFF", "admin:bob",
                                                                                    "drill over")
    assert snapshot("MKT-R3")[0]["kill_switch"] == "OFF" and not KillSwitchChange.objects.filter(market_id="MKT-R3")
    assert {m for level, m in _messages(response)} == {
        "MKT-R1: Reset kill switch done — now STOPPED, kill switch OFF",
        "MKT-R2: Reset kill switch done — now STOPPED, kill switch OFF"}


@pytest.mark.parametrize("name, setup, refusal", [
    ("start", "running", "start is not allowed from lifecycle=RUNNING"),
    ("stop", "stopped", "cannot stop from STOPPED"),
    ("resume", "stopped", "resume is only from EMERGENCY, not STOPPED"),
    ("resume", "killed", "the kill switch is ON: reset it instead"),
    ("reset_kill_switch", "running", "the kill switch is not ON"),
])
def test_an_illegal_action_shows_the_refusal_and_changes_nothing(name, setup, refusal, login, redis_conn):
    instance = enable("MKT-X")
    if setup in ("running", "killed"):
        instance_start(market_id="MKT-X", actor="test")
        instance_running(market_id="MKT-X")
    if setup == "killed":
        instance_kill(market_id="MKT-X", actor="test", reason="drill")
    client, _ = login(VIEW, *OPERATOR_PERMS)
    before = snapshot("MKT-X")
    for response, back in ((_confirm(client, instance, name, "try"), _page(instance)),
                           (_run_from_list(client, name, instance, reason="try"), LIST)):
        assert _redirected_to(response, back)
        [(level, text)] = _messages(response)
        assert level == "error" and text.startswith("MKT-X: ") and refusal in text, text
    assert snapshot("MKT-X") == before
    assert not LogEntry.objects.exists()


def test_a_refusal_for_one_market_leaves_the_others_going(login, redis_conn):
    a, b = enable("MKT-G1"), enable("MKT-G2")
    instance_start(market_id="MKT-G2", actor="test")  # already STARTING: its start is refused
    client, _ = login(VIEW, "amm.operate_instance")
    before = snapshot("MKT-G2")
    response = _run_from_list(client, "start", a, b, reason="open")
    levels = dict((text.split(":")[0], level) for level, text in _messages(response))
    assert levels == {"MKT-G1": "success", "MKT-G2": "error"}
    assert snapshot("MKT-G1")[0]["lifecycle_state"] == "STARTING"
    assert snapshot("MKT-G2") == before


def test_an_unknown_operation_or_instance_is_not_found(login, redis_conn):
    instance = enable("MKT-N")
    client, _ = login(VIEW, *OPERATOR_PERMS)
    assert client.get(_operate(instance, "explode")).status_code == 404
    assert client.get(f"{LIST}999999/operate/start/").status_code == 404
