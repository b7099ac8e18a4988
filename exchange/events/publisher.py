"""The producer side of the event streams, behind one small interface (`Publisher`), so that
another transport (Kafka) could be added beside Redis Streams; only the Redis one ships,
since it is the only one a test runs."""
from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass
from typing import Protocol, Sequence

import redis

from exchange.events.outbox import STREAMS

# Written by the same MULTI as the entries it describes: stream -> last event_id written.
# A Redis that restarted without its data has no marker: the streams lost what they held,
# and the relay publishes the retained outbox again (consumers dedupe by event_id).
MARKER_KEY = "exchange_outbox:published"


@dataclass(frozen=True)
class Event:
    """One outbox row as the streams carry it (docs/push.md: the entry's fields)."""

    event_id: int
    stream: str
    type: str
    market_id: str
    sequence_id: int
    created_at: dt.datetime
    data: str  # the JSON text, as stored

    @property
    def ts_ms(self) -> int:
        return int(self.created_at.timestamp() * 1000)

    def fields(self) -> dict[str, str]:
        """The stream entry: every field a string (docs/push.md)."""
        return {"event_id": str(self.event_id), "type": self.type, "market_id": self.market_id,
                "sequence_id": str(self.sequence_id), "ts_ms": str(self.ts_ms),
                "data": self.data}


class Publisher(Protocol):
    def publish(self, events: Sequence[Event], *, continuing: bool = True) -> bool:
        """Append `events` to their streams, in order, all or none. With `continuing`, only
        if the transport still holds what was published before: False, and nothing written,
        when it lost it (restarted empty), so that the caller publishes its retained events
        again first (`continuing=False`, which always writes)."""

    def last_published(self) -> dict[str, int]:
        """Per stream, the event_id of the last entry published; {} when the transport holds
        nothing of ours (new, or restarted without its data)."""


# One script, so that the marker check and the entries are one atomic step: a Redis that
# restarts between a check and the XADDs cannot take entries after losing the ones before.
# KEYS: the marker, then each event's stream; ARGV: maxlen, continuing, now_ms, then six
# fields per event.
_PUBLISH_LUA = """
if ARGV[2] == '1' and redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
for i = 2, #KEYS do
  local b = 3 + (i - 2) * 6
  redis.call('XADD', KEYS[i], 'MAXLEN', '~', ARGV[1], '*', 'event_id', ARGV[b + 1], 'type', ARGV[b + 2],
             'market_id', ARGV[b + 3], 'sequence_id', ARGV[b + 4], 'ts_ms', ARGV[b + 5], 'data', ARGV[b + 6])
  redis.call('HSET', KEYS[1], KEYS[i], ARGV[b + 1])
end
if ARGV[2] == '0' then redis.call('HSET', KEYS[1], 'replayed_ms', ARGV[3]) end
return 1
"""
_FIELDS = ("event_id", "type", "market_id", "sequence_id", "ts_ms", "data")


class RedisStreamPublisher:
    """XADD to one Redis stream per event stream (the stream key is its name, docs/push.md),
    trimmed with MAXLEN ~ `maxlen`, and the marker (`MARKER_KEY`) in the same script."""

    def __init__(self, client: redis.Redis, *, maxlen: int) -> None:
        self.client = client
        self.maxlen = maxlen
        self._script = client.register_script(_PUBLISH_LUA)  # EVALSHA; loaded again after a restart

    def publish(self, events: Sequence[Event], *, continuing: bool = True) -> bool:
        if not events and continuing:
            return True
        args: list = [self.maxlen, "1" if continuing else "0", int(time.time() * 1000)]
        for event in events:
            fields = event.fields()
            args += [fields[name] for name in _FIELDS]
        return bool(self._script(keys=[MARKER_KEY, *(e.stream for e in events)], args=args))

    def last_published(self) -> dict[str, int]:
        found = {k.decode() if isinstance(k, bytes) else k: v for k, v in self.client.hgetall(MARKER_KEY).items()}
        return {stream: int(found[stream]) for stream in STREAMS if stream in found}
