"""Workers on two hosts sharing Redis and PostgreSQL, one cut off from Redis (issue 15).

Two hosts are Linux network namespaces (tests/amm/runtime/netns.py), each running
`manage.py run_amm` for the same markets against one redis-server, the test database (through
a TCP forwarder) and the platform under gunicorn, each through its own fault proxy: the
proxies tell which host sent which call, when it left, and with which fencing token. Host A
is cut off from Redis (a blackhole route: its connections hang, as in a real partition)
while one of its replaces is on its way to the platform, held by A's proxy; A keeps its
route to the platform. Then:

- A sends no order call after its lease time (the TTL from the cut);
- B takes every market over (a cycle of B completes on it) within 5 s;
- A's held replace, delivered after the takeover, is refused with 409 STALE_FENCING_TOKEN
  and changes nothing;
- in every market A held at the cut (its held call, or a call it sent after the cut while its
  lease was valid), no order A placed is live once B's first call there has been answered
  (the takeover cancels what A left: B holds the market alone), and that is within 5 s;
- B stops cleanly: nothing left live.

Run alone: `pytest -n 0 -s tests/amm/runtime/test_multihost.py` prints the takeover time.
"""
from __future__ import annotations

import json
import os
import re
import socket
import sys
import time
from urllib.parse import parse_qs, urlparse

import pytest

from amm import state
from amm.constants import AMM_USER_ID
from exchange.models import Order
from tests.amm.runtime import harness
from tests.amm.runtime.harness import (  # noqa: F401 - fixtures
    ROOT,
    AmmProcess,
    FaultProxy,
    _Subprocess,
    quoting,
    redis_orders,
    requote_ms,
    wait_until,
    world_factory,
)
from tests.amm.runtime.netns import Host, TcpForwarder, netns_unavailable

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.xdist_group("amm_multihost")]

LEASE_TTL_S = 3.0  # AMM_LEASE_TTL_MS's default, which both hosts run with
TAKEOVER_LIMIT_S = 5.0
REPLACE = r"^POST /api/v1/amm/orders/replace"
ORDER_CALL = r"^POST /api/v1/amm/orders/replace|^POST /api/v1/orders(\?|$|/cancel-all$)|^DELETE /api/v1/orders/[^/?]+$"
REDIS_PORTS = range(6431, 6440)  # this project's spare ports for test servers


class HostRedis(_Subprocess):
    """A redis-server (no persistence) listening on loopback and on each host's Redis address."""

    name = "redis"

    def __init__(self, hosts: list[Host]) -> None:
        super().__init__()
        self.port = _free_port(REDIS_PORTS)
        self.hosts = hosts

    def url(self, host: Host | None = None) -> str:
        return f"redis://{host.redis_address if host else '127.0.0.1'}:{self.port}/0"

    def start(self) -> "HostRedis":
        import redis

        binds = ["127.0.0.1", *(h.redis_address for h in self.hosts)]
        self._spawn(["redis-server", "--port", str(self.port), "--bind", *binds, "--save", "", "--appendonly", "no",
                     "--protected-mode", "no", "--daemonize", "no"], dict(os.environ))
        client = redis.Redis(port=self.port, socket_connect_timeout=0.5)
        wait_until(lambda: client.ping(), timeout=10, message=f"redis-server on port {self.port}")
        client.close()
        return self


class HostAmm(AmmProcess):
    """run_amm inside a host's namespace (`standby`: --standby)."""

    def __init__(self, host: Host, *, standby: bool = False, **kwargs) -> None:
        super().__init__(**kwargs)
        self.host, self.standby = host, standby

    def start(self) -> "HostAmm":
        args = self.host.command(sys.executable, str(ROOT / "manage.py"), "run_amm")
        for market_id in self.markets:
            args += ["--market", market_id]
        args += ["--workers", str(self.workers), *(["--standby"] if self.standby else [])]
        self._spawn(args, self.env)
        return self


def _free_port(ports: range) -> int:
    for port in ports:
        with socket.socket() as sock:
            try:
                sock.bind(("0.0.0.0", port))
            except OSError:
                continue
            return port
    raise RuntimeError(f"no free port in {ports}")


