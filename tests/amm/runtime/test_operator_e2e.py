"""Operator actions with the running system (issue 11): `run_amm` and its RQ workers against
the platform served by gunicorn, the actions called as the admin console and the API call
them (amm/runtime/operator.py). Cycle-level details are in test_operator.py."""
from __future__ import annotations

import pytest

from amm.runtime import operator
from amm.runtime.context import context_reset
from tests.amm.runtime.harness import (  # noqa: F401 - fixtures
    RECOVERY_MARKS,
    assert_stopped_clean,
    platform_open_orders,
    quoting,
    wait_until,
    world,
    world_factory,
)
from tests.amm.runtime.test_lifecycle_e2e import REACT_TIMEOUT, START_TIMEOUT, is_empty, lifecycle, stays_empty

pytestmark = RECOVERY_MARKS

WHO = "admin:e2e"


def test_stop_and_start_with_run_amm_running_and_the_kill_switch_latched_through_a_start(world, settings):
    m = world.markets[0]
    settings.AMM_PLATFORM_BASE_URL = world.platform.url  # the actions' cancels reach the platform
    settings.AMM_PLATFORM_API_KEY = world.amm_key
    context_reset()
    amm = world.run_amm(workers=2)
    wait_until(lambda: quoting(m), timeout=START_TIMEOUT, message="both sides quoted")

    # Stop: the book is empty when the action returns, and no cycle quotes again.
    assert operator.stop(market_id=m, reason="maintenance", actor=WHO).lifecycle_state == "STOPPED"
    assert platform_open_orders(m) == {}
    stays_empty(m, seconds=2.0)  # four requote intervals
    assert lifecycle(m) == "STOPPED"

    # Start: the running run_amm picks the market up (startup sync, RUNNING, quoting).
    assert operator.start(market_id=m, reason="maintenance over", actor=WHO).lifecycle_state == "STARTING"
    wait_until(lambda: lifecycle(m) == "RUNNING" and quoting(m), timeout=REACT_TIMEOUT,
               message="quoting again after the start")

    # The kill switch engaged while STOPPED holds through a start: EMERGENCY at once, nothing quoted.
    operator.stop(market_id=m, reason="stop again", actor=WHO)
    [result] = operator.kill(market_ids=[m], reason="keep it off", actor=WHO)
    assert result.engaged and lifecycle(m) == "STOPPED"
    operator.start(market_id=m, reason="a start with the switch ON", actor=WHO)
    wait_until(lambda: lifecycle(m) == "EMERGENCY", timeout=REACT_TIMEOUT, message="EMERGENCY after the start")
    stays_empty(m, seconds=1.5)

    # The reset (caused by the switch): RUNNING and quoting.
    operator.reset_kill_switch(market_id=m, reason="all clear", actor=WHO)
    wait_until(lambda: lifecycle(m) == "RUNNING" and quoting(m), timeout=REACT_TIMEOUT,
               message="quoting after the reset")
    assert amm.alive(), amm.tail()
    assert_stopped_clean(amm, world.markets)
    assert is_empty(m)
