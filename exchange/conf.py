"""The platform's settings: every `EXCHANGE_*` default declared once, here, and read
through `exchange_settings` (as amm/conf.py does for the plugin).

    from exchange.conf import exchange_settings
    exchange_settings.EXCHANGE_MAX_REPLACEMENTS
"""
from __future__ import annotations

from typing import Any, Mapping

from django.conf import settings as django_settings
from django.core.exceptions import ImproperlyConfigured

from exchange.enums import AMM_USER_ID

# name -> (default, meaning)
SETTINGS: dict[str, tuple[Any, str]] = {
    # Users whose incoming orders may match their own resting orders (seed §3.4 option A);
    # only the AMM may be listed (exchange.checks).
    "EXCHANGE_SELF_TRADE_EXEMPT_USERS": ([AMM_USER_ID], "users whose orders may match their own"),
    "EXCHANGE_MINT_BURN_USERS": ([AMM_USER_ID], "users allowed the privileged mint/burn (the AMM)"),
    # Per-user calls per 60 s window (exchange/apis/ratelimit.py): the replace call, every
    # other GET, every other call. Far above what the AMM at 300 markets sends (about one
    # replace per market a second: ~18,000 a window): a brake on a runaway client.
    "EXCHANGE_REPLACE_RATE_LIMIT": (60_000, "replace calls per user per 60 s"),
    "EXCHANGE_RATE_LIMIT_READ": (600_000, "GETs per user per 60 s"),
    "EXCHANGE_RATE_LIMIT_WRITE": (120_000, "other calls per user per 60 s"),
    "EXCHANGE_MAX_BODY_BYTES": (64 * 1024, "largest request body"),
    "EXCHANGE_MAX_REPLACEMENTS": (40, "entries of one atomic replace"),
    # Dead man's switch (cancel-all-after): a sweeper thread per serving process, ticking.
    "EXCHANGE_DEADMAN_SWEEPER": (True, "run the sweeper thread in serving processes"),
    "EXCHANGE_DEADMAN_TICK_MS": (200, "the sweeper's tick"),
    "EXCHANGE_PREPARED_STATEMENTS": (True, "server-side prepared statements for the hot SQL (exchange/sql.py)"),
    # The push feeds' event streams (docs/push.md): XADD ... MAXLEN ~ this, per stream. An
    # entry takes ~0.3-0.6 KB (bench/relay.py prints it): ~10 MB per stream at the default.
    "EXCHANGE_EVENT_STREAM_MAXLEN": (20_000, "entries kept per event stream (approximate trim)"),
    # Published outbox rows are kept this long: what the relay can replay to a Redis that lost its streams.
    "EXCHANGE_OUTBOX_RETENTION_S": (3_600, "seconds a published outbox row is kept"),
    "EXCHANGE_RELAY_BATCH": (500, "outbox rows the relay publishes per batch"),
    "EXCHANGE_RELAY_POLL_MS": (200, "the relay's poll when no NOTIFY wakes it"),
    # WebSocket feeds (exchange/push/): the reader tailing the event streams, per server process.
    "EXCHANGE_PUSH_XREAD_BLOCK_MS": (1000, "the push hub's XREAD BLOCK on the event streams"),
    "EXCHANGE_PUSH_XREAD_COUNT": (1000, "stream entries per XREAD of the push hub"),
    "EXCHANGE_PUSH_BUFFER_MAX": (10_000, "deltas queued for one slow WebSocket client before it is resnapshotted"),
}


def defaults() -> dict[str, Any]:
    return {name: default for name, (default, _) in SETTINGS.items()}


def configure(given: Mapping[str, Any]) -> dict[str, Any]:
    """The settings a host gives, with the defaults for the rest."""
    unknown = sorted(set(given) - set(SETTINGS))
    if unknown:
        raise ImproperlyConfigured(f"unknown EXCHANGE settings: {', '.join(unknown)}")
    return {**defaults(), **given}


class AppSettings:
    def __getattr__(self, name: str) -> Any:
        try:
            default = SETTINGS[name][0]
        except KeyError:
            raise AttributeError(f"{name} is not an EXCHANGE setting (exchange/conf.py)") from None
        return getattr(django_settings, name, default)


exchange_settings = AppSettings()
