"""The quote cycle's Redis traffic: its one read and its one write (SPEC §4: "one pipeline").

- `quote_cycle_read`: the seed keys of one market (inventory, orders, state, config version,
  oracle, market metadata) in one MULTI/EXEC.
- `runtime_cycle_read`: the same six reads plus the runtime's own keys (amm/runtime), in the
  same transaction.
- `cycle_commit`: the end of a quoting cycle in one MULTI; `cycle_end`: of one that quoted
  nothing. Both count the cycle's latency in the metrics histogram on the way.
"""
from __future__ import annotations

from typing import Any, Iterable, Mapping

import redis

import amm.state.keys as K
from amm.clock import now_ms
from amm.exceptions import InvalidInput
from amm.state.codec import field_text, parse_fields, parse_int
from amm.state.connection import conn_or_default
from amm.state.metric_counters import cycle_latency_queue
from amm.state.packing import book_parse, book_text, fill_parse, trade_parse
from amm.state.strategy_codec import strategy_parse, strategy_text
from amm.state.runtime_flags import runtime_fields_text
from amm.state.values import CycleRead, QuoteCycleRead, inventory_from_hash, orders_from_hash

QUOTE_CYCLE_COMMANDS = 6  # commands _quote_cycle_queue puts on a pipeline


def _quote_cycle_queue(pipe, market_id: str) -> None:
    pipe.hgetall(K.inventory_key(market_id))
    pipe.hgetall(K.orders_key(market_id))
    pipe.hgetall(K.state_key(market_id))
    pipe.hget(K.config_key(market_id), K.CONFIG_VERSION_FIELD)
    pipe.hgetall(K.oracle_key(market_id))
    pipe.hgetall(K.market_key(market_id))


def _quote_cycle_parse(market_id: str, results: list) -> QuoteCycleRead:
    inventory, orders, state, version, oracle, market = results
    return QuoteCycleRead(
        market_id=market_id,
        inventory=inventory_from_hash(inventory),
        orders=orders_from_hash(orders),
        state=parse_fields(state, K.STATE_FIELDS),
        config_version=parse_int(version) if version is not None else None,
        oracle=parse_fields(oracle, K.ORACLE_FIELDS) if oracle else None,
        market=parse_fields(market, K.MARKET_FIELDS) if market else None,
    )


def quote_cycle_read(market_id: str, *, conn: redis.Redis | None = None) -> QuoteCycleRead:
    """Inventory, live orders, strategy state, config version, oracle and market metadata,
    read atomically in one round trip (SPEC §4: "one pipeline")."""
    pipe = conn_or_default(conn).pipeline(transaction=True)
    _quote_cycle_queue(pipe, market_id)
    return _quote_cycle_parse(market_id, pipe.execute())


def quote_cycle_read_many(market_ids: Iterable[str], *, conn: redis.Redis | None = None) -> dict[str, QuoteCycleRead]:
    """`quote_cycle_read` of many markets in one round trip (monitoring; each market's
    keys are read together, the markets one after the other)."""
    ids = list(market_ids)
    pipe = conn_or_default(conn).pipeline(transaction=False)
    for market_id in ids:
        _quote_cycle_queue(pipe, market_id)
    results = pipe.execute() if ids else []
    n = QUOTE_CYCLE_COMMANDS
    return {m: _quote_cycle_parse(m, results[n * i:n * i + n]) for i, m in enumerate(ids)}


