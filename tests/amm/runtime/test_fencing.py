"""Fencing across hosts (issue 15), in one process against the live platform: every lease
acquisition gets a larger fencing token; an order call is not sent once its lease lapsed by
the holder's own clock; a new holder's first call fences the old one out, and a holder that
finds an earlier one's unanswered calls cancels what it may have left live. The partition
itself, with real hosts, is tests/amm/runtime/test_multihost.py."""
from __future__ import annotations

import uuid
from dataclasses import dataclass

import pytest

from amm import state
from amm.connector import Fenced, OrderRequest, Replacement
from amm.runtime.context import context
from amm.runtime.cycle import quote_cycle
from amm.runtime.lease import Lease, held_fence, market_lease
from exchange.models import FencingToken, Order
from tests.amm.runtime.support import _stop_deadman_sweeper, rt, wait_until  # noqa: F401 - fixtures

pytestmark = pytest.mark.django_db(transaction=True)


@dataclass
class SentEarlier:
    """The fence of a call that left while its lease was still valid and arrives late (the
    platform sees only its token)."""

    fencing_token: int

    def valid(self) -> bool:
        return True


def far_buy(market_id: str) -> Replacement:
    """A new YES BUY at 5 (nothing fills it) with an AMM client order id."""
    coid = f"amm_{market_id}_YES_BUY_{state.now_ms()}_{uuid.uuid4().hex[:6]}"
    return Replacement(old_order_id=None, new=OrderRequest(client_order_id=coid, side="YES", direction="BUY",
                                                           price_cents=5, quantity=1))


def platform_floor(market_id: str) -> int | None:
    row = FencingToken.objects.filter(market_id=market_id).first()
    return row.token if row else None


def test_every_acquisition_gets_a_larger_fencing_token_even_after_redis_lost_the_counter(redis_conn):
    tokens = []
    for _ in range(3):
        lease = market_lease("MKT-F")
        assert lease.acquire()
        tokens.append(lease.fencing_token)
        lease.release()
    holder = market_lease("MKT-F")
    assert holder.acquire() and market_lease("MKT-F").acquire() is False  # held: no token for a second holder
    tokens.append(holder.fencing_token)
    stealer = market_lease("MKT-F")
    assert stealer.steal() == holder.token
    tokens.append(stealer.fencing_token)
    redis_conn.flushdb()  # a Redis restart without persistence: the counter is gone
    after = market_lease("MKT-F")
    assert after.acquire()
    tokens.append(after.fencing_token)
    assert all(isinstance(t, int) for t in tokens)
    assert tokens == sorted(set(tokens)), tokens  # strictly increasing


def test_an_order_call_is_not_sent_once_the_lease_lapsed_by_the_holders_clock(rt, settings):
    settings.AMM_LEASE_MARGIN_MS = 100
    m = rt.market_id
    lease = Lease(f"market:{m}", ttl_ms=1500)
    assert lease.acquire() and held_fence(m) is lease
    connector = context().connector
    sent = connector.orders_replace(market_id=m, replacements=[far_buy(m)], fence=lease)
    assert len(sent.placed) == 1
    assert platform_floor(m) == lease.fencing_token  # the call carried the token
    # Redis unreachable from here on, as far as this holder knows: no renewal succeeds.
    wait_until(lambda: not lease.valid(), timeout=3, interval=0.02, message="the lease lapsing locally")
    assert lease.held  # it never learned otherwise; its own clock is what stops it
    late = far_buy(m)
    with pytest.raises(Fenced):
        connector.orders_replace(market_id=m, replacements=[late], fence=lease)
    assert not Order.objects.filter(client_order_id=late.new.client_order_id).exists()
    lease.release()
    assert held_fence(m) is None


def test_a_new_holder_cancels_what_the_old_one_left_and_fences_its_late_calls_out(rt):
    rt.start()
    m = rt.market_id
    assert quote_cycle(m).outcome == "quoted"
    # The old holder: its lease, an order call on its way (the trace it wrote), the order
    # landed; then it is cut off, its answer never recorded, and its lease expires in Redis.
    old = Lease(f"market:{m}", ttl_ms=300)
    assert old.acquire()
    state.order_call_begin(m, token="cut-off-holder", what="replace of 1", now=state.now_ms())
    landed = context().connector.orders_replace(market_id=m, replacements=[far_buy(m)], fence=old).placed[0].id
    assert landed in rt.open_orders() and landed not in rt.tracked()
    left_live = set(rt.open_orders())  # the old holder's quotes and the order that landed
    wait_until(lambda: state.lease_holder(f"market:{m}") is None, timeout=2, interval=0.02,
               message="the old holder's lease expiring")

    # The new holder's cycle: even one that may not quote now (a rate-limit pause) first
    # cancels everything the old holder may have left live, under its own token.
    state.runtime_update(m, retry_after_ms=state.now_ms() + 60_000)
    result = quote_cycle(m)
    assert result.outcome == "rate_limited", result
    assert rt.open_orders() == {} and rt.tracked() == {}, left_live
    state.runtime_update(m, retry_after_ms=0)
    assert quote_cycle(m).outcome == "quoted"  # and quotes afresh once it may
    assert rt.tracked() == rt.open_orders() and rt.quoting()
    new_floor = platform_floor(m)
    assert new_floor > old.fencing_token
    assert not state.order_calls_in_flight(state.runtime_get(m))

    # A call of the old holder that left in time and arrives now changes nothing.
    before = rt.open_orders()
    late = far_buy(m)
    with pytest.raises(Fenced) as refused:
        context().connector.orders_replace(market_id=m, replacements=[late],
                                           fence=SentEarlier(old.fencing_token))
    assert refused.value.code == "STALE_FENCING_TOKEN" and refused.value.status == 409
    with pytest.raises(Fenced):
        context().connector.orders_cancel_all(m, fence=SentEarlier(old.fencing_token))
    assert rt.open_orders() == before
    assert not Order.objects.filter(client_order_id=late.new.client_order_id).exists()
    assert platform_floor(m) == new_floor
