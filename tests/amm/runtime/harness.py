"""The whole system as separate processes, for recovery and fault-injection tests (issue 6).

- `PlatformServer`: the platform under gunicorn (its production config) on a free port,
  pointed at the pytest-django test database (tests must use
  `@pytest.mark.django_db(transaction=True)` so their setup is committed and visible).
- `FaultProxy`: a small threaded HTTP proxy between the AMM and the platform that answers
  503 (before or after forwarding), holds requests past the client's timeout (before or
  after forwarding: "forwarded then lost" is the unknown-outcome case), drops the
  connection after forwarding, adds latency, or traps one chosen request; switchable at
  runtime, seeded, counted.
- `AmmProcess`: `manage.py run_amm` as a subprocess with the right environment; its
  process tree (workers), SIGSTOP / SIGCONT / SIGKILL helpers, SIGTERM stop.
- `Taker`: a thread crossing the AMM's quotes over the platform API (IOC orders).
- `wait_until`: poll a condition with a timeout.
- `assert_recovered`: the end-of-scenario checks (no orphan or forgotten orders, Redis
  inventory equal to the platform's, reconciliation not CRITICAL, platform invariants,
  A1-A3).
"""
from __future__ import annotations

import http.client
import itertools
import json
import os
import random
import re
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter, deque
from dataclasses import dataclass, field, replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Callable
from urllib.parse import quote, urlparse

import httpx
import psutil
import pytest

from amm.constants import RECON_COST_TOLERANCE_CENTS  # SPEC §8

ROOT = Path(__file__).resolve().parents[3]
AMM_USER_ID = "00000000-0000-4000-a000-000000000001"
RUN_AMM = ROOT / "amm" / "management" / "commands" / "run_amm.py"