def runtime_cycle_read(market_id: str, *, conn: redis.Redis | None = None) -> CycleRead:
    """The quote cycle's reads plus the kept StrategyState, the runtime flags, the fills
    waiting for this cycle (taken: deleted in the same transaction), the dead man's switch
    and the last book read: one MULTI/EXEC round trip."""
    pipe = conn_or_default(conn).pipeline(transaction=True)
    _quote_cycle_queue(pipe, market_id)
    pipe.get(K.strategy_key(market_id))
    pipe.hgetall(K.runtime_key(market_id))
    pipe.lrange(K.fills_key(market_id), 0, -1)
    pipe.delete(K.fills_key(market_id))
    pipe.hgetall(K.DEADMAN)
    pipe.get(K.book_key(market_id))
    pipe.get(K.push_book_key(market_id))
    pipe.get(K.PUSH_BOOK_ALIVE)
    pipe.zrange(K.tape_key(market_id), 0, -1)
    pipe.get(K.EVENTS_ALIVE)
    results = pipe.execute()
    strategy, runtime, fills, _, deadman, book, pushed, alive, tape, events_alive = results[QUOTE_CYCLE_COMMANDS:]
    return CycleRead(
        quote=_quote_cycle_parse(market_id, results[:QUOTE_CYCLE_COMMANDS]),
        strategy=strategy_parse(strategy, market_id),
        runtime=parse_fields(runtime, K.RUNTIME_FIELDS),
        fills=[fill_parse(f) for f in fills],
        deadman=parse_fields(deadman, K.DEADMAN_FIELDS),
        book=book_parse(book),
        push_book=pushed,
        push_alive=alive,
        tape=[trade_parse(t) for t in reversed(tape)],  # newest first
        events_alive=int(events_alive) if events_alive else None,
    )


def cycle_commit(
    market_id: str,
    *,
    state_fields: Mapping[str, Any] | None = None,
    strategy: Mapping[str, Any] | None = None,
    runtime: Mapping[str, Any] | None = None,
    book: Mapping[str, Any] | None = None,
    drop_book: bool = False,
    now: int | None = None,
    latency_s: float | None = None,
    outcome: str = "",
    conn: redis.Redis | None = None,
) -> None:
    """The end of a quote cycle in one round trip: `amm:state` fields, the StrategyState
    blob, runtime fields (cycles counted), the book it read (when it read one; `drop_book`:
    it read the pushed book, so the kept REST book is older than what it saw), the tape's
    trades up to the runtime's `tape_id` (seen) removed, the run's last-cycle heartbeat and,
    given `latency_s`, the cycle's latency counted in the `outcome`'s histogram (the metrics
    scrape reads it; in the same MULTI, no round trip more)."""
    now = now_ms() if now is None else now
    unknown = set(state_fields or {}) - set(K.STATE_FIELDS)
    if unknown:
        raise InvalidInput(f"not fields of amm:state: {sorted(unknown)}")
    pipe = conn_or_default(conn).pipeline(transaction=True)
    if state_fields:
        # Decision.state_fields() hands over text already; anything else is checked by its type
        pipe.hset(K.state_key(market_id), mapping={n: v if isinstance(v, str) else field_text(n, v, K.STATE_FIELDS)
                                                   for n, v in state_fields.items()})
    if strategy is not None:
        pipe.set(K.strategy_key(market_id), strategy_text(strategy, market_id))
    if book is not None:
        pipe.set(K.book_key(market_id), book_text(book))
    elif drop_book:
        pipe.delete(K.book_key(market_id))
    fields = {"last_cycle_ms": now, **(runtime or {})}
    if fields.get("tape_id") not in (None, ""):
        pipe.zremrangebyscore(K.tape_key(market_id), "-inf", int(fields["tape_id"]))
    pipe.hset(K.runtime_key(market_id), mapping=runtime_fields_text(fields))
    pipe.hincrby(K.runtime_key(market_id), "cycles", 1)
    pipe.hset(K.RUN, "last_cycle_ms", str(int(now)))
    if latency_s is not None:
        cycle_latency_queue(pipe, outcome, latency_s)
    pipe.execute()


def cycle_end(*, now: int, outcome: str, latency_s: float | None = None, conn: redis.Redis | None = None) -> None:
    """The end of a cycle that committed no quotes (idle, emergency, rate-limited...): the
    run's last-cycle heartbeat and, given `latency_s`, its latency in the `outcome`'s
    histogram, in one round trip."""
    pipe = conn_or_default(conn).pipeline(transaction=False)
    pipe.hset(K.RUN, "last_cycle_ms", str(int(now)))
    if latency_s is not None:
        cycle_latency_queue(pipe, outcome, latency_s)
    pipe.execute()
