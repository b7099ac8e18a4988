"""The market's lifecycle and the kill switch end to end (issue 6, SPEC §5): `run_amm` with
its RQ workers against the platform served by gunicorn, the market moved by the platform's
staff service, the operator's commands run as an operator would. Cycle-level details are in
test_lifecycle.py; this shows the running system reacts by itself."""
from __future__ import annotations

import time

import pytest
from django.core.management import call_command

from amm.constants import AMM_USER_ID
from amm.runtime.context import context_reset
from tests.amm.runtime.harness import (  # noqa: F401 - fixtures
    RECOVERY_MARKS,
    assert_invariants,
    assert_stopped_clean,
    platform_open_orders,
    quoting,
    redis_orders,
    wait_until,
    world,
    world_factory,
)

pytestmark = RECOVERY_MARKS

START_TIMEOUT = 45
REACT_TIMEOUT = 15  # status watch 300 ms and a cycle; generous for a loaded machine


def lifecycle(market_id: str) -> str:
    from amm.models import AMMInstance

    return AMMInstance.objects.get(market_id=market_id).lifecycle_state


def is_empty(market_id: str) -> bool:
    """No AMM order live on the platform, none tracked in Redis."""
    return platform_open_orders(market_id) == {} and redis_orders(market_id) == {}


def stays_empty(market_id: str, *, seconds: float) -> None:
    """No AMM order live or tracked for `seconds` (several requote intervals of cycles)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        assert is_empty(market_id), (market_id, platform_open_orders(market_id), redis_orders(market_id))
        time.sleep(0.2)


def test_suspension_kill_switch_and_resolution_with_run_amm_running(world, settings):
    from exchange.models import Position
    from exchange.services import market_set_status

    m = world.markets[0]
    settings.AMM_PLATFORM_BASE_URL = world.platform.url  # the operator's commands reach the platform
    settings.AMM_PLATFORM_API_KEY = world.amm_key
    context_reset()
    amm = world.run_amm(workers=2)
    wait_until(lambda: quoting(m), timeout=START_TIMEOUT, message="both sides quoted")

    # Suspension: EMERGENCY, book empty, and it stays empty while cycles keep running.
    market_set_status(market_id=m, status="SUSPENDED", actor="test")
    # (EMERGENCY is recorded a moment before the cycle's cancel-all has released the orders in Redis.)
    wait_until(lambda: lifecycle(m) == "EMERGENCY" and is_empty(m), timeout=REACT_TIMEOUT,
               message="EMERGENCY on SUSPENDED, book empty")
    stays_empty(m, seconds=1.5)
    market_set_status(market_id=m, status="ACTIVE", actor="test")
    wait_until(lambda: lifecycle(m) == "RUNNING" and quoting(m), timeout=REACT_TIMEOUT,
               message="quoting again once ACTIVE")

    # Kill switch: the book is empty when the command returns, and only a resume brings it back.
    call_command("amm_kill", m, "--reason", "e2e test", "--actor", "operator:test")
    assert platform_open_orders(m) == {}
    assert lifecycle(m) == "EMERGENCY"
    stays_empty(m, seconds=1.5)
    call_command("amm_resume", m, "--reason", "e2e test over", "--actor", "operator:test")
    wait_until(lambda: quoting(m), timeout=REACT_TIMEOUT, message="quoting again after the resume")

    # Some inventory on both sides, then resolution: wind down (cancel, burn pairs), STOPPED.
    taker = world.taker()
    taker.take(m, "YES", 3)
    taker.take(m, "NO", 3)
    market_set_status(market_id=m, status="RESOLVED", outcome="YES", actor="test")
    wait_until(lambda: lifecycle(m) == "STOPPED", timeout=REACT_TIMEOUT, message="wound down to STOPPED")
    assert platform_open_orders(m) == {}
    pos = Position.objects.get(user_id=AMM_USER_ID, market_id=m)
    assert min(pos.yes_volume, pos.no_volume) == 0, "matched pairs burned back into cash"
    assert_invariants([m])
    assert amm.alive(), amm.tail()
    assert_stopped_clean(amm, world.markets)
