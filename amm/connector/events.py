"""The platform's event stream (docs/push.md): `trade_events`, `market_events`, `book_events`
read with a consumer group, acknowledged after they are applied, a dead consumer's pending
entries claimed after an idle time.

`EventConsumer` is the interface the runtime uses; `RedisStreamConsumer` is its Redis Streams
transport (the platform's default broker). Another broker (Kafka) would be one more class
with the same three methods.
"""
from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass
from typing import Any, Mapping, Protocol

import redis

from amm.connector.errors import ConnectorError, ProtocolError

log = logging.getLogger(__name__)

TRADE_EVENTS, ORDER_EVENTS, MARKET_EVENTS, BOOK_EVENTS = "trade_events", "order_events", "market_events", "book_events"


class EventStreamError(ConnectorError):
    """The event stream cannot be read or acknowledged (broker down, group gone): the runtime
    falls back to REST polling."""

    retryable = True


class EventStreamAbsent(EventStreamError):
    """The platform publishes no event stream (its first stream does not exist): not a
    failure, the platform does not push (or has not yet published anything)."""


@dataclass(frozen=True, slots=True)
class Event:
    """One entry of a stream, parsed. `entry_id` is the transport's id (what `ack` takes);
    `event_id` the platform's outbox id (grows with every event)."""

    stream: str
    entry_id: str
    event_id: int
    type: str
    market_id: str
    sequence_id: int
    ts_ms: int
    data: Mapping[str, Any]

    @classmethod
    def parse(cls, stream: str, entry_id: str, fields: Mapping[str, str]) -> "Event":
        """ProtocolError naming what is wrong with an entry that breaks the contract."""
        try:
            data = json.loads(fields["data"])
            if not isinstance(data, dict):
                raise ValueError("data is not a JSON object")
            return cls(stream=stream, entry_id=entry_id, event_id=int(fields["event_id"]), type=str(fields["type"]),
                       market_id=str(fields["market_id"]), sequence_id=int(fields.get("sequence_id") or 0),
                       ts_ms=int(fields.get("ts_ms") or 0), data=data)
        except (KeyError, ValueError, TypeError) as exc:
            raise ProtocolError(f"{stream} entry {entry_id} breaks the event contract: {exc!r}", body=dict(fields)) from exc


@dataclass(frozen=True, slots=True)
class Batch:
    """What one read returned: the events, and the entries that broke the contract (to be
    acknowledged unapplied, so that one bad entry never blocks the stream)."""

    events: list[Event]
    rejected: list[tuple[str, str]]  # (stream, entry_id)
    claimed: int = 0  # entries taken over from a dead consumer


class EventConsumer(Protocol):
    def open(self) -> None: ...

    def read(self, *, block_ms: int, count: int) -> Batch: ...

    def ack(self, entries: list[tuple[str, str]]) -> None: ...

    def close(self) -> None: ...


