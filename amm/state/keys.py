"""Every `amm:*` Redis key, named once (SPEC §4, seed §4 and Appendix A).

Seed keys (exact names, fields and types):

| key | type | fields |
|---|---|---|
| `amm:inventory:{m}` | hash | INVENTORY_FIELDS |
| `amm:orders:{m}` | hash | order_id -> JSON {side, direction, price, qty, remaining, book_type, created_ms} |
| `amm:state:{m}` | hash | STATE_FIELDS |
| `amm:config:{m}` | hash | the seed's 14 parameters + `version`, other parameters where not at their default (config_write) |
| `amm:processed:{m}` | set, TTL 24 h | processed trade ids (+ `mint:`/`burn:` request ids) |
| `amm:oracle:{m}` | hash | price_cents, ts_ms, source |

Extensions (not in the seed: the AMM's own bookkeeping; amm/state/__init__.py lists the module
that reads and writes each):

| key | type | what |
|---|---|---|
| `amm:market:{m}` | hash | platform market metadata (status, price band, fee bps, dates, reserve, shares) |
| `amm:markets` | set | market ids whose inventory is kept (cash is mirrored into each, see `amm:cash`) |
| `amm:untracked_fills:{m}` | hash, TTL 1 h | order_id -> shares the fill feed applied before the order was tracked |
| `amm:cursor:trades` | string | last trade id of the fill feed (survives restarts) |
| `amm:journal` | stream | order events, flushed in batches to the AMMOrder table |
"""
from __future__ import annotations

PREFIX = "amm"

INVENTORY_PREFIX = f"{PREFIX}:inventory:"
ORDERS_PREFIX = f"{PREFIX}:orders:"
STATE_PREFIX = f"{PREFIX}:state:"
CONFIG_PREFIX = f"{PREFIX}:config:"
PROCESSED_PREFIX = f"{PREFIX}:processed:"
ORACLE_PREFIX = f"{PREFIX}:oracle:"
MARKET_PREFIX = f"{PREFIX}:market:"
UNTRACKED_PREFIX = f"{PREFIX}:untracked_fills:"

MARKETS = f"{PREFIX}:markets"
TRADE_CURSOR = f"{PREFIX}:cursor:trades"
JOURNAL = f"{PREFIX}:journal"

INVENTORY_FIELDS = (
    "yes_volume",
    "no_volume",
    "yes_available",
    "no_available",
    "yes_cost_sum_cents",
    "no_cost_sum_cents",
    "cash_cents",
    "updated_at_ms",
)
ORDER_FIELDS = ("side", "direction", "price", "qty", "remaining", "book_type", "created_ms")
STATE_FIELDS = {  # field -> Python type (seed §4.3)
    "phase": str,
    "fair_price_cents": int,
    "sigma_cents": float,
    "inventory_skew": float,
    "last_requote_ms": int,
    "daily_pnl_cents": int,
    "total_fills_today": int,
    "lvr_cooldown_until": int,
    "kill_switch": str,
    "defense_level": str,
}
ORACLE_FIELDS = {"price_cents": float, "ts_ms": int, "source": str}
MARKET_FIELDS = {
    "status": str,
    "min_price_cents": int,
    "max_price_cents": int,
    "maker_fee_bps": int,
    "taker_fee_bps": int,
    "trading_end_ms": int,
    "resolution_ms": int,
    "reserve_balance": int,
    "total_yes_shares": int,
    "total_no_shares": int,
    "outcome": str,
    "book_sequence_id": int,  # the order book's sequence_id as the platform last reported it
    "updated_at_ms": int,
}
CONFIG_VERSION_FIELD = "version"

PROCESSED_TTL_S = 24 * 3600  # seed Appendix A
PROCESSED_KEEP_TRADES = 100_000  # trade ids kept below the cursor (the in-process LRU's size, seed §5)
UNTRACKED_TTL_S = 3600


def inventory_key(market_id: str) -> str:
    return f"{INVENTORY_PREFIX}{market_id}"


def orders_key(market_id: str) -> str:
    return f"{ORDERS_PREFIX}{market_id}"


def state_key(market_id: str) -> str:
    return f"{STATE_PREFIX}{market_id}"


def config_key(market_id: str) -> str:
    return f"{CONFIG_PREFIX}{market_id}"


