"""Settings, all from environment variables (ammproject.env is the only reader).

DATABASE_URL / REDIS_URL unset -> the embedded default (ammproject.embedded) is started.
Every default an app reads is declared once here with its app prefix (EXCHANGE_*, AMM_*).
"""
from __future__ import annotations

from pathlib import Path

from ammproject import embedded
from ammproject.env import database_from_url, env_bool, env_int, env_list, env_map, env_str

BASE_DIR = Path(__file__).resolve().parent.parent

DEBUG = env_bool("DEBUG", False)
SECRET_KEY = env_str("SECRET_KEY") or "dev-only-insecure-key-set-SECRET_KEY-in-production"
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]", "testserver"])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "django_fsm",
    "django_rq",
    "exchange",
    "amm",
    "sim",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "ammproject.urls"
WSGI_APPLICATION = "ammproject.wsgi.application"
TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ]
        },
    }
]

DATABASE_URL = env_str("DATABASE_URL") or embedded.postgres_url("amm")
DATABASES = {"default": {**database_from_url(DATABASE_URL), "CONN_MAX_AGE": env_int("DB_CONN_MAX_AGE", 60)}}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = env_str("REDIS_URL") or embedded.redis_url(0)

LANGUAGE_CODE = "en-us"
TIME_ZONE = env_str("TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True
STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / ".data" / "static"

REST_FRAMEWORK = {
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    # One error body for every API: {"error": CODE, "detail": text} (SPEC §3.6).
    "EXCEPTION_HANDLER": "exchange.apis.errors.exception_handler",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "amm reference platform and AMM monitoring API",
    "VERSION": "1.0.0",
    "ENUM_NAME_OVERRIDES": {
        "OrderStatusEnum": "exchange.enums.OrderStatus",
        "MarketStatusEnum": "exchange.enums.MarketStatus",
        "SideEnum": "exchange.enums.Side",
    },
}

RQ_QUEUES = {
    "default": {"URL": REDIS_URL},
    "amm": {"URL": REDIS_URL},
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    # One INFO line per HTTP request would drown the operator's status lines.
    "loggers": {name: {"level": env_str("HTTP_LOG_LEVEL", "WARNING")} for name in ("httpx", "httpcore")},
}

# --- exchange (the reference platform) -------------------------------------------------
AMM_USER_ID = "00000000-0000-4000-a000-000000000001"
# Users whose incoming orders may match their own resting orders (seed §3.4 option A).
EXCHANGE_SELF_TRADE_EXEMPT_USERS = env_list("EXCHANGE_SELF_TRADE_EXEMPT_USERS", [AMM_USER_ID])
# Users allowed to call the privileged mint/burn (the AMM).
EXCHANGE_MINT_BURN_USERS = env_list("EXCHANGE_MINT_BURN_USERS", [AMM_USER_ID])
# Replace calls per user per 60 s window (ratelimit:{user_id}:replace).
EXCHANGE_REPLACE_RATE_LIMIT = env_int("EXCHANGE_REPLACE_RATE_LIMIT", 6000)
EXCHANGE_MAX_BODY_BYTES = env_int("EXCHANGE_MAX_BODY_BYTES", 64 * 1024)
EXCHANGE_MAX_REPLACEMENTS = env_int("EXCHANGE_MAX_REPLACEMENTS", 40)
# Dead man's switch (cancel-all-after): a sweeper thread per serving process, ticking.
EXCHANGE_DEADMAN_SWEEPER = env_bool("EXCHANGE_DEADMAN_SWEEPER", True)
EXCHANGE_DEADMAN_TICK_MS = env_int("EXCHANGE_DEADMAN_TICK_MS", 200)

# --- amm (the plugin) ------------------------------------------------------------------
AMM_PLATFORM_BASE_URL = env_str("AMM_PLATFORM_BASE_URL", "http://127.0.0.1:8000")
AMM_PLATFORM_API_KEY = env_str("AMM_PLATFORM_API_KEY", "")
# Oracle feeds (amm/oracle, SPEC §6): adapters beside the built-ins (http_json, sim), as
# AMM_ORACLE_ADAPTERS="name=dotted.path.Class,..." (a built-in's name replaces it); a market's
# config picks one by name. A source failing this many polls in a row raises ORACLE_FAILED;
# a failing source is polled less often, backing off up to AMM_ORACLE_BACKOFF_MAX_MS.
AMM_ORACLE_ADAPTERS = env_map("AMM_ORACLE_ADAPTERS", {})
AMM_ORACLE_ALERT_AFTER_FAILURES = env_int("AMM_ORACLE_ALERT_AFTER_FAILURES", 3)
AMM_ORACLE_BACKOFF_MAX_MS = env_int("AMM_ORACLE_BACKOFF_MAX_MS", 30_000)
# Connector (amm/connector): timeouts, retries with exponential backoff, Retry-After cap.
AMM_PLATFORM_TIMEOUT_MS = env_int("AMM_PLATFORM_TIMEOUT_MS", 5000)
AMM_PLATFORM_CONNECT_TIMEOUT_MS = env_int("AMM_PLATFORM_CONNECT_TIMEOUT_MS", 2000)
AMM_PLATFORM_MAX_ATTEMPTS = env_int("AMM_PLATFORM_MAX_ATTEMPTS", 4)
AMM_PLATFORM_BACKOFF_BASE_MS = env_int("AMM_PLATFORM_BACKOFF_BASE_MS", 50)
AMM_PLATFORM_BACKOFF_MAX_MS = env_int("AMM_PLATFORM_BACKOFF_MAX_MS", 2000)
AMM_PLATFORM_MAX_RETRY_AFTER_S = env_int("AMM_PLATFORM_MAX_RETRY_AFTER_S", 30)
# Bookkeeping: fill-feed page size, order journal stream cap and flush batch.
AMM_FILL_POLL_LIMIT = env_int("AMM_FILL_POLL_LIMIT", 500)
AMM_JOURNAL_MAXLEN = env_int("AMM_JOURNAL_MAXLEN", 1_000_000)
AMM_JOURNAL_FLUSH_BATCH = env_int("AMM_JOURNAL_FLUSH_BATCH", 1000)
# Audit reports: the one read-only exception to "through the API only" is the ledger
# cross-check (seed §8.3), a raw SQL read of the platform's ledger_entries on this DB alias.
AMM_AUDIT_LEDGER_SQL = env_bool("AMM_AUDIT_LEDGER_SQL", True)
AMM_AUDIT_DATABASE = env_str("AMM_AUDIT_DATABASE", "default")
# Runtime (amm/runtime, SPEC §7): leases, scheduling, the fill poller, the dead man's switch.
AMM_LEASE_TTL_MS = env_int("AMM_LEASE_TTL_MS", 3000)  # a dead worker's market is taken over within this
AMM_CYCLE_LEASE_WAIT_MS = env_int("AMM_CYCLE_LEASE_WAIT_MS", 100)  # a cycle waits this long for its market
AMM_SCHEDULER_TICK_MS = env_int("AMM_SCHEDULER_TICK_MS", 20)
AMM_TICK_DISPATCH_MS = env_int("AMM_TICK_DISPATCH_MS", 100)  # periodic cycles due are enqueued together this often
AMM_TICK_BATCH = env_int("AMM_TICK_BATCH", 10)  # periodic cycles per RQ job
AMM_FILL_WAIT_MS = env_int("AMM_FILL_WAIT_MS", 250)  # the feed's long poll (GET /trades?wait_ms=); 0: plain polling
AMM_FILL_POLL_INTERVAL_MS = env_int("AMM_FILL_POLL_INTERVAL_MS", 20)  # poll period when the platform answers at once
AMM_FEED_WINDOW_MS = env_int("AMM_FEED_WINDOW_MS", 1000)  # one feed job polls this long, then is re-enqueued
AMM_STATUS_POLL_MS = env_int("AMM_STATUS_POLL_MS", 300)  # market statuses read (GET /markets) by the feed job
AMM_MARKET_STATUS_MAX_AGE_MS = env_int("AMM_MARKET_STATUS_MAX_AGE_MS", 1000)  # older: the cycle GETs the market
AMM_ORDERBOOK_DEPTH = env_int("AMM_ORDERBOOK_DEPTH", 10)
AMM_BOOK_REUSE_MAX_MS = env_int("AMM_BOOK_REUSE_MAX_MS", 10_000)  # a tick re-reads the book at least this often
AMM_RECONCILE_INTERVAL_S = env_int("AMM_RECONCILE_INTERVAL_S", 300)
AMM_CONFIG_RELOAD_INTERVAL_S = env_int("AMM_CONFIG_RELOAD_INTERVAL_S", 30)
AMM_JOURNAL_FLUSH_INTERVAL_MS = env_int("AMM_JOURNAL_FLUSH_INTERVAL_MS", 2000)
AMM_PRIVILEGED_PENDING_MAX_MS = env_int("AMM_PRIVILEGED_PENDING_MAX_MS", 30_000)  # a mint/burn in flight this long stops blocking rebuilds
AMM_UNKNOWN_GRACE_MS = env_int("AMM_UNKNOWN_GRACE_MS", 3000)  # re-sync every cycle this long after an unknown outcome
AMM_DEADMAN_REQUIRED = env_bool("AMM_DEADMAN_REQUIRED", True)  # send orders only while the switch is armed
AMM_DEADMAN_MARGIN_MS = env_int("AMM_DEADMAN_MARGIN_MS", 300)
AMM_WORKERS = env_int("AMM_WORKERS", 2)  # run_amm --workers default
AMM_WORKER_CLASS = env_str("AMM_WORKER_CLASS", "amm.runtime.worker.AmmWorker")
AMM_STATUS_PRINT_S = env_int("AMM_STATUS_PRINT_S", 5)
AMM_STATUS_MAX_LINES = env_int("AMM_STATUS_MAX_LINES", 20)  # run_amm: more markets -> a summary line
AMM_SHUTDOWN_TIMEOUT_S = env_int("AMM_SHUTDOWN_TIMEOUT_S", 10)
AMM_PLATFORM_KEEPALIVE = env_bool("AMM_PLATFORM_KEEPALIVE", True)  # False: Connection: close on every call
