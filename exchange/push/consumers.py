"""The WebSocket endpoints (docs/push.md): thin; the feed's logic is in `sessions` and `feeds`.

Close codes: 4401 bad or missing API key, 4404 unknown market (sent after accepting the
handshake, since a refused handshake carries no code). A client message other than
`{"action": "resnapshot"}` is answered with an ERROR message and changes nothing."""
from __future__ import annotations

import asyncio
import json
import logging

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer

from exchange.exceptions import NotFound
from exchange.push.auth import user_for_scope
from exchange.push.feeds import FEEDS
from exchange.push.hub import get_hub
from exchange.push.sessions import FeedSession
from exchange.selectors import market_get

logger = logging.getLogger(__name__)

CLOSE_UNAUTHORIZED = 4401
CLOSE_NOT_FOUND = 4404
CLOSE_INTERNAL = 1011


def _market_exists(market_id: str) -> bool:
    try:
        market_get(market_id=market_id)
    except NotFound:
        return False
    return True


class FeedConsumer(AsyncWebsocketConsumer):
    feed_name = ""  # a key of feeds.FEEDS, set by the subclasses below

    session: FeedSession | None = None
    _task: asyncio.Task | None = None

    async def connect(self) -> None:
        await self.accept()
        market_id = self.scope["url_route"]["kwargs"]["market_id"]
        if await database_sync_to_async(user_for_scope)(self.scope) is None:
            await self.close(code=CLOSE_UNAUTHORIZED)
            return
        if not await database_sync_to_async(_market_exists)(market_id):
            await self.close(code=CLOSE_NOT_FOUND)
            return
        self.session = FeedSession(FEEDS[self.feed_name], market_id, self.send, get_hub())
        self._task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        try:
            await self.session.run()
        except asyncio.CancelledError:
            raise
        except OSError:  # the client went away while we were sending (the server's ClientDisconnected)
            logger.debug("push feed %s/%s: client gone", self.feed_name, self.session.market_id)
        except Exception:
            logger.exception("push feed %s/%s failed", self.feed_name, self.session.market_id)
            await self.close(code=CLOSE_INTERNAL)

    async def receive(self, text_data=None, bytes_data=None) -> None:
        try:
            message = json.loads(text_data if text_data is not None else bytes_data)
        except (TypeError, ValueError):
            message = None
        if self.session is not None and isinstance(message, dict) and message.get("action") == "resnapshot":
            self.session.request_resnapshot()
            return
        await self.send(json.dumps({"type": "ERROR", "code": "UNKNOWN_ACTION",
                                    "message": 'the only client message is {"action": "resnapshot"}'}))

    async def disconnect(self, code) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)


class OrderBookConsumer(FeedConsumer):
    feed_name = "orderbook"


class TradesConsumer(FeedConsumer):
    feed_name = "trades"
