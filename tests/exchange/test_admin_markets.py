"""Market status changes from the admin (SPEC §3.4, §9): admin actions through the state
machine's service (market_set_status); RESOLVED asks for the outcome, SETTLED and VOIDED
are confirmed first (they move money for good); an illegal change is an error message and
changes nothing; without exchange.change_market no status action is offered or run."""
from __future__ import annotations

import pytest
from django.contrib.messages import get_messages

from exchange.models import Market, MarketEvent, Order
from tests.exchange.conftest import account, new_market, new_user, place, snapshot

pytestmark = pytest.mark.django_db

LIST = "/admin/exchange/market/"
START = 1_000_000


def _act(client, action: str, *market_ids: str, **extra):
    return client.post(LIST, {"action": action, "_selected_action": list(market_ids), **extra}, follow=True)


def _messages(response) -> list[tuple[str, str]]:
    return [(m.level_tag, m.message) for m in get_messages(response.wsgi_request)]


def _status(market_id: str) -> tuple[str, str | None]:
    market = Market.objects.get(pk=market_id)
    return market.status, market.outcome


@pytest.fixture
def operator(admin_login):
    return admin_login("exchange.view_market", "exchange.change_market", name="hana")


def test_suspend_and_reactivate_through_the_service(operator):
    market = new_market()
    response = _act(operator, "market_suspended", market)
    assert _messages(response) == [("success", f"{market}: SUSPENDED")]
    assert _status(market) == ("SUSPENDED", None)
    assert MarketEvent.objects.filter(market_id=market, to_status="SUSPENDED", actor="admin:hana").exists()
    _act(operator, "market_active", market)
    assert _status(market) == ("ACTIVE", None)


def test_an_illegal_change_is_an_error_and_changes_nothing(operator):
    legal, other = new_market(), new_market()
    Market.objects.filter(pk=other).update(status="HALTED")  # HALTED cannot be SUSPENDED
    before = snapshot()
    response = _act(operator, "market_active", legal)  # ACTIVE -> ACTIVE
    [(level, text)] = _messages(response)
    assert level == "error" and "cannot go from ACTIVE to ACTIVE" in text
    # A settlement of an ACTIVE market, confirmed: refused by the service.
    response = _act(operator, "market_settled", legal, confirm="1")
    [(level, text)] = _messages(response)
    assert level == "error" and "cannot go from ACTIVE to SETTLED" in text
    assert snapshot() == before
    # Several markets: each its own answer.
    response = _act(operator, "market_suspended", legal, other)
    assert sorted(_messages(response)) == sorted([("success", f"{legal}: SUSPENDED"),
                                                  ("error", f"{other}: market {other} cannot go from HALTED to SUSPENDED")])
    assert _status(legal)[0] == "SUSPENDED" and _status(other)[0] == "HALTED"


def test_resolve_asks_for_the_outcome_then_settle_pays_the_winners(operator):
    market = new_market()
    alice, bob = new_user(START), new_user(START)
    place(alice, market, "YES", "BUY", 60, 10)
    place(bob, market, "NO", "BUY", 40, 10)  # minted: alice YES 10, bob NO 10, reserve 1000
    resting = place(bob, market, "YES", "BUY", 30, 5).order.id

    response = _act(operator, "market_resolved", market)  # the action opens the form ...
    html = response.content.decode()
    assert 'id="status-form"' in html and 'name="outcome"' in html and 'name="confirm"' in html
    assert _status(market) == ("ACTIVE", None)
    before = snapshot()
    response = _act(operator, "market_resolved", market, confirm="1")  # ... which needs an outcome
    assert "This field is required." in response.content.decode()
    assert snapshot() == before

    response = _act(operator, "market_resolved", market, confirm="1", outcome="YES")
    assert _messages(response) == [("success", f"{market}: RESOLVED (YES)")]
    assert _status(market) == ("RESOLVED", "YES")
    assert Order.objects.get(pk=resting).status == "CANCELLED"  # resolution cancels open orders

    paid_before = account(alice).available_balance
    response = _act(operator, "market_settled", market)
    assert 'id="status-confirm"' in response.content.decode() and _status(market)[0] == "RESOLVED"
    response = _act(operator, "market_settled", market, confirm="1")
    assert _messages(response) == [("success", f"{market}: SETTLED")]
    assert _status(market) == ("SETTLED", "YES")
    assert account(alice).available_balance == paid_before + 1000  # 100 per winning share
    assert Market.objects.get(pk=market).reserve_balance == 0


def test_void_is_confirmed_and_refunds(operator):
    market = new_market()
    alice, bob = new_user(START), new_user(START)
    place(alice, market, "YES", "BUY", 60, 10)
    place(bob, market, "NO", "BUY", 40, 10)
    response = _act(operator, "market_voided", market)
    assert 'id="status-confirm"' in response.content.decode() and _status(market)[0] == "ACTIVE"
    _act(operator, "market_voided", market, confirm="1")
    assert _status(market)[0] == "VOIDED"
    assert (account(alice).available_balance, account(bob).available_balance) == (START, START)


def test_without_the_change_permission_no_status_action(admin_login):
    market = new_market()
    viewer = admin_login("exchange.view_market")
    assert 'value="market_suspended"' not in viewer.get(LIST).content.decode()
    before = snapshot()
    response = _act(viewer, "market_voided", market, confirm="1")  # no action of theirs: just the list again
    assert response.status_code == 200 and _messages(response) == []
    assert snapshot() == before
