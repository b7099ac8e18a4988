"""The AMM's Redis working state (SPEC §4): every read and write of an `amm:*` key.

Hot path: `quote_cycle_read` (one round trip), `fill_apply`, `order_track`,
`orders_untrack`, `privileged_apply` (one atomic Lua script each). Everything else is
setup, monitoring or recovery.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping

import redis

from amm.clock import now_ms  # noqa: F401 - the package face's clock (state.now_ms)
from amm.conf import amm_settings
from amm.exceptions import InvalidInput
from amm.state import keys as K
from amm.state.lua import script


def _conn(conn: redis.Redis | None) -> redis.Redis:
    if conn is not None:
        return conn
    from ammproject.redis import get_redis

    return get_redis()


def _journal_maxlen() -> int:
    return amm_settings.AMM_JOURNAL_MAXLEN


def _int(value: Any, default: int = 0) -> int:
    if value is None or value == "":
        return default
    return int(float(value)) if isinstance(value, str) and ("." in value or "e" in value) else int(value)


# --- value types ---------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class OrderEntry:
    """One value of `amm:orders:{m}`: JSON {side, direction, price, qty, remaining, book_type, created_ms}."""

    order_id: str
    side: str
    direction: str
    price: int  # own-side price in cents
    qty: int
    remaining: int
    book_type: str
    created_ms: int

    def to_json(self) -> str:
        return json.dumps(
            {"side": self.side, "direction": self.direction, "price": self.price, "qty": self.qty,
             "remaining": self.remaining, "book_type": self.book_type, "created_ms": self.created_ms},
            separators=(",", ":"),
        )

    @classmethod
    def from_json(cls, order_id: str, raw: str | Mapping[str, Any]) -> "OrderEntry":
        data = json.loads(raw) if isinstance(raw, (str, bytes)) else raw
        return cls(
            order_id=order_id,
            side=str(data["side"]),
            direction=str(data["direction"]),
            price=int(data["price"]),
            qty=int(data["qty"]),
            remaining=int(data["remaining"]),
            book_type=str(data["book_type"]),
            created_ms=int(data.get("created_ms") or 0),
        )


@dataclass(frozen=True, slots=True)
class InventoryView:
    """`amm:inventory:{m}` as ints; `exists` is False when the market was never synced."""

    yes_volume: int = 0
    no_volume: int = 0
    yes_available: int = 0
    no_available: int = 0
    yes_cost_sum_cents: int = 0
    no_cost_sum_cents: int = 0
    cash_cents: int = 0
    updated_at_ms: int = 0
    exists: bool = False

    @classmethod
    def from_hash(cls, raw: Mapping[str, str]) -> "InventoryView":
        if not raw:
            return cls()
        return cls(**{name: _int(raw.get(name)) for name in K.INVENTORY_FIELDS}, exists=True)

    def as_dict(self) -> dict[str, int]:
        return {name: getattr(self, name) for name in K.INVENTORY_FIELDS}


@dataclass(frozen=True, slots=True)
class FillLeg:
    """The AMM's side of one trade, as the fill script applies it (seed §4.1)."""

    order_id: str
    side: str  # YES / NO (own side)
    direction: str  # BUY / SELL
    own_price: int  # own-side price of the fill (YES-view price, or 100 − it for NO)
    quantity: int
    fee: int  # the fee this leg paid (maker_fee when its order was the maker, else taker_fee)
    book_type: str


@dataclass(frozen=True, slots=True)
class QuoteCycleRead:
    """Everything one quote cycle reads from Redis, from one MULTI/EXEC round trip."""

    market_id: str
    inventory: InventoryView
    orders: dict[str, OrderEntry]
    state: dict[str, Any]
    config_version: int | None
    oracle: dict[str, Any] | None
    market: dict[str, Any] | None = None
    read_at_ms: int = field(default_factory=now_ms)


def _typed(raw: Mapping[str, str], types: Mapping[str, type]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, value in raw.items():
        kind = types.get(name)
        if kind is None or value is None or value == "":
            out[name] = value
        elif kind is int:
            out[name] = _int(value)
        elif kind is float:
            out[name] = float(value)
        else:
            out[name] = value
    return out


def _orders(raw: Mapping[str, str]) -> dict[str, OrderEntry]:
    return {oid: OrderEntry.from_json(oid, value) for oid, value in raw.items()}


# --- the quote cycle's read ----------------------------------------------------------------
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
        inventory=InventoryView.from_hash(inventory),
        orders=_orders(orders),
        state=_typed(state, K.STATE_FIELDS),
        config_version=_int(version) if version is not None else None,
        oracle=_typed(oracle, K.ORACLE_FIELDS) if oracle else None,
        market=_typed(market, K.MARKET_FIELDS) if market else None,
    )


def quote_cycle_read_many(market_ids: Iterable[str], *, conn: redis.Redis | None = None) -> dict[str, QuoteCycleRead]:
    """`quote_cycle_read` of many markets in one round trip (monitoring; each market's
    keys are read together, the markets one after the other)."""
    ids = list(market_ids)
    pipe = _conn(conn).pipeline(transaction=False)
    for market_id in ids:
        _quote_cycle_queue(pipe, market_id)
    results = pipe.execute() if ids else []
    return {m: _quote_cycle_parse(m, results[6 * i:6 * i + 6]) for i, m in enumerate(ids)}


