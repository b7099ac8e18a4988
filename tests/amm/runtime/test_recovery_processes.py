"""Recovery from dead and frozen AMM processes (issue 6, SPEC §7): a worker killed mid-cycle,
kill -9 of run_amm, a SIGSTOPped run_amm. The platform runs under gunicorn, the AMM as
`manage.py run_amm` with real RQ workers, Redis and PostgreSQL, over HTTP through the fault
proxy. Each scenario ends with `World.recovered()` (no orphan or forgotten order, Redis
inventory exactly the platform's, reconciliation not CRITICAL, invariants, A1-A3) and a
clean SIGTERM stop."""
from __future__ import annotations

import time

import psutil
import pytest

from exchange.models import CancelAllAfter
from tests.amm.runtime.harness import (  # noqa: F401 - fixtures
    RECOVERY_MARKS,
    AMM_USER_ID,
    _drift,
    amm_trade_count,
    assert_stopped_clean,
    platform_open_orders,
    quoting,
    redis_orders,
    requote_ms,
    wait_until,
    world,
    world_factory,
)

pytestmark = RECOVERY_MARKS

# An order-changing call of the AMM (placement, atomic replace, cancel), not cancel-all-after.
ORDER_CALL = r"^POST /api/v1/amm/orders/replace|^POST /api/v1/orders(\?|$)|^DELETE /api/v1/orders/[^/?]+$"
START_TIMEOUT = 45


def test_worker_killed_mid_cycle_is_replaced_and_leaves_no_orphan_orders(world):
    m = world.markets[0]
    amm = world.run_amm(workers=2)
    wait_until(lambda: quoting(m), timeout=START_TIMEOUT, message="both sides quoted")
    before = set(amm.wait_workers(2))

    # The next order call is forwarded (the platform executes it) and its answer held: the
    # worker that sent it is killed with the answer still in flight.
    trap = world.proxy.trap(ORDER_CALL)
    taker = world.taker()
    deadline = time.monotonic() + 20
    while not trap.caught.is_set() and time.monotonic() < deadline:
        taker.take(m, "YES", 2)  # a fill makes the AMM requote at once
        trap.caught.wait(2)
    assert trap.caught.is_set(), "no order call from the AMM after fills"
    sender = amm.worker_serving(trap.client)
    assert sender is not None and sender.pid != amm.pid, f"{trap.request_line} was not sent by a worker"
    worker = sender if sender.ppid() == amm.pid else psutil.Process(sender.ppid())
    assert worker.pid in before, "the sender is not one of run_amm's workers"
    drift = _drift(m)
    print(f"trapped {trap.request_line} -> {trap.upstream_status} from worker {worker.pid}; drift {drift}")
    assert drift, f"{trap.request_line} ({trap.upstream_status}) left Redis equal to the platform"
    amm.kill9_worker(worker)
    killed_at_ms = int(time.time() * 1000)
    trap.release(deliver=False)  # the answer is lost with the worker

    wait_until(lambda: requote_ms(m) > killed_at_ms, timeout=15, message="another worker quoting the market")
    wait_until(lambda: len(amm.worker_pids()) >= 2 and set(amm.worker_pids()) - before,
               timeout=15, message="the killed worker replaced")
    taker.take(m, "NO", 2)
    world.recovered(timeout=25)
    world.assert_no_critical_drift()  # the next holder adopted the call's outcome; no rebuild was needed
    taker.stop()
    assert_stopped_clean(amm, world.markets)


def test_kill9_of_run_amm_then_fills_while_down_are_counted_once_after_restart(world_factory):
    # A long dead man's switch: the AMM's orders outlive it and get filled while it is down.
    world = world_factory(markets=1, config={"dead_man_timeout_ms": 30_000})
    m = world.markets[0]
    amm = world.run_amm(workers=2)
    wait_until(lambda: quoting(m), timeout=START_TIMEOUT, message="both sides quoted")
    taker = world.taker()
    taker.take(m, "YES", 2)
    wait_until(lambda: not _drift(m), timeout=10, message="the first fill booked")

    workers = amm.worker_processes()
    amm.kill9()
    _, orphans = psutil.wait_procs(workers, timeout=5)
    # Orphaned workers may keep serving jobs (they are ordinary RQ workers); they join the next
    # run like workers on another machine would. Only run_amm itself is dead here.

    trades_before = amm_trade_count(m)
    for side in ("YES", "NO", "YES"):
        taker.take(m, side, 1)
    assert amm_trade_count(m) > trades_before, "no fill while the AMM was down"

    restarted = world.run_amm(workers=2)
    wait_until(lambda: quoting(m), timeout=START_TIMEOUT, message="quoting after the restart")
    world.recovered(timeout=25)  # the fills made while down are in Redis once, not twice
    taker.stop()
    for proc in orphans:  # what is left of the killed run (it would hold the switch armed)
        if proc.is_running():
            proc.kill()
    assert_stopped_clean(restarted, world.markets)


def test_sigstopped_run_amm_has_its_orders_cancelled_by_the_dead_mans_switch(world):
    m = world.markets[0]  # dead_man_timeout_ms 1500 (FAST_CONFIG)
    amm = world.run_amm(workers=2)
    wait_until(lambda: quoting(m), timeout=START_TIMEOUT, message="both sides quoted")
    assert CancelAllAfter.objects.filter(user_id=AMM_USER_ID).exists(), "the AMM never armed the switch"

    amm.freeze()
    frozen_at = time.monotonic()
    believed = redis_orders(m)
    wait_until(lambda: platform_open_orders(m) == {}, timeout=1.5 + 4,
               message="the platform cancelling the frozen AMM's orders")
    assert time.monotonic() - frozen_at <= 1.5 + 4
    assert believed and set(redis_orders(m)) == set(believed)  # the frozen AMM knows nothing yet

    amm.thaw()
    wait_until(lambda: quoting(m), timeout=25, message="quoting again after SIGCONT")
    world.recovered(timeout=25)
    assert_stopped_clean(amm, world.markets)
