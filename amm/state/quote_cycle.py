"""The quote cycle's Redis traffic: its one read and its one write (SPEC §4: "one pipeline").

- `quote_cycle_read`: the seed keys of one market (inventory, orders, state, config version,
  oracle, market metadata) and the account's cash (`amm:cash`) in one MULTI/EXEC.
- `runtime_cycle_read`: the same seven reads plus the runtime's own keys (amm/runtime), in the
  same transaction.
- `cycle_commit`: the end of a quoting cycle in one script; `cycle_end`: of one that quoted
  nothing. Both count the cycle's latency in the metrics histogram on the way.
- `cycle_begin` / `cycle_close`: the runtime's cycle in two round trips (issue 15): the job run
  started, the lease taken and the read in one script; the commit (or the heartbeat), the
  lease released and the job run finished in another.
"""
from __future__ import annotations

from typing import Any, Iterable, Mapping, NamedTuple

import redis

import amm.state.keys as K
from amm.clock import now_ms
from amm.exceptions import InvalidInput
from amm.state.codec import field_text, parse_fields, parse_int
from amm.state.connection import conn_or_default
from amm.state.lua import script
from amm.state.metric_counters import cycle_latency_counts
from amm.state.packing import book_parse, book_text, fill_parse, trade_parse
from amm.state.strategy_codec import strategy_text
from amm.state.runtime_flags import runtime_fields_text
from amm.state.values import CycleRead, QuoteCycleRead, inventory_from_hash, orders_from_hash

QUOTE_CYCLE_COMMANDS = 7  # commands _quote_cycle_queue puts on a pipeline


def _quote_cycle_queue(pipe, market_id: str) -> None:
    pipe.hgetall(K.inventory_key(market_id))
    pipe.hgetall(K.orders_key(market_id))
    pipe.hgetall(K.state_key(market_id))
    pipe.hget(K.config_key(market_id), K.CONFIG_VERSION_FIELD)
    pipe.hgetall(K.oracle_key(market_id))
    pipe.hgetall(K.market_key(market_id))
    pipe.get(K.CASH)  # the account's cash: the inventory's cash_cents