def quote_cycle_read(market_id: str, *, conn: redis.Redis | None = None) -> QuoteCycleRead:
    """Inventory, live orders, strategy state, config version, oracle and market metadata,
    read atomically in one round trip (SPEC §4: "one pipeline")."""
    pipe = _conn(conn).pipeline(transaction=True)
    _quote_cycle_queue(pipe, market_id)
    return _quote_cycle_parse(market_id, pipe.execute())


# --- plain reads -------------------------------------------------------------------------------
def inventory_get(market_id: str, *, conn: redis.Redis | None = None) -> InventoryView:
    return InventoryView.from_hash(_conn(conn).hgetall(K.inventory_key(market_id)))


def orders_get(market_id: str, *, conn: redis.Redis | None = None) -> dict[str, OrderEntry]:
    return _orders(_conn(conn).hgetall(K.orders_key(market_id)))


def state_get(market_id: str, *, conn: redis.Redis | None = None) -> dict[str, Any]:
    return _typed(_conn(conn).hgetall(K.state_key(market_id)), K.STATE_FIELDS)


def market_meta_get(market_id: str, *, conn: redis.Redis | None = None) -> dict[str, Any] | None:
    raw = _conn(conn).hgetall(K.market_key(market_id))
    return _typed(raw, K.MARKET_FIELDS) if raw else None


def markets_kept(*, conn: redis.Redis | None = None) -> set[str]:
    """Markets whose inventory this AMM keeps in Redis (`amm:markets`)."""
    return set(_conn(conn).smembers(K.MARKETS))


def processed_trim(market_id: str, *, now: int, keep_trades: int = K.PROCESSED_KEEP_TRADES,
                   keep_ms: int = K.PROCESSED_TTL_S * 1000, batch: int = 1000,
                   conn: redis.Redis | None = None) -> int:
    """Drop what `amm:processed:{m}` no longer needs to remember, so an active market's set
    stays bounded (every fill refreshes the key's 24 h TTL, so it never expires whole):
    trade ids more than `keep_trades` below the durable cursor (the feed never delivers
    them again; a rewound cursor finds the newest ones still there) and mint/burn request
    ids older than `keep_ms` (their id carries the time they were sent). Incremental (SSCAN),
    never one long blocking command. Returns how many members were removed."""
    c = _conn(conn)
    key = K.processed_key(market_id)
    below = trade_cursor_get(conn=c) - keep_trades
    oldest_ms = now - keep_ms
    removed = 0
    stale: list[str] = []
    for member in c.sscan_iter(key, count=batch):
        if member.isdigit():
            if int(member) <= below:
                stale.append(member)
        elif member.startswith(("mint:", "burn:")):
            parts = member.rsplit("_", 2)  # ..._{timestamp_ms}_{seq}; a wind-down burn id has no time
            if len(parts) == 3 and parts[1].isdigit() and len(parts[1]) >= 12 and int(parts[1]) < oldest_ms:
                stale.append(member)
        if len(stale) >= batch:
            removed += c.srem(key, *stale)
            stale = []
    if stale:
        removed += c.srem(key, *stale)
    return removed


def processed_contains(market_id: str, member: str | int, *, conn: redis.Redis | None = None) -> bool:
    return bool(_conn(conn).sismember(K.processed_key(market_id), str(member)))


def untracked_fills_get(market_id: str, *, conn: redis.Redis | None = None) -> dict[str, int]:
    return {oid: int(v) for oid, v in _conn(conn).hgetall(K.untracked_key(market_id)).items()}


def untracked_fills_prune(market_id: str, *, keep: Iterable[str], conn: redis.Redis | None = None) -> int:
    """Forget untracked fills of orders that can no longer be tracked (not open on the platform)."""
    client = _conn(conn)
    keep = set(keep)
    stale = [oid for oid in client.hkeys(K.untracked_key(market_id)) if oid not in keep]
    return client.hdel(K.untracked_key(market_id), *stale) if stale else 0


def cash_view(market_id: str, *, conn: redis.Redis | None = None) -> tuple[int | None, int]:
    """(this market's cash_cents or None, cash held by tracked BUY orders of every kept market)."""
    cash, held = script(_conn(conn), "cash_view")(keys=[K.MARKETS, K.inventory_key(market_id)])
    cash = int(cash)
    return (None if cash == -1 else cash), int(held)


# --- strategy state, oracle, config ---------------------------------------------------------------
def _text(name: str, value: Any, types: Mapping[str, type]) -> str:
    kind = types[name]
    value = getattr(value, "value", value)
    if kind is int:
        if isinstance(value, bool) or int(value) != value:
            raise InvalidInput(f"{name} must be an integer, got {value!r}")
        return str(int(value))
    if kind is float:
        return repr(float(value))
    return str(value)


def state_update(market_id: str, *, conn: redis.Redis | None = None, **fields: Any) -> None:
    """HSET the given `amm:state:{m}` fields; names and types are those of seed §4.3 only."""
    unknown = set(fields) - set(K.STATE_FIELDS)
    if unknown:
        raise InvalidInput(f"not fields of amm:state: {sorted(unknown)}")
    if fields:
        _conn(conn).hset(K.state_key(market_id), mapping={n: _text(n, v, K.STATE_FIELDS) for n, v in fields.items()})


def state_increment(market_id: str, *, conn: redis.Redis | None = None, **deltas: int) -> None:
    """HINCRBY integer state counters (daily_pnl_cents, total_fills_today)."""
    bad = [n for n in deltas if K.STATE_FIELDS.get(n) is not int]
    if bad:
        raise InvalidInput(f"not integer fields of amm:state: {bad}")
    pipe = _conn(conn).pipeline(transaction=True)
    for name, delta in deltas.items():
        pipe.hincrby(K.state_key(market_id), name, int(delta))
    pipe.execute()


