"""The quoting loops end to end (issue 6): real RQ workers (AmmWorker threads), the
scheduler, real Redis and PostgreSQL, the platform over HTTP (live_server)."""
from __future__ import annotations

import time

import pytest

from amm import state
from tests.amm.runtime.support import _stop_deadman_sweeper, rt, wait_until  # noqa: F401 - fixtures

pytestmark = pytest.mark.django_db(transaction=True)


def test_quoting_starts_keeps_both_sides_live_and_a_fill_triggers_a_requote(rt):
    m = rt.market_id
    rt.start()
    rt.run(workers=2)
    wait_until(rt.quoting, timeout=15, message="both sides quoted and tracked")
    first = state.state_get(m)["last_requote_ms"]
    wait_until(lambda: state.state_get(m)["last_requote_ms"] > first, timeout=5, message="cycles keep running")
    assert rt.quoting()

    before = set(rt.open_orders())
    fill_reasons_before = _fill_cycles(m)
    trades = rt.take("YES", 5)
    assert trades, "the taker got no fill"
    filled_at = time.time()
    wait_until(lambda: _fill_cycles(m) > fill_reasons_before, timeout=5, message="a cycle with reason 'fill'")
    wait_until(lambda: rt.quoting() and set(rt.open_orders()) != before, timeout=5, message="quotes replaced")
    latency = (state.state_get(m)["last_requote_ms"] / 1000) - filled_at
    assert latency < 2.0, latency
    pos = rt.position()
    wait_until(lambda: (state.inventory_get(m).yes_volume, state.inventory_get(m).no_volume)
               == (pos.yes_volume, pos.no_volume), timeout=5, message="inventory equal to the platform's")


def _fill_cycles(market_id: str) -> int:
    """How many cycles ran with reason 'fill' (journalled in amm:runtime last_reason + cycles)."""
    from tests.amm.runtime.support import FILL_CYCLES

    return FILL_CYCLES.get(market_id, 0)
