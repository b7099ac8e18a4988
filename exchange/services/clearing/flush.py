"""Writing one operation (SPEC §3.2, §3.6): the trades first, under the trade-feed lock (the
ledger refers to their ids), then every other change in one statement, with many rows to a
statement."""
from __future__ import annotations

import itertools
import json

from exchange.enums import FEE_USER_ID, LedgerEntryType as E, ReferenceType as R
from exchange.events.bodies import market_body, order_body, trade_body
from exchange.events.outbox import MARKET_EVENTS, ORDER_EVENTS, TRADE_EVENTS, book_change, outbox_insert
from exchange.models import Position, Trade
from exchange.services.clearing.reads import _ORDER_COLUMNS
from exchange.services.clearing.state import (
    _POSITION_VALUES,
    _ZERO_POSITION,
    ClearingState,
    _market_values,
    _position_values,
    _Ref,
)
from exchange.services.trade_feed import trades_announce_on_commit
from exchange.sql import columns as _columns
from exchange.sql import cursor as _cursor
from exchange.sql import execute_and_commit

# Held from the first trade insert to commit, so trade ids become visible in id order and
# `GET /trades?since=` never skips a trade committed late with a smaller id (SPEC §3.6).
TRADE_FEED_LOCK_KEY = 72_010_001

_TRADE_INSERT_COLUMNS = [c for c in _columns(Trade) if c != "id"]
_LEDGER_COLUMNS = ["user_id", "market_id", "entry_type", "amount", "balance_after", "reference_type",
                   "reference_id", "created_at"]


class Flush(ClearingState):
    """Runs last: writes what the other concerns changed in memory."""

    def flush(self, *, commit: bool = False) -> None:
        """Write every change of this operation (the caller's transaction commits it): the
        trades first (the ledger refers to their ids), then every other change in one
        statement, its events for the push feeds (the outbox) included. `commit`: the caller
        does nothing with the database after this, so the transaction's COMMIT may travel with
        that statement (exchange.sql.execute_and_commit: only where the caller's block is the
        outermost)."""
        if self.trades:
            self._insert_trades()
        _write_together([
            self._orders_insert(),
            self._orders_update(),
            self._positions_insert(),
            self._positions_update(),
            self._accounts_update(),
            self._ledger_insert(),
            *self._fee_credit(),
            self._market_update(),
            self._outbox_insert(),
        ], commit=commit)

    def _insert_trades(self) -> None:
        """Trade ids must become visible in id order (the gap-free `GET /trades?since=` cursor,
        SPEC §3.6), so the trade-feed lock is taken right before the ids are drawn and held to
        commit; everything is computed by then, so the section it serializes is short."""
        with _cursor() as cursor:
            cursor.execute(_INSERT_TRADES_SQL, [TRADE_FEED_LOCK_KEY, _as_json(
                _TRADE_INSERT_COLUMNS, [[getattr(t, c) for c in _TRADE_INSERT_COLUMNS] for t in self.trades])])
            for trade, (trade_id,) in zip(self.trades, cursor.fetchall(), strict=True):
                trade.id = trade_id
        trades_announce_on_commit(u for t in self.trades for u in (t.buy_user_id, t.sell_user_id))

    def _orders_insert(self):
        return _insert_rows("orders", _ORDER_COLUMNS, [
            [getattr(o, c) for c in _ORDER_COLUMNS] for oid, o in self.orders.items() if oid in self._new_order_ids])

    def _orders_update(self):
        return _update_rows("orders", "uuid", ["id", "status", "filled_quantity", "frozen_amount", "updated_at"], [
            [o.id, o.status, o.filled_quantity, o.frozen_amount, self.now]
            for oid, o in self.orders.items() if oid not in self._new_order_ids])

    def _changed_positions(self, *, new: bool) -> list[Position]:
        """Positions whose values moved in this operation (stored ones, or `new` ones never stored)."""
        return [p for uid, p in self.positions.items()
                if (self._positions_read[uid] is None) == new
                and _position_values(p) != (self._positions_read[uid] or _ZERO_POSITION)]

    def _positions_insert(self):
        return _insert_rows("positions", ["user_id", "market_id", *_POSITION_VALUES], [
            [p.user_id, self.market.id, *_position_values(p)] for p in self._changed_positions(new=True)])

    def _positions_update(self):
        return _update_rows("positions", "bigint", ["id", *_POSITION_VALUES], [
            [p.pk, *_position_values(p)] for p in self._changed_positions(new=False)])

    def _accounts_update(self):
        dirty = [self.accounts[uid] for uid in sorted(self._dirty_accounts)]
        for account in dirty:
            account.version += 1
        return _update_rows("accounts", "varchar", ["user_id", "available_balance", "frozen_balance", "version"], [
            [a.user_id, a.available_balance, a.frozen_balance, a.version] for a in dirty])

    def _ledger_insert(self):
        return _insert_rows("ledger_entries", _LEDGER_COLUMNS, [
            [user_id, self.market.id, entry_type, amount, balance_after, ref_type,
             str(ref_id.trade.id) if isinstance(ref_id, _Ref) else ref_id, self.now]
            for user_id, entry_type, amount, balance_after, ref_type, ref_id in self._ledger])

    def _fee_credit(self) -> list[tuple]:
        """The fees of this operation's trades, credited to the fee account (with its ledger
        lines) only here. Every trade pays fees: locking that one row with the other accounts
        held it for a whole operation and serialized trading in all markets. Here the trades
        are inserted already, so the trade-feed lock is held: it serializes this tail anyway,
        no one waits for the row, and whoever holds the row waits for nothing but its commit."""
        if not self._fees:
            return []
        amounts = [amount for amount, _ in self._fees]
        total = sum(amounts)
        rows = [[FEE_USER_ID, self.market.id, E.FEE, amount, after, R.TRADE, str(ref.trade.id), self.now]
                for (amount, ref), after in zip(self._fees, itertools.accumulate(amounts))]
        credit = ("UPDATE accounts SET available_balance = available_balance + %s, version = version + 1 "
                  "WHERE user_id = %s RETURNING available_balance - %s AS balance_before", [total, FEE_USER_ID, total],
                  "fee_account")
        # balance_after arrives as the running total of this operation's fees; the balance it
        # starts from is the row's (NULL, so refused by NOT NULL, if the fee account is missing).
        columns = ", ".join(_LEDGER_COLUMNS)
        values = ", ".join("(SELECT balance_before FROM fee_account) + v.balance_after" if c == "balance_after"
                           else f"v.{c}" for c in _LEDGER_COLUMNS)
        lines = (f"INSERT INTO ledger_entries ({columns}) SELECT {values} FROM {_JSON_ROWS.format(table='ledger_entries')}",
                 [_as_json(_LEDGER_COLUMNS, rows), len(rows)])
        return [credit, lines]

    def _market_update(self):
        if not self._market_dirty:
            return None
        m = self.market
        m.updated_at = self.now
        return ("UPDATE markets SET sequence_id = %s, reserve_balance = %s, total_yes_shares = %s, "
                "total_no_shares = %s, updated_at = %s WHERE id = %s",
                [m.sequence_id, m.reserve_balance, m.total_yes_shares, m.total_no_shares, m.updated_at, m.id])

    def _outbox_insert(self):
        """This operation's events (docs/push.md), written with its changes: each trade, each
        order changed (as it is now), the market when its status, reserve or share totals
        moved, and one book delta when the book's sequence moved."""
        m = self.market
        events = [(TRADE_EVENTS, m.id, m.sequence_id, trade_body(t)) for t in self.trades]
        events += [(ORDER_EVENTS, m.id, m.sequence_id, order_body(o)) for o in self.orders.values()]
        if _market_values(m) != self._market_read:
            events.append((MARKET_EVENTS, m.id, 0, market_body(m)))
        book = book_change(m.id, self._market_read_sequence, m.sequence_id,
                           ((o, oid in self._new_order_ids) for oid, o in self.orders.items()))
        return outbox_insert(events, book)


