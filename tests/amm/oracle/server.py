"""A real HTTP oracle source for the tests: http.server on 127.0.0.1 (port 0) in a thread,
answering `GET /oracle/{market_id}` with what the test set for that market."""
from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Answer:
    status: int = 200
    body: bytes = b""
    hold: bool = False  # keep the request waiting until `release()` (a slow source)


class OracleServer:
    def __init__(self) -> None:
        self.answers: dict[str, Answer] = {}
        self.requests: list[str] = []  # market ids asked, in order
        self.held = threading.Event()  # a held request has arrived
        self._release = threading.Event()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server's name
                market_id = self.path.rsplit("/", 1)[-1]
                server.requests.append(market_id)
                answer = server.answers.get(market_id, Answer(404, b'{"detail": "unknown market"}'))
                if answer.hold:
                    server.held.set()
                    server._release.wait(30)
                try:
                    self.send_response(answer.status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(answer.body)))
                    self.end_headers()
                    self.wfile.write(answer.body)
                except OSError:  # the client gave up (timeout)
                    pass

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                       name="oracle-server", daemon=True)

    @property
    def url(self) -> str:
        host, port = self.httpd.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def template(self) -> str:
        return f"{self.url}/oracle/{{market_id}}"

    def answer(self, market_id: str, document: Any = None, *, status: int = 200, body: bytes | None = None,
               hold: bool = False) -> None:
        self.answers[market_id] = Answer(status, json.dumps(document).encode() if body is None else body, hold)

    def release(self) -> None:
        self._release.set()

    def start(self) -> "OracleServer":
        self.thread.start()
        return self

    def stop(self) -> None:
        self.release()
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=5)
