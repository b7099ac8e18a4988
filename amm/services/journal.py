"""Order journal flush: `amm:journal` (Redis stream) -> AMMOrder rows, in batches.

The quoting hot path never writes the database: the Lua scripts that track, release and
fill orders append events (PLACED, FILL, CANCELLED, REPLACED) to the stream; the runtime
calls `order_journal_flush()` periodically (e.g. every few seconds). Idempotent: each row
remembers the last stream entry applied (`journal_id`), events are applied in stream
order, and entries are deleted from the stream only after the transaction commits — a
flush that dies between commit and delete repeats harmlessly. Concurrent flushes are
serialised by a PostgreSQL advisory lock.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass

from django.db import connection, transaction
from django.utils import timezone

from amm import state
from amm.conf import amm_settings
from amm.connector.order_status import PLATFORM_TO_AMM
from amm.enums import AMMOrderState as S
from amm.models import AMMOrder

log = logging.getLogger(__name__)

JOURNAL_LOCK_KEY = 72_020_001
LIVE = (S.ACTIVE.value, S.PARTIALLY_ACTIVE.value)
UPDATE_FIELDS = ["client_order_id", "market_id", "side", "direction", "book_type", "price_cents", "quantity",
                 "filled_quantity", "remaining", "state", "platform_status", "created_ms", "journal_id", "updated_at"]


@dataclass(frozen=True)
class JournalFlushResult:
    events: int  # read from the stream
    applied: int  # changed a row
    skipped: int  # already applied by an earlier flush
    created: int  # new AMMOrder rows


def _entry_key(entry_id: str) -> tuple[int, int]:
    if not entry_id:
        return (-1, -1)
    ms, _, seq = entry_id.partition("-")
    return int(ms), int(seq or 0)


def _settle(row: AMMOrder) -> None:
    """Move a live row to FILLED / PARTIALLY_ACTIVE as its fills say (quantity known)."""
    if row.state not in LIVE or row.quantity <= 0:
        return
    if row.filled_quantity >= row.quantity:
        row.fill()
    elif row.filled_quantity > 0 and row.state == S.ACTIVE.value:
        row.partially_fill()


def _apply(row: AMMOrder, event: dict[str, str]) -> None:
    kind = event.get("event")
    if kind == "PLACED":
        row.client_order_id = event.get("client_order_id", "") or row.client_order_id
        row.market_id = event["market_id"]
        row.side, row.direction, row.book_type = event["side"], event["direction"], event["book_type"]
        row.price_cents = int(event["price"])
        row.quantity = int(event["qty"])
        row.created_ms = int(event.get("created_ms") or 0)
        row.platform_status = event.get("status", "")
        row.remaining = max(0, row.quantity - row.filled_quantity)
        target = PLATFORM_TO_AMM.get(row.platform_status)
        if row.state in LIVE:
            if target == S.FILLED:
                row.fill()
            elif target == S.CANCELLED:
                row.cancel()  # e.g. an IOC remainder
            elif target == S.PARTIALLY_ACTIVE and row.state == S.ACTIVE.value:
                row.partially_fill()
            _settle(row)
    elif kind == "FILL":
        row.filled_quantity += int(event["qty"])
        if event.get("remaining"):
            row.remaining = int(event["remaining"])
        elif row.quantity:
            row.remaining = max(0, row.quantity - row.filled_quantity)
        _settle(row)
    elif kind in ("CANCELLED", "REPLACED"):
        row.remaining = int(event.get("remaining") or row.remaining)
        if row.state in LIVE:
            (row.cancel if kind == "CANCELLED" else row.replace)()
    else:
        log.warning("journal event of unknown kind %r ignored: %s", kind, event)


def _new_row(event: dict[str, str]) -> AMMOrder:
    """A row for an order first seen in this event (a FILL may precede its PLACED)."""
    return AMMOrder(
        order_id=event["order_id"], market_id=event.get("market_id", ""), side=event.get("side", ""),
        direction=event.get("direction", ""), book_type=event.get("book_type", ""),
        price_cents=int(event.get("price") or 0), state=S.ACTIVE.value,
    )


def order_journal_flush(*, batch: int | None = None, max_batches: int = 100) -> JournalFlushResult:
    """Flush journal events into AMMOrder (what the runtime calls periodically)."""
    batch = batch or amm_settings.AMM_JOURNAL_FLUSH_BATCH
    totals = [0, 0, 0, 0]
    for _ in range(max_batches):
        events = state.journal_read(batch)
        if not events:
            break
        applied, skipped, created = _flush(events)
        state.journal_ack(eid for eid, _ in events)
        for i, value in enumerate((len(events), applied, skipped, created)):
            totals[i] += value
        if len(events) < batch:
            break
    return JournalFlushResult(*totals)


def _flush(events: list[tuple[str, dict[str, str]]]) -> tuple[int, int, int]:
    applied = skipped = 0
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [JOURNAL_LOCK_KEY])
        ids = {fields["order_id"] for _, fields in events if "order_id" in fields}
        rows = {row.order_id: row for row in AMMOrder.objects.select_for_update().filter(order_id__in=ids)}
        new: dict[str, AMMOrder] = {}
        changed: dict[str, AMMOrder] = {}
        for entry_id, fields in events:
            order_id = fields.get("order_id")
            if not order_id:
                continue
            row = rows.get(order_id) or new.get(order_id)
            if row is None:
                row = new[order_id] = _new_row(fields)
            elif _entry_key(entry_id) <= _entry_key(row.journal_id):
                skipped += 1
                continue
            _apply(row, fields)
            row.journal_id = entry_id
            if order_id not in new:
                changed[order_id] = row
            applied += 1
        if new:
            AMMOrder.objects.bulk_create(new.values())
        if changed:
            now = timezone.now()
            for row in changed.values():
                row.updated_at = now
            _rows_update(changed.values())
    return applied, skipped, len(new)


def _rows_update(rows) -> None:
    """Write UPDATE_FIELDS of each row, by order_id: one statement executed for every row
    (psycopg pipelines executemany). Not bulk_update: its CASE WHEN per field and row cost
    milliseconds of CPU per event to build (bench/engine-style measure: 4.5 ms per event in
    a 1,000-event batch), more than everything else a flush does."""
    quote = connection.ops.quote_name
    fields = [AMMOrder._meta.get_field(name) for name in UPDATE_FIELDS]
    sql = (f"UPDATE {quote(AMMOrder._meta.db_table)} SET "
           + ", ".join(f"{quote(f.column)} = %s" for f in fields)
           + f" WHERE {quote(AMMOrder._meta.get_field('order_id').column)} = %s")
    params = [[f.get_db_prep_save(getattr(row, f.attname), connection) for f in fields] + [row.order_id]
              for row in rows]
    with connection.cursor() as cursor:
        cursor.executemany(sql, params)
