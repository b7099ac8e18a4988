"""The one reader per server process: tails the event streams and hands each event to this
process's sessions of its market (in-process fan-out; why not the channel layer's groups:
README "Serving", bench/fanout.py).

XREAD BLOCK from the streams' ends, no consumer group: every server process needs every
event, and an event missed while Redis is away costs its subscribers one resnapshot (all of
them are told to take one when the reader reconnects), not a loss. Entries are read in
stream order and handed on in that order, so each market's deltas keep commit order."""
from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from typing import Protocol

import redis.asyncio as aioredis
from django.conf import settings
from redis.exceptions import RedisError

from exchange.conf import exchange_settings
from exchange.push.feeds import FEEDS, Event, EventMalformed

logger = logging.getLogger(__name__)

_FEED_BY_STREAM = {feed.stream: feed for feed in FEEDS.values()}


class Subscriber(Protocol):
    def offer(self, event: Event) -> None: ...

    def resync(self) -> None: ...


class StreamHub:
    def __init__(self, redis_url: str, *, block_ms: int, count: int) -> None:
        self._redis_url = redis_url
        self._block_ms, self._count = block_ms, count
        self._subscribers: dict[tuple[str, str], set[Subscriber]] = defaultdict(set)
        self._last_event: dict[tuple[str, str], int] = {}  # (stream, market) -> event_id: the relay's repeats
        self._lock = asyncio.Lock()
        self._task: asyncio.Task | None = None
        self._client: aioredis.Redis | None = None

    async def subscribe(self, stream: str, market_id: str, subscriber: Subscriber) -> None:
        """From now on `subscriber.offer` gets every event of that market read after this call
        returns (the reader's position is fixed before the first subscriber is added)."""
        await self._ensure_running()
        self._subscribers[(stream, market_id)].add(subscriber)

    def unsubscribe(self, stream: str, market_id: str, subscriber: Subscriber) -> None:
        subscribers = self._subscribers.get((stream, market_id))
        if subscribers is not None:
            subscribers.discard(subscriber)
            if not subscribers:
                del self._subscribers[(stream, market_id)]

    @property
    def subscriber_count(self) -> int:
        return sum(len(s) for s in self._subscribers.values())

    async def _ensure_running(self) -> None:
        if self._task is not None and not self._task.done():
            return
        async with self._lock:
            if self._task is not None and not self._task.done():
                return
            self._client = aioredis.Redis.from_url(self._redis_url, decode_responses=True)
            # Where `$` is now, taken before anyone subscribes: the reader then misses nothing
            # published after a subscriber's snapshot read, however late its first XREAD runs.
            positions = {stream: await self._stream_end(stream) for stream in _FEED_BY_STREAM}
            self._task = asyncio.create_task(self._run(positions), name="exchange-push-hub")

    async def _stream_end(self, stream: str) -> str:
        last = await self._client.xrevrange(stream, count=1)
        return last[0][0] if last else "0-0"

    async def _run(self, positions: dict[str, str]) -> None:
        while True:
            try:
                reply = await self._client.xread(positions, count=self._count, block=self._block_ms)
            except asyncio.CancelledError:
                raise
            except (RedisError, OSError) as exc:
                logger.warning("push hub: reading the event streams failed (%s); every subscriber resnapshots", exc)
                await asyncio.sleep(0.5)
                self._resync_all()
                continue
            for stream, entries in reply or ():
                for entry_id, fields in entries:
                    positions[stream] = entry_id
                    try:
                        self._dispatch(stream, fields)
                    except Exception:  # a bug must not end the process's only reader: its subscribers heal
                        logger.exception("push hub: dispatching %s %s failed", stream, entry_id)
                        self._resync_all()

    def _dispatch(self, stream: str, fields: dict[str, str]) -> None:
        feed = _FEED_BY_STREAM[stream]
        try:
            event = feed.event(fields)
        except EventMalformed as exc:
            logger.error("push hub: skipped a malformed %s entry: %s", stream, exc)
            return
        key = (stream, event.market_id)
        if event.event_id <= self._last_event.get(key, 0):
            return  # published twice (the relay's at-least-once); per market, event ids grow
        self._last_event[key] = event.event_id
        for subscriber in self._subscribers.get(key, ()):
            subscriber.offer(event)

    def _resync_all(self) -> None:
        for subscribers in self._subscribers.values():
            for subscriber in subscribers:
                subscriber.resync()

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        if self._client is not None:
            await self._client.aclose()


_hubs: dict[asyncio.AbstractEventLoop, StreamHub] = {}


def get_hub() -> StreamHub:
    """This process's hub (one per event loop: a server process runs one loop)."""
    loop = asyncio.get_running_loop()
    hub = _hubs.get(loop)
    if hub is None:
        hub = _hubs[loop] = StreamHub(settings.REDIS_URL, block_ms=exchange_settings.EXCHANGE_PUSH_XREAD_BLOCK_MS,
                                      count=exchange_settings.EXCHANGE_PUSH_XREAD_COUNT)
    return hub