def oracle_write(
    market_id: str, *, price_cents: float, ts_ms: int, source: str, conn: redis.Redis | None = None
) -> None:
    """The latest external probability (SPEC §4 extension `amm:oracle:{m}`), YES-view cents."""
    if not 0 <= float(price_cents) <= 100:
        raise InvalidInput(f"oracle price_cents must be within [0, 100], got {price_cents}")
    _conn(conn).hset(
        K.oracle_key(market_id),
        mapping={"price_cents": repr(float(price_cents)), "ts_ms": str(int(ts_ms)), "source": str(source)},
    )


def oracle_get(market_id: str, *, conn: redis.Redis | None = None) -> dict[str, Any] | None:
    raw = _conn(conn).hgetall(K.oracle_key(market_id))
    return _typed(raw, K.ORACLE_FIELDS) if raw else None


def oracle_failure_record(market_id: str, *, error: str, now_ms: int, alert_after: int, interval_ms: int,
                          backoff_max_ms: int, conn: redis.Redis | None = None) -> tuple[int, bool, int]:
    """One more failed poll of the market's oracle (`amm:oracle_health:{m}`, atomically):
    (consecutive failures, whether this failure claims the run's one alert, retry_at_ms:
    the back-off, `interval_ms` doubling per failure up to `backoff_max_ms`)."""
    failures, claimed, retry_at = script(_conn(conn), "oracle_failed")(
        keys=[K.oracle_health_key(market_id)],
        args=[str(error)[:500], int(now_ms), max(1, int(alert_after)), max(0, int(interval_ms)),
              max(0, int(backoff_max_ms))])
    return int(failures), bool(int(claimed)), int(retry_at)


def oracle_success_record(market_id: str, *, now_ms: int, conn: redis.Redis | None = None) -> int:
    """A good poll: the failure run ends (count, back-off and alert flag reset); returns the
    failures it ended (0 when there were none)."""
    pipe = _conn(conn).pipeline(transaction=True)
    pipe.hget(K.oracle_health_key(market_id), "failures")
    pipe.hset(K.oracle_health_key(market_id),
              mapping={"failures": "0", "alerted": "0", "retry_at_ms": "0", "last_ok_ms": str(int(now_ms))})
    previous, _ = pipe.execute()
    return _int(previous)


def oracle_health_get(market_id: str, *, conn: redis.Redis | None = None) -> dict[str, Any]:
    """The poller's record of the market's oracle (ORACLE_HEALTH_FIELDS), {} before any poll."""
    return _typed(_conn(conn).hgetall(K.oracle_health_key(market_id)), K.ORACLE_HEALTH_FIELDS)


def config_write(
    market_id: str, mapping: Mapping[str, str], *, version: int, conn: redis.Redis | None = None
) -> None:
    """Replace `amm:config:{m}` with `mapping` plus `version`, atomically."""
    pipe = _conn(conn).pipeline(transaction=True)
    pipe.delete(K.config_key(market_id))
    pipe.hset(K.config_key(market_id), mapping={**mapping, K.CONFIG_VERSION_FIELD: str(int(version))})
    pipe.execute()


def config_get(market_id: str, *, conn: redis.Redis | None = None) -> dict[str, str]:
    return _conn(conn).hgetall(K.config_key(market_id))


def config_fields_many(market_ids: Iterable[str], fields: list[str], *,
                       conn: redis.Redis | None = None) -> dict[str, dict[str, str | None]]:
    """Some config fields of many markets in one round trip: {market: {field: raw value}}."""
    ids = list(market_ids)
    if not ids:
        return {}
    pipe = _conn(conn).pipeline(transaction=False)
    for market_id in ids:
        pipe.hmget(K.config_key(market_id), fields)
    return {m: dict(zip(fields, values)) for m, values in zip(ids, pipe.execute())}


def config_version(market_id: str, *, conn: redis.Redis | None = None) -> int | None:
    value = _conn(conn).hget(K.config_key(market_id), K.CONFIG_VERSION_FIELD)
    return None if value is None else int(value)


# --- orders: REST answers -----------------------------------------------------------------------
def order_track(
    market_id: str,
    *,
    order_id: str,
    side: str,
    direction: str,
    price: int,
    qty: int,
    book_type: str,
    created_ms: int,
    client_order_id: str = "",
    status: str = "OPEN",
    track: bool = True,
    now: int | None = None,
    conn: redis.Redis | None = None,
) -> int:
    """Record a placement: when `track` (the order rests), HSET it into `amm:orders` and hold
    its cash or shares; always journal it. Returns the remaining quantity tracked (0 when it
    was already tracked or is fully filled already). Idempotent."""
    now = now_ms() if now is None else now
    return int(
        script(_conn(conn), "track")(
            keys=[K.orders_key(market_id), K.inventory_key(market_id), K.market_key(market_id), K.MARKETS,
                  K.JOURNAL, K.untracked_key(market_id)],
            args=[order_id, side, direction, int(price), int(qty), book_type, int(created_ms), int(now),
                  "1" if track else "0", client_order_id, status, market_id, _journal_maxlen()],
        )
    )


