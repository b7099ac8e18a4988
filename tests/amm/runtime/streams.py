"""Event-stream helpers of the push tests: entries in docs/push.md's format, written from the
platform's real answers (a stand-in producer for tests that exercise the consumer alone; the
end-to-end tests run the platform's relay), and the AMM's consumer group as Redis sees it."""
from __future__ import annotations

import json
import time

import httpx
import redis

GROUP = "amm"
STREAMS = ("trade_events", "market_events", "book_events")


def publish(conn: redis.Redis, stream: str, *, type: str, market_id: str, data: dict, sequence_id: int = 0) -> str:
    """XADD one entry as the platform's relay writes it (docs/push.md: every field a string)."""
    event_id = conn.incr("test:outbox_id")
    return conn.xadd(stream, {"event_id": str(event_id), "type": type, "market_id": market_id,
                              "sequence_id": str(sequence_id), "ts_ms": str(int(time.time() * 1000)),
                              "data": json.dumps(data)})


def platform_trades(rt, *, since: int = 0) -> list[dict]:
    """The AMM's trades as the platform prints them (GET /trades with the AMM's key)."""
    with httpx.Client(base_url=f"{rt.url}/api/v1", timeout=10,
                      headers={"Authorization": f"Token {rt.amm_key}", "Connection": "close"}) as http:
        return http.get("/trades", params={"since": since, "limit": 500}).json()["results"]


def publish_trades(conn: redis.Redis, trades: list[dict]) -> None:
    """The trades' events in one transaction: a reader sees all of them or none."""
    first = conn.incrby("test:outbox_id", len(trades)) - len(trades) + 1
    pipe = conn.pipeline(transaction=True)
    for i, trade in enumerate(trades):
        pipe.xadd("trade_events", {"event_id": str(first + i), "type": "trade", "market_id": trade["market_id"],
                                   "sequence_id": "0", "ts_ms": str(int(time.time() * 1000)),
                                   "data": json.dumps(trade)})
    pipe.execute()


def make_streams(conn: redis.Redis) -> None:
    """The streams exist, as after the relay's first publication (the consumer joins only a
    platform that publishes)."""
    for stream in STREAMS:
        try:
            conn.xgroup_create(stream, "test-bootstrap", id="$", mkstream=True)
        except redis.ResponseError:
            pass
        conn.xgroup_destroy(stream, "test-bootstrap")


def pending(conn: redis.Redis, stream: str = "trade_events") -> int:
    try:
        return int(conn.xpending(stream, GROUP)["pending"])
    except redis.ResponseError:
        return 0
