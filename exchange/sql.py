"""Raw SQL on the ORM's connection, for the engine and the hot reads of the API.

The ORM spends more CPU compiling a small query than PostgreSQL spends running it; the
engine's statements and the API's most frequent reads are plain SQL instead, each prepared
once per connection. Column lists come from the models, so a row maps onto `Model.from_db`
in field order.
"""
from __future__ import annotations

import psycopg
from django.db import connection
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


def cursor():
    """A cursor on the ORM's connection: same transaction, and the connection's execute
    wrappers (Django's query log) see its statements. EXCHANGE_PREPARED_STATEMENTS = False
    (behind a pooler that cannot keep prepared statements) runs them unprepared, as the ORM does."""
    if not exchange_settings.EXCHANGE_PREPARED_STATEMENTS:
        return connection.cursor()
    connection.ensure_connection()
    pg = connection.connection
    if pg.prepare_threshold is None:  # Django's default disables preparing altogether;
        pg.prepare_threshold = 2**31  # this lets an explicit prepare=True through, and nothing else
    raw = PreparedCursor(pg)
    if connection.timezone != pg.adapters.get_loader(_TIMESTAMPTZ_OID, psycopg.pq.Format.TEXT).timezone:
        register_tzloader(connection.timezone, raw)  # as Django's own cursors do
    return connection.make_debug_cursor(raw) if connection.queries_logged else connection.make_cursor(raw)


def select_together(statements: list[tuple[str, list | dict]]) -> list[list[tuple]]:
    """The rows of each statement. Several are sent at once and answered at once (psycopg
    pipeline mode): one round trip, while the server still runs them one after the other,
    each with its own snapshot (READ COMMITTED)."""
    if len(statements) == 1:
        with cursor() as cur:
            cur.execute(*statements[0])
            return [cur.fetchall()]
    cursors = []
    connection.ensure_connection()
    try:
        with connection.wrap_database_errors, connection.connection.pipeline():
            for sql, params in statements:
                cur = cursor()
                cursors.append(cur)
                cur.execute(sql, params)
        return [cur.fetchall() for cur in cursors]
    finally:
        for cur in cursors:
            cur.close()