# Many rows travel as ONE json parameter, expanded by json_populate_recordset into the
# table's own row type: quoting one parameter per value (client-side binding) cost more than
# running the statement, and the statement text stays the same (psycopg caches its parsing).

# LIMIT tells the planner how many rows come (it assumes 100 for a function), so an UPDATE
# looks its rows up by index instead of hashing the whole table.
_JSON_ROWS = "(SELECT * FROM json_populate_recordset(NULL::{table}, %s) LIMIT %s) AS v"


def _as_json(columns: list[str], rows: list[list]) -> str:
    return json.dumps([dict(zip(columns, row)) for row in rows], default=str)  # default: uuid, datetime


# The trade-feed lock is taken inside the INSERT, in one round trip: ids are drawn for the
# rows the join yields, and it yields none before the lock is granted. Rows go in (and ids
# come back) in list order.
_INSERT_TRADES_SQL = (
    f'INSERT INTO "trades" ({", ".join(_TRADE_INSERT_COLUMNS)}) '
    f'SELECT {", ".join("v." + c for c in _TRADE_INSERT_COLUMNS)} '
    "FROM (SELECT pg_advisory_xact_lock(%s)) AS feed_lock, json_populate_recordset(NULL::trades, %s) AS v "
    "RETURNING id"
)


def _insert_rows(table: str, columns: list[str], rows: list[list]):
    """INSERT of many rows at once; None when there is nothing to insert."""
    if not rows:
        return None
    names = ", ".join(columns)
    return (f"INSERT INTO {table} ({names}) SELECT {names} FROM {_JSON_ROWS.format(table=table)}",
            [_as_json(columns, rows), len(rows)])


def _update_rows(table: str, key_type: str, columns: list[str], rows: list[list]):
    """UPDATE of many rows at once, matched on the first column (of SQL type `key_type`);
    None when there is nothing. The keys also come as an array, so that the rows are found
    by index even in a plan made for any number of them (a prepared statement's)."""
    if not rows:
        return None
    key, *values = columns
    assignments = ", ".join(f"{name} = v.{name}" for name in values)
    return (f"UPDATE {table} AS t SET {assignments} FROM {_JSON_ROWS.format(table=table)} "
            f"WHERE t.{key} = v.{key} AND t.{key} = ANY(%s::{key_type}[])",
            [_as_json(columns, rows), len(rows), [row[0] for row in rows]])


def _write_together(statements: list[tuple | None], *, commit: bool = False) -> None:
    """Run INSERT/UPDATE statements as one (data-modifying CTEs): one round trip and one parse
    for all. Each touches rows no other one touches, as the CTEs require; they see each other
    only through RETURNING, by the name given as a statement's third element."""
    statements = [s for s in statements if s]
    if not statements:
        return
    *first, last = statements
    sql = "".join(f"{'WITH' if i == 0 else ','} {part[2] if len(part) > 2 else f'w{i}'} AS ({part[0]}) "
                  for i, part in enumerate(first)) + last[0]
    params = [value for part in statements for value in part[1]]
    if commit:
        execute_and_commit(sql, params)
        return
    with _cursor() as cursor:
        cursor.execute(sql, params)
