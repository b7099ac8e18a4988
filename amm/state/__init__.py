"""The AMM's Redis working memory (SPEC §4): the only package that knows `amm:*` keys.

Layer 3 of SPEC §1: rebuilt from the platform on start, reconciled every 5 minutes. Callers
use the package face (`from amm import state; state.fill_apply(...)`); every name is
re-exported here from the module that holds it.

Modules (the data dictionary first, then one module per domain):
- keys.py: every `amm:*` key and field table, named once (the data dictionary).
- lua.py: the Lua scripts that make multi-key updates atomic (a fill, a placement, a cancel,
  a mint/burn, a rebuild), registered once per client.
- connection.py: the AMM's own Redis clients (settings.REDIS_URL), the health probe's among
  them: the plugin does not import its host project.
- codec.py: Redis text <-> Python values for the field tables.
- strategy_codec.py: the kept StrategyState's compact, lossless form (`amm:strategy`).
- packing.py: the compact forms of the order books, fills and tape entries the runtime keeps.
- values.py: the value types (OrderEntry, FillLeg, QuoteCycleRead, CycleRead) and the
  inventory read: `Inventory`, the strategy's type, the one in-memory inventory
  (`InventoryView` is its name here).
- quote_cycle.py: the quote cycle's one read (`quote_cycle_read`, `runtime_cycle_read`) and
  its one write (`cycle_commit`, `cycle_end`); the runtime's cycle start and end, each one
  round trip with its lease and job marker (`cycle_begin`, `cycle_close`).
- inventory.py: `amm:inventory` reads and the fill feed's write (`fill_apply`, exactly once
  through `amm:processed`).
- tracked_orders.py: `amm:orders` (track, untrack) and fills seen before their order.
- mint_burn.py: mints and burns (applied once, pending while sent) and the cash epoch.
- rebuild.py: a market rebuilt from a platform snapshot, forgotten, wiped, measured.
- market.py: the platform's market metadata (`amm:market`) and the kept markets.
- strategy_state.py: `amm:state`, the kept StrategyState (`amm:strategy`), `amm:config`.
- oracle_readings.py: the latest oracle reading and the poller's failure record.
- trade_cursor.py: the fill feed's cursor.
- order_journal.py: the order event stream flushed to the AMMOrder table.
- runtime_flags.py: per-market runtime flags, order calls in flight, re-sync requests,
  fills handed to the next cycle.
- leases.py: one holder at a time per resource (a market's cycles, the feed, the scheduler).
- job_markers.py: at most one queued-or-running job per key, plus one rerun.
- tick_queue.py: periodic cycles handed to the workers' tick lanes (`amm:ticks`) and the
  lanes alive (`amm:tick_lanes`).
- run_record.py: the dead man's switch as armed, the run's heartbeats and markets, the
  daily reset.
- live.py: the live state of many markets in one round trip (operator console).
- history.py: `amm:history`, an hour of samples per market for the dashboard's charts.
- metric_counters.py: the fills and cycle-latency counters and the scrape's one read.
- monitor.py: the heartbeats the health check reads, in one round trip.

Design notes
- One round trip per quote cycle: `quote_cycle_read` (MULTI/EXEC of seven reads). The runtime's
  quiet cycle makes two: `cycle_begin` and `cycle_close` (scripts: one command each).
- Cash: the platform keeps cash per account; the seed keys `cash_cents` per market. Here the
  account's AVAILABLE balance is kept once (`amm:cash`, moved by the scripts that move cash)
  and every reader's `cash_cents` of a market is that value, so reconciliation compares it
  with `GET /account/balance`.available_balance exactly as seed §7.3 does. The field in each
  market's hash is a mirror written when a script works on that market and at its quote
  cycle's start (lua.py: one write per cash move, not one per kept market).
- Extension keys (not in the seed) are listed in keys.py: platform metadata, kept markets,
  untracked fills, the fill-feed cursor, the order journal; the runtime's (leases, the kept
  StrategyState, runtime flags, fills for the next cycle, job markers, the dead man's
  switch, the run heartbeat, the daily reset, the oracle poller's record); the console's
  history; the metric counters (incremented inside the fill script and `cycle_commit` /
  `cycle_end`, no round trip more).
"""
from amm.clock import now_ms  # noqa: F401 - the package face's clock
from amm.state.connection import get_redis, get_redis_probe  # noqa: F401
from amm.state.history import (  # noqa: F401
    HistorySample,
    history_append_many,
    history_get,
    history_sample_read,
    history_window,
    markets_dashboard_read,
)
from amm.state.inventory import (  # noqa: F401
    cash_view,
    fill_apply,
    inventory_get,
    processed_contains,
    processed_trim,
)
from amm.state.job_markers import (  # noqa: F401
    job_done,
    jobs_done,
    job_finish,
    job_marker,
    job_renew,
    job_renew_many,
    job_request,
    job_request_many,
    job_reruns,
    job_started,
)
from amm.state.keys import (  # noqa: F401
    CONFIG_VERSION_FIELD,
    HISTORY_FIELDS,
    INFLIGHT_PREFIX,
    INVENTORY_FIELDS,
    JOURNAL,
    MARKETS,
    ORDER_FIELDS,
    OWN_SEQUENCE_UNKNOWN,
    PROCESSED_KEEP_TRADES,
    STATE_FIELDS,
    TRADE_CURSOR,
    config_key,
    history_key,
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
from amm.state.leases import lease_acquire, lease_holder, lease_release, lease_renew, lease_steal  # noqa: F401
from amm.state.live import best_quotes, markets_live_read  # noqa: F401
from amm.state.market import (  # noqa: F401
    market_meta_get,
    market_meta_write,
    market_push_refresh,
    market_status_many,
    market_status_write_many,
    markets_kept,
)
from amm.state.metric_counters import LatencyHistogram, MarketMetricsRead, MetricsRead, metrics_read  # noqa: F401
from amm.state.mint_burn import (  # noqa: F401
    cash_epoch,
    privileged_apply,
    privileged_pending,
    privileged_pending_add,
    privileged_pending_remove,
)
from amm.state.monitor import HealthRead, health_read  # noqa: F401
from amm.state.oracle_readings import (  # noqa: F401
    oracle_failure_record,
    oracle_get,
    oracle_health_get,
    oracle_success_record,
    oracle_write,
)
from amm.state.order_journal import journal_ack, journal_append, journal_length, journal_read  # noqa: F401
from amm.state.quote_cycle import (  # noqa: F401
    CycleBegin,
    CycleClose,
    cycle_begin,
    cycle_close,
    cycle_commit,
    cycle_end,
    quote_cycle_read,
    quote_cycle_read_many,
    runtime_cycle_read,
)
from amm.state.push_book import (  # noqa: F401
    push_book_alive,
    push_book_drop,
    push_book_parse,
    push_book_write,
    push_books_get,
    push_books_write,
)
from amm.state.strategy_codec import strategy_text  # noqa: F401
from amm.state.rebuild import market_forget, market_memory_usage, market_rebuild, working_state_wipe  # noqa: F401
from amm.state.run_record import (  # noqa: F401
    daily_reset_apply,
    daily_reset_day,
    deadman_get,
    deadman_record,
    run_get,
    run_markets_get,
    run_markets_set,
    run_update,
)
from amm.state.runtime_flags import (  # noqa: F401
    fills_push,
    instance_mirror,
    instance_version_drop,
    instance_version_pending,
    instance_version_seed,
    order_call_begin,
    order_calls_end,
    order_calls_in_flight,
    resync_request,
    runtime_get,
    runtime_update,
)
from amm.state.strategy_state import (  # noqa: F401
    config_fields_many,
    config_get,
    config_version,
    config_write,
    state_fields_many,
    state_get,
    state_increment,
    state_update,
    strategy_get,
)
from amm.state.tick_queue import (  # noqa: F401
    TickBatch,
    tick_lane_beat,
    tick_lane_gone,
    tick_lane_names,
    tick_lanes_alive,
    ticks_oldest_ms,
    ticks_pop,
    ticks_request,
    ticks_waiting,
)
from amm.state.tracked_orders import (  # noqa: F401
    order_track,
    orders_get,
    orders_settled,
    orders_untrack,
    untracked_fills_get,
    untracked_fills_prune,
)
from amm.state.trade_cursor import trade_cursor_advance, trade_cursor_get  # noqa: F401
from amm.state.values import CycleRead, FillLeg, InventoryView, OrderEntry, QuoteCycleRead  # noqa: F401