def orders_untrack(
    market_id: str,
    order_ids: Iterable[str] | None,
    *,
    event: str = "CANCELLED",
    now: int | None = None,
    conn: redis.Redis | None = None,
) -> int:
    """Stop tracking orders (cancel, replace, passive cancel; None = all, as after cancel-all):
    HDEL them and release what they held. Returns how many were tracked. Idempotent."""
    ids = ["*"] if order_ids is None else [str(i) for i in order_ids]
    if not ids:
        return 0
    now = now_ms() if now is None else now
    return int(
        script(_conn(conn), "untrack")(
            keys=[K.orders_key(market_id), K.inventory_key(market_id), K.market_key(market_id), K.MARKETS,
                  K.JOURNAL],
            args=[int(now), event, market_id, _journal_maxlen(), *ids],
        )
    )


# --- fills, mint/burn -------------------------------------------------------------------------------
def fill_apply(
    market_id: str,
    *,
    trade_id: int | str,
    legs: list[FillLeg],
    now: int | None = None,
    conn: redis.Redis | None = None,
) -> bool:
    """Apply one trade's AMM legs to inventory, cash and orders, exactly once (the trade id
    is checked against and added to `amm:processed:{m}` inside the same script)."""
    now = now_ms() if now is None else now
    args: list[Any] = [str(trade_id), int(now), K.PROCESSED_TTL_S, market_id, _journal_maxlen(),
                       K.UNTRACKED_TTL_S, len(legs)]
    for leg in legs:
        args += [leg.order_id, leg.side, leg.direction, int(leg.own_price), int(leg.quantity), int(leg.fee),
                 leg.book_type]
    applied = script(_conn(conn), "fill")(
        keys=[K.processed_key(market_id), K.inventory_key(market_id), K.orders_key(market_id),
              K.market_key(market_id), K.MARKETS, K.state_key(market_id), K.JOURNAL, K.untracked_key(market_id),
              K.TRADE_CURSOR, K.METRICS_FILLS],
        args=args,
    )
    return bool(applied)


def privileged_apply(
    market_id: str,
    *,
    kind: str,
    request_id: str,
    quantity: int,
    position: Mapping[str, int] | None = None,
    now: int | None = None,
    conn: redis.Redis | None = None,
) -> str:
    """Apply a successful mint/burn answer (the one inventory change outside the fill feed,
    seed §1), exactly once per request_id. With the answer's `position` (yes_volume,
    yes_cost_sum, no_volume, no_cost_sum) the cost sums are made exact (lua.PRIVILEGED).
    Returns "repeat" (already applied), "applied" (no position given), "exact", or
    "diverged" (applied; fills were in flight, so the cost sums may be off until rebuilt)."""
    kind = kind.upper()
    if kind not in ("MINT", "BURN"):
        raise InvalidInput("kind must be MINT or BURN")
    now = now_ms() if now is None else now
    args = [f"{kind.lower()}:{request_id}", kind, int(quantity), int(now), K.PROCESSED_TTL_S,
            _pending_field(market_id, request_id)]
    if position is not None:
        args += [int(position[f]) for f in ("yes_volume", "yes_cost_sum", "no_volume", "no_cost_sum")]
    outcome = script(_conn(conn), "privileged")(
        keys=[K.processed_key(market_id), K.inventory_key(market_id), K.MARKETS, K.PRIVILEGED_PENDING, K.CASH_EPOCH],
        args=args)
    return {0: "repeat", 1: "applied", 2: "diverged", 3: "exact"}[int(outcome)]


def _pending_field(market_id: str, request_id: str) -> str:
    return f"{market_id}:{request_id}"


def privileged_pending_add(market_id: str, *, kind: str, request_id: str, quantity: int,
                           now: int | None = None, conn: redis.Redis | None = None) -> None:
    """A mint/burn is about to be sent: until its answer is applied (or it is refused), no
    market is rebuilt from a balance read (see lua.REBUILD). Value `KIND:quantity:sent_ms`."""
    now = now_ms() if now is None else now
    _conn(conn).hset(K.PRIVILEGED_PENDING, _pending_field(market_id, request_id),
                     f"{kind.upper()}:{int(quantity)}:{int(now)}")


def privileged_pending_remove(market_id: str, *, request_id: str, conn: redis.Redis | None = None) -> None:
    """The mint/burn was refused: nothing happened."""
    _conn(conn).hdel(K.PRIVILEGED_PENDING, _pending_field(market_id, request_id))


def privileged_pending(*, conn: redis.Redis | None = None) -> list[tuple[str, str, str, int]]:
    """The mints/burns sent and not applied: (market_id, request_id, kind, quantity)."""
    out = []
    for field, value in _conn(conn).hgetall(K.PRIVILEGED_PENDING).items():
        market_id, _, request_id = field.partition(":")
        kind, quantity, _ = (value.split(":") + ["", "0", "0"])[:3]
        out.append((market_id, request_id, kind, int(quantity or 0)))
    return out


def cash_epoch(*, conn: redis.Redis | None = None) -> int:
    return _int(_conn(conn).get(K.CASH_EPOCH))


