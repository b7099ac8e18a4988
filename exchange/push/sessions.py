"""One WebSocket connection's feed: SNAPSHOT, then the deltas above it, in order.

The join race (a change committed between the snapshot read and the subscription would be
in neither) is closed by subscribing first: events buffer in the session's queue while the
snapshot is read, then only those above the snapshot's sequence are sent. A resnapshot (the
client's request, or a queue that overflowed because the client reads too slowly) goes
through the same queue, so everything a connection sends comes from one task, in order."""
from __future__ import annotations

import asyncio
from typing import Awaitable, Callable

from channels.db import database_sync_to_async

from exchange.conf import exchange_settings
from exchange.push.feeds import Event
from exchange.push.hub import StreamHub

_RESNAPSHOT = object()
_BATCH = 256  # queued items handled per wake-up: a burst of one transaction's trades goes out as one DELTA


class FeedSession:
    def __init__(self, feed, market_id: str, send: Callable[[str], Awaitable[None]], hub: StreamHub) -> None:
        self.feed, self.market_id = feed, market_id
        self._send, self._hub = send, hub
        self._queue: asyncio.Queue = asyncio.Queue(maxsize=exchange_settings.EXCHANGE_PUSH_BUFFER_MAX)
        self.last_sequence_id = 0

    # --- called by the hub (same event loop, never blocks) -----------------------------------
    def offer(self, event: Event) -> None:
        try:
            self._queue.put_nowait(event)
        except asyncio.QueueFull:
            self.resync()  # too far behind: drop the backlog, the next snapshot covers it

    def resync(self) -> None:
        while not self._queue.empty():
            self._queue.get_nowait()
        self._queue.put_nowait(_RESNAPSHOT)

    # --- called by the consumer --------------------------------------------------------------
    def request_resnapshot(self) -> None:
        try:
            self._queue.put_nowait(_RESNAPSHOT)
        except asyncio.QueueFull:
            self.resync()

    async def run(self) -> None:
        await self._hub.subscribe(self.feed.stream, self.market_id, self)
        try:
            await self._snapshot()
            while True:
                items = [await self._queue.get()]
                while len(items) < _BATCH and not self._queue.empty():
                    items.append(self._queue.get_nowait())
                await self._deliver(items)
        finally:
            self._hub.unsubscribe(self.feed.stream, self.market_id, self)

    async def _deliver(self, items: list) -> None:
        events: list[Event] = []
        for item in items:
            if item is _RESNAPSHOT:
                await self._send_deltas(events)  # those the new snapshot holds are dropped by their sequence
                events = []
                await self._snapshot()
            else:
                events.append(item)
        await self._send_deltas(events)

    async def _send_deltas(self, events: list[Event]) -> None:
        for sequence_id, text in self.feed.deltas(events, self.last_sequence_id):
            await self._send(text)
            self.last_sequence_id = sequence_id

    async def _snapshot(self) -> None:
        sequence_id, text = await database_sync_to_async(self.feed.snapshot)(self.market_id)
        await self._send(text)
        self.last_sequence_id = sequence_id
