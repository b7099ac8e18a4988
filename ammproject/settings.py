"""Settings, all from environment variables (ammproject.env is the only reader).

DATABASE_URL / REDIS_URL unset -> the embedded default (ammproject.embedded) is started.
Every default an app reads is declared once, in the app (exchange/conf.py, amm/conf.py).
"""
from __future__ import annotations

from pathlib import Path

from django.core.exceptions import ImproperlyConfigured

from ammproject import embedded
from ammproject.env import database_from_url, env_bool, env_int, env_list, env_str, env_values

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
ASGI_APPLICATION = "ammproject.asgi.application"  # HTTP and the push feeds (exchange/push/)
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
# --- the apps' own settings ---------------------------------------------------------------
# Each app declares its settings and their defaults once (exchange/conf.py, amm/conf.py);
# here the environment sets any of them, each parsed by its default's type, and the app
# checks the values (a bad one refuses to load, by name).
from amm import conf as amm_conf  # noqa: E402 - the apps' declarations, read after Django's own settings
from exchange import conf as exchange_conf  # noqa: E402

AMM_USER_ID = "00000000-0000-4000-a000-000000000001"  # the platform's AMM account (exchange.enums, amm.constants)
globals().update(exchange_conf.configure(env_values(exchange_conf.defaults())))
globals().update(amm_conf.configure(env_values(amm_conf.defaults())))

# The AMM API's enums get one schema name each (its schema: /api/amm/v1/schema/).
SPECTACULAR_SETTINGS["ENUM_NAME_OVERRIDES"].update({
    "AmmLifecycleStateEnum": "amm.enums.AMMLifecycleState",
    "AmmPhaseEnum": "amm.enums.AMMPhase",
    "AmmDefenseLevelEnum": "amm.enums.DefenseLevel",
    "AmmKillSwitchStateEnum": "amm.enums.KillSwitchState",
    "AmmPhaseTransitionReasonEnum": "amm.enums.PhaseTransitionReason",
    "AmmHealthStatusEnum": ["ok", "failing"],  # health checks' status (the platform has other "status" enums)
})