# --- rebuild -------------------------------------------------------------------------------------------
def market_rebuild(
    market_id: str,
    *,
    yes_volume: int,
    yes_cost_sum: int,
    yes_pending_sell: int,
    no_volume: int,
    no_cost_sum: int,
    no_pending_sell: int,
    cash_mode: str,
    cash_value: int,
    market_meta: Mapping[str, Any],
    orders: Iterable[OrderEntry],
    state: Mapping[str, Any] | None = None,
    state_defaults: Mapping[str, Any] | None = None,
    expected_cursor: int,
    expected_epoch: int | None = None,
    now: int | None = None,
    conn: redis.Redis | None = None,
) -> int | None:
    """Overwrite one market's inventory, orders and metadata from a platform snapshot that
    reflects exactly the trades <= `expected_cursor`, and register it in `amm:markets`;
    cash_cents of every kept market is set (see lua.REBUILD). Returns the cash_cents
    written, or None when the fill feed moved past `expected_cursor`, or (with
    `expected_epoch`, the cash epoch when the snapshot began) a mint/burn is in flight or
    was applied meanwhile: take a new snapshot."""
    if cash_mode not in ("available", "total"):
        raise InvalidInput("cash_mode must be 'available' or 'total'")
    now = now_ms() if now is None else now
    unknown = (set(state or {}) | set(state_defaults or {})) - set(K.STATE_FIELDS)
    if unknown:
        raise InvalidInput(f"not fields of amm:state: {sorted(unknown)}")
    meta = {k: _text(k, v, K.MARKET_FIELDS) for k, v in market_meta.items() if v is not None}
    meta["updated_at_ms"] = str(int(now))
    pairs: list[str] = []
    entries = list(orders)
    for entry in entries:
        pairs += [entry.order_id, entry.to_json()]
    outcome, cash = script(_conn(conn), "rebuild")(
        keys=[K.inventory_key(market_id), K.orders_key(market_id), K.state_key(market_id), K.market_key(market_id),
              K.MARKETS, K.untracked_key(market_id), K.TRADE_CURSOR, K.PRIVILEGED_PENDING, K.CASH_EPOCH],
        args=[market_id, int(now), int(yes_volume), int(yes_cost_sum), int(yes_pending_sell), int(no_volume),
              int(no_cost_sum), int(no_pending_sell), cash_mode, int(cash_value), json.dumps(meta),
              json.dumps({k: _text(k, v, K.STATE_FIELDS) for k, v in (state or {}).items()}),
              json.dumps({k: _text(k, v, K.STATE_FIELDS) for k, v in (state_defaults or {}).items()}),
              int(expected_cursor), len(entries), *pairs, "" if expected_epoch is None else int(expected_epoch),
              amm_settings.AMM_PRIVILEGED_PENDING_MAX_MS],
    )
    return int(cash) if outcome == "ok" else None


def market_meta_write(market_id: str, meta: Mapping[str, Any], *, conn: redis.Redis | None = None) -> None:
    """Refresh the market metadata hash (e.g. after a status change seen by the runtime)."""
    mapping = {k: _text(k, v, K.MARKET_FIELDS) for k, v in meta.items() if v is not None}
    if mapping:
        _conn(conn).hset(K.market_key(market_id), mapping=mapping)


def market_forget(market_id: str, *, conn: redis.Redis | None = None) -> None:
    """Stop keeping a market: drop it from `amm:markets` and delete its working keys."""
    client = _conn(conn)
    pipe = client.pipeline(transaction=True)
    pipe.srem(K.MARKETS, market_id)
    pipe.delete(*K.market_keys(market_id))
    pipe.execute()


def working_state_wipe(*, keep: Iterable[str] = (), conn: redis.Redis | None = None) -> int:
    """Delete every `amm:*` key but those in `keep` (a working state that is not this
    platform's); returns how many."""
    client = _conn(conn)
    kept = set(keep)
    deleted = 0
    batch: list[str] = []
    for key in client.scan_iter(match=f"{K.PREFIX}:*", count=1000):
        if key in kept:
            continue
        batch.append(key)
        if len(batch) >= 500:
            deleted += client.delete(*batch)
            batch = []
    if batch:
        deleted += client.delete(*batch)
    return deleted


def market_memory_usage(market_id: str, *, conn: redis.Redis | None = None) -> dict[str, int]:
    """MEMORY USAGE of each existing key of one market (bytes)."""
    client = _conn(conn)
    out = {}
    for key in K.market_keys(market_id):
        usage = client.memory_usage(key, samples=0)
        if usage is not None:
            out[key] = int(usage)
    return out


# --- fill-feed cursor, journal -----------------------------------------------------------------------------
def trade_cursor_get(*, conn: redis.Redis | None = None) -> int:
    value = _conn(conn).get(K.TRADE_CURSOR)
    return int(value) if value else 0


def trade_cursor_advance(value: int, *, conn: redis.Redis | None = None) -> int:
    """Move the fill-feed cursor forward (never back); returns the cursor."""
    return int(script(_conn(conn), "cursor_advance")(keys=[K.TRADE_CURSOR], args=[int(value)]))


def journal_read(count: int, *, conn: redis.Redis | None = None) -> list[tuple[str, dict[str, str]]]:
    """The oldest `count` order-journal events (stream id, fields)."""
    return [(eid, fields) for eid, fields in _conn(conn).xrange(K.JOURNAL, count=count)]


def journal_append(events: Iterable[Mapping[str, Any]], *, conn: redis.Redis | None = None) -> int:
    """Append order events outside a script (e.g. the orders a rebuild adopted), in one round trip."""
    pipe = _conn(conn).pipeline(transaction=False)
    n = 0
    for event in events:
        pipe.xadd(K.JOURNAL, {k: str(v) for k, v in event.items() if v is not None},
                  maxlen=_journal_maxlen(), approximate=True)
        n += 1
    if n:
        pipe.execute()
    return n


def journal_ack(event_ids: Iterable[str], *, conn: redis.Redis | None = None) -> int:
    ids = list(event_ids)
    return int(_conn(conn).xdel(K.JOURNAL, *ids)) if ids else 0