def _database_url_via(forwarder: TcpForwarder) -> str:
    url = urlparse(harness.test_database_url())
    host, port = forwarder.address
    # The embedded default's URL names its socket directory in the query (host=, port=): the
    # namespace reaches the database through the forwarder's TCP address instead.
    name = url.path if url.path not in ("", "/") else "/" + parse_qs(url.query).get("dbname", ["postgres"])[0]
    return url._replace(netloc=f"{url.username or 'postgres'}@{host}:{port}", path=name, query="").geturl()


def _coids(raw: bytes) -> set[str]:
    """The client order ids a placement's or replace's body asks for."""
    try:
        body = json.loads(raw or b"{}")
    except ValueError:
        return set()
    news = [body] if "client_order_id" in body else [r.get("new") or {} for r in body.get("replacements", [])]
    return {n["client_order_id"] for n in news if n.get("client_order_id")}


def _market_of(record) -> str | None:
    try:
        return json.loads(record.body or b"{}").get("market_id")
    except ValueError:
        return None


def _live_coids(market_id: str) -> set[str]:
    return set(Order.objects.filter(user_id=AMM_USER_ID, market_id=market_id, status__in=["OPEN", "PARTIALLY_FILLED"])
               .values_list("client_order_id", flat=True))


@pytest.fixture
def hosts():
    reason = netns_unavailable()
    if reason:
        pytest.skip(f"multi-host test needs network namespaces: {reason}")
    base = 20 + (os.getpid() % 100) * 2  # two runs at once get other subnets
    made = [Host("a", base), Host("b", base + 1)]
    try:
        yield [h.create() for h in made]
    finally:
        for host in made:
            host.destroy()


