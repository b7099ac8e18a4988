"""The relay as a real process (`manage.py exchange_relay`, tests/push_fixtures.py) between the
live test server's database and a real Redis: what reaches the streams, and what must not
be lost on the way (docs/push.md)."""
from __future__ import annotations

import threading
import uuid

import httpx
import pytest
from django.db import connection, transaction

from exchange.events.outbox import STREAMS
from exchange.events.publisher import RedisStreamPublisher
from exchange.models import Market, OutboxEvent, User
from exchange.services import account_deposit, api_key_issue, market_set_status, user_get_or_create
from tests.exchange.conftest import new_market, new_user, place
from tests.push_fixtures import STREAM_FIELDS, event_ids, read_stream, wait_for

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.xdist_group("push_relay")]


def _committed_ids(*market_ids: str) -> set[int]:
    rows = OutboxEvent.objects.all() if not market_ids else OutboxEvent.objects.filter(market_id__in=market_ids)
    return set(rows.values_list("id", flat=True))


def _trader(live_server) -> tuple[str, httpx.Client]:
    user, _ = user_get_or_create(username=f"t_{uuid.uuid4().hex[:10]}")
    account_deposit(user_id=str(user.id), amount_cents=1_000_000)
    key = api_key_issue(user=User.objects.get(pk=user.id))
    return str(user.id), httpx.Client(base_url=f"{live_server.url}/api/v1", timeout=30,
                                      headers={"Authorization": f"Token {key}", "Connection": "close"})


def _order(http: httpx.Client, market_id: str, side: str, price: int, qty: int) -> dict:
    response = http.post("/orders", json={"market_id": market_id, "client_order_id": uuid.uuid4().hex, "side": side,
                                          "direction": "BUY", "price_cents": price, "quantity": qty})
    assert response.status_code == 201, response.text
    return response.json()["order"]


def test_committed_trades_orders_and_market_changes_reach_the_streams_with_the_contract_fields(
        live_server, outbox_relay, redis_conn):
    market_id = new_market()
    (maker_id, maker), (taker_id, taker) = _trader(live_server), _trader(live_server)
    resting = _order(maker, market_id, "YES", 40, 10)
    taking = _order(taker, market_id, "NO", 60, 4)
    market_set_status(market_id=market_id, status="HALTED")  # cancels the rest of the resting order

    trade_id = Market.objects.get(pk=market_id).trades.get().id
    wait_for(lambda: event_ids(redis_conn, *STREAMS) >= _committed_ids(market_id), message="every event published")
    entries = {stream: [e for e in read_stream(redis_conn, stream) if e["market_id"] == market_id]
               for stream in STREAMS}
    for stream, stream_entries in entries.items():
        for entry in stream_entries:
            assert set(entry["fields"]) == STREAM_FIELDS, stream
            assert all(isinstance(v, str) for v in entry["fields"].values())
            assert int(entry["ts_ms"]) > 0
    (trade,) = entries["trade_events"]
    assert (trade["type"], trade["data"]["id"], trade["data"]["buy_user_id"], trade["data"]["sell_user_id"]) == (
        "trade", trade_id, maker_id, taker_id)
    assert [(e["data"]["id"], e["data"]["status"]) for e in entries["order_events"]] == [
        (resting["id"], "OPEN"), (taking["id"], "FILLED"), (resting["id"], "PARTIALLY_FILLED"),
        (resting["id"], "CANCELLED")]
    assert [(e["data"]["status"], e["data"]["reserve_balance"], e["sequence_id"]) for e in entries["market_events"]] == [
        ("ACTIVE", 0, "0"), ("ACTIVE", 400, "0"), ("HALTED", 400, "0")]
    deltas = [e["data"] for e in entries["book_events"]]
    assert [(d["prev_sequence_id"], d["bids"]) for d in deltas] == [(0, [[40, 10]]), (1, [[40, 6]]), (3, [[40, 0]])]
    last = RedisStreamPublisher(redis_conn, maxlen=1).last_published()  # what the relay reports
    assert last == {s: int(read_stream(redis_conn, s)[-1]["event_id"]) for s in STREAMS}
    assert outbox_relay.stop() == 0
    assert "stopped" in outbox_relay.output()
    assert not OutboxEvent.objects.filter(published_at__isnull=True).exists()


def test_a_rolled_back_platform_transaction_emits_no_event(outbox_relay, redis_conn):
    market_id, user = new_market(), new_user()
    with pytest.raises(RuntimeError), transaction.atomic():
        rolled_back = place(user, market_id, "YES", "BUY", 40, 10).order
        assert OutboxEvent.objects.filter(market_id=market_id, stream="order_events").exists()  # inserted, not committed
        raise RuntimeError("a failure after the outbox insert")
    committed = place(user, market_id, "YES", "BUY", 41, 10).order  # published after the rolled-back one would be

    def published_orders():
        return {e["data"]["id"] for e in read_stream(redis_conn, "order_events") if e["market_id"] == market_id}

    assert wait_for(lambda: str(committed.id) in published_orders() and published_orders())
    assert str(rolled_back.id) not in published_orders()
    deltas = [e["data"] for e in read_stream(redis_conn, "book_events") if e["market_id"] == market_id]
    assert [(d["prev_sequence_id"], d["sequence_id"], d["bids"]) for d in deltas] == [(0, 1, [[41, 10]])]


