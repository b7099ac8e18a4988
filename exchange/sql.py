"""Raw SQL on the ORM's connection, for the engine and the hot reads of the API.

The ORM spends more CPU compiling a small query than PostgreSQL spends running it; the
engine's statements and the API's most frequent reads are plain SQL instead, each prepared
once per connection. Column lists come from the models, so a row maps onto `Model.from_db`
in field order.
"""
from __future__ import annotations

from contextlib import contextmanager
from functools import partial

import psycopg
from django.db import DEFAULT_DB_ALIAS, connections
from psycopg.pq import TransactionStatus
from django.db.backends.postgresql.psycopg_any import register_tzloader

from exchange.conf import exchange_settings

_TIMESTAMPTZ_OID = psycopg.adapters.types["timestamptz"].oid


def columns(model) -> list[str]:
    return [field.column for field in model._meta.concrete_fields]


def rows_as(model, rows) -> list:
    """Model instances from rows selected with `columns(model)`."""
    return [model.from_db("default", None, row) for row in rows]


class PreparedCursor(psycopg.Cursor):
    """Server-side binding, and each statement prepared once per connection: the engine runs
    a handful of statements over and over, and parsing and planning them cost the server more
    than running them (bench/engine.py: server CPU per call 2.3 -> 1.3 ms)."""

    def execute(self, query, params=None, *, prepare=True, binary=None):
        return super().execute(query, params, prepare=prepare, binary=binary)

    def _send_query_prepared(self, name, pgq, *, binary=None):
        self._query = pgq  # what Django's query log reads (psycopg sets it for unprepared statements only)
        super()._send_query_prepared(name, pgq, binary=binary)


def cursor(db=None):
    """A cursor on the ORM's connection: same transaction, and the connection's execute
    wrappers (Django's query log) see its statements. EXCHANGE_PREPARED_STATEMENTS = False
    (behind a pooler that cannot keep prepared statements) runs them unprepared, as the ORM does.
    `db`: the ORM's connection object when the caller holds it already (each lookup of
    `django.db.connection` goes through a thread-local)."""
    db = db or connections[DEFAULT_DB_ALIAS]
    if not exchange_settings.EXCHANGE_PREPARED_STATEMENTS:
        return db.cursor()
    db.ensure_connection()
    pg = db.connection
    if pg.prepare_threshold is None:  # Django's default disables preparing altogether;
        pg.prepare_threshold = 2**31  # this lets an explicit prepare=True through, and nothing else
    raw = PreparedCursor(pg)
    if db.timezone != pg.adapters.get_loader(_TIMESTAMPTZ_OID, psycopg.pq.Format.TEXT).timezone:
        register_tzloader(db.timezone, raw)  # as Django's own cursors do
    return db.make_debug_cursor(raw) if db.queries_logged else db.make_cursor(raw)


def select_together(statements: list[tuple[str, list | dict]]) -> list[list[tuple]]:
    """The rows of each statement. Several are sent at once and answered at once (psycopg
    pipeline mode): one round trip, while the server still runs them one after the other,
    each with its own snapshot (READ COMMITTED)."""
    db = connections[DEFAULT_DB_ALIAS]
    if len(statements) == 1:
        with cursor(db) as cur:
            cur.execute(*statements[0])
            return [cur.fetchall()]
    cursors = []
    db.ensure_connection()
    try:
        with db.wrap_database_errors, db.connection.pipeline() as pipeline:
            _begin_with_the_statements(db.connection)
            with _sent_together(pipeline):
                for sql, params in statements:
                    cur = cursor(db)
                    cursors.append(cur)
                    cur.execute(sql, params)
        return [cur.fetchall() for cur in cursors]
    finally:
        for cur in cursors:
            cur.close()


def execute_and_commit(sql: str, params: list) -> None:
    """Run a write that is the last statement of its transaction, and its COMMIT in the same
    round trip (psycopg alone: a round trip for the write, then one for COMMIT, a wake-up of
    client and server each, on the path of every order call). Only when the caller's atomic
    block is the outermost one and nothing marked it for rollback; inside an outer block
    (another service's, a test's) the statement runs alone and the outer block commits as
    before. The caller must not touch the database in the block after this: Django's own
    COMMIT at the block's end then finds the transaction ended and sends nothing (psycopg's
    commit() returns at once when the connection is idle), and its on_commit hooks run then.
    A write that fails skips the COMMIT (the pipeline aborts) and the block rolls back."""
    db = connections[DEFAULT_DB_ALIAS]
    if len(db.atomic_blocks) != 1 or db.needs_rollback or db.savepoint_ids or db.get_autocommit():
        with cursor(db) as cur:
            cur.execute(sql, params)
        return
    pg = db.connection
    with db.wrap_database_errors, cursor(db) as cur:
        with pg.pipeline() as pipeline:
            with _sent_together(pipeline):
                cur.execute(sql, params)
                _queue_commit(pipeline, pg)


def _queue_commit(pipeline: psycopg.Pipeline, pg: psycopg.Connection) -> None:
    """COMMIT queued behind the statements queued before it, as psycopg queues its own commands
    in a pipeline (pinned, 3.3: `_exec_command`); its answer is checked as a command's (a None
    in the result queue). psycopg's commit() would also ask for a Sync and wait for results
    of its own."""
    pipeline.command_queue.append(partial(pg.pgconn.send_query_params, b"COMMIT", None))
    pipeline.result_queue.append(None)


@contextmanager
def _sent_together(pipeline: psycopg.Pipeline):
    """Send the statements executed within to the server in one write. psycopg's pipeline
    sends each statement as it is executed: a poll, a write and a wake-up of the server's
    backend per statement (an order placement made 10 socket writes and 15 polls; 7 and 9
    this way, strace). Here execute() only queues its statement (its communication step is
    skipped) and at the end every queued statement goes into libpq's output buffer, which the
    pipeline's exit flushes, then sends its Sync. The server runs them in order and their
    results are read as before. This reads psycopg's pipeline (pinned, 3.3): execute() queues
    a command and its pending result, then calls `_communicate_gen`, which sends the queued
    commands. Anything unexpected: psycopg's own way."""
    if not callable(getattr(pipeline, "_communicate_gen", None)) or "_communicate_gen" in vars(pipeline):
        yield
        return
    pipeline._communicate_gen = _no_communication  # shadows the method on this instance
    try:
        yield
    finally:
        del pipeline._communicate_gen
    while pipeline.command_queue:  # into libpq's buffer (no flush in pipeline mode)
        pipeline.command_queue.popleft()()


def _no_communication():
    return
    yield


def _begin_with_the_statements(pg: psycopg.Connection) -> None:
    """When these statements open the transaction, send its BEGIN in the same pipeline, ahead
    of them. psycopg sends BEGIN with a Sync of its own and waits for the answer (a round trip
    just for it: one of five of an order placement) before the first statement. The server
    runs BEGIN, then the statements in order, as before; if BEGIN fails the pipeline aborts
    and psycopg raises its error. This reads psycopg's pipeline (pinned, 3.3): once libpq has
    a command in flight, the connection's status is ACTIVE, not IDLE, and psycopg adds no
    BEGIN of its own; the answer to ours is checked as a command's (a None in its result
    queue). Anything unexpected: psycopg's own way."""
    pipeline = getattr(pg, "_pipeline", None)
    if (pg.autocommit or pg.pgconn.transaction_status != TransactionStatus.IDLE or pipeline is None
            or pipeline.command_queue or pipeline.result_queue):
        return
    pg.pgconn.send_query_params(pg._get_tx_start_command(), None)
    pipeline.result_queue.append(None)