def processed_key(market_id: str) -> str:
    return f"{PROCESSED_PREFIX}{market_id}"


def oracle_key(market_id: str) -> str:
    return f"{ORACLE_PREFIX}{market_id}"


def market_key(market_id: str) -> str:
    return f"{MARKET_PREFIX}{market_id}"


def untracked_key(market_id: str) -> str:
    return f"{UNTRACKED_PREFIX}{market_id}"


def market_keys(market_id: str) -> list[str]:
    """Every key that belongs to one market (for MEMORY USAGE, cleanup)."""
    return [
        inventory_key(market_id),
        orders_key(market_id),
        state_key(market_id),
        config_key(market_id),
        processed_key(market_id),
        oracle_key(market_id),
        market_key(market_id),
        untracked_key(market_id),
    ]


# --- runtime extensions (amm/runtime, issue 6) ------------------------------------------------
# | key | type | what |
# |---|---|---|
# | `amm:lease:{resource}` | string, PX TTL | lease token: `market:{m}` (one market's cycles never overlap), `feed`, `scheduler` |
# | `amm:fence` | string | the last fencing token an acquisition of any lease got (strictly increasing; one counter for all resources) |
# | `amm:fence:{resource}` | string | (older versions' counter per resource: read and deleted by the resource's next acquisition) |
# | `amm:strategy:{m}` | string | StrategyState kept between quote cycles (compact JSON array without field names, codec.strategy_text) |
# | `amm:runtime:{m}` | hash | RUNTIME_FIELDS: resync flags, rate-limit pause, pending mint, last cycle |
# | `amm:fills:{m}` | list, capped | fills applied by the feed and not yet seen by a quote cycle (packing.fill_text) |
# | `amm:job:{job_key}` | string, PX TTL | a job of this key is queued or running (no second one is queued) |
# | `amm:rerun:{job_key}` | string | run the job again: a request that came while it was queued or running |
# | `amm:deadman` | hash | DEADMAN_FIELDS: the platform's cancel-all-after as last armed by this AMM |
# | `amm:run` | hash | RUN_FIELDS: the scheduler's and the fill feed's heartbeats, the last cycle completed anywhere |
# | `amm:run:markets` | set | markets the running scheduler drives (the feed watches their status) |
# | `amm:daily_reset` | string | local date (settings.TIME_ZONE) of the last daily counter reset |
# | `amm:book:{m}` | string | the order book a cycle last read via REST (packing.book_text: sequence_id, fetched_ms, own, bids, asks); dropped while cycles read the pushed book |
# | `amm:privileged:pending` | hash | `{market}:{request_id}` -> `KIND:quantity` of mints/burns sent and not yet applied |
# | `amm:cash` | string | the account's available cash in cents (the seed's `cash_cents` of every market: lua.py, cash_move) |
# | `amm:cash_epoch` | string | counts applied mint/burn answers (a rebuild's balance read must not straddle one) |
# | `amm:oracle_health:{m}` | hash | ORACLE_HEALTH_FIELDS: the oracle poller's consecutive failures, back-off, alert flag |
# | `amm:ticks` | list | periodic quote cycles waiting for a worker's tick lane: one entry a batch, JSON [enqueued ms, reason, [market ids]] (amm/runtime/tick_lane.py) |
# | `amm:tick_lanes` | sorted set | the tick lanes alive: lane name -> its last heartbeat (ms) |
LEASE_PREFIX = f"{PREFIX}:lease:"
FENCE = f"{PREFIX}:fence"
FENCE_PREFIX = f"{FENCE}:"
STRATEGY_PREFIX = f"{PREFIX}:strategy:"
RUNTIME_PREFIX = f"{PREFIX}:runtime:"
FILLS_PREFIX = f"{PREFIX}:fills:"
JOB_PREFIX = f"{PREFIX}:job:"
RERUN_PREFIX = f"{PREFIX}:rerun:"
DEADMAN = f"{PREFIX}:deadman"
RUN = f"{PREFIX}:run"
RUN_MARKETS = f"{PREFIX}:run:markets"
DAILY_RESET = f"{PREFIX}:daily_reset"
BOOK_PREFIX = f"{PREFIX}:book:"
PRIVILEGED_PENDING = f"{PREFIX}:privileged:pending"
CASH_EPOCH = f"{PREFIX}:cash_epoch"
CASH = f"{PREFIX}:cash"
ORACLE_HEALTH_PREFIX = f"{PREFIX}:oracle_health:"
TICKS = f"{PREFIX}:ticks"
TICK_LANES = f"{PREFIX}:tick_lanes"

