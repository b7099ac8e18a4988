"""The plugin's settings: every `AMM_*` default declared once, here, and read through
`amm_settings` (django-appconf's idea without the dependency).

    from amm.conf import amm_settings
    amm_settings.AMM_LEASE_TTL_MS        # the host's value, else the default below

A host project sets any of them in its Django settings (this project reads them from the
environment: ammproject/settings.py). Each value is read once and kept until a setting
changes: a test's `settings.AMM_X = ...` (pytest-django's fixture, override_settings: both
send `setting_changed`) applies at once; an assignment on django.conf.settings itself needs
`amm_settings.reload()`. `configure()` checks the values a host
gives and refuses a bad one by name, before anything runs.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any, Callable, Mapping

from django.conf import settings as django_settings
from django.core.exceptions import ImproperlyConfigured
from django.core.signals import setting_changed

SEVERITIES = ("INFO", "WARNING", "CRITICAL")


@dataclass(frozen=True)
class Setting:
    default: Any
    help: str
    clean: Callable[[Any], Any] | None = None  # normalises a given value (e.g. upper-case)


def _upper(value: Any) -> Any:
    return value.upper() if isinstance(value, str) else value


SETTINGS: dict[str, Setting] = {
    # Platform connection (amm/connector): timeouts, retries with exponential backoff, Retry-After cap.
    "AMM_PLATFORM_BASE_URL": Setting("http://127.0.0.1:8000", "the platform's REST API base URL"),
    "AMM_PLATFORM_API_KEY": Setting("", "the AMM account's API key on the platform"),
    "AMM_PLATFORM_TIMEOUT_MS": Setting(5000, "read timeout of one platform call"),
    "AMM_PLATFORM_CONNECT_TIMEOUT_MS": Setting(2000, "connect timeout of one platform call"),
    "AMM_PLATFORM_MAX_ATTEMPTS": Setting(4, "attempts of an idempotent platform call"),
    "AMM_PLATFORM_BACKOFF_BASE_MS": Setting(50, "first retry's backoff (doubles)"),
    "AMM_PLATFORM_BACKOFF_MAX_MS": Setting(2000, "longest backoff between retries"),
    "AMM_PLATFORM_MAX_RETRY_AFTER_S": Setting(30, "a longer Retry-After is capped to this"),
    "AMM_PLATFORM_KEEPALIVE": Setting(True, "False: Connection: close on every call"),
    # Oracle feeds (amm/oracle, SPEC §6).
    "AMM_ORACLE_ADAPTERS": Setting({}, "name=dotted.path.Class beside the built-ins (a built-in's name replaces it)"),
    "AMM_ORACLE_ALERT_AFTER_FAILURES": Setting(3, "failed polls in a row before ORACLE_FAILED"),
    "AMM_ORACLE_BACKOFF_MAX_MS": Setting(30_000, "a failing source is polled less often, up to this"),
    # Bookkeeping and the order journal.
    "AMM_FILL_POLL_LIMIT": Setting(500, "trades per page of the fill feed"),
    "AMM_JOURNAL_MAXLEN": Setting(1_000_000, "order events kept in amm:journal"),
    "AMM_JOURNAL_FLUSH_BATCH": Setting(1000, "journal events written to the AMMOrder table per batch"),
    "AMM_AUDIT_LEDGER_SQL": Setting(True, "audit reports read the platform's ledger with SQL"),
    "AMM_AUDIT_DATABASE": Setting("default", "the database alias the audit reports read"),
    # Runtime (amm/runtime).
    "AMM_LEASE_TTL_MS": Setting(3000, "a dead worker's market is taken over within this"),
    "AMM_LEASE_MARGIN_MS": Setting(500, "a holder stops sending order calls this long (at most TTL/6) before "
                                   "its lease's TTL runs out by its own clock (issue 15)"),
    "AMM_CYCLE_LEASE_WAIT_MS": Setting(100, "a cycle waits this long for its market's lease"),
    "AMM_INSTANCE_MAX_AGE_MS": Setting(5000, "a cycle re-reads its instance row from the database at least this "
                                       "often even when Redis reports no change (amm/runtime/instance_cache.py)"),
    "AMM_SCHEDULER_TICK_MS": Setting(20, "the run loop's tick"),
    "AMM_TICK_DISPATCH_MS": Setting(100, "periodic cycles due are enqueued together this often"),
    "AMM_TICK_BATCH": Setting(10, "periodic cycles per batch (more when the due cycles would make more batches "
                              "than tick lanes, or workers, to take them at once)"),
    "AMM_TICK_LANE": Setting(True, "each amm_worker takes the periodic batches from amm:ticks on a thread of its "
                             "own, without an RQ job a batch (amm/runtime/tick_lane.py); False: RQ jobs"),
    "AMM_TICK_LANE_THREADS": Setting(1, "tick lanes (threads) per amm_worker process"),
    "AMM_TICK_LANE_HELP_MS": Setting(250, "the tick lane of the worker running the feed job takes a batch only "
                                     "once it has waited this long (the other lanes are behind or absent)"),
    "AMM_TICK_LANE_ALIVE_MS": Setting(3000, "a tick lane whose heartbeat is older is counted dead: batches go to "
                                      "the RQ queue while no lane is alive"),
    "AMM_FAST_LANE_THREADS": Setting(2, "threads per process running fill and book-move requotes at once, "
                                     "without the queue (0: through the queue; amm/runtime/fast_lane.py)"),
    "AMM_FILL_WAIT_MS": Setting(250, "the feed's long poll (GET /trades?wait_ms=); 0: plain polling"),
    "AMM_FILL_POLL_INTERVAL_MS": Setting(20, "poll period when the platform answers at once"),
    "AMM_FEED_WINDOW_MS": Setting(10_000, "one feed job reads this long, then is re-enqueued (no fill is read "
                                  "until a worker takes the next; a warm stop ends it at once)"),
    "AMM_FEED_WINDOWS_PER_JOB": Setting(6, "feed windows one job reads back to back while two or more workers "
                                        "serve the queue (between two jobs no fill is read until a worker "
                                        "takes the next: a scheduler tick and a batch); 1: a window a job"),
    "AMM_STATUS_POLL_MS": Setting(300, "market statuses read (GET /markets) by the feed job this often"),
    "AMM_MARKET_STATUS_MAX_AGE_MS": Setting(1000, "an older market status: the cycle GETs the market"),
    "AMM_ORDERBOOK_DEPTH": Setting(10, "levels of the book a cycle reads"),
    "AMM_BOOK_REUSE_MAX_MS": Setting(10_000, "a tick re-reads the book at least this often"),
    "AMM_RECONCILE_INTERVAL_S": Setting(300, "reconciliation of every market this often (SPEC §8)"),
    "AMM_CONFIG_RELOAD_INTERVAL_S": Setting(30, "config versions checked this often"),
    "AMM_JOURNAL_FLUSH_INTERVAL_MS": Setting(2000, "the order journal is flushed this often"),
    "AMM_PRIVILEGED_PENDING_MAX_MS": Setting(30_000, "a mint/burn in flight this long stops blocking rebuilds"),
    "AMM_UNKNOWN_GRACE_MS": Setting(3000, "re-sync every cycle this long after an unknown outcome"),
    "AMM_DEADMAN_REQUIRED": Setting(True, "send orders only while the dead man's switch is armed"),
    "AMM_DEADMAN_MARGIN_MS": Setting(300, "an armed switch must have this much time left"),
    "AMM_WORKERS": Setting(2, "run_amm --workers default"),
    "AMM_WORKER_CLASS": Setting("amm.runtime.worker.AmmWorker", "the RQ worker class run_amm starts"),
    "AMM_STATUS_PRINT_S": Setting(5, "run_amm prints its status lines this often"),
    "AMM_STATUS_MAX_LINES": Setting(20, "run_amm: more markets -> a summary line"),
    "AMM_SHUTDOWN_TIMEOUT_S": Setting(10, "run_amm waits this long for its workers on shutdown"),
    # Push feeds (docs/push.md): the platform's event stream first, REST polling as the fallback.
    "AMM_PUSH": Setting(True, "read fills and market changes from the event stream while it is reachable"),
    "AMM_EVENTS_REDIS_URL": Setting("", "the platform's Redis holding the event streams (unset: REDIS_URL)"),
    "AMM_EVENTS_GROUP": Setting("amm", "the AMM's consumer group on the event streams"),
    "AMM_EVENTS_BLOCK_MS": Setting(200, "one XREADGROUP waits this long for new events"),
    "AMM_EVENTS_BATCH": Setting(200, "events read (and acknowledged) together"),
    "AMM_EVENTS_CLAIM_IDLE_MS": Setting(1000, "a consumer's unacknowledged events are taken over after this"),
    "AMM_EVENTS_RETRY_MS": Setting(2000, "an unreachable stream is tried again after this (REST meanwhile)"),
    "AMM_EVENTS_CATCHUP_MS": Setting(1000, "while the stream is read, a REST catch-up of the trade cursor this often"),
    "AMM_EVENTS_LAG_MS": Setting(1000, "a fill the catch-up finds this old (the stream missed it): stream unhealthy"),
    "AMM_PLATFORM_WS_URL": Setting("", "the platform's WebSocket base (unset: AMM_PLATFORM_BASE_URL as ws://)"),
    "AMM_BOOK_PUSH": Setting(True, "run_amm keeps each driven market's book from the WebSocket feed (with AMM_PUSH)"),
    "AMM_BOOK_PUSH_MAX_AGE_MS": Setting(1000, "cycles use the pushed books while the book feed's heartbeat is this young"),
    "AMM_BOOK_PUSH_DEPTH": Setting(20, "levels a side of a pushed book written for the cycles"),
    "AMM_BOOK_MOVE_CENTS": Setting(1.0, "a pushed book whose outside micro-price moved this much requotes at once"),
    # Operator dashboard (/amm/dashboard/) and its history sampler.
    "AMM_HISTORY_SAMPLE_S": Setting(10, "run_amm samples every driven market this often (amm:history)"),
    "AMM_HISTORY_WINDOW_S": Setting(3600, "history kept per market (the charts' span)"),
    "AMM_DASHBOARD_REFRESH_MS": Setting(3000, "the page fetches its data this often"),
    "AMM_DASHBOARD_STALE_MS": Setting(5000, "a RUNNING market not requoted for this long wants attention"),
    # Metrics and alert notifications.
    "AMM_METRICS_TOKEN": Setting("", "bearer token of GET /api/amm/v1/metrics (unset: staff sessions only)"),
    "AMM_ALERT_WEBHOOK_URL": Setting("", "alerts at or above the minimum severity are POSTed here (unset: none)"),
    "AMM_ALERT_WEBHOOK_TIMEOUT_MS": Setting(2000, "per attempt"),
    "AMM_ALERT_WEBHOOK_RETRIES": Setting(3, "attempts after the first"),
    "AMM_ALERT_WEBHOOK_BACKOFF_MS": Setting(500, "doubles after each failed attempt"),
    "AMM_ALERT_WEBHOOK_MIN_SEVERITY": Setting("CRITICAL", "INFO, WARNING or CRITICAL", clean=_upper),
    # Monitoring API (/api/amm/v1/).
    "AMM_API_PAGE_SIZE": Setting(50, "rows per page of a list (?page_size= up to the max)"),
    "AMM_API_MAX_PAGE_SIZE": Setting(500, "largest ?page_size="),
    "AMM_HEALTH_TIMEOUT_MS": Setting(1000, "health: Redis and platform probes give up after this"),
    "AMM_HEALTH_FEED_STALE_MS": Setting(10_000, "health: a fill feed silent this long is failing"),
    # The demo's operator login (sim).
    "AMM_DEMO_OPERATOR_USERNAME": Setting("operator", "the operator login `make demo` creates"),
    "AMM_DEMO_OPERATOR_PASSWORD": Setting("", "its password (unset: one generated per run)"),
}


def defaults() -> dict[str, Any]:
    return {name: spec.default for name, spec in SETTINGS.items()}


def _refusals(values: Mapping[str, Any]) -> list[str]:
    token, url = values["AMM_METRICS_TOKEN"], values["AMM_ALERT_WEBHOOK_URL"]
    refusals = []
    if token and len(token) < 16:
        refusals.append("AMM_METRICS_TOKEN must be at least 16 characters")
    if url and not url.startswith(("http://", "https://")):
        refusals.append("AMM_ALERT_WEBHOOK_URL must be an http:// or https:// URL")
    url = values["AMM_EVENTS_REDIS_URL"]
    if url and not url.startswith(("redis://", "rediss://", "unix://")):
        refusals.append("AMM_EVENTS_REDIS_URL must be a redis://, rediss:// or unix:// URL")
    if values["AMM_EVENTS_CLAIM_IDLE_MS"] <= 0 or values["AMM_EVENTS_BLOCK_MS"] <= 0 or values["AMM_EVENTS_BATCH"] <= 0:
        refusals.append("AMM_EVENTS_CLAIM_IDLE_MS, _BLOCK_MS and _BATCH must be > 0")
    if values["AMM_INSTANCE_MAX_AGE_MS"] < 0:
        refusals.append("AMM_INSTANCE_MAX_AGE_MS must be >= 0")
    if values["AMM_TICK_LANE_THREADS"] < 1:
        refusals.append("AMM_TICK_LANE_THREADS must be >= 1")
    if values["AMM_TICK_LANE_HELP_MS"] < 0:
        refusals.append("AMM_TICK_LANE_HELP_MS must be >= 0")
    if values["AMM_TICK_LANE_ALIVE_MS"] < 1000:
        refusals.append("AMM_TICK_LANE_ALIVE_MS must be >= 1000 (a lane beats every 0.5 s)")
    if values["AMM_FAST_LANE_THREADS"] < 0:
        refusals.append("AMM_FAST_LANE_THREADS must be >= 0")
    if values["AMM_ALERT_WEBHOOK_MIN_SEVERITY"] not in SEVERITIES:
        refusals.append("AMM_ALERT_WEBHOOK_MIN_SEVERITY must be INFO, WARNING or CRITICAL")
    if (values["AMM_ALERT_WEBHOOK_TIMEOUT_MS"] <= 0 or values["AMM_ALERT_WEBHOOK_RETRIES"] < 0
            or values["AMM_ALERT_WEBHOOK_BACKOFF_MS"] < 0):
        refusals.append("AMM_ALERT_WEBHOOK_TIMEOUT_MS must be > 0, _RETRIES and _BACKOFF_MS >= 0")
    return refusals


def configure(given: Mapping[str, Any]) -> dict[str, Any]:
    """The settings a host gives (any subset), cleaned and checked, with the defaults for
    the rest; ImproperlyConfigured naming every bad value."""
    unknown = sorted(set(given) - set(SETTINGS))
    if unknown:
        raise ImproperlyConfigured(f"unknown AMM settings: {', '.join(unknown)}")
    values = defaults()
    for name, value in given.items():
        clean = SETTINGS[name].clean
        values[name] = clean(value) if clean else value
    refusals = _refusals(values)
    if refusals:
        raise ImproperlyConfigured("; ".join(refusals))
    return values


class AppSettings:
    """`amm_settings.NAME`: Django's setting NAME when the host set it, else its default.

    Each value is looked up once and kept (a quote cycle reads about fifteen, and Django's
    lookup of a setting the host did not set raises and catches an AttributeError each time);
    kept values are dropped when a setting changes (`setting_changed`: override_settings and
    pytest-django's `settings` fixture send it) or by `reload()`."""

    def __init__(self) -> None:
        self.__dict__.update(_values={}, _generation=0, _lock=threading.Lock())

    def __getattr__(self, name: str) -> Any:
        values = self._values
        try:
            return values[name]
        except KeyError:
            pass
        try:
            spec = SETTINGS[name]
        except KeyError:
            raise AttributeError(f"{name} is not an AMM setting (amm/conf.py)") from None
        generation = self._generation
        value = getattr(django_settings, name, spec.default)
        with self._lock:  # not kept when the settings changed meanwhile (another thread read it mid-change)
            if self._generation == generation:
                values[name] = value
        return value

    def reload(self) -> None:
        """Forget the kept values (a setting assigned on django.conf.settings directly sends no signal)."""
        with self._lock:
            self.__dict__["_generation"] = self._generation + 1
            self._values.clear()


amm_settings = AppSettings()


def _setting_changed(*, setting: str, **_: Any) -> None:
    if setting in SETTINGS:
        amm_settings.reload()


setting_changed.connect(_setting_changed, dispatch_uid="amm.conf.setting_changed")