def journal_length(*, conn: redis.Redis | None = None) -> int:
    return int(_conn(conn).xlen(K.JOURNAL))


# --- runtime extensions (amm/runtime, issue 6; keys in amm/state/keys.py) -------------------------------
@dataclass(frozen=True, slots=True)
class CycleRead:
    """Everything a runtime quote cycle reads from Redis, in one MULTI/EXEC round trip: the
    seed keys (`quote`), the kept StrategyState, the market's runtime flags, the fills the
    feed applied since the last cycle (taken: the read removes them), and the dead man's switch."""

    quote: QuoteCycleRead
    strategy: dict[str, Any] | None
    runtime: dict[str, Any]
    fills: list[dict[str, Any]]
    deadman: dict[str, Any]
    book: dict[str, Any] | None = None  # the book a cycle last read (`amm:book:{m}`)


def runtime_cycle_read(market_id: str, *, conn: redis.Redis | None = None) -> CycleRead:
    pipe = _conn(conn).pipeline(transaction=True)
    _quote_cycle_queue(pipe, market_id)
    pipe.get(K.strategy_key(market_id))
    pipe.hgetall(K.runtime_key(market_id))
    pipe.lrange(K.fills_key(market_id), 0, -1)
    pipe.delete(K.fills_key(market_id))
    pipe.hgetall(K.DEADMAN)
    pipe.get(K.book_key(market_id))
    results = pipe.execute()
    strategy, runtime, fills, _, deadman, book = results[6:]
    return CycleRead(
        quote=_quote_cycle_parse(market_id, results[:6]),
        strategy=json.loads(strategy) if strategy else None,
        runtime=_typed(runtime, K.RUNTIME_FIELDS),
        fills=[json.loads(f) for f in fills],
        deadman=_typed(deadman, K.DEADMAN_FIELDS),
        book=json.loads(book) if book else None,
    )


def _runtime_mapping(fields: Mapping[str, Any]) -> dict[str, str]:
    unknown = set(fields) - set(K.RUNTIME_FIELDS)
    if unknown:
        raise InvalidInput(f"not fields of amm:runtime: {sorted(unknown)}")
    return {n: ("" if v is None else _text(n, v, K.RUNTIME_FIELDS)) for n, v in fields.items()}


def cycle_commit(
    market_id: str,
    *,
    state_fields: Mapping[str, Any] | None = None,
    strategy: Mapping[str, Any] | None = None,
    runtime: Mapping[str, Any] | None = None,
    book: Mapping[str, Any] | None = None,
    now: int | None = None,
    latency_s: float | None = None,
    outcome: str = "",
    conn: redis.Redis | None = None,
) -> None:
    """The end of a quote cycle in one round trip: `amm:state` fields, the StrategyState
    blob, runtime fields (cycles counted), the book it read (when it read one), the run's
    last-cycle heartbeat and, given `latency_s`, the cycle's latency counted in the
    `outcome`'s histogram (the metrics scrape reads it; in the same MULTI, no round trip more)."""
    now = now_ms() if now is None else now
    unknown = set(state_fields or {}) - set(K.STATE_FIELDS)
    if unknown:
        raise InvalidInput(f"not fields of amm:state: {sorted(unknown)}")
    pipe = _conn(conn).pipeline(transaction=True)
    if state_fields:
        pipe.hset(K.state_key(market_id), mapping={n: v if isinstance(v, str) else _text(n, v, K.STATE_FIELDS)
                                                   for n, v in state_fields.items()})
    if strategy is not None:
        pipe.set(K.strategy_key(market_id), json.dumps(strategy, separators=(",", ":")))
    if book is not None:
        pipe.set(K.book_key(market_id), json.dumps(book, separators=(",", ":")))
    fields = {"last_cycle_ms": now, **(runtime or {})}
    pipe.hset(K.runtime_key(market_id), mapping=_runtime_mapping(fields))
    pipe.hincrby(K.runtime_key(market_id), "cycles", 1)
    pipe.hset(K.RUN, "last_cycle_ms", str(int(now)))
    if latency_s is not None:
        _cycle_latency_queue(pipe, outcome, latency_s)
    pipe.execute()


def cycle_end(*, now: int, outcome: str, latency_s: float | None = None, conn: redis.Redis | None = None) -> None:
    """The end of a cycle that committed no quotes (idle, emergency, rate-limited...): the
    run's last-cycle heartbeat and, given `latency_s`, its latency in the `outcome`'s
    histogram, in one round trip."""
    pipe = _conn(conn).pipeline(transaction=False)
    pipe.hset(K.RUN, "last_cycle_ms", str(int(now)))
    if latency_s is not None:
        _cycle_latency_queue(pipe, outcome, latency_s)
    pipe.execute()


def _cycle_latency_queue(pipe, outcome: str, latency_s: float) -> None:
    if not outcome or ":" in outcome:
        raise InvalidInput(f"a cycle latency needs an outcome without ':', got {outcome!r}")
    bucket, total = K.cycle_latency_fields(outcome, latency_s)
    pipe.hincrby(K.METRICS_CYCLE_LATENCY, bucket, 1)
    pipe.hincrby(K.METRICS_CYCLE_LATENCY, total, max(0, int(round(latency_s * 1_000_000))))


def runtime_get(market_id: str, *, conn: redis.Redis | None = None) -> dict[str, Any]:
    return _typed(_conn(conn).hgetall(K.runtime_key(market_id)), K.RUNTIME_FIELDS)