def _quote_cycle_parse(market_id: str, results: list) -> QuoteCycleRead:
    inventory, orders, state, version, oracle, market, cash = results
    return QuoteCycleRead(
        market_id=market_id,
        inventory=inventory_from_hash(inventory, cash),
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


# The runtime's own reads of a cycle, after the seven of _quote_cycle_queue, in this order
# (runtime_cycle_read's pipeline and the CYCLE_BEGIN script alike; the tape a sorted set).
def _runtime_read_keys(market_id: str) -> list[str]:
    return [K.strategy_key(market_id), K.runtime_key(market_id), K.fills_key(market_id), K.DEADMAN,
            K.book_key(market_id), K.push_book_key(market_id), K.PUSH_BOOK_ALIVE, K.tape_key(market_id),
            K.EVENTS_ALIVE]


def _cycle_read_parse(market_id: str, quote: list, rest: list) -> CycleRead:
    """A CycleRead from the seven seed reads (`quote`) and the runtime's (`rest`, in
    _runtime_read_keys' order; the fills as a list, the tape oldest first)."""
    strategy, runtime, fills, deadman, book, pushed, alive, tape, events_alive = rest
    return CycleRead(
        quote=_quote_cycle_parse(market_id, quote),
        strategy_blob=strategy,
        runtime=parse_fields(runtime, K.RUNTIME_FIELDS),
        fills=[fill_parse(f) for f in fills],
        deadman=parse_fields(deadman, K.DEADMAN_FIELDS),
        book=book_parse(book),
        push_book=pushed,
        push_alive=alive,
        tape=[trade_parse(t) for t in reversed(tape)],  # newest first
        events_alive=int(events_alive) if events_alive else None,
    )


def runtime_cycle_read(market_id: str, *, conn: redis.Redis | None = None) -> CycleRead:
    """The quote cycle's reads plus the kept StrategyState, the runtime flags, the fills
    waiting for this cycle (taken: deleted in the same transaction), the dead man's switch
    and the last book read: one MULTI/EXEC round trip."""
    pipe = conn_or_default(conn).pipeline(transaction=True)
    _quote_cycle_queue(pipe, market_id)
    strategy, runtime, fills, deadman, book, pushed, alive, tape, events_alive = _runtime_read_keys(market_id)
    pipe.get(strategy)
    pipe.hgetall(runtime)
    pipe.lrange(fills, 0, -1)
    pipe.delete(fills)
    pipe.hgetall(deadman)
    pipe.get(book)
    pipe.get(pushed)
    pipe.get(alive)
    pipe.zrange(tape, 0, -1)
    pipe.get(events_alive)
    results = pipe.execute()
    rest = results[QUOTE_CYCLE_COMMANDS:]
    del rest[3]  # the fills' DEL
    return _cycle_read_parse(market_id, results[:QUOTE_CYCLE_COMMANDS], rest)


class CycleBegin(NamedTuple):
    again: str | None  # the job's rerun request this run serves (its reason), None without one
    fencing_token: int | None  # the lease was taken with this token; None: another holder has it
    read: CycleRead | None  # the cycle's read, when the lease was taken


class CycleClose(NamedTuple):
    again: str | None  # the job's rerun request that came meanwhile (its reason): run again
    queue_head: str | None  # the job id at the head of the queue peeked at, if any


def _pairs(flat: list) -> dict[str, str]:
    """A hash as a script returns it (field, value, field, value...) as a dict."""
    return dict(zip(flat[::2], flat[1::2]))


def cycle_begin(market_id: str, *, lease: str, token: str, ttl_ms: int, job: str | None = None,
                job_ttl_ms: int | None = None, conn: redis.Redis | None = None) -> CycleBegin:
    """A quote cycle's start in one round trip (lua.CYCLE_BEGIN): its job run starts (as
    job_started: `job`'s rerun request taken, its marker's TTL set to `job_ttl_ms`), the lease
    `lease` is taken for `token` when free and, only then, the market is read as
    runtime_cycle_read reads it."""
    seed = [K.inventory_key(market_id), K.orders_key(market_id), K.state_key(market_id), K.config_key(market_id),
            K.oracle_key(market_id), K.market_key(market_id)]
    keys = [K.job_key(job or ""), K.rerun_key(job or ""), K.lease_key(lease), K.FENCE, *seed,
            *_runtime_read_keys(market_id), K.legacy_fence_key(lease), K.CASH]
    got = script(conn_or_default(conn), "cycle_begin")(
        keys=keys, args=["" if job is None else int(job_ttl_ms), token, int(ttl_ms), K.CONFIG_VERSION_FIELD])
    again, fence = got[0], got[1]
    if fence is None:
        return CycleBegin(again, None, None)
    inventory, orders, state, version, oracle, market, strategy, runtime, fills, deadman, *rest = got[2:]
    # the script brought the inventory's cash_cents to amm:cash before reading it
    quote = [_pairs(inventory), _pairs(orders), _pairs(state), version, _pairs(oracle), _pairs(market), None]
    read = _cycle_read_parse(market_id, quote, [strategy, _pairs(runtime), fills, _pairs(deadman), *rest])
    return CycleBegin(again, int(fence), read)


def cycle_close(
    market_id: str,
    *,
    now: int,
    outcome: str = "",
    latency_s: float | None = None,
    commit: bool = False,
    state_fields: Mapping[str, Any] | None = None,
    strategy: Mapping[str, Any] | None = None,
    strategy_blob: str | None = None,
    runtime: Mapping[str, Any] | None = None,
    book: Mapping[str, Any] | None = None,
    drop_book: bool = False,
    heartbeat_ms: int | None = None,
    lease: str | None = None,
    token: str | None = None,
    job: str | None = None,
    job_ttl_ms: int | None = None,
    queue: str | None = None,
    conn: redis.Redis | None = None,
) -> CycleClose:
    """A quote cycle's end in one round trip (lua.CYCLE_CLOSE). With `commit`: `amm:state`
    fields, the StrategyState blob (unless None; `strategy_blob`: its text encoded already), the runtime fields (cycles counted), the
    book it read (unless None; `drop_book`: it read the pushed book, so the kept REST book is
    older than what it saw), the tape's trades up to the runtime's `tape_id` (seen) removed.
    Always: the run's last-cycle heartbeat (`heartbeat_ms`, else `now`) and, given
    `latency_s`, the cycle's latency counted in the `outcome`'s histogram. Then the lease
    `lease` released while `token` holds it, the run of job `job` finished (`again`: the
    reason of a rerun requested meanwhile, the marker kept: run again) and, given the key of
    a job queue in this Redis, its head peeked at (`queue_head`)."""
    unknown = set(state_fields or {}) - set(K.STATE_FIELDS)
    if unknown:
        raise InvalidInput(f"not fields of amm:state: {sorted(unknown)}")
    bucket, total, micros = ("", "", "") if latency_s is None else cycle_latency_counts(outcome, latency_s)
    args: list[Any] = [str(int(now if heartbeat_ms is None else heartbeat_ms)), bucket, total, micros, token if lease and token else "",
                       "" if job is None else int(job_ttl_ms), "1" if commit else "0",
                       _strategy_written(strategy, strategy_blob, market_id) if commit else "",
                       book_text(book) if commit and book is not None else "",
                       "1" if queue else "0", "1" if commit and drop_book else "0",
                       _tape_seen(runtime) if commit else ""]
    if commit:
        # Decision.state_fields() hands over text already; anything else is checked by its type
        fields = {n: v if isinstance(v, str) else field_text(n, v, K.STATE_FIELDS)
                  for n, v in (state_fields or {}).items()}
        args.append(len(fields))
        args += [x for pair in fields.items() for x in pair]
        args += [x for pair in runtime_fields_text({"last_cycle_ms": now, **(runtime or {})}).items() for x in pair]
    else:
        args.append(0)
    keys = [K.RUN, K.METRICS_CYCLE_LATENCY, K.lease_key(lease or ""), K.job_key(job or ""), K.rerun_key(job or ""),
            K.state_key(market_id), K.strategy_key(market_id), K.book_key(market_id), K.runtime_key(market_id),
            queue or K.RUN, K.tape_key(market_id)]
    again, head = script(conn_or_default(conn), "cycle_close")(keys=keys, args=args)
    return CycleClose(again, head)


def _strategy_written(strategy: Mapping[str, Any] | None, blob: str | None, market_id: str) -> str:
    """The StrategyState text a commit writes: `blob` as encoded already (strategy_text), or
    `strategy` encoded; '' for neither (not written)."""
    if blob is not None:
        return blob
    return strategy_text(strategy, market_id) if strategy is not None else ""


def _tape_seen(runtime: Mapping[str, Any] | None) -> str:
    """The tape's last trade id the cycle handed to the strategy (its trades up to it are
    removed at the commit), or ''."""
    tape_id = (runtime or {}).get("tape_id")
    return "" if tape_id in (None, "") else str(int(tape_id))


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
    scrape reads it; in the same script, no round trip more)."""
    cycle_close(market_id, now=now_ms() if now is None else now, outcome=outcome, latency_s=latency_s, commit=True,
                state_fields=state_fields, strategy=strategy, runtime=runtime, book=book, drop_book=drop_book,
                conn=conn)


def cycle_end(*, now: int, outcome: str, latency_s: float | None = None, conn: redis.Redis | None = None) -> None:
    """The end of a cycle that committed no quotes (idle, emergency, rate-limited...): the
    run's last-cycle heartbeat and, given `latency_s`, its latency in the `outcome`'s
    histogram, in one round trip."""
    cycle_close("", now=now, outcome=outcome, latency_s=latency_s, conn=conn)
