"""RedisStreamPublisher on a real Redis: the entry fields of docs/push.md, the marker that
tells a Redis that lost its streams, and the approximate MAXLEN trim."""
from __future__ import annotations

import datetime as dt

from exchange.events.publisher import MARKER_KEY, Event, RedisStreamPublisher
from tests.push_fixtures import STREAM_FIELDS, read_stream

WHEN = dt.datetime(2026, 1, 2, 3, 4, 5, 678000, tzinfo=dt.timezone.utc)


def _event(event_id: int, stream: str = "order_events", market_id: str = "M") -> Event:
    return Event(event_id=event_id, stream=stream, type={"order_events": "order", "trade_events": "trade"}[stream],
                 market_id=market_id, sequence_id=event_id * 10, created_at=WHEN, data=f'{{"id": {event_id}}}')


def test_entries_carry_the_contract_fields_as_strings(redis_conn):
    publisher = RedisStreamPublisher(redis_conn, maxlen=1000)
    assert publisher.publish([_event(1), _event(2, "trade_events")], continuing=False)
    (order,) = read_stream(redis_conn, "order_events")
    assert order["fields"] == {"event_id": "1", "type": "order", "market_id": "M", "sequence_id": "10",
                               "ts_ms": str(int(WHEN.timestamp() * 1000)), "data": '{"id": 1}'}
    assert set(order["fields"]) == STREAM_FIELDS
    assert publisher.last_published() == {"order_events": 1, "trade_events": 2}


def test_a_redis_without_the_marker_refuses_a_continuing_publish_and_writes_nothing(redis_conn):
    publisher = RedisStreamPublisher(redis_conn, maxlen=1000)
    assert publisher.last_published() == {}
    assert publisher.publish([_event(5)]) is False
    assert redis_conn.xlen("order_events") == 0 and not redis_conn.exists(MARKER_KEY)
    assert publisher.publish([_event(1)], continuing=False)  # the replay writes regardless, and the marker
    assert publisher.publish([_event(5)])
    assert [e["event_id"] for e in read_stream(redis_conn, "order_events")] == ["1", "5"]
    redis_conn.flushdb()  # what a restart without persistence does
    assert publisher.publish([_event(6)]) is False


def test_streams_are_trimmed_to_about_maxlen(redis_conn):
    publisher = RedisStreamPublisher(redis_conn, maxlen=10)
    publisher.publish([], continuing=False)
    for start in range(0, 500, 50):
        assert publisher.publish([_event(i) for i in range(start, start + 50)])
    assert 10 <= redis_conn.xlen("order_events") <= 10 + 100  # whole nodes of 100 entries are dropped
