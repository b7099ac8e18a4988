"""The outbox rows the platform writes (docs/push.md), read in the writing test's database:
what each operation emits, that the bodies are the REST API's, and that a snapshot plus the
book deltas is the order book (a property over random order flow)."""
from __future__ import annotations

import json
import random
import uuid

import pytest
from django.db import transaction

from exchange.apis.serializers import MarketSerializer, OrderSerializer, TradeSerializer
from exchange.enums import AMM_USER_ID
from exchange.exceptions import ExchangeError
from exchange.models import Market, Order, OutboxEvent, Trade
from exchange.selectors import orderbook_get
from exchange.services import NewOrder, amm_mint, market_schedule_set, market_set_status, order_cancel, orders_replace
from exchange.services.orders import Replacement
from tests.exchange.conftest import new_market, new_user, place

pytestmark = pytest.mark.django_db


def _events(market_id: str, after: int = 0) -> list[OutboxEvent]:
    return list(OutboxEvent.objects.filter(market_id=market_id, id__gt=after).order_by("id"))


def _last_id() -> int:
    return OutboxEvent.objects.order_by("-id").values_list("id", flat=True).first() or 0


def _api(serializer) -> dict:
    return json.loads(json.dumps(serializer.data))


def test_a_crossing_order_writes_its_trade_both_orders_the_market_and_one_book_delta():
    market_id, maker, taker = new_market(), new_user(), new_user()
    place(maker, market_id, "YES", "BUY", 40, 10)
    before, sequence = _last_id(), Market.objects.get(pk=market_id).sequence_id
    result = place(taker, market_id, "NO", "BUY", 60, 4)  # a MINT: the reserve and share totals move
    events = _events(market_id, before)
    by_stream = {}
    for e in events:
        by_stream.setdefault(e.stream, []).append(e)
    assert sorted(by_stream) == ["book_events", "market_events", "order_events", "trade_events"]
    (trade,) = by_stream["trade_events"]
    assert (trade.type, trade.data["id"], trade.data["quantity"]) == ("trade", result.trades[0].id, 4)
    assert {e.data["id"]: e.data["status"] for e in by_stream["order_events"]} == {
        str(result.order.id): "FILLED", str(result.trades[0].maker_order_id): "PARTIALLY_FILLED"}
    (market,) = by_stream["market_events"]
    assert (market.type, market.sequence_id, market.data["reserve_balance"]) == ("market", 0, 400)
    (book,) = by_stream["book_events"]
    after = Market.objects.get(pk=market_id).sequence_id
    assert book.type == "book_delta" and book.sequence_id == after
    assert book.data == {"market_id": market_id, "prev_sequence_id": sequence, "sequence_id": after,
                         "bids": [[40, 6]], "asks": []}
    assert all(e.sequence_id == after for e in events if e.stream != "market_events")


def test_the_event_bodies_are_the_rest_apis():
    market_id, maker, taker = new_market(taker_fee_bps=50), new_user(), new_user()
    place(maker, market_id, "YES", "BUY", 40, 10)
    result = place(taker, market_id, "NO", "BUY", 60, 4)
    market_schedule_set(market_id=market_id, trading_end_at=None, resolution_date=None)
    events = _events(market_id)
    (trade_event,) = [e for e in events if e.stream == "trade_events"]
    assert trade_event.data == _api(TradeSerializer(Trade.objects.get(pk=result.trades[0].id)))
    latest = {e.data["id"]: e.data for e in events if e.stream == "order_events"}
    assert latest == {str(o.id): _api(OrderSerializer(o)) for o in Order.objects.filter(market_id=market_id)}
    market_event = [e for e in events if e.stream == "market_events"][-1]
    assert market_event.data == _api(MarketSerializer(Market.objects.get(pk=market_id)))


def test_market_creation_mint_status_changes_and_settlement_write_market_events(amm):
    market_id = new_market()
    amm_mint(user_id=AMM_USER_ID, market_id=market_id, quantity=5, request_id=uuid.uuid4().hex)
    market_set_status(market_id=market_id, status="SUSPENDED")
    market_set_status(market_id=market_id, status="RESOLVED", outcome="YES")
    market_set_status(market_id=market_id, status="SETTLED")  # pays out: reserve and shares to zero
    statuses = [(e.data["status"], e.data["outcome"], e.data["total_yes_shares"], e.data["reserve_balance"])
                for e in _events(market_id) if e.stream == "market_events"]
    assert statuses == [("ACTIVE", None, 0, 0), ("ACTIVE", None, 5, 500), ("SUSPENDED", None, 5, 500),
                        ("RESOLVED", "YES", 5, 500), ("SETTLED", "YES", 0, 0)]