class _OrderFlow:
    """Orders committed by two threads at once (one user each, opposite sides, so orders rest,
    cross and trade) on the same few markets, until stopped: changes keep committing, and
    racing for each market's lock, while the test kills things."""

    def __init__(self, markets: int = 3) -> None:
        self.market_ids = [new_market() for _ in range(markets)]
        self.users = [new_user(100_000_000) for _ in range(2)]
        self.stop = threading.Event()
        self.threads = [threading.Thread(target=self._run, args=(k,), daemon=True) for k in range(2)]
        self.counts = [0, 0]

    @property
    def placed(self) -> int:
        return sum(self.counts)

    def _run(self, k: int) -> None:
        try:
            while not self.stop.is_set():
                i = self.counts[k]
                place(self.users[k], self.market_ids[i % len(self.market_ids)], "YES" if k else "NO", "BUY", 50,
                      1 + i % 3)
                self.counts[k] += 1
        finally:
            connection.close()

    def __enter__(self) -> _OrderFlow:
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join(30)


def _assert_every_committed_event_published_in_market_order(client, market_ids: list[str]) -> None:
    committed = _committed_ids(*market_ids)
    wait_for(lambda: event_ids(client, *STREAMS) >= committed, timeout=30, message="every committed event published")
    for stream in ("book_events", "trade_events", "order_events"):
        seen: set[int] = set()
        last: dict[str, int] = {}
        for entry in read_stream(client, stream):
            event_id = int(entry["event_id"])
            if event_id in seen:
                continue  # a replayed duplicate: consumers dedupe by event_id
            seen.add(event_id)
            market, sequence = entry["market_id"], int(entry["sequence_id"])
            if stream == "book_events":
                # per market: strictly increasing, each delta chained to the one before
                assert entry["data"]["prev_sequence_id"] == last.get(market, 0), entry
                assert sequence > last.get(market, 0)
            else:  # a transaction's trades and orders share its sequence: never going back
                assert sequence >= last.get(market, 0), entry
            last[market] = sequence


def test_a_redis_restart_mid_stream_loses_no_committed_event(relay_factory, spare_redis):
    relay = relay_factory(redis_url=spare_redis.url, batch=20).start()
    client = spare_redis.client()
    with _OrderFlow() as flow:
        wait_for(lambda: flow.placed >= 30 and client.xlen("book_events") >= 10, message="events flowing")
        spare_redis.restart()  # empty: the streams and the marker are gone
        wait_for(lambda: flow.placed >= 80, message="more orders after the restart")
    _assert_every_committed_event_published_in_market_order(client, flow.market_ids)
    assert "replaying the retained outbox" in relay.output()
    assert relay.stop() == 0


def test_a_relay_killed_mid_batch_and_restarted_publishes_every_event(relay_factory, redis_conn):
    with _OrderFlow() as flow:
        wait_for(lambda: flow.placed >= 100, timeout=30, message="a backlog")
    backlog = _committed_ids(*flow.market_ids)
    first = relay_factory(batch=5, poll_ms=50).start()
    wait_for(lambda: OutboxEvent.objects.filter(published_at__isnull=False).exists(), interval=0.002,
             message="some published")
    first.kill()  # SIGKILL, between or inside a batch
    assert OutboxEvent.objects.filter(published_at__isnull=True).exists(), "the relay finished before the kill"
    second = relay_factory(batch=5, poll_ms=50).start()
    _assert_every_committed_event_published_in_market_order(redis_conn, flow.market_ids)
    assert event_ids(redis_conn, *STREAMS) >= backlog
    assert second.stop() == 0


def test_retention_is_bounded_by_maxlen_and_pruning(relay_factory, redis_conn):
    relay = relay_factory(EXCHANGE_EVENT_STREAM_MAXLEN=10, EXCHANGE_OUTBOX_RETENTION_S=1).start()
    market_id, buyer = new_market(), new_user()
    for i in range(150):
        place(buyer, market_id, "YES", "BUY", 10 + i % 50, 1)
    wait_for(lambda: not OutboxEvent.objects.filter(published_at__isnull=True).exists(), message="all published")
    # MAXLEN ~ trims whole nodes of the stream (100 entries by default): bounded, not exact
    assert redis_conn.xlen("order_events") <= 10 + 100 < 150
    wait_for(lambda: not OutboxEvent.objects.exists(), timeout=10, message="published rows pruned")
    assert relay.stop() == 0


def test_a_second_relay_waits_as_a_standby_and_takes_over_when_the_first_dies(relay_factory, redis_conn):
    first = relay_factory().start()
    wait_for(lambda: "active" in first.output(), message="the first relay active")
    second = relay_factory().start()
    wait_for(lambda: "standby" in second.output(), message="the second relay waiting")
    first.kill()
    wait_for(lambda: "the other relay is gone" in second.output(), message="the standby taking over")
    market_id, user = new_market(), new_user()
    place(user, market_id, "YES", "BUY", 40, 10)
    wait_for(lambda: event_ids(redis_conn, *STREAMS) >= _committed_ids(market_id), message="published by the second")
    assert second.stop() == 0
