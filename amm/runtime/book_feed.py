"""The WebSocket book feed (docs/push.md) as run_amm runs it: one connection per driven market
(amm/connector/book_ws.py) in a thread of the scheduler's process, each market's
`LocalOrderBook` written to Redis (`amm:pushbook:{m}`, depth-capped) for the quote cycles in
the RQ workers, which read it in their one pipelined read instead of a REST book call while
the feed's heartbeat is fresh (amm/runtime/cycle.py `pushed_book`; REST and a PUSH_FALLBACK
alert when not). Why Redis and not the worker processes: cycles of one market run on any
worker, and a worker holding a hundred connections would repeat them in every process.

The heartbeat (`amm:pushbook:alive`) is written only once a connection has worked: a platform
without WebSockets leaves push off, silently, and cycles read books over REST as before.

Event-driven requotes: a delta that changes the book's outside touch (the book without the
AMM's own orders, `amm.strategy.book.external_top`) so that the AMM's quotes are crossed or
bettered by an outside order, or moves the outside micro-price AMM_BOOK_MOVE_CENTS or more
from where it was at the last such request (the LVR guard's notion: quotes left stale by a
move), requests the market's cycle at the front of the queue (reason "book"); a burst
coalesces into one cycle (unique_jobs).

The AMM's own orders are taken out of the book as `amm:orders` lists them, which is right
only between order calls: while one is in flight, its delta may arrive before its answer is
recorded, and the AMM's new orders would look like an outside order bettering its old ones
(before this check, about one fill in four at 100 markets made the AMM requote its own
replace). So a delta that arrives while an order call of the market is in flight is looked
at again once the call's answer is recorded (RECHECK_FIRST_S, doubling up to
RECHECK_MAX_S), against the book as it is then: an outside move meanwhile is not lost. (A
trace left by a holder that died mid-call lasts until the market's next cycle adopts it, at
most a requote interval: the rechecks go on meanwhile.)
"""
from __future__ import annotations

import logging
import threading

from amm import state
from amm.conf import amm_settings
from amm.connector.book_ws import BookStreams, ws_base_url
from amm.runtime.job_requests import request_requote
from amm.strategy.book import LocalOrderBook, external_micro_price, external_top
from amm.strategy.types import LiveOrder

log = logging.getLogger(__name__)

RECHECK_FIRST_S = 0.005  # an order call's answer is usually recorded within a few ms of its delta
RECHECK_MAX_S = 0.1


def book_feed_wanted() -> bool:
    return bool(amm_settings.AMM_PUSH and amm_settings.AMM_BOOK_PUSH)


class BookFeed:
    def __init__(self, *, base_url: str | None = None, api_key: str | None = None) -> None:
        base = base_url or amm_settings.AMM_PLATFORM_WS_URL or ws_base_url(amm_settings.AMM_PLATFORM_BASE_URL)
        self.streams = BookStreams(base_url=base, api_key=api_key or amm_settings.AMM_PLATFORM_API_KEY,
                                   make_book=LocalOrderBook, on_book=self._on_book, on_unhealthy=self._on_unhealthy)
        self.connected = threading.Event()  # some connection worked: the heartbeat may vouch
        self.touch: dict[str, tuple] = {}  # market -> the outside touch last seen
        self.anchor: dict[str, float] = {}  # market -> the outside micro-price at the last requote asked
        self.requotes = 0
        self.deferred = 0  # deltas looked at again after an order call of the AMM's in flight
        self._rechecks: set[str] = set()  # markets with a recheck scheduled (the streams' thread only)

    def start(self) -> "BookFeed":
        self.streams.start()
        return self

    def set_markets(self, market_ids) -> None:
        wanted = set(market_ids)
        gone = [m for m in self.touch if m not in wanted]
        for market_id in gone:
            self.touch.pop(market_id, None)
            self.anchor.pop(market_id, None)
        state.push_book_drop(gone)
        self.streams.set_markets(wanted)

    def beat(self) -> None:
        """The heartbeat that lets cycles use the pushed books (call every ~250 ms)."""
        if self.connected.is_set():
            state.push_book_alive(state.now_ms())

    def stop(self) -> None:
        self.streams.stop()
        state.push_book_drop(list(self.streams.books) + list(self.touch))

    # --- called on the streams' thread -----------------------------------------------------------
    def _on_book(self, market_id: str, book: LocalOrderBook, kind: str) -> None:
        depth = amm_settings.AMM_BOOK_PUSH_DEPTH
        state.push_book_write(market_id, {"sequence_id": book.last_sequence_id,
                                          "bids": [list(level) for level in book.bid_levels()[:depth]],
                                          "asks": [list(level) for level in book.ask_levels()[:depth]]},
                              now=state.now_ms())
        if not self.connected.is_set():
            self.connected.set()
            self.beat()
        if kind == "delta":
            self._requote_if_stale(market_id, book)

    def _on_unhealthy(self, market_id: str, reason: str) -> None:
        log.warning("book feed %s unhealthy (%s): cycles read the REST book until it heals", market_id, reason)
        state.push_book_drop([market_id])
        self.touch.pop(market_id, None)

    def _recheck(self, market_id: str, delay_s: float) -> None:
        """On the streams' thread, after `delay_s`: the market's book against its orders again."""
        self._rechecks.discard(market_id)
        book = self.streams.books.get(market_id)
        if book is not None and not book.stale:  # still followed, and not waiting for a resnapshot
            self._requote_if_stale(market_id, book, delay_s=min(RECHECK_MAX_S, delay_s * 2))

    def _requote_if_stale(self, market_id: str, book: LocalOrderBook, *, delay_s: float = RECHECK_FIRST_S) -> None:
        orders = state.orders_settled(market_id)
        if orders is None:  # an order call in flight: the own orders are not known yet (module docstring)
            self.deferred += 1
            if market_id not in self._rechecks:
                self._rechecks.add(market_id)
                self.streams.later(delay_s, self._recheck, market_id, delay_s)
            return
        live = [LiveOrder(o.order_id, o.side, o.direction, o.price, o.remaining) for o in orders.values()]
        bid, _, ask, _ = external_top(book, live)
        if self.touch.get(market_id) == (bid, ask):
            return  # the AMM's own orders moved, or depth behind the touch: nothing to requote for
        self.touch[market_id] = (bid, ask)
        micro = external_micro_price(book, live)
        own_bid = max((o.yes_view_price for o in live if o.is_bid), default=None)
        own_ask = min((o.yes_view_price for o in live if not o.is_bid), default=None)
        crossed = ((own_ask is not None and bid is not None and bid >= own_ask)
                   or (own_bid is not None and ask is not None and ask <= own_bid))
        bettered = ((own_bid is not None and bid is not None and bid > own_bid)
                    or (own_ask is not None and ask is not None and ask < own_ask))
        anchor = self.anchor.get(market_id)
        moved = micro is not None and anchor is not None and abs(micro - anchor) >= amm_settings.AMM_BOOK_MOVE_CENTS
        if micro is not None and anchor is None:
            self.anchor[market_id] = micro
        if crossed or bettered or moved:
            if micro is not None:
                self.anchor[market_id] = micro
            self.requotes += 1
            request_requote(market_id, reason="book")
