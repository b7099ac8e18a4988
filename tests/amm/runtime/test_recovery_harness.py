"""The recovery harness is trustworthy: the fault proxy forwards faithfully, injects exactly the
faults asked for (before or after the platform saw the call), switches at runtime, and the
process and platform helpers do what they say."""
from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import psutil
import pytest

from tests.amm.runtime.harness import (  # noqa: F401 - fixtures
    FaultProxy,
    Faults,
    PlatformServer,
    process_tree,
    signal_processes,
    wait_until,
    world,
    world_factory,
)


class _Upstream(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Echo)
        self.seen: list[tuple[str, str, bytes]] = []
        self.lock = threading.Lock()


class _Echo(BaseHTTPRequestHandler):
    """Records each request and answers 201 with it as JSON (and a custom header); 422 when
    the path asks to be refused."""

    server: _Upstream

    def log_message(self, *args) -> None:
        pass

    def _handle(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        with self.server.lock:
            self.server.seen.append((self.command, self.path, body))
        data = json.dumps({"method": self.command, "path": self.path, "body": body.decode(),
                           "auth": self.headers.get("Authorization")}).encode()
        self.send_response(422 if "refuse" in self.path else 201 if self.command == "POST" else 200)
        self.send_header("Content-Type", "application/json")
        self.send_header("X-Upstream", "yes")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = do_DELETE = _handle


@pytest.fixture
def upstream():
    server = _Upstream()
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture
def proxy(upstream):
    with FaultProxy(f"http://127.0.0.1:{upstream.server_address[1]}", seed=7) as p:
        yield p


@pytest.fixture
def client(proxy):
    with httpx.Client(base_url=proxy.url, timeout=httpx.Timeout(0.3, connect=1.0),
                      headers={"Authorization": "Token k"}) as c:
        yield c


def seen_count(upstream) -> int:
    with upstream.lock:
        return len(upstream.seen)


def test_healthy_proxy_forwards_methods_bodies_headers_on_one_connection(proxy, client, upstream):
    ports = set()
    for i in range(5):
        r = client.post("/api/v1/orders?x=1", json={"n": i})
        assert r.status_code == 201 and r.headers["X-Upstream"] == "yes"
        echo = r.json()
        assert (echo["method"], echo["path"], echo["auth"]) == ("POST", "/api/v1/orders?x=1", "Token k")
        assert json.loads(echo["body"]) == {"n": i}
        ports.add(proxy.records[-1].client[1])
    assert client.get("/api/v1/account/balance").json()["method"] == "GET"
    assert client.delete("/api/v1/orders/abc").json()["path"] == "/api/v1/orders/abc"
    assert len(ports) == 1  # keep-alive towards the client
    assert seen_count(upstream) == 7 and proxy.count("ok") == 7 and proxy.faults_injected() == 0


def test_fail_before_answers_503_and_the_platform_never_sees_the_call(proxy, client, upstream):
    proxy.configure(fail_before=1.0)
    r = client.post("/api/v1/orders", json={})
    assert r.status_code == 503 and r.json()["error"] == "UNAVAILABLE"
    assert seen_count(upstream) == 0 and proxy.count("fail_before") == 1


def test_fail_after_answers_503_after_the_platform_executed(proxy, client, upstream):
    proxy.configure(fail_after=1.0)
    assert client.post("/api/v1/orders", json={"a": 1}).status_code == 503
    assert seen_count(upstream) == 1 and proxy.count("fail_after") == 1


def test_timeout_before_holds_past_the_client_timeout_and_never_forwards(proxy, client, upstream):
    proxy.configure(timeout_before=1.0, hold_s=0.6)
    with pytest.raises(httpx.ReadTimeout):
        client.post("/api/v1/orders", json={})
    time.sleep(0.5)  # the hold ends: still nothing forwarded
    assert seen_count(upstream) == 0 and proxy.count("timeout_before") == 1


def test_timeout_after_forwards_then_loses_the_answer(proxy, client, upstream):
    proxy.configure(timeout_after=1.0, hold_s=0.6)
    t0 = time.monotonic()
    with pytest.raises(httpx.ReadTimeout):
        client.post("/api/v1/orders", json={})
    assert time.monotonic() - t0 < 0.55  # the client gave up; the proxy was still holding
    assert seen_count(upstream) == 1 and proxy.count("timeout_after") == 1


def test_drop_after_forwards_then_closes_without_an_answer(proxy, client, upstream):
    proxy.configure(drop_after=1.0)
    with pytest.raises(httpx.RemoteProtocolError):
        client.post("/api/v1/orders", json={})
    assert seen_count(upstream) == 1 and proxy.count("drop_after") == 1
    proxy.heal()
    assert client.get("/x").status_code == 200  # a new connection works


def test_rates_are_honoured_and_seeded(upstream):
    def run(seed: int) -> list[str]:
        with FaultProxy(f"http://127.0.0.1:{upstream.server_address[1]}", seed=seed) as p, \
                httpx.Client(base_url=p.url, timeout=2) as c:
            p.configure(fail_before=0.1, fail_after=0.1)
            for _ in range(400):
                c.get("/r")
            return [r.outcome for r in p.records]

    first = run(3)
    injected = sum(o != "ok" for o in first) / len(first)
    assert 0.15 <= injected <= 0.25, injected
    assert 0.05 <= first.count("fail_before") / 400 <= 0.15
    assert run(3) == first  # the same seed and order of requests: the same faults


def test_match_limits_faults_and_runtime_switching(proxy, client, upstream):
    proxy.configure(fail_before=1.0, match=r"^POST /api/v1/amm/")
    assert client.get("/api/v1/amm/orders").status_code == 200
    assert client.post("/api/v1/orders", json={}).status_code == 201
    assert client.post("/api/v1/amm/orders/replace", json={}).status_code == 503
    proxy.heal()
    assert client.post("/api/v1/amm/orders/replace", json={}).status_code == 201
    proxy.configure(Faults(fail_after=1.0))
    assert client.get("/any").status_code == 503
    with pytest.raises(ValueError):
        proxy.configure(fail_before=0.7, fail_after=0.5)


def test_delay_adds_latency_to_matching_requests_only(proxy, client):
    proxy.configure(delay_s=0.15, match="slow")
    t0 = time.monotonic()
    client.get("/fast")
    fast = time.monotonic() - t0
    t0 = time.monotonic()
    client.get("/slow")
    assert time.monotonic() - t0 >= 0.15 > fast


def test_trap_holds_one_forwarded_answer_and_names_the_caller(proxy, upstream):
    trap = proxy.trap(r"^POST /api/v1/amm/orders/replace")
    results: list = []

    def call() -> None:
        with httpx.Client(base_url=proxy.url, timeout=5) as c:
            try:
                results.append(c.post("/api/v1/amm/orders/replace", json={}).status_code)
            except httpx.HTTPError as exc:
                results.append(type(exc))

    caller = threading.Thread(target=call)
    caller.start()
    assert trap.caught.wait(3)
    assert seen_count(upstream) == 1 and trap.upstream_status == 201
    assert trap.client[0] == "127.0.0.1" and trap.client[1] > 0
    me = psutil.Process()
    assert any(c.laddr.port == trap.client[1] for c in me.net_connections(kind="tcp"))  # the caller's own socket
    time.sleep(0.2)
    assert results == []  # still held
    trap.release(deliver=False)
    caller.join(3)
    assert results == [httpx.RemoteProtocolError]
    # one-shot: the next matching request passes; a delivered trap gives the real answer
    trap2 = proxy.trap("replace")
    threading.Thread(target=lambda: (trap2.caught.wait(3), trap2.release(deliver=True))).start()
    call()
    assert results[-1] == 201


def test_trap_lets_a_refused_request_through_and_catches_the_next_executed_one(proxy, upstream):
    trap = proxy.trap(r"^POST /api/v1/amm/orders/replace")
    with httpx.Client(base_url=proxy.url, timeout=5) as c:
        refused = c.post("/api/v1/amm/orders/replace?refuse=1", json={})
        assert refused.status_code == 422 and refused.headers["X-Upstream"] == "yes"
        assert not trap.caught.is_set() and trap.passed == 1
        threading.Thread(target=lambda: (trap.caught.wait(3), trap.release(deliver=True))).start()
        assert c.post("/api/v1/amm/orders/replace", json={}).status_code == 201
    assert trap.caught.is_set() and trap.upstream_status == 201 and seen_count(upstream) == 2


def test_stop_lets_held_requests_go_at_once(upstream):
    p = FaultProxy(f"http://127.0.0.1:{upstream.server_address[1]}").start()
    p.configure(timeout_before=1.0, hold_s=30)
    errors: list = []

    def call() -> None:
        try:
            httpx.get(f"{p.url}/x", timeout=10)
        except httpx.HTTPError as exc:
            errors.append(exc)

    t = threading.Thread(target=call)
    t.start()
    wait_until(lambda: p.count("timeout_before") == 1, timeout=3)
    t0 = time.monotonic()
    p.stop()
    t.join(5)
    assert not t.is_alive() and errors and time.monotonic() - t0 < 3


def test_unreachable_platform_is_a_502(upstream):
    port = upstream.server_address[1]
    upstream.shutdown()
    upstream.server_close()
    with FaultProxy(f"http://127.0.0.1:{port}") as p:
        r = httpx.get(f"{p.url}/x", timeout=5)
    assert r.status_code == 502 and p.count("upstream_error") == 1


def test_process_tree_signals_and_wait_until():
    code = ("import subprocess, sys, time; "
            "subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)']); time.sleep(60)")
    parent = subprocess.Popen([sys.executable, "-c", code], start_new_session=True)
    try:
        procs = wait_until(lambda: len(process_tree(parent.pid)) == 2 and process_tree(parent.pid), timeout=10)
        signal_processes(procs, signal.SIGSTOP)
        wait_until(lambda: all(p.status() == psutil.STATUS_STOPPED for p in procs), timeout=5)
        signal_processes(procs, signal.SIGCONT)
        wait_until(lambda: all(p.status() != psutil.STATUS_STOPPED for p in procs), timeout=5)
        signal_processes(procs, signal.SIGKILL)
        assert len(psutil.wait_procs(procs, timeout=5)[0]) == 2
    finally:
        parent.kill()
        parent.wait()
    with pytest.raises(AssertionError, match="the impossible"):
        wait_until(lambda: False, timeout=0.2, message="the impossible")
    assert wait_until(lambda: 42, timeout=1) == 42


@pytest.mark.django_db(transaction=True)
def test_platform_server_serves_the_test_database_through_the_proxy():
    """gunicorn in a subprocess sees what this test committed; the proxy passes it through."""
    from exchange.models import User
    from exchange.services import account_deposit, api_key_issue, user_get_or_create

    user, _ = user_get_or_create(username="harness_user")
    account_deposit(user_id=str(user.id), amount_cents=12_345)
    key = api_key_issue(user=User.objects.get(pk=user.id))
    server = PlatformServer(workers=1).start()
    try:
        with FaultProxy(server.url) as p:
            r = httpx.get(f"{p.url}/api/v1/account/balance", headers={"Authorization": f"Token {key}"}, timeout=10)
            assert r.status_code == 200, r.text
            assert r.json()["available_balance"] == 12_345
    finally:
        server.stop()
        server.cleanup()
    assert not server.alive()


@pytest.mark.django_db(transaction=True)
def test_recovery_checks_pass_when_consistent_and_catch_orphans_and_double_counts(world, redis_conn):
    """The end-of-scenario checks against a live platform (gunicorn, through the proxy): the
    bookkeeping layer makes Redis equal to the platform, then each kind of damage is caught."""
    from amm import state
    from amm.bookkeeping import FillFeed, place_result_record
    from amm.connector import OrderRequest, PlatformClient
    from amm.services import market_startup_sync
    from exchange.services import NewOrder, order_cancel, order_place
    from tests.amm.runtime.harness import (
        AMM_USER_ID, assert_invariants, assert_recovered, quoting, wait_consistent)

    m = world.markets[0]
    with PlatformClient(base_url=world.proxy.url, api_key=world.amm_key) as connector:
        feed = FillFeed(connector=connector)
        market_startup_sync(market_id=m, connector=connector, feed=feed)
        for side in ("YES", "NO"):
            place_result_record(m, connector.order_place(
                market_id=m, order=OrderRequest(f"amm_h_{side}", side, "BUY", 40, 10, "GTC")))
        assert quoting(m)
        taker = world.taker()
        assert taker.take(m, "NO", 3)  # crosses the AMM's YES bid
        taker.stop()
        assert not quoting(m, min_orders=3)
        feed.poll()
    assert_recovered(world.markets, platform_url=world.platform.url, api_key=world.amm_key, timeout=5)
    assert world.proxy.count("ok") > 0

    orphan = order_place(user_id=AMM_USER_ID, market_id=m, new=NewOrder("amm_h_orphan", "YES", "BUY", 30, 1, "GTC"))
    with pytest.raises(AssertionError, match="orphans"):
        wait_consistent(world.markets, timeout=1)
    order_cancel(user_id=AMM_USER_ID, order_id=str(orphan.order.id))
    wait_consistent(world.markets, timeout=2)

    redis_conn.hincrby(state.inventory_key(m), "yes_volume", 3)  # a fill counted twice
    with pytest.raises(AssertionError, match="inventory"):
        wait_consistent(world.markets, timeout=1)
    redis_conn.hincrby(state.inventory_key(m), "yes_volume", -3)
    redis_conn.hset(state.inventory_key(m), "no_available", -1)
    with pytest.raises(AssertionError):
        assert_invariants(world.markets)  # A2 in the AMM's view