RUNTIME_FIELDS = {  # field -> Python type
    "resync": str,  # non-empty: resync the market's orders from the platform before quoting (the reason)
    "resync_full": str,  # non-empty: rebuild the whole market (market_startup_sync) before quoting
    "resync_until_ms": int,  # resync before every cycle until then (an unknown outcome may still land)
    "retry_after_ms": int,  # rate-limited: send nothing before then
    "pending_mint": str,  # "request_id:quantity" of a mint whose outcome is unknown (retried with the same id)
    "emergency_cause": str,  # why the market is in EMERGENCY: SUSPENDED (resumes by itself), HALTED, KILL_SWITCH
    "last_cycle_ms": int,
    "last_reason": str,
    "last_outcome": str,
    "cycles": int,
    "tape_id": int,  # the newest trade of the market's public tape a cycle handed to the strategy
    # The instance row's version as last committed (amm/services/instances.py): a cycle re-reads
    # the row when it differs from the one it holds; "pending:..." while a change is being written.
    "instance_version": str,
    # The platform's book sequence_id once the AMM's last replace there was done: a pushed book
    # older than that still shows the orders the replace took away (amm/runtime/cycle.py).
    # OWN_SEQUENCE_UNKNOWN after an order change the platform's answer gives no sequence for (a
    # cancel-all that cancelled orders; a re-sync that released or adopted some): the next
    # cycle reads the REST book and keeps that book's sequence.
    "own_sequence_id": int,
}
OWN_SEQUENCE_UNKNOWN = -1
INSTANCE_PENDING = "pending"  # the prefix of `instance_version` while a change of the row is on its way
# Every value stays short (<= 64 bytes) so that Redis keeps the hash in its compact listpack
# encoding: the last decision's summary, once a field here (1.2 KB, which turned the whole hash
# into a hashtable), is logged at DEBUG by the cycle instead (nothing read it back).
LEGACY_RUNTIME_FIELDS = ("summary",)  # removed by runtime_compact at the market's next rebuild
# Plus one `inflight:{token}` field per order call on its way to the platform ("what@ms"):
# set before the call, removed once it answered; one left behind is a holder that died mid-call.
INFLIGHT_PREFIX = "inflight:"
DEADMAN_FIELDS = {"armed_until_ms": int, "timeout_ms": int, "armed_at_ms": int}
RUN_FIELDS = {"scheduler_ms": int, "last_cycle_ms": int, "started_ms": int, "pid": int,
              "feed_ms": int}  # feed_ms: the fill feed's last answered poll (health, amm/apis)
FILLS_KEEP = 200
ORACLE_HEALTH_FIELDS = {  # field -> Python type (amm/runtime/oracle_poll.py)
    "failures": int,  # consecutive failed polls (0 after a success)
    "last_error": str,
    "last_error_ms": int,
    "last_ok_ms": int,
    "retry_at_ms": int,  # a failing source is not asked again before then (back-off)
    "alerted": int,  # 1: this run of failures raised its ORACLE_FAILED alert
}


def lease_key(resource: str) -> str:
    return f"{LEASE_PREFIX}{resource}"


def legacy_fence_key(resource: str) -> str:
    return f"{FENCE_PREFIX}{resource}"


def strategy_key(market_id: str) -> str:
    return f"{STRATEGY_PREFIX}{market_id}"


def runtime_key(market_id: str) -> str:
    return f"{RUNTIME_PREFIX}{market_id}"


def fills_key(market_id: str) -> str:
    return f"{FILLS_PREFIX}{market_id}"


def job_key(name: str) -> str:
    return f"{JOB_PREFIX}{name}"


def rerun_key(name: str) -> str:
    return f"{RERUN_PREFIX}{name}"


def book_key(market_id: str) -> str:
    return f"{BOOK_PREFIX}{market_id}"


