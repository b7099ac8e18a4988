"""The operator's write actions over the API: kill switch engage (one market, all), reset,
resume — each through amm.runtime.operator against the live platform, recorded with actor
`api:<username>` and the reason, idempotent or refused (409) with nothing changed. (Who may
not call them: test_auth.py.)"""
from __future__ import annotations

import pytest

from amm.models import AMMInstance, DefenseLevelChange, KillSwitchChange, LifecycleChange
from amm.runtime.cycle import quote_cycle
from amm.services import instance_emergency
from tests.amm.api.conftest import BASE, client_for, enable, make_user, run
from tests.amm.runtime.support import _stop_deadman_sweeper, rt  # noqa: F401 - fixtures

pytestmark = pytest.mark.django_db(transaction=True)

ENGAGE, RESET, OPERATE = "amm.engage_killswitch", "amm.reset_killswitch", "amm.operate_instance"


@pytest.fixture
def market(platform) -> str:
    """A RUNNING AMM instance on the live platform, its book empty."""
    enable(platform.market_id)
    run(platform.market_id)
    return platform.market_id


def operator(username: str, *perms: str):
    return client_for(make_user(*perms, username=username))


def records(market_id: str) -> tuple[int, int, int]:
    return (KillSwitchChange.objects.filter(market_id=market_id).count(),
            LifecycleChange.objects.filter(market_id=market_id).count(),
            DefenseLevelChange.objects.filter(market_id=market_id).count())


def test_engage_is_recorded_with_the_api_actor_and_is_idempotent(market):
    alice = operator("alice", ENGAGE)
    response = alice.post(f"{BASE}/instances/{market}/kill-switch/engage", {"reason": "breaking news"}, format="json")
    assert response.status_code == 200, response.content
    assert response.json() == {"results": [{"market_id": market, "engaged": True, "cancelled": 0, "lease": "acquired",
                                            "error": ""}]}
    instance = AMMInstance.objects.get(market_id=market)
    assert (instance.kill_switch, instance.lifecycle_state, instance.defense_level) == ("ON", "EMERGENCY",
                                                                                       "KILL_SWITCH")
    assert (instance.kill_switch_by, instance.kill_switch_reason) == ("api:alice", "breaking news")
    change = KillSwitchChange.objects.get(market_id=market)
    assert (change.from_state, change.to_state, change.actor, change.reason) == ("OFF", "ON", "api:alice",
                                                                                 "breaking news")
    before = records(market)

    again = alice.post(f"{BASE}/instances/{market}/kill-switch/engage", {"reason": "still bad"}, format="json")
    assert again.status_code == 200
    assert again.json()["results"][0]["engaged"] is False  # already ON: its book cancelled again
    assert records(market) == before


def test_engage_all_engages_every_instance(platform, market):
    other = enable(platform.new_market())
    response = operator("alice", ENGAGE).post(f"{BASE}/kill-switch/engage-all", {"reason": "platform incident"},
                                              format="json")
    assert response.status_code == 200, response.content
    assert sorted((r["market_id"], r["engaged"]) for r in response.json()["results"]) == sorted(
        [(market, True), (other, True)])
    assert set(AMMInstance.objects.values_list("kill_switch", flat=True)) == {"ON"}
    assert set(KillSwitchChange.objects.values_list("actor", "reason")) == {("api:alice", "platform incident")}


@pytest.mark.parametrize("body,field,code", [
    ({}, "reason", "INVALID_INPUT"),
    ({"reason": "   "}, "reason", "INVALID_INPUT"),
    ({"reason": "ok", "all": True}, "all", "UNKNOWN_FIELD"),
    ({"reason": "x" * 1001}, "reason", "INVALID_INPUT"),
])
def test_a_reason_is_required_and_bad_input_changes_nothing(market, body, field, code):
    before = records(market)
    response = operator("alice", ENGAGE, RESET, OPERATE).post(f"{BASE}/instances/{market}/kill-switch/engage", body,
                                                              format="json")
    assert response.status_code == 400, response.content
    assert (response.json()["error"], response.json()["field"]) == (code, field)
    assert AMMInstance.objects.get(market_id=market).kill_switch == "OFF"
    assert records(market) == before