def test_a_host_cut_off_from_redis_is_fenced_out_and_its_markets_taken_over(hosts, world_factory, settings):
    host_a, host_b = hosts
    world = world_factory(markets=2, with_proxy=False, config={"dead_man_timeout_ms": 30_000})
    redis_server = HostRedis(hosts).start()
    forwarders, proxies, amms = [], {}, {}
    try:
        settings.REDIS_URL = redis_server.url()  # this process reads the AMM's state where the hosts write it
        for host in hosts:
            pg = TcpForwarder(host.gateway, (settings.DATABASES["default"]["HOST"] or "127.0.0.1",
                                             int(settings.DATABASES["default"]["PORT"] or 5432)))
            forwarders.append(pg)
            proxies[host.label] = FaultProxy(world.platform.url, bind=host.gateway).start()
            amms[host.label] = HostAmm(host, standby=host is host_b, markets=world.markets, workers=2,
                                       base_url=proxies[host.label].url, api_key=world.amm_key,
                                       database_url=_database_url_via(pg), redis_url=redis_server.url(host))
        amms["a"].start()  # the active run (it starts the markets); B stands by once A schedules
        wait_until(lambda: state.lease_holder("scheduler"), timeout=30, message="host A scheduling")
        amms["b"].start()
        for market_id in world.markets:
            wait_until(lambda: quoting(market_id), timeout=45, message=f"{market_id} quoted")
        amms["a"].wait_workers(2)
        amms["b"].wait_workers(2)

        # Fills make both hosts requote; the next replace A sends is held on its way.
        taker = world.taker(interval_s=0.15)
        held = proxies["a"].trap(REPLACE, hold_before=True)
        taker.start()
        assert held.caught.wait(30), "host A sent no replace"
        cut = time.time()
        host_a.cut_from_redis()
        taker.stop()  # the takeover is timed on a quiet book (B's two workers would serve fills first)
        held_market = json.loads(held.request_body)["market_id"]

        # Until B has taken every market over: poll who has orders live in the market A held.
        polls: list[tuple[float, dict[str, set[str]]]] = []
        taken_at: dict[str, float] = {}
        while len(taken_at) < len(world.markets) and time.time() - cut < TAKEOVER_LIMIT_S + 5:
            polls.append((time.time(), {m: _live_coids(m) for m in world.markets}))
            for market_id in world.markets:
                if market_id not in taken_at and requote_ms(market_id) > cut * 1000:
                    taken_at[market_id] = time.time() - cut  # A cannot write Redis: B's cycle
            time.sleep(0.05)
        takeover_s = max(taken_at.values(), default=float("inf"))
        print(f"\ntakeover after the cut: {takeover_s:.2f} s (per market: "
              f"{ {m: round(t, 2) for m, t in taken_at.items()} }; A held {held_market})")
        assert set(taken_at) == set(world.markets) and takeover_s <= TAKEOVER_LIMIT_S, taken_at

        # A's replace, sent while its lease was valid, reaches the platform only now.
        wait_until(lambda: time.time() > cut + LEASE_TTL_S, timeout=LEASE_TTL_S + 1)
        before = _live_coids(held_market)
        held.release(deliver=True)
        assert held.forwarded.wait(10)
        assert held.upstream_status == 409, (held.upstream_status, held.upstream_body)
        assert json.loads(held.upstream_body)["error"] == "STALE_FENCING_TOKEN"
        assert _live_coids(held_market) == before
        for _ in range(10):
            polls.append((time.time(), {m: _live_coids(m) for m in world.markets}))
            time.sleep(0.1)

        a_calls = [r for r in list(proxies["a"].records) if _order_call(r)]
        late = [r for r in a_calls if r.arrived > cut + LEASE_TTL_S]
        assert not late, [(r.method, r.path, round(r.arrived - cut, 3)) for r in late]
        a_coids = set().union(*(_coids(r.body) for r in a_calls))
        # A may still send calls after the cut while its lease is valid. In each market A held
        # then (its call on the way, or a call it sent after the cut), once B's first call
        # there has been answered nothing A placed is live: B took over with a cancel and holds
        # it alone. (A's orders in other markets are tracked in Redis: B manages them.)
        b_first = {}
        for r in list(proxies["b"].records):
            m = _market_of(r)
            if _order_call(r) and r.arrived > cut and r.status is not None and r.status < 300 and m:
                b_first[m] = min(b_first.get(m, r.at), r.at)
        assert held_market in b_first, "B never sent an order call in the market A held"
        a_after = {_market_of(r) for r in a_calls if r.arrived > cut} - {None}
        assert a_after <= set(b_first), f"markets A sent calls to after the cut that B never took over: {a_after}"
        both = [(m, round(t - cut, 3), live[m] & a_coids) for t, live in polls for m in a_after | {held_market}
                if t > b_first[m] and live[m] & a_coids]
        assert not both, f"A's orders live after B's first call in their market: {both}"
        assert max(b_first[m] for m in a_after | {held_market}) - cut <= TAKEOVER_LIMIT_S
        b_first = b_first[held_market]
        print(f"B's first order call in {held_market} answered {b_first - cut:.2f} s after the cut; "
              f"{len(a_calls)} order calls from A in all, the last sent "
              f"{max(r.arrived for r in a_calls) - cut:+.2f} s from the cut")

        # B alone now: its orders tracked, and a clean stop leaves nothing live.
        for market_id in world.markets:
            wait_until(lambda: set(redis_orders(market_id)) == set(_live_ids(market_id)), timeout=10,
                       message=f"B's orders of {market_id} tracked")
        amms["a"].kill_everything()
        assert amms["b"].stop(timeout=20) == 0, amms["b"].tail()
        for market_id in world.markets:
            assert _live_coids(market_id) == set(), market_id
    except Exception as exc:  # the hosts' logs go with the failure (xdist shows no stdout)
        tails = "".join(f"\n--- run_amm on host {label} ---\n{amm.tail(40)}" for label, amm in amms.items())
        raise AssertionError(f"{exc}{tails}") from exc
    finally:
        for amm in amms.values():
            amm.cleanup()
        for proxy in proxies.values():
            proxy.stop()
        for forwarder in forwarders:
            forwarder.stop()
        redis_server.cleanup()


def _order_call(record) -> bool:
    return re.search(ORDER_CALL, f"{record.method} {record.path}") is not None


def _live_ids(market_id: str) -> set[str]:
    return {str(i) for i in Order.objects.filter(user_id=AMM_USER_ID, market_id=market_id,
                                                 status__in=["OPEN", "PARTIALLY_FILLED"]).values_list("id", flat=True)}