class RedisStreamConsumer:
    """A member `consumer` of the group `group` on `streams` (docs/push.md).

    `read` first claims (XAUTOCLAIM) the entries another consumer read and left unacknowledged
    for `claim_idle_ms` — at most every claim_idle_ms / 2, and before any new entry, so that a
    dead consumer's batch is applied before what follows it — then blocks for new ones
    (XREADGROUP ... BLOCK). The group is created where missing, at the stream's end: what
    came before is the REST catch-up's (the trade cursor). One of the streams must exist (the
    platform's relay made it): the consumer never makes a platform look like it pushes."""

    def __init__(self, *, url: str, streams: list[str], group: str, consumer: str, claim_idle_ms: int,
                 socket_timeout_s: float = 5.0, prune_idle_ms: int = 600_000) -> None:
        self.streams = list(streams)
        self.group = group
        self.consumer = consumer
        self.claim_idle_ms = int(claim_idle_ms)
        self._conn = redis.Redis.from_url(url, decode_responses=True, socket_timeout=socket_timeout_s,
                                          socket_connect_timeout=min(2.0, socket_timeout_s))
        self._grouped: set[str] = set()
        self._claim_due = 0.0
        self.prune_idle_ms = int(prune_idle_ms)
        self._prune_due = 0.0

    def open(self) -> None:
        """Join the group (created where missing): from now on every new event is kept for it."""
        try:
            self._ensure_groups()
        except redis.ResponseError as exc:
            raise EventStreamError(f"event stream: {exc}") from exc
        except (redis.RedisError, OSError) as exc:
            raise EventStreamError(f"event stream unreachable: {exc}") from exc

    def _ensure_groups(self) -> None:
        if not self._grouped and not self._conn.exists(*self.streams):
            raise EventStreamAbsent(f"none of the streams {self.streams} on the platform's Redis")
        for stream in self.streams:
            if stream in self._grouped:
                continue
            try:
                self._conn.xgroup_create(stream, self.group, id="$", mkstream=True)
            except redis.ResponseError as exc:
                if "BUSYGROUP" not in str(exc):
                    raise
            self._grouped.add(stream)

    def _claim(self, count: int) -> list[tuple[str, str, dict]]:
        claimed = []
        for stream in self.streams:
            start = "0-0"
            while len(claimed) < count:
                reply = self._conn.xautoclaim(stream, self.group, self.consumer, self.claim_idle_ms,
                                              start_id=start, count=count - len(claimed))
                start, entries = reply[0], reply[1]
                # Entries trimmed from the stream (MAXLEN) while pending come back empty: they
                # are gone from the stream; XAUTOCLAIM already dropped them from the pending list.
                claimed += [(stream, entry_id, fields) for entry_id, fields in entries if fields]
                if start in ("0-0", b"0-0") or not entries:
                    break
        return claimed

    def _prune(self) -> None:
        """Forget the group's members that hold nothing and were idle `prune_idle_ms` (every
        process that ever read leaves its name behind); one with pending entries is kept
        until they are claimed."""
        for stream in self.streams:
            for member in self._conn.xinfo_consumers(stream, self.group):
                if (member["name"] != self.consumer and int(member["pending"]) == 0
                        and int(member["idle"]) >= self.prune_idle_ms):
                    self._conn.xgroup_delconsumer(stream, self.group, member["name"])

    def read(self, *, block_ms: int, count: int) -> Batch:
        try:
            self._ensure_groups()
            raw: list[tuple[str, str, dict]] = []
            claimed = 0
            now = time.monotonic()
            if now >= self._claim_due:
                self._claim_due = now + self.claim_idle_ms / 2000
                raw = self._claim(count)
                claimed = len(raw)
            if now >= self._prune_due:
                self._prune_due = now + self.prune_idle_ms / 10000
                self._prune()
            if not raw:
                streams = {s: ">" for s in self.streams}
                reply = self._conn.xreadgroup(self.group, self.consumer, streams, count=count, block=max(1, int(block_ms)))
                if reply:
                    # A blocked read is answered with the entries of the stream that woke it only:
                    # the rest of that commit (its book delta, say) is read now, in the same batch.
                    reply = [*reply, *(self._conn.xreadgroup(self.group, self.consumer, streams, count=count) or [])]
                for stream, entries in reply or []:
                    raw += [(stream, entry_id, fields) for entry_id, fields in entries]
        except redis.ResponseError as exc:
            if "NOGROUP" in str(exc):  # the stream or group was deleted (a broker restart): create it again
                self._grouped.clear()
            raise EventStreamError(f"event stream: {exc}") from exc
        except (redis.ConnectionError, redis.TimeoutError, OSError) as exc:
            raise EventStreamError(f"event stream unreachable: {exc}") from exc
        events, rejected = [], []
        for stream, entry_id, fields in raw:
            try:
                events.append(Event.parse(stream, entry_id, fields))
            except ProtocolError as exc:
                log.error("%s (acknowledged, not applied)", exc)
                rejected.append((stream, entry_id))
        # One read returns stream by stream; the platform's order is the outbox's (event_id).
        events.sort(key=lambda e: e.event_id)
        return Batch(events=events, rejected=rejected, claimed=claimed)

    def ack(self, entries: list[tuple[str, str]]) -> None:
        by_stream: dict[str, list[str]] = {}
        for stream, entry_id in entries:
            by_stream.setdefault(stream, []).append(entry_id)
        if not by_stream:
            return
        try:
            pipe = self._conn.pipeline(transaction=False)
            for stream, ids in by_stream.items():
                pipe.xack(stream, self.group, *ids)
            pipe.execute()
        except (redis.RedisError, OSError) as exc:
            raise EventStreamError(f"event stream: acknowledge failed: {exc}") from exc

    def close(self) -> None:
        try:
            self._conn.close()
        except Exception:  # noqa: BLE001
            pass
