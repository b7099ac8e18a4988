"""An order call's round trips to PostgreSQL (issue 15: each is a wake-up of client and
server on the path of every fill's requote): the fencing check travels with the market lock,
and the COMMIT with the flush's write, but only where the service's block is the outermost
one (real PostgreSQL, the protocol as libpq traces it)."""
import uuid

import psycopg
import pytest
from django.db import DatabaseError, connection, transaction

from exchange.models import FencingToken, Market, Order
from exchange.services import NewOrder, order_place
from exchange.sql import execute_and_commit
from tests.exchange.conftest import new_market, new_user
from tests.exchange.services.test_sql import traced

pytestmark = pytest.mark.django_db(transaction=True)  # real transactions: no test-wide atomic block


def _order() -> NewOrder:
    return NewOrder(client_order_id=uuid.uuid4().hex, side="YES", direction="BUY", price_cents=40, quantity=5)


def _other_connection() -> psycopg.Connection:
    s = connection.settings_dict
    return psycopg.connect(dbname=s["NAME"], user=s["USER"], host=s["HOST"] or None, port=s["PORT"] or None,
                           password=s["PASSWORD"] or None, autocommit=True)


def _syncs_before(sent: list[str], predicate) -> int:
    index = next(i for i, message in enumerate(sent) if predicate(message))
    return sent[:index].count("Sync")


def test_a_fenced_order_placement_takes_two_round_trips_and_is_committed_when_it_returns():
    market_id, user_id = new_market(), new_user()
    result, sent = traced(lambda: order_place(user_id=user_id, market_id=market_id, new=_order(), fencing_token=7))
    assert sent.count("Sync") == 2, sent
    # the fencing check in the first, with the market lock; the write and COMMIT in the second
    assert _syncs_before(sent, lambda m: "INSERT INTO fencing_tokens" in m) == 0, sent
    assert _syncs_before(sent, lambda m: m.startswith("Parse") and "INSERT INTO orders" in m) == 1, sent
    assert _syncs_before(sent, lambda m: '"COMMIT"' in m) == 1, sent
    last_sync = len(sent) - 1 - sent[::-1].index("Sync")
    assert set(sent[last_sync + 1:]) <= {"Flush"}, sent  # Django's own COMMIT at the block's end sent nothing
    with _other_connection() as other:  # committed: another session sees it
        assert other.execute("SELECT status FROM orders WHERE id = %s", [result.order.id]).fetchone() == ("OPEN",)
        assert other.execute("SELECT token FROM fencing_tokens WHERE user_id = %s AND market_id = %s",
                             [user_id, market_id]).fetchone() == (7,)


def test_inside_an_outer_block_an_order_call_leaves_the_commit_to_that_block():
    market_id, user_id = new_market(), new_user()
    with pytest.raises(RuntimeError), transaction.atomic():
        result, sent = traced(lambda: order_place(user_id=user_id, market_id=market_id, new=_order(),
                                                  fencing_token=7))
        assert not any("COMMIT" in m for m in sent), sent
        raise RuntimeError("the outer block fails after the order call")
    assert not Order.objects.filter(pk=result.order.id).exists()
    assert not FencingToken.objects.filter(user_id=user_id, market_id=market_id).exists()


def test_a_write_that_fails_with_its_commit_rolls_the_whole_block_back():
    market_id = new_market()
    with pytest.raises(DatabaseError), transaction.atomic():
        Market.objects.filter(pk=market_id).update(title="changed before")
        execute_and_commit("UPDATE markets SET title = 'changed' WHERE id = %s AND 1 / %s = 1", [market_id, 0])
    assert Market.objects.get(pk=market_id).title != "changed before"
    assert not connection.in_atomic_block
    assert Market.objects.filter(pk=market_id).exists()  # the connection is usable again


def test_the_blocks_on_commit_hooks_run_once_after_the_commit_that_travelled_with_the_write():
    market_id = new_market()
    seen: list[str] = []
    with _other_connection() as other:
        with transaction.atomic():
            transaction.on_commit(lambda: seen.append(
                other.execute("SELECT title FROM markets WHERE id = %s", [market_id]).fetchone()[0]))
            execute_and_commit("UPDATE markets SET title = 'written' WHERE id = %s", [market_id])
            assert seen == []  # not before the block ends
    assert seen == ["written"]  # once, and the row committed by then