# --- waiting ---------------------------------------------------------------------------------
def wait_until(predicate: Callable[[], Any], *, timeout: float, interval: float = 0.1, message: str = "") -> Any:
    """Poll `predicate` until it returns something truthy (returned); AssertionError naming
    `message` and the last value after `timeout` seconds. Exceptions count as falsy."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while True:
        try:
            last = predicate()
        except Exception as exc:  # noqa: BLE001 - a condition that cannot be read yet is not met
            last = exc
        else:
            if last:
                return last
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout:.1f}s waiting for {message or predicate}: last {last!r}")
        time.sleep(interval)


# The recovery tests' marks: committed data (subprocesses read it), one worker for them all.
RECOVERY_MARKS = [pytest.mark.django_db(transaction=True), pytest.mark.xdist_group("amm_recovery")]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# --- the fault-injecting proxy ------------------------------------------------------------------
@dataclass(frozen=True)
class Faults:
    """Per-request fault rates (each in [0, 1], their sum ≤ 1; one draw per request picks at
    most one fault) and their knobs.

    - fail_before: answer 503 without forwarding (the platform never saw the call)
    - fail_after: forward, then answer 503 instead of the platform's answer (executed, reported failed)
    - timeout_before: hold the request `hold_s` without forwarding, then close without an answer
    - timeout_after: forward, hold the answer `hold_s`, then close without it (executed, outcome lost)
    - drop_after: forward, then close the connection at once without an answer
    - delay_s: latency added before forwarding every matching request
    - match: regex searched in "METHOD /path?query"; only matching requests get faults (None: all)
    """

    fail_before: float = 0.0
    fail_after: float = 0.0
    timeout_before: float = 0.0
    timeout_after: float = 0.0
    drop_after: float = 0.0
    delay_s: float = 0.0
    hold_s: float = 3.0
    match: str | None = None

    KINDS = ("fail_before", "fail_after", "timeout_before", "timeout_after", "drop_after")

    def __post_init__(self) -> None:
        rates = [getattr(self, kind) for kind in self.KINDS]
        if any(r < 0 or r > 1 for r in rates) or sum(rates) > 1 + 1e-9:
            raise ValueError(f"fault rates must be in [0, 1] and sum to at most 1: {rates}")

    @property
    def total_rate(self) -> float:
        return sum(getattr(self, kind) for kind in self.KINDS)


@dataclass
class Trap:
    """Catches the next request matching `match` that the platform executes: forwards it, then
    holds its answer until `release()`; `caught` is set once it holds one, `client` is the
    caller's (host, port). A matching request the platform refuses (not 2xx) passes through
    with its answer and the trap stays armed (`passed` counts them): a refused call is no lost
    execution.

    With `hold_before`, the request is held *before* it is forwarded (a call delayed on its way:
    it reaches the platform only at `release()`); `forwarded` is set once the platform answered
    it (`upstream_status`, `upstream_body`)."""

    match: str
    caught: threading.Event = field(default_factory=threading.Event)
    released: threading.Event = field(default_factory=threading.Event)
    deliver: bool = False
    client: tuple[str, int] | None = None
    request_line: str = ""
    upstream_status: int | None = None
    passed: int = 0
    hold_before: bool = False
    forwarded: threading.Event = field(default_factory=threading.Event)
    upstream_body: bytes = b""
    request_body: bytes = b""

    def release(self, *, deliver: bool = False) -> None:
        """Let the held request go: with its answer (`deliver`) or with the connection closed."""
        self.deliver = deliver
        self.released.set()


@dataclass(frozen=True)
class ProxyRecord:
    at: float
    method: str
    path: str
    outcome: str  # ok, a Faults kind, trapped, late (a hold_before trap) or upstream_error
    status: int | None
    client: tuple[str, int]
    arrived: float = 0.0  # time.time() when the request reached the proxy
    fencing_token: str | None = None  # its X-Fencing-Token header
    body: bytes = b""


HOP_BY_HOP = {"connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te", "trailers",
              "transfer-encoding", "upgrade", "content-length"}
UNAVAILABLE_BODY = json.dumps({"error": "UNAVAILABLE", "detail": "injected by the fault proxy"}).encode()


class _ProxyServer(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    request_queue_size = 128
    proxy: "FaultProxy"


class _ProxyHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive towards the client, as the connector expects
    disable_nagle_algorithm = True  # else each keep-alive answer stalls ~40 ms (Nagle + delayed ACK)
    server: _ProxyServer

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the stdlib's name
        pass

    def _handle(self) -> None:
        self.server.proxy._serve(self)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _handle


class FaultProxy:
    """A threaded HTTP/1.1 proxy to `upstream` (http://host:port) with injectable faults.

    Each request opens its own upstream connection (gunicorn's sync workers close theirs
    anyway). Faults are drawn from a seeded RNG, so a run is repeatable given the order of
    requests. `configure()` / `heal()` switch faults at runtime; `stats` counts outcomes."""

    def __init__(self, upstream: str, *, seed: int = 0, upstream_timeout_s: float = 30.0,
                 bind: str = "127.0.0.1") -> None:
        self.bind = bind  # the address it listens on (another network namespace's gateway, say)
        parsed = urlparse(upstream)
        self.upstream_host = parsed.hostname or "127.0.0.1"
        self.upstream_port = parsed.port or 80
        self.upstream_timeout_s = upstream_timeout_s
        self._faults = Faults()
        self._rng = random.Random(seed)
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._traps: list[Trap] = []
        self.stats: Counter[str] = Counter()
        self.records: deque[ProxyRecord] = deque(maxlen=100_000)
        self._server: _ProxyServer | None = None
        self._thread: threading.Thread | None = None

    # --- lifecycle ---------------------------------------------------------------------------
    def start(self) -> "FaultProxy":
        server = _ProxyServer((self.bind, 0), _ProxyHandler)
        server.proxy = self
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                                        name="fault-proxy", daemon=True)
        self._thread.start()
        return self

    @property
    def port(self) -> int:
        assert self._server is not None, "proxy not started"
        return self._server.server_address[1]

    @property
    def url(self) -> str:
        return f"http://{self.bind}:{self.port}"

    def stop(self) -> None:
        """Stop serving; requests being held are let go at once (their connections closed)."""
        self._stopping.set()
        with self._lock:
            for trap in self._traps:
                trap.released.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> "FaultProxy":
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    # --- control -----------------------------------------------------------------------------
    @property
    def faults(self) -> Faults:
        return self._faults

    def configure(self, faults: Faults | None = None, **changes: Any) -> Faults:
        """Replace the faults (`faults`, then keyword changes on top); returns the new ones."""
        with self._lock:
            base = faults if faults is not None else self._faults
            self._faults = replace(base, **changes) if changes else base
            return self._faults

    def heal(self) -> None:
        """No more faults (requests already being held still time out)."""
        with self._lock:
            self._faults = Faults()

    def trap(self, match: str, *, hold_before: bool = False) -> Trap:
        """Arm a one-shot trap for the next request matching `match` (see Trap)."""
        trap = Trap(match=match, hold_before=hold_before)
        with self._lock:
            self._traps.append(trap)
        return trap

    def count(self, outcome: str) -> int:
        with self._lock:
            return self.stats[outcome]

    def faults_injected(self) -> int:
        with self._lock:
            return sum(n for outcome, n in self.stats.items() if outcome not in ("ok", "upstream_error"))

    # --- serving -------------------------------------------------------------------------------
    def _decide(self, line: str) -> tuple[Faults, str | Trap]:
        with self._lock:
            for trap in self._traps:
                if re.search(trap.match, line):
                    self._traps.remove(trap)
                    return self._faults, trap
            faults = self._faults
            if faults.match is not None and not re.search(faults.match, line):
                return Faults(), "ok"
            draw = self._rng.random()
            for kind in Faults.KINDS:
                rate = getattr(faults, kind)
                if draw < rate:
                    return faults, kind
                draw -= rate
            return faults, "ok"

    def _record(self, handler: _ProxyHandler, outcome: str, status: int | None) -> None:
        with self._lock:
            self.stats[outcome] += 1
            self.records.append(ProxyRecord(time.time(), handler.command, handler.path, outcome, status,
                                            handler.client_address[:2], getattr(handler, "arrived", 0.0),
                                            handler.headers.get("X-Fencing-Token"),
                                            getattr(handler, "request_body", b"")))

    def _forward(self, handler: _ProxyHandler, body: bytes) -> tuple[int, list[tuple[str, str]], bytes]:
        # The upstream's own Host (http.client sets it): the platform allows its own name only.
        headers = {k: v for k, v in handler.headers.items() if k.lower() not in HOP_BY_HOP and k.lower() != "host"}
        conn = http.client.HTTPConnection(self.upstream_host, self.upstream_port, timeout=self.upstream_timeout_s)
        try:
            conn.request(handler.command, handler.path, body=body if body or handler.command != "GET" else None,
                         headers=headers)
            response = conn.getresponse()
            data = response.read()
            return response.status, [(k, v) for k, v in response.getheaders() if k.lower() not in HOP_BY_HOP], data
        finally:
            conn.close()

    @staticmethod
    def _answer(handler: _ProxyHandler, status: int, headers: list[tuple[str, str]], body: bytes) -> None:
        handler.send_response(status)
        for key, value in headers:
            handler.send_header(key, value)
        handler.send_header("Content-Length", str(len(body)))
        handler._headers_buffer.append(b"\r\n")  # end_headers(), with the body in the same write
        handler.wfile.write(b"".join(handler._headers_buffer) + (body if handler.command != "HEAD" else b""))
        handler._headers_buffer = []

    @staticmethod
    def _abort(handler: _ProxyHandler) -> None:
        """Close the client's connection without an answer."""
        handler.close_connection = True
        try:
            handler.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def _serve(self, handler: _ProxyHandler) -> None:
        handler.arrived = time.time()
        length = int(handler.headers.get("Content-Length") or 0)
        body = handler.rfile.read(length) if length else b""
        handler.request_body = body
        line = f"{handler.command} {handler.path}"
        faults, decision = self._decide(line)
        if isinstance(decision, Trap) and decision.hold_before:
            return self._serve_late(handler, decision, line, body)
        if faults.delay_s:  # only matching requests get a non-empty Faults from _decide
            self._stopping.wait(faults.delay_s)
        if decision == "fail_before":
            self._record(handler, decision, 503)
            return self._answer(handler, 503, [("Content-Type", "application/json")], UNAVAILABLE_BODY)
        if decision == "timeout_before":
            self._record(handler, decision, None)
            self._stopping.wait(faults.hold_s)
            return self._abort(handler)
        try:
            status, headers, data = self._forward(handler, body)
        except (OSError, http.client.HTTPException):
            self._record(handler, "upstream_error", 502)
            return self._answer(handler, 502, [("Content-Type", "application/json")],
                                json.dumps({"error": "BAD_GATEWAY", "detail": "platform unreachable"}).encode())
        if isinstance(decision, Trap) and not 200 <= status < 300:
            with self._lock:
                decision.passed += 1
                self._traps.insert(0, decision)
            self._record(handler, "ok", status)
            return self._answer(handler, status, headers, data)
        if isinstance(decision, Trap):
            trap = decision
            trap.client, trap.request_line, trap.upstream_status = handler.client_address[:2], line, status
            self._record(handler, "trapped", status)
            trap.caught.set()
            trap.released.wait()
            if trap.deliver and not self._stopping.is_set():
                return self._answer(handler, status, headers, data)
            return self._abort(handler)
        if decision == "fail_after":
            self._record(handler, decision, 503)
            return self._answer(handler, 503, [("Content-Type", "application/json")], UNAVAILABLE_BODY)
        if decision == "timeout_after":
            self._record(handler, decision, status)
            self._stopping.wait(faults.hold_s)
            return self._abort(handler)
        if decision == "drop_after":
            self._record(handler, decision, status)
            return self._abort(handler)
        self._record(handler, "ok", status)
        return self._answer(handler, status, headers, data)

    def _serve_late(self, handler: _ProxyHandler, trap: Trap, line: str, body: bytes) -> None:
        """A hold_before trap: hold the request, forward it at release, answer if the caller
        still listens."""
        trap.client, trap.request_line, trap.request_body = handler.client_address[:2], line, body
        trap.caught.set()
        trap.released.wait()
        if self._stopping.is_set():
            return self._abort(handler)
        try:
            status, headers, data = self._forward(handler, body)
        except (OSError, http.client.HTTPException):
            self._record(handler, "upstream_error", 502)
            trap.forwarded.set()
            return self._abort(handler)
        trap.upstream_status, trap.upstream_body = status, data
        self._record(handler, "late", status)
        trap.forwarded.set()
        try:
            return self._answer(handler, status, headers, data)
        except OSError:  # the caller gave up long ago
            return None


# --- processes -------------------------------------------------------------------------------------
def process_tree(pid: int) -> list[psutil.Process]:
    """The process and its descendants (parent first), those still alive."""
    try:
        root = psutil.Process(pid)
        return [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return []


def signal_processes(processes: list[psutil.Process], sig: int) -> None:
    for proc in processes:
        try:
            proc.send_signal(sig)
        except psutil.NoSuchProcess:
            pass


def test_database_url() -> str:
    """DATABASE_URL of the database Django uses now (the pytest-django test database)."""
    from django.conf import settings

    cfg = settings.DATABASES["default"]
    user = quote(cfg.get("USER") or "postgres", safe="")
    password = cfg.get("PASSWORD") or ""
    auth = f"{user}:{quote(password, safe='')}" if password else user
    host = cfg.get("HOST") or ""
    port = cfg.get("PORT") or ""
    name = quote(cfg["NAME"], safe="")
    if host.startswith("/"):  # a socket directory
        return f"postgresql://{auth}@/{name}?host={quote(host, safe='')}" + (f"&port={port}" if port else "")
    return f"postgresql://{auth}@{host or '127.0.0.1'}{':' + str(port) if port else ''}/{name}"


def _redis_url() -> str:
    from django.conf import settings

    return settings.REDIS_URL


class _Subprocess:
    """A child process in its own session, its output in a temporary log file."""

    name = "process"

    def __init__(self) -> None:
        self.proc: subprocess.Popen | None = None
        self._log = tempfile.NamedTemporaryFile(prefix=f"{self.name}-", suffix=".log", delete=False)
        self.log_path = Path(self._log.name)
        self._seen: dict[int, psutil.Process] = {}

    def _spawn(self, args: list[str], env: dict[str, str]) -> None:
        self.proc = subprocess.Popen(args, cwd=ROOT, env=env, stdout=self._log, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, start_new_session=True)
        self._seen[self.proc.pid] = psutil.Process(self.proc.pid)

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")

    def wait_for_http(self, *, label: str, timeout: float):
        """Until the server answers the platform API at `self.url` (any auth answer counts);
        RuntimeError with its log's tail if it exits or does not come up in `timeout` s."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.alive():
                raise RuntimeError(f"{label} exited with {self.proc.returncode}:\n{self.tail()}")
            try:
                if httpx.get(f"{self.url}/api/v1/markets", timeout=2).status_code in (200, 401, 403):
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"{label} did not come up within {timeout}s:\n{self.tail()}")

    def stop(self, timeout: float = 10.0) -> None:
        """SIGTERM to its process group, then whatever is left is killed."""
        if self.alive():
            os.killpg(self.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                pass
        self.kill_everything()

    def tail(self, lines: int = 60) -> str:
        return "\n".join(self.output().splitlines()[-lines:])

    def tree(self) -> list[psutil.Process]:
        """This process and its live descendants (remembered, so orphans can be cleaned up)."""
        procs = process_tree(self.pid) if self.proc is not None else []
        for proc in procs:
            self._seen.setdefault(proc.pid, proc)
        return procs

    def children(self) -> list[psutil.Process]:
        return self.tree()[1:]

    def kill_everything(self) -> None:
        """SIGKILL this process and every process of its tree ever seen (orphans included)."""
        self.tree()
        for proc in self._seen.values():
            try:
                if proc.is_running():
                    proc.kill()
            except psutil.NoSuchProcess:
                pass
        psutil.wait_procs(list(self._seen.values()), timeout=5)
        if self.proc is not None:
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                pass

    def cleanup(self) -> None:
        self.kill_everything()
        self._log.close()
        self.log_path.unlink(missing_ok=True)


class PlatformServer(_Subprocess):
    """`gunicorn -c ammproject/gunicorn.conf.py ammproject.wsgi` on a free port (the
    production serving form: each worker runs the dead man's switch sweeper)."""

    name = "platform"

    def __init__(self, *, database_url: str | None = None, redis_url: str | None = None, workers: int = 3,
                 threads: int = 1, env: dict[str, str] | None = None) -> None:
        super().__init__()
        self.port = free_port()
        self.database_url = database_url or test_database_url()
        self.redis_url = redis_url or _redis_url()
        self.workers, self.threads = workers, threads
        self.extra_env = env or {}

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, *, timeout: float = 30.0) -> "PlatformServer":
        env = {
            **os.environ,
            "DATABASE_URL": self.database_url,
            "REDIS_URL": self.redis_url,
            "GUNICORN_BIND": f"127.0.0.1:{self.port}",
            "GUNICORN_WORKERS": str(self.workers),
            "GUNICORN_THREADS": str(self.threads),
            "GUNICORN_LOG_LEVEL": "warning",
            "EXCHANGE_REPLACE_RATE_LIMIT": str(10**9),
            "DEBUG": "false",
            "PYTHONUNBUFFERED": "1",
            **self.extra_env,
        }
        env.pop("GUNICORN_ACCESS_LOG", None)
        self._spawn([sys.executable, "-m", "gunicorn", "-c", str(ROOT / "ammproject" / "gunicorn.conf.py"),
                     "ammproject.wsgi"], env)
        return self.wait_for_http(label="gunicorn", timeout=timeout)


class AmmProcess(_Subprocess):
    """`python manage.py run_amm --market ID ... --workers N` with the AMM's environment."""

    name = "run_amm"

    def __init__(self, *, markets: list[str], workers: int, base_url: str, api_key: str,
                 database_url: str | None = None, redis_url: str | None = None,
                 env: dict[str, str] | None = None) -> None:
        super().__init__()
        self.markets, self.workers = list(markets), workers
        self.env = {
            **os.environ,
            "DATABASE_URL": database_url or test_database_url(),
            "REDIS_URL": redis_url or _redis_url(),
            "AMM_PLATFORM_BASE_URL": base_url,
            "AMM_PLATFORM_API_KEY": api_key,
            "AMM_PLATFORM_TIMEOUT_MS": "1000",
            "AMM_PLATFORM_CONNECT_TIMEOUT_MS": "1000",
            "AMM_PLATFORM_BACKOFF_BASE_MS": "20",
            "AMM_PLATFORM_BACKOFF_MAX_MS": "200",
            "PYTHONUNBUFFERED": "1",
            "DEBUG": "false",
            **(env or {}),
        }

    def start(self) -> "AmmProcess":
        args = [sys.executable, str(ROOT / "manage.py"), "run_amm"]
        for market_id in self.markets:
            args += ["--market", market_id]
        args += ["--workers", str(self.workers)]
        self._spawn(args, self.env)
        return self

    def worker_processes(self) -> list[psutil.Process]:
        """run_amm's direct children (its RQ workers), alive and not zombies."""
        out = []
        for proc in self.children():
            try:
                if proc.ppid() == self.pid and proc.status() != psutil.STATUS_ZOMBIE:
                    out.append(proc)
            except psutil.NoSuchProcess:
                pass
        return out

    def worker_pids(self) -> list[int]:
        return [p.pid for p in self.worker_processes()]

    def wait_workers(self, count: int | None = None, *, timeout: float = 30.0) -> list[int]:
        count = self.workers if count is None else count
        return wait_until(lambda: self._check_alive() and len(self.worker_pids()) >= count and self.worker_pids(),
                          timeout=timeout, message=f"{count} workers of run_amm")

    def _check_alive(self) -> bool:
        if not self.alive():
            raise AssertionError(f"run_amm exited with {self.proc.returncode}:\n{self.tail()}")
        return True

    def freeze(self) -> list[psutil.Process]:
        """SIGSTOP run_amm and every descendant (parent first, so it respawns nothing)."""
        procs = self.tree()
        signal_processes(procs, signal.SIGSTOP)
        late = [p for p in self.tree() if p.pid not in {q.pid for q in procs}]
        signal_processes(late, signal.SIGSTOP)
        return procs + late

    def thaw(self) -> None:
        signal_processes(list(self._seen.values()), signal.SIGCONT)

    def kill9(self) -> None:
        """kill -9 of run_amm itself (its workers are left to fend for themselves)."""
        self.tree()
        os.kill(self.pid, signal.SIGKILL)
        self.proc.wait(timeout=10)

    def kill9_worker(self, proc: psutil.Process) -> None:
        """kill -9 of one worker and whatever it forked (an RQ work horse)."""
        procs = [proc, *proc.children(recursive=True)]
        signal_processes(procs, signal.SIGKILL)
        psutil.wait_procs(procs, timeout=5)

    def stop(self, timeout: float = 20.0) -> int | None:
        """SIGTERM to run_amm; its exit code (None if it had to be killed)."""
        if not self.alive():
            return self.proc.returncode if self.proc else None
        self.tree()
        os.kill(self.pid, signal.SIGTERM)
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill_everything()
            return None

    def worker_serving(self, client: tuple[str, int]) -> psutil.Process | None:
        """The process of this tree whose TCP connection has local address `client`."""
        for proc in self.tree():
            try:
                for conn in proc.net_connections(kind="tcp"):
                    if conn.laddr and (conn.laddr.ip, conn.laddr.port) == tuple(client):
                        return proc
            except (psutil.NoSuchProcess, psutil.AccessDenied):
                continue
        return None


class RedisServer(_Subprocess):
    """A throwaway redis-server on a spare port (no persistence): `restart()` is a real Redis
    restart that loses every key, as after a crash without a dump."""

    name = "redis"

    def __init__(self) -> None:
        super().__init__()
        self.port = free_port()

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self, *, timeout: float = 10.0) -> "RedisServer":
        import redis

        self._spawn(["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
                     "--appendonly", "no", "--daemonize", "no"], dict(os.environ))
        client = redis.Redis(port=self.port, socket_connect_timeout=0.5)
        wait_until(lambda: client.ping(), timeout=timeout, message=f"redis-server on port {self.port}")
        client.close()
        return self

    def kill9(self) -> None:
        self.proc.kill()
        self.proc.wait(timeout=5)

    def restart(self, *, down_s: float = 0.5) -> None:
        """kill -9, stay down `down_s`, start empty on the same port."""
        self.kill9()
        time.sleep(down_s)
        self.start()


# --- a taker ---------------------------------------------------------------------------------------
class Taker(threading.Thread):
    """Crosses the AMM's quotes with small IOC orders on random markets, over the platform API
    directly (not through the fault proxy): BUY YES at 99 lifts the AMM's asks, BUY NO at 99
    hits its bids. Counts its fills; `stop()` ends it."""

    def __init__(self, *, base_url: str, api_key: str, markets: list[str], interval_s: float = 0.2,
                 max_qty: int = 3, seed: int = 1, on_fill: Callable[[str, dict], None] | None = None) -> None:
        super().__init__(name="taker", daemon=True)
        self.http = httpx.Client(base_url=f"{base_url}/api/v1", timeout=10,
                                 headers={"Authorization": f"Token {api_key}", "Connection": "close"})
        self.markets, self.interval_s, self.max_qty = markets, interval_s, max_qty
        self.rng = random.Random(seed)
        self.on_fill = on_fill
        self._halt = threading.Event()
        self.sent = self.filled = self.errors = 0
        self.trades: list[dict] = []

    def take(self, market_id: str, side: str, qty: int) -> list[dict]:
        body = {"market_id": market_id, "client_order_id": uuid.uuid4().hex, "side": side, "direction": "BUY",
                "price_cents": 99, "quantity": qty, "time_in_force": "IOC"}
        response = self.http.post("/orders", json=body)
        self.sent += 1
        if response.status_code >= 300:
            self.errors += 1
            return []
        trades = response.json().get("trades", [])
        if trades:
            self.filled += 1
            self.trades.extend(trades)
            if self.on_fill:
                self.on_fill(market_id, response.json())
        return trades

    def run(self) -> None:
        while not self._halt.is_set():
            try:
                self.take(self.rng.choice(self.markets), self.rng.choice(("YES", "NO")),
                          self.rng.randint(1, self.max_qty))
            except Exception:  # noqa: BLE001 - a taker error is counted, never fatal
                self.errors += 1
            self._halt.wait(self.interval_s)

    def stop(self) -> None:
        self._halt.set()
        if self.is_alive():
            self.join(timeout=15)
        self.http.close()


# --- platform and AMM views ---------------------------------------------------------------------------
def platform_open_orders(market_id: str) -> dict[str, int]:
    """The AMM's open orders on the platform: id -> remaining quantity."""
    from tests.amm.live.helpers import platform_open_orders as truth  # models load after Django

    return truth(market_id)


def platform_truth(market_id: str) -> dict[str, int]:
    """The AMM's position and cash on the platform, in amm:inventory's field names."""
    from tests.amm.live.helpers import platform_truth as truth

    return truth(market_id)


def redis_orders(market_id: str) -> dict[str, int]:
    from amm import state

    return {oid: o.remaining for oid, o in state.orders_get(market_id).items()}


def redis_inventory(market_id: str) -> dict[str, int]:
    from amm import state

    inv = state.inventory_get(market_id).as_dict()
    inv.pop("updated_at_ms", None)
    return inv


def amm_trade_count(market_id: str) -> int:
    from django.db.models import Q

    from exchange.models import Trade

    return Trade.objects.filter(Q(buy_user_id=AMM_USER_ID) | Q(sell_user_id=AMM_USER_ID), market_id=market_id).count()


def requote_ms(market_id: str) -> int:
    from amm import state

    return int(state.state_get(market_id).get("last_requote_ms") or 0)


def quoting(market_id: str, *, min_orders: int = 2) -> bool:
    """Both sides live on the platform and tracked by the AMM."""
    from exchange.models import Order

    live = Order.objects.filter(user_id=AMM_USER_ID, market_id=market_id, status__in=["OPEN", "PARTIALLY_FILLED"])
    return live.count() >= min_orders and set(redis_orders(market_id)) == {str(o.id) for o in live}


COST_FIELDS = ("yes_cost_sum_cents", "no_cost_sum_cents")


def cost_drift(market_id: str) -> dict[str, int]:
    """Cost-basis differences (Redis − platform), cents: the one inventory figure that may
    differ by rounding without anything being counted twice (see wait_consistent)."""
    inv, truth = redis_inventory(market_id), platform_truth(market_id)
    return {k: (inv.get(k) or 0) - truth[k] for k in COST_FIELDS if (inv.get(k) or 0) != truth[k]}


def _drift(market_id: str, *, cost_tolerance: int = 0) -> dict[str, Any]:
    """What differs between the AMM's Redis and the platform for one market (empty: none);
    cost sums within `cost_tolerance` cents count as equal."""
    out: dict[str, Any] = {}
    tracked, live = redis_orders(market_id), platform_open_orders(market_id)
    if tracked != live:
        out["orphans (live, not tracked)"] = sorted(set(live) - set(tracked))
        out["forgotten (tracked, not live)"] = sorted(set(tracked) - set(live))
        out["remaining differs"] = {oid: (tracked[oid], live[oid]) for oid in set(tracked) & set(live)
                                    if tracked[oid] != live[oid]}
    inv, truth = redis_inventory(market_id), platform_truth(market_id)
    diff = {k: (inv.get(k), truth[k]) for k in truth if inv.get(k) != truth[k]
            and not (k in COST_FIELDS and abs((inv.get(k) or 0) - truth[k]) <= cost_tolerance)}
    if diff:
        out["inventory (redis, platform)"] = diff
    return out


def wait_consistent(markets: list[str], *, timeout: float = 20.0, settle: float = 0.4,
                    cost_tolerance: int = 0) -> None:
    """Wait until, for every market, the AMM's tracked orders are exactly the platform's open
    AMM orders (same remaining) and the Redis inventory equals the platform position and
    balance, twice in a row `settle` seconds apart (the AMM may be quoting meanwhile).

    Volumes, available shares and cash must be exact: a fill counted twice (or missed) moves
    them. Cost sums may be allowed `cost_tolerance` cents: the platform releases cost at the
    weighted average (rounded down) in the order things happened, and an answer the AMM
    learns late (a mint whose answer arrives after the feed applied a fill that followed it
    on the platform, or whose outcome was unknown and is retried) is applied in another
    order, which moves the average (reconciliation tolerates 500 cents, SPEC §8)."""
    deadline = time.monotonic() + timeout
    streak, last = 0, {}
    while True:
        last = {m: d for m in markets if (d := _drift(m, cost_tolerance=cost_tolerance))}
        streak = streak + 1 if not last else 0
        if streak >= 2:
            return
        if time.monotonic() >= deadline:
            raise AssertionError(f"AMM state still differs from the platform after {timeout:.0f}s: {last}")
        time.sleep(settle)


def _a2_report(market_id: str, inv: Any) -> str:
    from amm import state
    from exchange.models import Order

    tracked = {oid: (o.side, o.direction, o.price, o.remaining) for oid, o in state.orders_get(market_id).items()}
    live = {str(o.id): (o.original_side, o.original_direction, o.price_cents, o.quantity - o.filled_quantity)
            for o in Order.objects.filter(
        user_id=AMM_USER_ID, market_id=market_id, status__in=["OPEN", "PARTIALLY_FILLED"])}
    return (f"{market_id}: redis {inv}; platform {platform_truth(market_id)}; tracked orders {tracked}; "
            f"platform open orders {live}; untracked fills {state.untracked_fills_get(market_id)}")


def assert_invariants(markets: list[str], *, amm_view: bool = True) -> None:
    """Platform invariants (SPEC §3.5) and A1-A3 (SPEC §6) on the platform and, with
    `amm_view`, in the AMM's Redis. Not `amm_view` while an order call's outcome may be
    unresolved: until its re-sync the AMM still holds the replaced orders' shares, and a fill
    of a new order it does not know yet takes its Redis `*_available` below zero (a
    pessimistic view that no cycle quotes from: cycles re-sync first)."""
    from amm import state
    from exchange.invariants import invariants_check
    from exchange.models import Account, Position

    violations = invariants_check()
    assert violations == [], violations
    account = Account.objects.get(user_id=AMM_USER_ID)
    assert account.available_balance >= 0 and account.frozen_balance >= 0
    for market_id in markets:
        pos = Position.objects.filter(user_id=AMM_USER_ID, market_id=market_id).first() or Position()
        assert pos.yes_volume - pos.yes_pending_sell >= 0 and pos.no_volume - pos.no_pending_sell >= 0  # A2
        inv = state.inventory_get(market_id)
        if not inv.exists or not amm_view:
            continue
        assert inv.yes_available >= 0 and inv.no_available >= 0, _a2_report(market_id, inv)  # A2, the AMM's view
        st = state.state_get(market_id)
        config = state.config_get(market_id)
        fair = int(float(st.get("fair_price_cents") or 50))
        floor = int(config.get("min_asset_floor_cents") or 0)
        assert inv.cash_cents + inv.yes_volume * fair + inv.no_volume * (100 - fair) >= floor  # A3
        scale = max(inv.yes_volume + inv.no_volume, int(config.get("skew_min_inventory") or 0), 1)
        skew = (inv.yes_volume - inv.no_volume) / scale
        if abs(skew) > 0.95:  # A1: a breach must have engaged the kill switch and emptied the book
            assert st.get("kill_switch") == "ON" or st.get("defense_level") == "KILL_SWITCH", (skew, st)
            assert platform_open_orders(market_id) == {}


def assert_recovered(markets: list[str], *, platform_url: str, api_key: str, timeout: float = 20.0,
                     cost_tolerance: int = 0) -> None:
    """The end of every recovery scenario, while the AMM runs: no orphan and no forgotten
    order, Redis inventory exactly the platform's (a fill counted twice would show; cost sums
    within `cost_tolerance`, see wait_consistent), the reconciliation not CRITICAL, platform
    invariants and A1-A3. A cost difference that is tolerated is reported as a warning."""
    import warnings

    from amm.connector import PlatformClient
    from amm.runtime.lease import market_lease
    from amm.services import reconcile_market

    wait_consistent(markets, timeout=timeout, cost_tolerance=cost_tolerance)
    for market_id in markets:
        if drift := cost_drift(market_id):
            warnings.warn(f"{market_id}: cost basis differs by rounding (Redis − platform, cents): {drift}",
                          stacklevel=2)
    with PlatformClient(base_url=platform_url, api_key=api_key, backoff_base_s=0.01) as connector:
        for market_id in markets:
            lease = market_lease(market_id, ttl_ms=30_000)  # in the market's lane, as the runtime reconciles
            assert lease.acquire(wait_ms=10_000), f"{market_id}: the market's lease was never free"
            try:
                run = reconcile_market(market_id=market_id, connector=connector)
            finally:
                lease.release()
            assert run.verdict != "CRITICAL", (market_id, run.diffs, run.detail)
    assert_invariants(markets)


def assert_stopped_clean(amm: AmmProcess, markets: list[str], *, timeout: float = 20.0) -> None:
    """SIGTERM: run_amm cancels the AMM's orders and exits 0; nothing left on the book and
    nothing left tracked in Redis."""
    code = amm.stop(timeout=timeout)
    assert code == 0, f"run_amm exit code {code}:\n{amm.tail()}"
    for market_id in markets:
        assert platform_open_orders(market_id) == {}, market_id
        assert redis_orders(market_id) == {}, market_id
    assert_invariants(markets)


# --- world setup ---------------------------------------------------------------------------------------
@dataclass
class World:
    """A platform, the AMM's key and money, a taker, markets with the AMM enabled."""

    platform: PlatformServer
    amm_key: str
    taker_key: str
    taker_id: str
    markets: list[str]
    proxy: FaultProxy | None = None
    amms: list[AmmProcess] = field(default_factory=list)

    def run_amm(self, *, workers: int = 2, via_proxy: bool = True, markets: list[str] | None = None,
                env: dict[str, str] | None = None, redis_url: str | None = None) -> AmmProcess:
        base = self.proxy.url if via_proxy and self.proxy is not None else self.platform.url
        amm = AmmProcess(markets=markets or self.markets, workers=workers, base_url=base, api_key=self.amm_key,
                         env=env, redis_url=redis_url)
        self.amms.append(amm)
        return amm.start()

    def taker(self, **kwargs: Any) -> Taker:
        return Taker(base_url=self.platform.url, api_key=self.taker_key, markets=self.markets, **kwargs)

    def recovered(self, *, timeout: float = 20.0, cost_tolerance: int = RECON_COST_TOLERANCE_CENTS) -> None:
        """assert_recovered; cost sums within reconciliation's tolerance by default (a mint the
        AMM learns after a fill that followed it moves the weighted-average cost: see
        wait_consistent), reported as a warning when not exact."""
        assert_recovered(self.markets, platform_url=self.platform.url, api_key=self.amm_key, timeout=timeout,
                         cost_tolerance=cost_tolerance)

    def assert_no_critical_drift(self) -> None:
        """No INVENTORY_DRIFT_CRITICAL for these markets: what the AMM went through was
        recovered from without Redis ever disagreeing with the platform beyond tolerance (a
        rebuild after such an alert could hide a fill counted twice)."""
        from amm.models import Alert, AlertType

        alerts = list(Alert.objects.filter(type=AlertType.INVENTORY_DRIFT_CRITICAL, market_id__in=self.markets)
                      .values_list("market_id", "payload"))
        assert not alerts, alerts

    def cleanup(self) -> None:
        for amm in self.amms:
            amm.cleanup()
        if self.proxy is not None:
            self.proxy.stop()
        self.platform.stop()
        self.platform.cleanup()


_market_seq = itertools.count()

FAST_CONFIG = {
    "requote_interval_ms": 500,
    "dead_man_timeout_ms": 1500,
    "order_levels": 2,
    "order_size": 10,
    "exploration_size_factor": 1.0,
}


def make_world(*, markets: int = 1, budget_cents: int = 200_000, amm_deposit: int = 1_000_000,
               config: dict[str, Any] | None = None, proxy_seed: int = 0, with_proxy: bool = True,
               platform_workers: int = 3, platform_redis_url: str | None = None,
               console: bool = False) -> World:
    """Users, money, markets with the AMM enabled (short timeouts), the platform served by
    gunicorn and a (healthy) fault proxy in front of it. With `console`, the server's own
    operator console (admin, API) reaches the platform as the AMM: it is that platform.
    Call `World.cleanup()` at the end."""
    from exchange.models import User
    from exchange.services import account_deposit, api_key_issue, market_create, user_get_or_create

    from amm.services import config_update, instance_enable

    account_deposit(user_id=AMM_USER_ID, amount_cents=amm_deposit)
    amm_key = api_key_issue(user=User.objects.get(pk=AMM_USER_ID))
    taker, _ = user_get_or_create(username=f"taker_{uuid.uuid4().hex[:8]}")
    account_deposit(user_id=str(taker.id), amount_cents=100_000_000)
    taker_key = api_key_issue(user=taker)
    market_ids = []
    for _ in range(markets):
        market_id = f"MKT-R{next(_market_seq)}-{uuid.uuid4().hex[:6]}"
        market_create(market_id=market_id, title="recovery test market", maker_fee_bps=0, taker_fee_bps=50)
        instance_enable(market_id=market_id, budget_cents=budget_cents, actor="test")
        config_update(market_id=market_id, actor="test", **{**FAST_CONFIG, **(config or {})})
        market_ids.append(market_id)
    platform = PlatformServer(workers=platform_workers, redis_url=platform_redis_url)
    if console:
        platform.extra_env.update({"AMM_PLATFORM_BASE_URL": platform.url, "AMM_PLATFORM_API_KEY": amm_key})
    world = World(platform=platform, amm_key=amm_key, taker_key=taker_key, taker_id=str(taker.id),
                  markets=market_ids)
    try:
        platform.start()
        if with_proxy:
            world.proxy = FaultProxy(platform.url, seed=proxy_seed).start()
    except BaseException:
        world.cleanup()
        raise
    return world


@pytest.fixture
def world_factory(transactional_db, redis_conn):
    """make(**make_world kwargs) -> World; every process it started is gone at teardown
    (before the test database is flushed)."""
    made: list[World] = []

    def make(**kwargs: Any) -> World:
        world = make_world(**kwargs)
        made.append(world)
        return world

    yield make
    for world in made:
        world.cleanup()


@pytest.fixture
def world(world_factory) -> World:
    return world_factory(markets=1)

