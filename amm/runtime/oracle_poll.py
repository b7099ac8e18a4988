"""One poll of one market's oracle (the `oracle_poll` RQ job calls it; SPEC §6).

Reads the market's `oracle_*` settings from `amm:config:{m}`, asks the adapter they name,
and writes a good reading to `amm:oracle:{m}`, where the next quote cycle finds it. A
failure writes nothing: the reading ages, the strategy's STALE guard gives L1 weight 0 and
the fair price leans on the book and the fills (the degradation). Consecutive failures
are counted in Redis (`state.oracle_failure_record`): the source is asked less often
(back-off, up to AMM_ORACLE_BACKOFF_MAX_MS) and the AMM_ORACLE_ALERT_AFTER_FAILURES-th
raises one ORACLE_FAILED alert (WARNING) — one per run of failures, and none while the
market still has an unacknowledged one. A success ends the run (logged at INFO).
"""
from __future__ import annotations

import logging
from dataclasses import dataclass

from amm import state
from amm.alerts import alert_raise_unless_open
from amm.conf import amm_settings
from amm.models import AlertSeverity, AlertType
from amm.oracle.base import FeedConfig, OracleError, OracleQuote
from amm.oracle.registry import adapter_get
from amm.strategy.config import ConfigError, StrategyConfig

log = logging.getLogger("amm.oracle.poll")  # the name operators filter oracle logs by (the module moved from amm/oracle)


@dataclass(frozen=True)
class PollResult:
    """`outcome`: ok (written), failed (nothing written), none (the adapter had nothing new),
    off (no adapter configured), backoff (a failing source not asked yet)."""

    market_id: str
    outcome: str
    quote: OracleQuote | None = None
    error: str = ""
    failures: int = 0
    alerted: bool = False


def feed_config_of(market_id: str) -> FeedConfig | None:
    """The market's oracle settings as published in `amm:config:{m}`; None when it names no
    adapter (or Redis holds no valid config: the config reload republishes it)."""
    raw = state.config_get(market_id)
    if not raw:
        return None
    try:
        feed = FeedConfig.from_config(StrategyConfig.from_mapping(raw))
    except ConfigError as exc:
        log.warning("oracle of %s not polled: its Redis config is invalid: %s", market_id, exc)
        return None
    return feed if feed.adapter.strip() else None


def oracle_poll(*, market_id: str, now_ms: int | None = None) -> PollResult:
    """Poll the market's oracle once (module docstring). Never raises for a source's failure."""
    now = state.now_ms() if now_ms is None else int(now_ms)
    feed = feed_config_of(market_id)
    if feed is None:
        return PollResult(market_id, "off")
    retry_at = int(state.oracle_health_get(market_id).get("retry_at_ms") or 0)
    if now < retry_at:
        return PollResult(market_id, "backoff")
    name = feed.adapter.strip()
    try:
        quote = adapter_get(name).read(market_id, feed, now)
        if quote is not None:
            state.oracle_write(market_id, price_cents=quote.price_cents, ts_ms=quote.ts_ms, source=quote.source)
    except OracleError as exc:
        return _failed(market_id, feed, f"{type(exc).__name__}: {exc.detail}", now)
    except Exception as exc:  # noqa: BLE001 - a broken adapter is a failing source, not a dead worker
        log.exception("oracle adapter %r of %s raised", name, market_id)
        return _failed(market_id, feed, f"{type(exc).__name__}: {exc}", now)
    if quote is None:
        return PollResult(market_id, "none")
    ended = state.oracle_success_record(market_id, now_ms=now)
    if ended:
        log.info("oracle %s of %s answers again after %d failed polls: %.2f cents", name, market_id, ended,
                 quote.price_cents)
    return PollResult(market_id, "ok", quote=quote)


def _failed(market_id: str, feed: FeedConfig, error: str, now: int) -> PollResult:

    alert_after = amm_settings.AMM_ORACLE_ALERT_AFTER_FAILURES
    failures, claimed, retry_at = state.oracle_failure_record(
        market_id, error=error, now_ms=now, alert_after=alert_after, interval_ms=feed.poll_interval_ms,
        backoff_max_ms=amm_settings.AMM_ORACLE_BACKOFF_MAX_MS)
    level = logging.WARNING if failures == 1 else logging.DEBUG  # the first says it; the alert says the rest
    log.log(level, "oracle %s of %s failed (%d in a row): %s — nothing written, the fair price leans on the book "
            "and the fills once the reading is stale", feed.adapter, market_id, failures, error)
    alerted = False
    if claimed:
        alerted = alert_raise_unless_open(
            type=AlertType.ORACLE_FAILED, severity=AlertSeverity.WARNING, market_id=market_id,
            payload={"adapter": feed.adapter, "failures": failures, "error": error,
                     "next_poll_after_ms": max(0, retry_at - now)},
        ) is not None
    return PollResult(market_id, "failed", error=error, failures=failures, alerted=alerted)