def runtime_update(market_id: str, *, conn: redis.Redis | None = None, **fields: Any) -> None:
    """HSET `amm:runtime:{m}` fields (None or "" clears a flag)."""
    if fields:
        _conn(conn).hset(K.runtime_key(market_id), mapping=_runtime_mapping(fields))


def order_call_begin(market_id: str, *, token: str, what: str, now: int,
                     conn: redis.Redis | None = None) -> None:
    """Record an order call about to be sent (`inflight:{token}`), so that a holder dying
    before the answer leaves a trace the next cycle turns into an unknown outcome."""
    _conn(conn).hset(K.runtime_key(market_id), f"{K.INFLIGHT_PREFIX}{token}", f"{what}@{now}")


def order_calls_end(market_id: str, tokens: Iterable[str], *, conn: redis.Redis | None = None,
                    **fields: Any) -> None:
    """The calls answered (or their outcome is now recorded as unknown): drop their traces and
    set `fields` of amm:runtime in the same transaction."""
    pipe = _conn(conn).pipeline(transaction=True)
    pipe.hdel(K.runtime_key(market_id), *(f"{K.INFLIGHT_PREFIX}{t}" for t in tokens))
    if fields:
        pipe.hset(K.runtime_key(market_id), mapping=_runtime_mapping(fields))
    pipe.execute()


def order_calls_in_flight(runtime: Mapping[str, Any]) -> dict[str, str]:
    """The `inflight:{token}` fields of a runtime read: token -> "what@ms"."""
    return {name[len(K.INFLIGHT_PREFIX):]: str(value) for name, value in runtime.items()
            if name.startswith(K.INFLIGHT_PREFIX)}


def resync_request(market_ids: Iterable[str], *, reason: str, full: bool = False,
                   conn: redis.Redis | None = None) -> None:
    """Ask the next quote cycle of each market to re-sync from the platform before quoting."""
    pipe = _conn(conn).pipeline(transaction=False)
    for market_id in market_ids:
        pipe.hset(K.runtime_key(market_id), "resync_full" if full else "resync", reason or "resync")
    pipe.execute()


def strategy_get(market_id: str, *, conn: redis.Redis | None = None) -> dict[str, Any] | None:
    raw = _conn(conn).get(K.strategy_key(market_id))
    return json.loads(raw) if raw else None


def fills_push(market_id: str, fills: Iterable[Mapping[str, Any]], *, conn: redis.Redis | None = None) -> int:
    """Queue fills for the market's next quote cycle (the strategy's L3 and phase volume)."""
    items = [json.dumps(dict(f), separators=(",", ":")) for f in fills]
    if not items:
        return 0
    pipe = _conn(conn).pipeline(transaction=True)
    pipe.rpush(K.fills_key(market_id), *items)
    pipe.ltrim(K.fills_key(market_id), -K.FILLS_KEEP, -1)
    pipe.execute()
    return len(items)


# leases: `resource` is "market:{m}", "feed" or "scheduler"
def lease_acquire(resource: str, token: str, *, ttl_ms: int, conn: redis.Redis | None = None) -> bool:
    return bool(_conn(conn).set(K.lease_key(resource), token, nx=True, px=int(ttl_ms)))


def lease_steal(resource: str, token: str, *, ttl_ms: int, conn: redis.Redis | None = None) -> str | None:
    """Take the lease whoever holds it (the old holder's renew and release then fail);
    returns the previous holder's token."""
    return _conn(conn).set(K.lease_key(resource), token, px=int(ttl_ms), get=True)


def lease_renew(resource: str, token: str, *, ttl_ms: int, conn: redis.Redis | None = None) -> bool:
    return bool(script(_conn(conn), "lease_renew")(keys=[K.lease_key(resource)], args=[token, int(ttl_ms)]))


def lease_release(resource: str, token: str, *, conn: redis.Redis | None = None) -> bool:
    return bool(script(_conn(conn), "lease_release")(keys=[K.lease_key(resource)], args=[token]))


def lease_holder(resource: str, *, conn: redis.Redis | None = None) -> str | None:
    return _conn(conn).get(K.lease_key(resource))


# job markers: at most one queued-or-running job per key
def job_request(name: str, value: str, *, reason: str, ttl_ms: int, conn: redis.Redis | None = None) -> bool:
    """True: the marker is ours, enqueue the job. False: one is queued or running; it will
    run once more (`job_finish`)."""
    return bool(script(_conn(conn), "job_request")(keys=[K.job_key(name), K.rerun_key(name)],
                                                   args=[value, int(ttl_ms), reason or "rerun"]))


def job_request_many(names: list[str], prefix: str, *, batch_size: int, reason: str, ttl_ms: int,
                     rerun: bool = True, conn: redis.Redis | None = None) -> list[list[str]]:
    """`job_request` for many keys in one round trip (`rerun=False`: a key whose job is
    queued or running is left alone); the names whose marker was taken, in batches of
    `batch_size`, the n-th batch's markers holding the job id `{prefix}-b{n}`."""
    if not names:
        return []
    keys = [k for name in names for k in (K.job_key(name), K.rerun_key(name))]
    taken = script(_conn(conn), "job_request_many")(keys=keys, args=[prefix, int(ttl_ms), reason or "rerun",
                                                                     int(batch_size), "1" if rerun else "0"])
    names_taken = [names[int(i) - 1] for i in taken]
    return [names_taken[i:i + batch_size] for i in range(0, len(names_taken), batch_size)]


def job_renew_many(names: Iterable[str], *, ttl_ms: int, conn: redis.Redis | None = None) -> None:
    pipe = _conn(conn).pipeline(transaction=False)
    for name in names:
        pipe.pexpire(K.job_key(name), int(ttl_ms))
    pipe.execute()