def test_unknown_market_is_404(market):
    client = operator("alice", ENGAGE, RESET, OPERATE)
    for path in ("kill-switch/engage", "kill-switch/reset", "resume"):
        response = client.post(f"{BASE}/instances/NOPE/{path}", {"reason": "r"}, format="json")
        assert response.status_code == 404 and response.json()["error"] == "INSTANCE_NOT_FOUND", path


def test_reset_is_recorded_and_a_second_reset_is_refused_with_nothing_changed(market):
    operator("alice", ENGAGE).post(f"{BASE}/instances/{market}/kill-switch/engage", {"reason": "drill"},
                                   format="json")
    bob = operator("bob", RESET)
    response = bob.post(f"{BASE}/instances/{market}/kill-switch/reset", {"reason": "drill over"}, format="json")
    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["market_id"], body["kill_switch"], body["defense_level"], body["lifecycle_state"]) == (
        market, "OFF", "NORMAL", "RUNNING")
    change = KillSwitchChange.objects.filter(market_id=market).order_by("-id").first()
    assert (change.from_state, change.to_state, change.actor, change.reason) == ("ON", "OFF", "api:bob", "drill over")
    defense = DefenseLevelChange.objects.filter(market_id=market).order_by("-id").first()
    assert (defense.to_level, defense.actor) == ("NORMAL", "api:bob")
    before = records(market)

    again = bob.post(f"{BASE}/instances/{market}/kill-switch/reset", {"reason": "once more"}, format="json")
    assert again.status_code == 409
    assert again.json() == {"error": "ACTION_REFUSED", "detail": f"{market}: the kill switch is not ON"}
    assert records(market) == before
    assert AMMInstance.objects.get(market_id=market).kill_switch == "OFF"


def test_resume_from_emergency_is_recorded_and_refused_elsewhere(market):
    instance_emergency(market_id=market, reason="market HALTED")
    carol = operator("carol", OPERATE)
    response = carol.post(f"{BASE}/instances/{market}/resume", {"reason": "halt reviewed"}, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["lifecycle_state"] == "RUNNING"
    change = LifecycleChange.objects.filter(market_id=market).order_by("-id").first()
    assert (change.from_state, change.to_state, change.actor, change.reason) == (
        "EMERGENCY", "RUNNING", "api:carol", "halt reviewed")
    before = records(market)

    again = carol.post(f"{BASE}/instances/{market}/resume", {"reason": "again"}, format="json")
    assert again.status_code == 409 and again.json()["error"] == "ACTION_REFUSED"
    assert "only from EMERGENCY" in again.json()["detail"]
    assert records(market) == before


def test_resume_with_the_kill_switch_on_is_refused_reset_is_the_way(market):
    operator("alice", ENGAGE).post(f"{BASE}/instances/{market}/kill-switch/engage", {"reason": "drill"},
                                   format="json")
    before = records(market)
    response = operator("carol", OPERATE).post(f"{BASE}/instances/{market}/resume", {"reason": "go"}, format="json")
    assert response.status_code == 409 and "reset it instead" in response.json()["detail"]
    assert records(market) == before
    assert AMMInstance.objects.get(market_id=market).lifecycle_state == "EMERGENCY"


def test_engage_over_the_api_empties_a_quoting_book_before_it_answers(rt):
    """End to end: the AMM quoting on the platform, an operator's kill over the API; when the
    answer arrives the book is empty on the platform and in Redis; the reset resumes quoting."""
    rt.start()
    assert quote_cycle(rt.market_id).outcome == "quoted"
    assert rt.quoting()
    live = len(rt.open_orders())

    response = operator("alice", ENGAGE).post(f"{BASE}/instances/{rt.market_id}/kill-switch/engage",
                                              {"reason": "e2e"}, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["results"][0]["cancelled"] == live
    assert rt.open_orders() == {} and rt.tracked() == {}
    assert quote_cycle(rt.market_id).outcome == "kill_switch"  # a later cycle keeps it empty
    assert rt.open_orders() == {}

    response = operator("bob", RESET).post(f"{BASE}/instances/{rt.market_id}/kill-switch/reset",
                                           {"reason": "e2e over"}, format="json")
    assert response.status_code == 200 and response.json()["lifecycle_state"] == "RUNNING"
    assert quote_cycle(rt.market_id).outcome == "quoted"
    assert rt.quoting()
