"""The AMM's Redis working memory (SPEC §4): the only package that knows `amm:*` keys.

Layer 3 of SPEC §1: rebuilt from the platform on start, reconciled every 5 minutes.

Design notes
- One round trip per quote cycle: `quote_cycle_read` (MULTI/EXEC of six reads).
- Atomic multi-key updates are Lua scripts (amm/state/lua.py), registered once per client:
  a fill (inventory + orders + processed set + state counters + journal), a placement, a
  cancel/replace, a mint/burn, a rebuild.
- Cash: the platform keeps cash per account; the seed keys `cash_cents` per market. Here
  `cash_cents` mirrors the account's AVAILABLE balance in every kept market's hash (each
  cash delta is applied to all of them), so reconciliation compares it with
  `GET /account/balance`.available_balance exactly as seed §7.3 does.
- Extension keys (not in the seed): `amm:market:{m}` (platform metadata the fee math and
  the strategy need), `amm:markets` (kept markets), `amm:untracked_fills:{m}` (fills seen
  before their order was tracked), `amm:cursor:trades` (fill-feed cursor), `amm:journal`
  (order event stream flushed to the AMMOrder table). See amm/state/keys.py.
- Operator console (issue 11): `markets_live_read` (amm/state/live.py) reads the live state
  of any number of markets in one round trip; `amm:history:{m}` (amm/state/history.py) keeps
  an hour of compact samples per market for the dashboard's charts, written by a periodic
  sampler job, never by the quote cycle.
- Runtime extensions (amm/runtime): leases, the kept StrategyState, per-market runtime flags
  (resync, rate-limit pause), fills for the next cycle, job markers, the dead man's switch
  as last armed, the run heartbeat, the daily-reset day, the oracle poller's failure record. `runtime_cycle_read` is the
  runtime's one-round-trip read (the seed keys plus these); `cycle_commit` its one write.
- Metrics extensions (issue 11): a fills counter and a cycle-latency histogram, incremented
  inside the fill script and `cycle_commit` / `cycle_end`; `metrics_read` is the scrape's
  one round trip (amm/state/metrics.py).
- Monitoring (amm/state/monitor.py): `health_read` reads the heartbeats in one round trip.
"""
from amm.state.keys import (  # noqa: F401
    CONFIG_VERSION_FIELD,
    INFLIGHT_PREFIX,
    INVENTORY_FIELDS,
    JOURNAL,
    MARKETS,
    ORDER_FIELDS,
    PROCESSED_KEEP_TRADES,
    STATE_FIELDS,
    TRADE_CURSOR,
    config_key,
    inventory_key,
    lease_key,
    market_key,
    market_keys,
    oracle_key,
    orders_key,
    processed_key,
    state_key,
    untracked_key,
)
from amm.state.monitor import HealthRead, health_read  # noqa: F401
from amm.state.store import (  # noqa: F401
    CycleRead,
    FillLeg,
    InventoryView,
    OrderEntry,
    QuoteCycleRead,
    cash_view,
    config_fields_many,
    config_get,
    config_version,
    config_write,
    cycle_commit,
    cycle_end,
    daily_reset_apply,
    daily_reset_day,
    deadman_get,
    deadman_record,
    fill_apply,
    fills_push,
    job_done,
    job_finish,
    job_marker,
    job_renew,
    job_reruns,
    job_renew_many,
    job_request,
    job_request_many,
    job_started,
    lease_acquire,
    lease_holder,
    lease_release,
    lease_renew,
    lease_steal,
    inventory_get,
    journal_ack,
    journal_append,
    journal_length,
    journal_read,
    market_forget,
    market_memory_usage,
    market_meta_get,
    market_meta_write,
    market_rebuild,
    market_status_many,
    market_status_write_many,
    markets_kept,
    now_ms,
    oracle_failure_record,
    oracle_get,
    oracle_health_get,
    oracle_success_record,
    oracle_write,
    order_call_begin,
    order_calls_end,
    order_calls_in_flight,
    order_track,
    orders_get,
    orders_untrack,
    cash_epoch,
    privileged_apply,
    privileged_pending,
    privileged_pending_add,
    privileged_pending_remove,
    processed_contains,
    processed_trim,
    quote_cycle_read,
    quote_cycle_read_many,
    resync_request,
    run_get,
    run_markets_get,
    run_markets_set,
    run_update,
    runtime_cycle_read,
    runtime_get,
    runtime_update,
    state_get,
    state_increment,
    state_update,
    strategy_get,
    trade_cursor_advance,
    trade_cursor_get,
    working_state_wipe,
    untracked_fills_get,
    untracked_fills_prune,
)
from amm.state.history import (  # noqa: F401
    HistorySample,
    history_append_many,
    history_get,
    history_sample_read,
    history_window,
    markets_dashboard_read,
)
from amm.state.keys import HISTORY_FIELDS, history_key  # noqa: F401
from amm.state.live import best_quotes, markets_live_read  # noqa: F401
from amm.state.metrics import LatencyHistogram, MarketMetricsRead, MetricsRead, metrics_read  # noqa: F401
