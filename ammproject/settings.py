"""Settings, all from environment variables (ammproject.env is the only reader).

DATABASE_URL / REDIS_URL unset -> the embedded default (ammproject.embedded) is started.
Every default an app reads is declared once here with its app prefix (EXCHANGE_*, AMM_*).
"""
from __future__ import annotations

from pathlib import Path

from django.core.exceptions import ImproperlyConfigured

from ammproject import embedded
from ammproject.env import database_from_url, env_bool, env_int, env_list, env_map, env_str

BASE_DIR = Path(__file__).resolve().parent.parent

DEBUG = env_bool("DEBUG", False)
# Sessions, CSRF tokens and signed cookies rest on this key: a server with DEBUG off never
# starts on a public one. `make demo` / `make test` export a generated key when it is unset.
SECRET_KEY = env_str("SECRET_KEY") or ("dev-only-insecure-key-DEBUG-only" if DEBUG else None)
if SECRET_KEY is None:
    raise ImproperlyConfigured(
        "SECRET_KEY is not set and DEBUG is off: refusing to start with a public key. Set SECRET_KEY to a "
        "long random value, e.g. `export SECRET_KEY=$(python3 -c 'import secrets; "
        "print(secrets.token_urlsafe(50))')`, the same for every process of one deployment "
        "(gunicorn, run_amm, amm_worker)."
    )
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
    # AMM monitoring API (/api/amm/v1/): DRF tokens for operators, django-filter for its filters.
    "rest_framework.authtoken",
    "django_filters",
    "ammproject.security",  # operator group, amm_operator, admin login throttling (last: its post_migrate)
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",  # static files in every serving form (gunicorn, DEBUG off)
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
# WhiteNoise serves the apps' static files from where Django's finders find them, so every
# serving form (`gunicorn ammproject.wsgi`, `make demo`, the test harness; DEBUG off) has
# the admin's CSS with no collectstatic step and never serves a stale copy.
# STATIC_USE_FINDERS=false serves what `collectstatic` wrote to STATIC_ROOT instead (with
# gzip/brotli variants). No manifest storage: templates would fail to render until
# collectstatic had run. (With finders, no STATIC_ROOT unless set: WhiteNoise warns about
# a missing one.)
WHITENOISE_USE_FINDERS = env_bool("STATIC_USE_FINDERS", True)
STATIC_ROOT = env_str("STATIC_ROOT") or (None if WHITENOISE_USE_FINDERS else str(BASE_DIR / ".data" / "static"))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}

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

# --- security -------------------------------------------------------------------------
# One switch for HTTPS deployments: HTTPS-only cookies, a redirect of plain http and HSTS.
# Off by default (the demo and local runs speak plain http). Each setting can be set alone.
SECURE_HTTPS = env_bool("SECURE_HTTPS", False)
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", SECURE_HTTPS)
SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", SECURE_HTTPS)
CSRF_COOKIE_SECURE = env_bool("CSRF_COOKIE_SECURE", SECURE_HTTPS)
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31_536_000 if SECURE_HTTPS else 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", SECURE_HTTPS)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", SECURE_HTTPS)
# Behind a TLS-terminating proxy: the header it sets to "https" (e.g. X-Forwarded-Proto).
# Only with a proxy that always sets it: a client could otherwise claim https itself.
_proxy_ssl_header = env_str("SECURE_PROXY_SSL_HEADER")
SECURE_PROXY_SSL_HEADER = (
    ("HTTP_" + _proxy_ssl_header.upper().replace("-", "_"), "https") if _proxy_ssl_header else None
)
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])  # e.g. https://amm.example.com

# Admin login throttling (ammproject.security.login_throttle): after LOGIN_THROTTLE_FAILURES
# failed logins of one username from one address within LOGIN_THROTTLE_WINDOW_S, that
# pair is refused for LOGIN_THROTTLE_LOCKOUT_S (counted in Redis: shared by every worker).
AUTHENTICATION_BACKENDS = [
    "ammproject.security.backends.LoginThrottleBackend",  # first: refuses a locked-out pair
    "django.contrib.auth.backends.ModelBackend",
]
LOGIN_THROTTLE_FAILURES = env_int("LOGIN_THROTTLE_FAILURES", 5)
LOGIN_THROTTLE_WINDOW_S = env_int("LOGIN_THROTTLE_WINDOW_S", 900)
LOGIN_THROTTLE_LOCKOUT_S = env_int("LOGIN_THROTTLE_LOCKOUT_S", 900)
# The request header carrying the client's address behind a proxy (e.g. X-Real-IP); unset:
# the connection's address. Behind a proxy without it, every client shares the proxy's.
LOGIN_THROTTLE_IP_HEADER = env_str("LOGIN_THROTTLE_IP_HEADER", "")
# The operator login `make demo` creates (sim demo): unset password -> one generated per run.
AMM_DEMO_OPERATOR_USERNAME = env_str("AMM_DEMO_OPERATOR_USERNAME", "operator")
AMM_DEMO_OPERATOR_PASSWORD = env_str("AMM_DEMO_OPERATOR_PASSWORD", "")