def test_a_refused_operation_writes_no_event():
    market_id, poor = new_market(), new_user(deposit=100)
    before = _last_id()
    with pytest.raises(ExchangeError):
        place(poor, market_id, "YES", "BUY", 50, 10)
    assert _events(market_id, before) == []


def test_a_rolled_back_transaction_leaves_no_outbox_row():
    market_id, user = new_market(), new_user()
    before = _last_id()
    with pytest.raises(RuntimeError), transaction.atomic():
        place(user, market_id, "YES", "BUY", 40, 10)
        assert {e.stream for e in _events(market_id, before)} == {"order_events", "book_events"}
        raise RuntimeError("fail after the outbox insert")
    assert _events(market_id, before) == []


class _LocalBook:
    """What a push consumer keeps: a snapshot, then every delta whose prev_sequence_id is its sequence."""

    def __init__(self, book) -> None:
        self.sequence_id = book.sequence_id
        self.levels = {"bids": {p: q for p, q in book.bids}, "asks": {p: q for p, q in book.asks}}

    def apply(self, delta: dict) -> None:
        assert delta["prev_sequence_id"] == self.sequence_id, (delta, self.sequence_id)
        assert delta["sequence_id"] > self.sequence_id
        for side in ("bids", "asks"):
            for price, quantity in delta[side]:
                assert quantity >= 0
                if quantity:
                    self.levels[side][price] = quantity
                else:
                    self.levels[side].pop(price, None)
        self.sequence_id = delta["sequence_id"]

    def as_lists(self) -> tuple[list, list]:
        return (sorted(([p, q] for p, q in self.levels["bids"].items()), reverse=True),
                sorted([p, q] for p, q in self.levels["asks"].items()))


def _random_operation(rng: random.Random, market_id: str, users: list[str]) -> None:
    user = rng.choice(users)
    roll = rng.random()
    open_orders = list(Order.objects.filter(market_id=market_id, status__in=["OPEN", "PARTIALLY_FILLED"]))
    try:
        if roll < 0.55 or not open_orders:
            place(user, market_id, rng.choice(["YES", "NO"]), rng.choice(["BUY", "BUY", "SELL"]),
                  rng.randint(35, 65), rng.randint(1, 30), rng.choice(["GTC", "GTC", "GTC", "IOC"]))
        elif roll < 0.75:
            order = rng.choice(open_orders)
            order_cancel(user_id=order.user_id, order_id=order.id)
        elif roll < 0.95:
            mine = [o for o in open_orders if o.user_id == user][:3]
            replacements = [Replacement(str(o.id), None) for o in mine] + [
                Replacement(None, NewOrder(uuid.uuid4().hex, rng.choice(["YES", "NO"]), "BUY", rng.randint(35, 65),
                                           rng.randint(1, 30))) for _ in range(rng.randint(1, 4))]
            orders_replace(user_id=user, market_id=market_id, replacements=replacements)
        else:  # a status change that cancels every open order, and back
            market_set_status(market_id=market_id, status="SUSPENDED")
            market_set_status(market_id=market_id, status="ACTIVE")
    except ExchangeError:
        pass  # refused (no shares to sell, say): it must write nothing, checked by the book staying equal


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_a_snapshot_plus_the_book_deltas_is_the_order_book(seed):
    rng = random.Random(seed)
    market_id = new_market(taker_fee_bps=30)
    users = [new_user(10_000_000) for _ in range(4)]
    for _ in range(10):  # the snapshot is taken mid-stream, as a late subscriber's
        _random_operation(rng, market_id, users)
    local, cursor = _LocalBook(orderbook_get(market_id=market_id, depth=100)), _last_id()
    for _ in range(70):
        _random_operation(rng, market_id, users)
        for event in _events(market_id, cursor):
            cursor = event.id
            if event.stream == "book_events":
                assert event.sequence_id == event.data["sequence_id"]
                local.apply(event.data)
        book = orderbook_get(market_id=market_id, depth=100)
        assert local.sequence_id == book.sequence_id
        assert local.as_lists() == (book.bids, book.asks)
