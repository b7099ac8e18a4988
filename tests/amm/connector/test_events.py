"""The Redis Streams transport of the event consumer (amm/connector/events.py) on real Redis:
the group joined only where the platform publishes, entries parsed or rejected by name, a
batch in outbox order across streams, a dead member's entries claimed after the idle time,
idle members pruned."""
from __future__ import annotations

import json
import time

import pytest
from django.conf import settings

from amm.connector.events import EventStreamAbsent, RedisStreamConsumer

STREAMS = ["trade_events", "market_events", "book_events"]


def consumer(name: str, **kwargs) -> RedisStreamConsumer:
    return RedisStreamConsumer(url=settings.REDIS_URL, streams=STREAMS, group="amm", consumer=name,
                               claim_idle_ms=kwargs.pop("claim_idle_ms", 200), **kwargs)


def entry(event_id: int, market_id: str = "M", **data) -> dict:
    return {"event_id": str(event_id), "type": "trade", "market_id": market_id, "sequence_id": "3",
            "ts_ms": "1700000000000", "data": json.dumps(data or {"id": event_id})}


def test_a_platform_that_publishes_no_stream_is_not_joined(redis_conn):
    with pytest.raises(EventStreamAbsent):
        consumer("a").open()
    assert redis_conn.exists(*STREAMS) == 0  # nothing made on the platform's Redis


def test_a_batch_comes_in_outbox_order_and_a_bad_entry_is_rejected_by_id(redis_conn):
    redis_conn.xadd("book_events", entry(1))
    c = consumer("a")
    c.open()
    redis_conn.xadd("book_events", entry(4))
    redis_conn.xadd("trade_events", entry(3))
    redis_conn.xadd("market_events", entry(2))
    bad = redis_conn.xadd("trade_events", {"event_id": "5", "type": "trade", "data": "not json"})
    batch = c.read(block_ms=100, count=10)
    assert [e.event_id for e in batch.events] == [2, 3, 4]  # joined at the end: event 1 is the catch-up's
    assert batch.rejected == [("trade_events", bad)]
    assert batch.events[1].stream == "trade_events" and batch.events[1].data == {"id": 3}
    c.ack([(e.stream, e.entry_id) for e in batch.events] + batch.rejected)
    assert all(redis_conn.xpending(s, "amm")["pending"] == 0 for s in STREAMS)


def test_a_read_woken_by_one_stream_brings_the_whole_commit_across_the_streams(redis_conn):
    """A blocked XREADGROUP is answered with the entries of the stream that woke it only; one
    commit's entries (its trade and its book delta, published by one script) come in one batch
    all the same, so the feed moves the book before the fill's requote."""
    import threading

    redis_conn.xadd("book_events", entry(1))
    c = consumer("a")
    c.open()
    c.read(block_ms=1, count=10)  # nothing new: the next read blocks
    publish = redis_conn.register_script(
        "redis.call('XADD', KEYS[1], '*', unpack(ARGV, 1, 12)); "
        "redis.call('XADD', KEYS[2], '*', unpack(ARGV, 13, 24)); return 1")
    fields = [[k for kv in entry(i).items() for k in kv] for i in (7, 8)]
    timer = threading.Timer(0.2, lambda: publish(keys=["trade_events", "book_events"], args=fields[0] + fields[1]))
    timer.start()
    batch = c.read(block_ms=3000, count=10)
    timer.join()
    assert sorted(e.event_id for e in batch.events) == [7, 8]


def test_a_dead_members_entries_are_claimed_after_the_idle_time_before_new_ones(redis_conn):
    redis_conn.xadd("trade_events", entry(1))
    dead, alive = consumer("dead"), consumer("alive", claim_idle_ms=300)
    dead.open()
    redis_conn.xadd("trade_events", entry(2))
    assert [e.event_id for e in dead.read(block_ms=100, count=10).events] == [2]  # read, never acknowledged
    redis_conn.xadd("trade_events", entry(3))
    alive.open()
    first = alive.read(block_ms=100, count=10)
    assert [e.event_id for e in first.events] == [3] and first.claimed == 0  # 2 not idle long enough yet
    alive.ack([(e.stream, e.entry_id) for e in first.events])
    time.sleep(0.35)
    claimed = alive.read(block_ms=100, count=10)
    assert [e.event_id for e in claimed.events] == [2] and claimed.claimed == 1
    assert redis_conn.xpending_range("trade_events", "amm", "-", "+", 10)[0]["consumer"] == "alive"


def test_idle_members_holding_nothing_are_pruned(redis_conn):
    redis_conn.xadd("trade_events", entry(1))
    c = consumer("live", prune_idle_ms=100)
    c.open()
    redis_conn.xgroup_createconsumer("trade_events", "amm", "gone")
    time.sleep(0.15)
    c.read(block_ms=10, count=10)
    assert "gone" not in [m["name"] for m in redis_conn.xinfo_consumers("trade_events", "amm")]
    redis_conn.xgroup_createconsumer("trade_events", "amm", "busy")
    redis_conn.xadd("trade_events", entry(2))
    assert redis_conn.xreadgroup("amm", "busy", {"trade_events": ">"}, count=1)  # holds an entry
    time.sleep(0.15)
    c._prune_due = 0.0
    c.read(block_ms=10, count=10)
    assert "busy" in [m["name"] for m in redis_conn.xinfo_consumers("trade_events", "amm")]  # kept: it holds one