# | `amm:pushbook:{m}` | string | the book the WebSocket book feed keeps (packing.push_book_text: sequence_id, ms, bids, asks) |
# | `amm:pushbook:alive` | string | the book feed's heartbeat (ms) |
# | `amm:trades:{m}` | sorted set, capped | the market's public trades from the event stream that no quote cycle has seen yet (score: trade id; member: packing.trade_text [id, price_cents, quantity, executed_ms]); a cycle's commit removes those up to its `tape_id` |
# | `amm:tape:{m}` | list | (older versions' tape, every trade kept: deleted by the market's next rebuild) |
# | `amm:events:alive` | string | the event-stream feed's heartbeat (ms): the tapes are kept |
PUSH_BOOK_PREFIX = f"{PREFIX}:pushbook:"
PUSH_BOOK_ALIVE = f"{PREFIX}:pushbook:alive"
TAPE_PREFIX = f"{PREFIX}:trades:"
LEGACY_TAPE_PREFIX = f"{PREFIX}:tape:"
TAPE_KEEP = 20
EVENTS_ALIVE = f"{PREFIX}:events:alive"


def tape_key(market_id: str) -> str:
    return f"{TAPE_PREFIX}{market_id}"


def legacy_tape_key(market_id: str) -> str:
    return f"{LEGACY_TAPE_PREFIX}{market_id}"


def push_book_key(market_id: str) -> str:
    return f"{PUSH_BOOK_PREFIX}{market_id}"


def oracle_health_key(market_id: str) -> str:
    return f"{ORACLE_HEALTH_PREFIX}{market_id}"


def runtime_market_keys(market_id: str) -> list[str]:
    """The runtime's own keys of one market (not in market_keys: a re-sync keeps them)."""
    return [strategy_key(market_id), runtime_key(market_id), fills_key(market_id), book_key(market_id),
            oracle_health_key(market_id), push_book_key(market_id), tape_key(market_id)]


# --- operator console extensions (issue 11) -----------------------------------------------------
# | key | type | what |
# |---|---|---|
# | `amm:history:{m}` | list, capped, TTL | one sample per AMM_HISTORY_SAMPLE_S for the dashboard's charts (the last hour): HISTORY_FIELDS joined by "|" |
HISTORY_PREFIX = f"{PREFIX}:history:"
# A sample is one short string, e.g. "1733526000|52|51|54|1200|800|200|-350": seconds since
# the epoch, fair price, the AMM's best YES-view bid and ask (cents; empty when none), YES and
# NO volume, inventory skew in thousandths, daily PnL in cents.
HISTORY_FIELDS = ("ts", "fair", "bid", "ask", "yes", "no", "skew_milli", "pnl")
HISTORY_SEPARATOR = "|"


def history_key(market_id: str) -> str:
    return f"{HISTORY_PREFIX}{market_id}"


# --- metrics extensions (issue 11: the Prometheus scrape reads them, amm/prometheus_metrics.py) ----------
# | key | type | what |
# |---|---|---|
# | `amm:metrics:cycle_latency` | hash | `{outcome}:{le}` -> quote cycles of that outcome whose latency fell in that bucket (per bucket, not cumulative); `{outcome}:sum_us` -> their summed latency in µs |
# | `amm:metrics:fills` | hash | market_id -> fills applied by the feed (monotonic: a Prometheus counter) |
# Counters are only ever incremented inside commands the hot path already sends (cycle_commit's
# MULTI, the fill script), so that every process's cycles add up in one place at no extra round trip.
METRICS_CYCLE_LATENCY = f"{PREFIX}:metrics:cycle_latency"
METRICS_FILLS = f"{PREFIX}:metrics:fills"
CYCLE_LATENCY_BUCKETS_S = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
CYCLE_LATENCY_INF = "+Inf"
CYCLE_LATENCY_SUM = "sum_us"


def cycle_latency_fields(outcome: str, seconds: float) -> tuple[str, str]:
    """(bucket field, sum field) of `amm:metrics:cycle_latency` for one cycle: the first
    bucket whose upper bound holds it (Prometheus `le`), else +Inf."""
    bound = next((b for b in CYCLE_LATENCY_BUCKETS_S if seconds <= b), None)
    le = CYCLE_LATENCY_INF if bound is None else repr(bound)
    return f"{outcome}:{le}", f"{outcome}:{CYCLE_LATENCY_SUM}"
