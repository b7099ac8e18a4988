"""The built-in adapters: a JSON HTTP endpoint per market (`http_json`) and the simulator's
feed (`sim`, the same adapter with the simulator's answer shape fixed). httpx, no Django."""
from __future__ import annotations

import json
import threading
import time
from dataclasses import replace
from urllib.parse import quote, urlsplit

import httpx

from amm.oracle.base import (
    UNITS,
    FeedConfig,
    OracleAdapter,
    OracleBadAnswer,
    OracleMisconfigured,
    OracleQuote,
    OracleUnavailable,
    json_path_parts,
    quote_from_answer,
)

MAX_ANSWER_BYTES = 64 * 1024  # a probability fits in far less; a larger answer is not an oracle's


def render_url(template: str, market_id: str) -> str:
    """The template with `{market_id}` replaced (URL-quoted); no other braces are read, so a
    template may carry a query string with literal braces or an API key as it is."""
    if not template.strip():
        raise OracleMisconfigured("no oracle URL template configured")
    url = template.strip().replace("{market_id}", quote(market_id, safe=""))
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise OracleMisconfigured("the oracle URL template must be an http(s) URL")
    return url


class HttpJsonOracle(OracleAdapter):
    """GET the market's URL (`oracle_url_template`), read the value at `oracle_json_path` in
    `oracle_unit` and the time at `oracle_ts_json_path` (else the fetch time).

    The whole answer must arrive within `oracle_timeout_ms` (connect, each read, and the
    total between chunks); an error status, a timeout, a refused connection is
    OracleUnavailable; an answer that is not JSON or holds no valid value is OracleBadAnswer.
    One connection pool per adapter, shared by the markets and threads that use it."""

    def __init__(self, *, name: str = "http_json", transport: httpx.BaseTransport | None = None) -> None:
        super().__init__(name=name)
        self._transport = transport
        self._client: httpx.Client | None = None
        self._lock = threading.Lock()

    def feed_config(self, config: FeedConfig) -> FeedConfig:
        """The settings this adapter reads (a preset overrides some of the market's)."""
        return config

    def read(self, market_id: str, config: FeedConfig, now_ms: int) -> OracleQuote | None:
        config = self.feed_config(config)
        url = render_url(config.url_template, market_id)
        body = self._fetch(url, timeout_s=max(0.001, config.timeout_ms / 1000))
        try:
            document = json.loads(body)
        except ValueError:
            raise OracleBadAnswer(f"the answer is not JSON ({len(body)} bytes)") from None
        return quote_from_answer(document, config, now_ms=now_ms, source=self.name)

    def config_errors(self, config: FeedConfig) -> dict[str, str]:
        config = self.feed_config(config)
        errors: dict[str, str] = {}
        try:
            render_url(config.url_template, "MARKET")
        except OracleMisconfigured as exc:
            errors["oracle_url_template"] = exc.detail
        for field, path in (("oracle_json_path", config.json_path), ("oracle_ts_json_path", config.ts_json_path)):
            if path or field == "oracle_json_path":
                try:
                    json_path_parts(path)
                except OracleMisconfigured as exc:
                    errors[field] = exc.detail
        if config.unit not in UNITS:
            errors["oracle_unit"] = f"must be one of {', '.join(UNITS)}"
        return errors

    def close(self) -> None:
        with self._lock:
            client, self._client = self._client, None
        if client is not None:
            client.close()

    # --- transport --------------------------------------------------------------------------
    def _http(self) -> httpx.Client:
        with self._lock:
            if self._client is None:
                self._client = httpx.Client(
                    headers={"Accept": "application/json"},
                    limits=httpx.Limits(max_connections=32, max_keepalive_connections=16),
                    transport=self._transport,
                )
            return self._client

    def _fetch(self, url: str, *, timeout_s: float) -> bytes:
        deadline = time.monotonic() + timeout_s
        try:
            with self._http().stream("GET", url, timeout=httpx.Timeout(timeout_s)) as response:
                if not 200 <= response.status_code < 300:
                    raise OracleUnavailable(f"the oracle answered HTTP {response.status_code}")
                body = bytearray()
                for chunk in response.iter_bytes():  # a source trickling bytes must not outlive the timeout
                    body += chunk
                    if len(body) > MAX_ANSWER_BYTES:
                        raise OracleBadAnswer(f"the answer is larger than {MAX_ANSWER_BYTES} bytes")
                    if time.monotonic() > deadline:
                        raise OracleUnavailable(f"the answer took longer than {int(timeout_s * 1000)} ms")
                return bytes(body)
        except httpx.TimeoutException:
            raise OracleUnavailable(f"no answer within {int(timeout_s * 1000)} ms") from None
        except httpx.HTTPError as exc:
            raise OracleUnavailable(f"{type(exc).__name__}: {exc}") from None


class SimOracle(HttpJsonOracle):
    """The simulator's feed: `GET {oracle_url_template}` (e.g.
    `http://127.0.0.1:8100/oracle/{market_id}`) answering `{"probability": 0.634, "ts_ms":
    1733500000000}`. The answer's shape is the simulator's contract, fixed here once, so a
    market needs only the adapter name and the URL."""

    def __init__(self, *, name: str = "sim", transport: httpx.BaseTransport | None = None) -> None:
        super().__init__(name=name, transport=transport)

    def feed_config(self, config: FeedConfig) -> FeedConfig:
        return replace(config, json_path="probability", ts_json_path="ts_ms", unit="probability")
