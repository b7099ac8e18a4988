"""The simulator's oracle feed over HTTP, and the clock that maps simulated to wall time.

`GET /oracle/{market_id}` answers `{"probability": 0.634, "ts_ms": <epoch ms>}`: the value
the market's `OraclePath` publishes at the current simulated time (the truth `delay`
seconds earlier, plus noise), timestamped with the wall time of the truth it reports. The
AMM reads it through its own HTTP oracle poller (config `oracle_adapter` / `oracle_url_template`);
the simulator writes nothing into the AMM's Redis.
"""
from __future__ import annotations

import json
import re
import threading
import time
from collections import Counter
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from sim.scenarios import OraclePath

PATH = re.compile(r"^/oracle/([A-Za-z0-9._-]{1,64})/?$")


@dataclass(frozen=True)
class SimClock:
    """Simulated seconds run `speed` times as fast as the wall clock from `t0` (epoch s)."""

    t0: float
    speed: float = 1.0

    def sim_now(self, now: float | None = None) -> float:
        return ((time.time() if now is None else now) - self.t0) * self.speed

    def wall(self, sim_t: float) -> float:
        return self.t0 + sim_t / self.speed

    def wall_ms(self, sim_t: float) -> int:
        return int(round(self.wall(sim_t) * 1000))


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: "_Server"

    def log_message(self, format, *args):  # noqa: A002 - the stdlib's name
        pass

    def do_GET(self):  # noqa: N802 - the stdlib's name
        match = PATH.match(self.path.split("?", 1)[0])
        feed = self.server.feed
        body, status = None, 404
        if match and match.group(1) in feed.paths:
            body, status = feed.answer(match.group(1)), 200
        payload = json.dumps(body if body is not None else {"error": "NOT_FOUND"}).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    feed: "OracleServer"


class OracleServer:
    """Serves every market's feed on 127.0.0.1:`port` (0: a free port) from a thread."""

    def __init__(self, *, paths: dict[str, OraclePath], clock: SimClock, horizon: float, port: int = 0) -> None:
        self.paths = paths
        self.clock = clock
        self.horizon = horizon
        self.requests: Counter[str] = Counter()
        self._lock = threading.Lock()
        self._server = _Server(("127.0.0.1", port), _Handler)
        self._server.feed = self
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return self._server.server_address[1]

    @property
    def url_template(self) -> str:
        return f"http://127.0.0.1:{self.port}/oracle/{{market_id}}"

    def answer(self, market_id: str, now: float | None = None) -> dict:
        now = time.time() if now is None else now
        path = self.paths[market_id]
        t = min(max(self.clock.sim_now(now), 0.0), self.horizon)
        with self._lock:
            self.requests[market_id] += 1
        return {"probability": round(path.cents(t) / 100, 6),
                "ts_ms": min(self.clock.wall_ms(path.observed_at(t)), int(now * 1000))}

    def start(self) -> "OracleServer":
        self._thread = threading.Thread(target=self._server.serve_forever, name="sim-oracle", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._thread is not None:  # shutdown() waits for a serve_forever that never began otherwise
            self._server.shutdown()
        self._server.server_close()
