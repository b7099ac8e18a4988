"""Order calls whose outcome the AMM never learned (issue 6, SPEC §7 "never leave orders
the AMM does not know about"): a holder that died mid-call, an unknown outcome's grace
period, a kill switch racing a call in flight, and run_amm's last cancel failing."""
from __future__ import annotations

import threading
import uuid

import pytest
from django.db import connection

from amm import state
from amm.connector import OrderRequest, Replacement, UnknownOutcome
from amm.constants import AMM_USER_ID
from amm.runtime import executor
from amm.runtime.context import context, context_reset
from amm.runtime.cycle import quote_cycle
from amm.runtime.killswitch import kill
from amm.runtime.lease import market_lease
from amm.runtime.startup import markets_shutdown
from tests.amm.runtime.harness import FaultProxy
from tests.amm.runtime.support import _stop_deadman_sweeper, rt, wait_until  # noqa: F401 - fixtures

pytestmark = pytest.mark.django_db(transaction=True)


def _quoted(rt) -> None:
    rt.start()
    assert quote_cycle(rt.market_id).outcome == "quoted"
    assert rt.quoting()


def _place_unrecorded(rt, *, price: int = 5) -> str:
    """What a holder that died mid-call leaves: the platform placed an AMM order (a BUY far
    from the market, so nothing fills it) whose answer nobody recorded in Redis."""
    order = OrderRequest(client_order_id=f"amm_{rt.market_id}_YES_BUY_{state.now_ms()}_{uuid.uuid4().hex[:6]}",
                         side="YES", direction="BUY", price_cents=price, quantity=1)
    result = context().connector.orders_replace(market_id=rt.market_id,
                                                replacements=[Replacement(old_order_id=None, new=order)])
    return result.placed[0].id


def test_an_order_call_left_by_a_holder_that_died_is_adopted_by_the_next_cycle(rt):
    _quoted(rt)
    state.order_call_begin(rt.market_id, token="dead-holder", what="replace of 1", now=state.now_ms())
    orphan = _place_unrecorded(rt)
    assert orphan in rt.open_orders() and orphan not in rt.tracked()

    quote_cycle(rt.market_id)
    assert orphan not in rt.open_orders() or orphan in rt.tracked()  # adopted (and perhaps replaced since)
    assert rt.tracked() == rt.open_orders()
    assert not state.order_calls_in_flight(state.runtime_get(rt.market_id))


def test_an_answered_call_leaves_no_trace_and_an_unknown_one_resyncs_for_the_grace_from_now(rt, settings):
    settings.AMM_UNKNOWN_GRACE_MS = 3000
    _quoted(rt)
    assert not state.order_calls_in_flight(state.runtime_get(rt.market_id))  # the cycle's replace answered

    with pytest.raises(UnknownOutcome):
        with executor.order_call(rt.market_id, "replace of 2"):
            assert state.order_calls_in_flight(state.runtime_get(rt.market_id))
            raise UnknownOutcome("the platform timed out")  # what the connector raises after its retries
    runtime = state.runtime_get(rt.market_id)
    assert not state.order_calls_in_flight(runtime)
    assert runtime["resync"].startswith("unknown outcome")
    assert runtime["resync_until_ms"] >= state.now_ms() + 2000  # counted from the unknown, not the cycle's start


def test_in_emergency_an_order_landing_during_the_unknown_grace_is_cancelled(rt):
    """The kill switch emptied the book while a call was in flight; it lands afterwards and
    its answer is lost. Redis tracks nothing, yet the next cycles cancel it."""
    _quoted(rt)
    kill(market_ids=[rt.market_id], reason="test", actor="operator")
    assert rt.open_orders() == {}
    with pytest.raises(UnknownOutcome):
        with executor.order_call(rt.market_id, "replace of 1"):
            _place_unrecorded(rt)  # the late landing
            raise UnknownOutcome("answer lost")
    assert rt.open_orders() and rt.tracked() == {}

    assert quote_cycle(rt.market_id).outcome == "kill_switch"
    assert rt.open_orders() == {}


def test_kill_all_switches_every_market_off_before_waiting_for_a_busy_one(rt):
    """A cycle of the first market holds its lease: the second market's switch is ON at once,
    not after the wait for the first (no market quotes a cycle longer than it must)."""
    from amm.models import AMMInstance
    from amm.services import config_update, instance_enable
    from exchange.services import market_create

    busy = "MKT-0000-" + uuid.uuid4().hex[:6]  # sorts first
    other = rt.market_id

    market_create(market_id=busy, title="busy", maker_fee_bps=0, taker_fee_bps=50)
    instance_enable(market_id=busy, budget_cents=100_000, actor="test")
    config_update(market_id=busy, actor="test", requote_interval_ms=3000)  # the kill waits up to 3 s for it
    rt.start(busy, other)
    stuck = market_lease(busy)
    assert stuck.acquire(wait_ms=0)

    def kill_all() -> None:
        try:
            kill(market_ids=[busy, other], reason="all", actor="op")
        finally:
            connection.close()  # this thread's own database connection

    thread = threading.Thread(target=kill_all)
    thread.start()
    wait_until(lambda: AMMInstance.objects.get(market_id=other).kill_switch == "ON", timeout=2.5,
               message="the second market's switch ON while the first is still awaited")
    assert thread.is_alive()  # still waiting for the busy market's lease
    thread.join(10)
    assert AMMInstance.objects.get(market_id=busy).kill_switch == "ON"


def test_shutdown_leaves_the_dead_mans_switch_armed_when_a_cancel_failed(rt, settings):
    from exchange.models import CancelAllAfter

    _quoted(rt)
    with FaultProxy(rt.url) as proxy:
        proxy.configure(fail_before=1.0, match=r"^POST /api/v1/orders/cancel-all$")
        settings.AMM_PLATFORM_BASE_URL = proxy.url
        context_reset()
        try:
            failed = markets_shutdown([rt.market_id], ctx=context())
        finally:
            settings.AMM_PLATFORM_BASE_URL = rt.url
            context_reset()
    assert failed == [rt.market_id]
    assert rt.open_orders()  # still live: only the platform's switch will cancel them now
    assert CancelAllAfter.objects.filter(user_id=AMM_USER_ID).exists()

    assert markets_shutdown([rt.market_id], ctx=context()) == []  # a clean stop disarms it
    assert rt.open_orders() == {}
    assert not CancelAllAfter.objects.filter(user_id=AMM_USER_ID).exists()
