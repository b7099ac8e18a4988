"""Oracle feeds: the first layer of the fair price (SPEC §6, `amm:oracle:{market_id}`).

An adapter reads one market's external probability; the poller (`amm.runtime.oracle_poll`, run
as the `oracle_poll` RQ job beside the quote cycles) writes it to Redis, and the next
quote cycle reads it like any other state and hands it to the strategy, whose guards
decide what it is worth (STALE: weight 0; JUMP / DEVIATION: weight 0 and the defense
widens). A cycle never waits for a source.

Adapters (`AMM_ORACLE_ADAPTERS` adds or replaces names: `name=dotted.path.Class,...`):

| name | class | reads |
|---|---|---|
| `http_json` | `amm.oracle.http_json.HttpJsonOracle` | `GET oracle_url_template` ({market_id} substituted), the value at `oracle_json_path` in `oracle_unit` (`probability` 0..1 or `cents` 0..100), the time at `oracle_ts_json_path` (epoch ms or s, ISO 8601; blank: the fetch time), within `oracle_timeout_ms` |
| `sim` | `amm.oracle.http_json.SimOracle` | the simulator's `GET …/oracle/{market_id}` → `{"probability": 0.634, "ts_ms": …}`: `http_json` with path, timestamp path and unit fixed, so a market sets only the URL |

A market picks one with its config's `oracle_adapter` (blank: no oracle, the default)
and is polled every `oracle_poll_interval_ms` while RUNNING or EMERGENCY, at most one
poll in flight per market. A failing source (timeout, error status, not JSON, no value at
the path, not a number, out of range) writes nothing, so its last reading goes stale and
the fair price degrades to the book and fill layers; it is asked less often (back-off up
to AMM_ORACLE_BACKOFF_MAX_MS) and its AMM_ORACLE_ALERT_AFTER_FAILURES-th consecutive
failure raises one ORACLE_FAILED alert.

A new adapter subclasses `OracleAdapter` and implements `read(market_id, config, now_ms)`
-> `OracleQuote | None` (None: nothing new, not a failure), raising `OracleError`
(`OracleUnavailable`, `OracleBadAnswer`, `OracleMisconfigured`) when it cannot answer, and
optionally `config_errors(config)` to refuse a market config it cannot work with.

`base` and `http_json` are pure (no Django); `registry` reads settings; `poll` uses
Redis (amm.state), the database (alerts) and the registry.
"""
from amm.oracle.base import (  # noqa: F401
    FeedConfig,
    OracleAdapter,
    OracleBadAnswer,
    OracleError,
    OracleMisconfigured,
    OracleQuote,
    OracleUnavailable,
)
from amm.oracle.registry import BUILTIN_ADAPTERS, adapter_get, adapter_paths, adapters_close  # noqa: F401
