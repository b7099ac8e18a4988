"""cancel-all-after: the dead man's switch fires with no further request from the user."""
import datetime as dt
import threading
import time

import pytest
from django.core.management import call_command
from django.utils import timezone

from exchange.models import CancelAllAfter, Order
from exchange.services.deadman import deadman_arm, deadman_sweep, deadman_sweeper_stop
from tests.exchange.api.conftest import assert_error, open_orders, wait_until

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("clean_invariants")]


@pytest.fixture
def no_background_sweeper(settings):
    """Only the sweeps a test runs itself (the per-request check, explicit calls)."""
    settings.EXCHANGE_DEADMAN_SWEEPER = False
    deadman_sweeper_stop()


def test_switch_fires_with_no_further_request(alice, bob, market):
    for price in (30, 31, 32):
        alice.place(market, "YES", "BUY", price, 2)
    bob_order = bob.place(market, "YES", "BUY", 20, 2)["order"]
    response = alice.http.post("/orders/cancel-all-after", json={"timeout_ms": 400})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["timeout_ms"] == 400 and body["deadline"] is not None
    armed_at = time.monotonic()

    # Alice sends nothing more: the platform's own sweeper must cancel her orders.
    assert wait_until(lambda: open_orders(alice.user_id) == 0, timeout=5)
    assert time.monotonic() - armed_at >= 0.35  # not before the deadline
    assert Order.objects.filter(user_id=alice.user_id, status="CANCELLED").count() == 3
    assert Order.objects.get(pk=bob_order["id"]).status == "OPEN"
    assert not CancelAllAfter.objects.filter(user_id=alice.user_id).exists()  # fired: disarmed


def test_calling_again_postpones_and_zero_disarms(alice, market):
    alice.place(market, "YES", "BUY", 30, 2)
    for _ in range(4):  # a heartbeat every 150 ms keeps a 500 ms switch from firing
        assert alice.http.post("/orders/cancel-all-after", json={"timeout_ms": 500}).status_code == 200
        time.sleep(0.15)
    assert open_orders(alice.user_id) == 1
    disarmed = alice.http.post("/orders/cancel-all-after", json={"timeout_ms": 0})
    assert disarmed.json() == {"timeout_ms": 0, "deadline": None}
    time.sleep(0.8)
    assert open_orders(alice.user_id) == 1
    assert not CancelAllAfter.objects.exists()


def test_a_late_request_fires_the_switch_before_it_is_served(alice, market, no_background_sweeper):
    alice.place(market, "YES", "BUY", 30, 2)
    deadman_arm(user_id=alice.user_id, timeout_ms=1, now=timezone.now() - dt.timedelta(seconds=1))
    assert open_orders(alice.user_id) == 1
    placed = alice.place(market, "YES", "BUY", 31, 2)["order"]  # served after the expired switch fired
    assert open_orders(alice.user_id) == 1
    assert Order.objects.get(pk=placed["id"]).status == "OPEN"


def test_bad_timeouts_are_400(alice):
    for value in (-1, 3_600_001, True, "100", 1.5, None):
        assert_error(alice.http.post("/orders/cancel-all-after", json={"timeout_ms": value}), 400, "INVALID_INPUT")
    assert_error(alice.http.post("/orders/cancel-all-after", json={}), 400, "INVALID_INPUT")
    assert not CancelAllAfter.objects.exists()


def test_concurrent_sweepers_fire_each_switch_once(make_actor, market, no_background_sweeper):
    actors = [make_actor() for _ in range(4)]
    past = timezone.now() - dt.timedelta(seconds=1)
    for actor in actors:
        actor.place(market, "YES", "BUY", 30, 1)
        actor.place(market, "NO", "BUY", 30, 1)
        deadman_arm(user_id=actor.user_id, timeout_ms=10, now=past)
    counts, errors = [], []
    barrier = threading.Barrier(4)

    def sweeper():
        try:
            barrier.wait()
            counts.append(deadman_sweep())
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)
        finally:
            from django.db import connection

            connection.close()

    threads = [threading.Thread(target=sweeper) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert sum(counts) == 8  # every order cancelled exactly once, whoever swept it
    assert not CancelAllAfter.objects.exists()
    assert Order.objects.filter(status="CANCELLED").count() == 8


def test_exchange_sweeper_command(alice, market, no_background_sweeper, capsys):
    alice.place(market, "YES", "BUY", 30, 1)
    deadman_arm(user_id=alice.user_id, timeout_ms=5_000)
    call_command("exchange_sweeper", "--once")
    assert "cancelled 0 orders" in capsys.readouterr().out
    CancelAllAfter.objects.update(deadline=timezone.now() - dt.timedelta(milliseconds=1))
    call_command("exchange_sweeper", "--once")
    assert "cancelled 1 orders" in capsys.readouterr().out
    assert open_orders(alice.user_id) == 0


def test_exchange_sweeper_command_loop_fires_switches(alice, market, no_background_sweeper):
    """The standalone loop (what a dedicated sweeper process runs) fires a switch on time."""
    from exchange.services.deadman import deadman_sweep_forever

    alice.place(market, "YES", "BUY", 30, 1)
    deadman_arm(user_id=alice.user_id, timeout_ms=200)
    stop = threading.Event()

    def loop():
        try:
            deadman_sweep_forever(tick_ms=50, stop=stop)
        finally:
            from django.db import connection

            connection.close()

    thread = threading.Thread(target=loop)
    thread.start()
    try:
        assert wait_until(lambda: open_orders(alice.user_id) == 0, timeout=5)
    finally:
        stop.set()
        thread.join()
