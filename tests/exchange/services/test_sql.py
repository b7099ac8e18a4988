"""exchange/sql.py's select_together: statements sent together (one round trip), and when they
open the transaction, its BEGIN travels with them, ahead of them (real PostgreSQL, the
protocol as libpq traces it)."""
import tempfile

import psycopg
import pytest
from django.db import DatabaseError, connection, transaction
from psycopg.pq import TransactionStatus

from exchange.models import Market
from exchange.services import market_create
from exchange.sql import select_together

pytestmark = pytest.mark.django_db(transaction=True)  # real transactions: no test-wide atomic block


def traced(run) -> tuple[object, list[str]]:
    """run()'s result and the protocol messages the client sent meanwhile ('Sync', 'Parse' ...),
    each with its first argument when it is a statement's text."""
    connection.ensure_connection()
    pgconn = connection.connection.pgconn
    with tempfile.TemporaryFile("w+") as log:
        pgconn.trace(log.fileno())
        pgconn.set_trace_flags(psycopg.pq.Trace.SUPPRESS_TIMESTAMPS | psycopg.pq.Trace.REGRESS_MODE)
        try:
            result = run()
        finally:
            pgconn.untrace()
        log.seek(0)
        sent = [line.split("\t") for line in log.read().splitlines() if line.startswith("F\t")]
    return result, [" ".join(part.strip() for part in fields[2:4]).strip() for fields in sent]


def test_statements_opening_a_transaction_travel_with_its_begin_in_one_round_trip():
    with transaction.atomic():
        rows, sent = traced(lambda: select_together([
            ("SELECT now(), %s::int", [1]),
            ("SELECT now(), %s::int", [2]),
        ]))
        assert [r[0][1] for r in rows] == [1, 2]
        assert connection.connection.pgconn.transaction_status == TransactionStatus.INTRANS
        (later,) = select_together([("SELECT now()", [])])[0]
    # One Sync: BEGIN and both statements answered in one round trip (psycopg alone sends
    # BEGIN with a Sync of its own first).
    assert sent.count("Sync") == 1, sent
    begins = [i for i, m in enumerate(sent) if '"BEGIN"' in m]
    assert len(begins) == 1 and sent[begins[0]].startswith("Parse"), sent
    assert begins[0] < min(i for i, m in enumerate(sent) if m.startswith("Bind") and "_pg3" in m), sent
    # ... and they ran inside that transaction: now() is the transaction's start for all.
    assert rows[0][0][0] == rows[1][0][0] == later[0]


def test_a_row_locked_by_statements_that_open_the_transaction_stays_locked_until_it_ends():
    market_create(market_id="SQL-LOCK", title="t", maker_fee_bps=0, taker_fee_bps=0)
    settings = connection.settings_dict
    other = psycopg.connect(dbname=settings["NAME"], user=settings["USER"], host=settings["HOST"] or None,
                            port=settings["PORT"] or None, password=settings["PASSWORD"] or None, autocommit=True)
    try:
        with transaction.atomic():
            select_together([("SELECT id FROM markets WHERE id = %s FOR UPDATE", ["SQL-LOCK"]),
                             ("SELECT 1", [])])
            with pytest.raises(psycopg.errors.LockNotAvailable):
                other.execute("SELECT id FROM markets WHERE id = 'SQL-LOCK' FOR UPDATE NOWAIT")
        other.execute("SELECT id FROM markets WHERE id = 'SQL-LOCK' FOR UPDATE NOWAIT")  # released at commit
    finally:
        other.close()


def test_a_failing_statement_rolls_the_whole_transaction_back():
    market_create(market_id="SQL-ROLLBACK", title="t", maker_fee_bps=0, taker_fee_bps=0)
    with pytest.raises(DatabaseError), transaction.atomic():
        select_together([("UPDATE markets SET title = 'changed' WHERE id = %s RETURNING id", ["SQL-ROLLBACK"]),
                         ("SELECT 1 / %s", [0])])
    assert Market.objects.get(pk="SQL-ROLLBACK").title == "t"
    assert select_together([("SELECT %s::int", [7]), ("SELECT %s::int", [8])]) == [[(7,)], [(8,)]]  # usable again


def test_statements_are_queued_and_go_to_the_server_together():
    """Within _sent_together, execute() only queues (psycopg alone sends each statement as it
    is executed, a write and a wake-up of the server per statement); the queue is emptied into
    libpq's buffer at the end, and the results are each statement's."""
    from exchange.sql import _sent_together

    connection.ensure_connection()
    pg = connection.connection
    with transaction.atomic(), pg.pipeline() as pipeline:
        queued = []
        with _sent_together(pipeline):
            cursors = [pg.cursor() for _ in range(3)]
            for i, cur in enumerate(cursors):
                cur.execute("SELECT %s::int", [i])
                queued.append(len(pipeline.command_queue))
        assert queued == sorted(queued) and queued[0] >= 1 and queued[-1] >= 3, queued  # nothing sent meanwhile
        assert not pipeline.command_queue and "_communicate_gen" not in vars(pipeline)
    assert [cur.fetchall() for cur in cursors] == [[(0,)], [(1,)], [(2,)]]