# --- exchange (the reference platform) -------------------------------------------------
AMM_USER_ID = "00000000-0000-4000-a000-000000000001"
# Users whose incoming orders may match their own resting orders (seed §3.4 option A).
EXCHANGE_SELF_TRADE_EXEMPT_USERS = env_list("EXCHANGE_SELF_TRADE_EXEMPT_USERS", [AMM_USER_ID])
# Users allowed to call the privileged mint/burn (the AMM).
EXCHANGE_MINT_BURN_USERS = env_list("EXCHANGE_MINT_BURN_USERS", [AMM_USER_ID])
# Per-user calls per 60 s window (exchange/apis/ratelimit.py): the replace call
# (ratelimit:{user_id}:replace), every other GET (:read) and every other call (:write). Far
# above what the AMM at 300 markets sends (about one replace per market a second: ~18,000 a
# window) or bench/api.py (~900 reads/s, ~290 orders/s): a brake on a runaway client.
EXCHANGE_REPLACE_RATE_LIMIT = env_int("EXCHANGE_REPLACE_RATE_LIMIT", 60_000)
EXCHANGE_RATE_LIMIT_READ = env_int("EXCHANGE_RATE_LIMIT_READ", 600_000)
EXCHANGE_RATE_LIMIT_WRITE = env_int("EXCHANGE_RATE_LIMIT_WRITE", 120_000)
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

# --- operator dashboard (issue 11): /amm/dashboard/ and its history sampler ------------------------
AMM_HISTORY_SAMPLE_S = env_int("AMM_HISTORY_SAMPLE_S", 10)  # run_amm samples every driven market this often (amm:history)
AMM_HISTORY_WINDOW_S = env_int("AMM_HISTORY_WINDOW_S", 3600)  # history kept per market (the charts' span)
AMM_DASHBOARD_REFRESH_MS = env_int("AMM_DASHBOARD_REFRESH_MS", 3000)  # the page fetches its data this often
AMM_DASHBOARD_STALE_MS = env_int("AMM_DASHBOARD_STALE_MS", 5000)  # a RUNNING market not requoted for this long wants attention

# --- amm: Prometheus metrics and alert notifications (issue 11) -------------------------
from ammproject.env import ImproperlyConfiguredEnv  # noqa: E402 - this block's own import, for easy merges

# GET /api/amm/v1/metrics also answers `Authorization: Bearer <AMM_METRICS_TOKEN>` (a
# scraper); unset: staff sessions only. A short token is refused rather than guessed at.
AMM_METRICS_TOKEN = env_str("AMM_METRICS_TOKEN", "")
if AMM_METRICS_TOKEN and len(AMM_METRICS_TOKEN) < 16:
    raise ImproperlyConfiguredEnv("AMM_METRICS_TOKEN must be at least 16 characters")
# Alerts of AMM_ALERT_WEBHOOK_MIN_SEVERITY or above are POSTed (JSON) to this URL from a
# background thread of the raising process (amm/notify); unset: no notifications.
AMM_ALERT_WEBHOOK_URL = env_str("AMM_ALERT_WEBHOOK_URL", "")
if AMM_ALERT_WEBHOOK_URL and not AMM_ALERT_WEBHOOK_URL.startswith(("http://", "https://")):
    raise ImproperlyConfiguredEnv("AMM_ALERT_WEBHOOK_URL must be an http:// or https:// URL")
AMM_ALERT_WEBHOOK_TIMEOUT_MS = env_int("AMM_ALERT_WEBHOOK_TIMEOUT_MS", 2000)  # per attempt
AMM_ALERT_WEBHOOK_RETRIES = env_int("AMM_ALERT_WEBHOOK_RETRIES", 3)  # attempts after the first
AMM_ALERT_WEBHOOK_BACKOFF_MS = env_int("AMM_ALERT_WEBHOOK_BACKOFF_MS", 500)  # doubles after each failed attempt
AMM_ALERT_WEBHOOK_MIN_SEVERITY = (env_str("AMM_ALERT_WEBHOOK_MIN_SEVERITY", "CRITICAL") or "").upper()
if AMM_ALERT_WEBHOOK_MIN_SEVERITY not in ("INFO", "WARNING", "CRITICAL"):
    raise ImproperlyConfiguredEnv("AMM_ALERT_WEBHOOK_MIN_SEVERITY must be INFO, WARNING or CRITICAL")
if AMM_ALERT_WEBHOOK_TIMEOUT_MS <= 0 or AMM_ALERT_WEBHOOK_RETRIES < 0 or AMM_ALERT_WEBHOOK_BACKOFF_MS < 0:
    raise ImproperlyConfiguredEnv("AMM_ALERT_WEBHOOK_TIMEOUT_MS must be > 0, _RETRIES and _BACKOFF_MS >= 0")

# --- amm monitoring API (/api/amm/v1/, amm/apis) ----------------------------------------------
AMM_API_PAGE_SIZE = env_int("AMM_API_PAGE_SIZE", 50)  # rows per page of a list (?page_size= up to the max)
AMM_API_MAX_PAGE_SIZE = env_int("AMM_API_MAX_PAGE_SIZE", 500)
AMM_HEALTH_TIMEOUT_MS = env_int("AMM_HEALTH_TIMEOUT_MS", 1000)  # health: Redis and platform probes give up after this
AMM_HEALTH_FEED_STALE_MS = env_int("AMM_HEALTH_FEED_STALE_MS", 10_000)  # health: fill feed silent this long = failing
# The AMM API's enums get one schema name each (its schema: /api/amm/v1/schema/).
SPECTACULAR_SETTINGS["ENUM_NAME_OVERRIDES"].update({
    "AmmLifecycleStateEnum": "amm.enums.AMMLifecycleState",
    "AmmPhaseEnum": "amm.enums.AMMPhase",
    "AmmDefenseLevelEnum": "amm.enums.DefenseLevel",
    "AmmKillSwitchStateEnum": "amm.enums.KillSwitchState",
    "AmmPhaseTransitionReasonEnum": "amm.enums.PhaseTransitionReason",
    "AmmHealthStatusEnum": ["ok", "failing"],  # health checks' status (the platform has other "status" enums)
})