def job_finish(name: str, *, ttl_ms: int, conn: redis.Redis | None = None) -> str | None:
    """End of a job run: the reason of a rerun requested meanwhile (run again, the marker is
    kept), or None (the marker is released)."""
    return script(_conn(conn), "job_finish")(keys=[K.job_key(name), K.rerun_key(name)], args=[int(ttl_ms)])


def job_started(name: str, *, ttl_ms: int | None = None, conn: redis.Redis | None = None) -> str | None:
    """A job run starts: requests made while it waited are served by this run; returns the
    reason of the last one (a fill that came while a periodic cycle waited makes it a fill's).
    With `ttl_ms`, the marker's life becomes the running one's (renewed while it runs)."""
    pipe = _conn(conn).pipeline(transaction=True)
    pipe.getdel(K.rerun_key(name))
    if ttl_ms is not None:
        pipe.pexpire(K.job_key(name), int(ttl_ms))
    return pipe.execute()[0]


def job_reruns(names: list[str], *, conn: redis.Redis | None = None) -> dict[str, str]:
    """The keys among `names` with a request waiting for their next run (`amm:rerun:{key}`:
    a fill, a status change, an operator), and its reason; one round trip."""
    if not names:
        return {}
    values = _conn(conn).mget([K.rerun_key(name) for name in names])
    return {name: value for name, value in zip(names, values) if value}


def job_renew(name: str, *, ttl_ms: int, conn: redis.Redis | None = None) -> None:
    _conn(conn).pexpire(K.job_key(name), int(ttl_ms))


def job_marker(name: str, *, conn: redis.Redis | None = None) -> str | None:
    return _conn(conn).get(K.job_key(name))


def job_done(name: str, *, conn: redis.Redis | None = None) -> None:
    _conn(conn).delete(K.job_key(name))


# the dead man's switch as this AMM armed it, and the run's heartbeat
def deadman_get(*, conn: redis.Redis | None = None) -> dict[str, Any]:
    return _typed(_conn(conn).hgetall(K.DEADMAN), K.DEADMAN_FIELDS)


def deadman_record(*, armed_at_ms: int, timeout_ms: int, conn: redis.Redis | None = None) -> None:
    """After a successful arm sent at `armed_at_ms`: the platform cancels everything at
    `armed_at_ms + timeout_ms` at the earliest (its own clock starts later); 0 = disarmed."""
    if timeout_ms <= 0:
        _conn(conn).delete(K.DEADMAN)
        return
    _conn(conn).hset(K.DEADMAN, mapping={"armed_at_ms": str(int(armed_at_ms)), "timeout_ms": str(int(timeout_ms)),
                                         "armed_until_ms": str(int(armed_at_ms + timeout_ms))})


def run_get(*, conn: redis.Redis | None = None) -> dict[str, Any]:
    return _typed(_conn(conn).hgetall(K.RUN), K.RUN_FIELDS)


def run_update(*, conn: redis.Redis | None = None, **fields: int) -> None:
    if fields:
        _conn(conn).hset(K.RUN, mapping={n: _text(n, v, K.RUN_FIELDS) for n, v in fields.items()})


def run_markets_set(market_ids: Iterable[str], *, conn: redis.Redis | None = None) -> None:
    ids = list(market_ids)
    pipe = _conn(conn).pipeline(transaction=True)
    pipe.delete(K.RUN_MARKETS)
    if ids:
        pipe.sadd(K.RUN_MARKETS, *ids)
    pipe.execute()


def run_markets_get(*, conn: redis.Redis | None = None) -> set[str]:
    return set(_conn(conn).smembers(K.RUN_MARKETS))


def daily_reset_apply(day: str, market_ids: Iterable[str], *, conn: redis.Redis | None = None) -> bool:
    """Zero `daily_pnl_cents` and `total_fills_today` of the markets, once per local `day`
    (YYYY-MM-DD): False when that day was already reset. The first day ever is only recorded."""
    client = _conn(conn)
    previous = client.set(K.DAILY_RESET, day, get=True)
    if previous is None or previous >= day:
        if previous is not None and previous > day:
            client.set(K.DAILY_RESET, previous)
        return False
    pipe = client.pipeline(transaction=True)
    for market_id in market_ids:
        pipe.hset(K.state_key(market_id), mapping={"daily_pnl_cents": "0", "total_fills_today": "0"})
    pipe.execute()
    return True


def daily_reset_day(*, conn: redis.Redis | None = None) -> str | None:
    return _conn(conn).get(K.DAILY_RESET)


def market_status_write_many(metas: Mapping[str, Mapping[str, Any]], *, conn: redis.Redis | None = None) -> None:
    """Refresh the metadata of many markets in one round trip (the feed's status watch)."""
    pipe = _conn(conn).pipeline(transaction=False)
    for market_id, meta in metas.items():
        mapping = {k: _text(k, v, K.MARKET_FIELDS) for k, v in meta.items() if v is not None}
        if mapping:
            pipe.hset(K.market_key(market_id), mapping=mapping)
    pipe.execute()


def market_status_many(market_ids: Iterable[str], *, conn: redis.Redis | None = None) -> dict[str, str | None]:
    ids = list(market_ids)
    pipe = _conn(conn).pipeline(transaction=False)
    for market_id in ids:
        pipe.hget(K.market_key(market_id), "status")
    return dict(zip(ids, pipe.execute()))
