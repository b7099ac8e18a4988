"""The adapter contract of the oracle feeds (SPEC §6): what an adapter is given, what it
returns and how it fails. Pure: no Django, Redis or HTTP here."""
from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Mapping

from amm.exceptions import AMMError
from amm.strategy.config import parameter_choices

UNITS = parameter_choices()["oracle_unit"]  # probability (0..1), cents (0..100)
FUTURE_TS_TOLERANCE_MS = 5_000  # a source clock this far ahead is believed; beyond, the fetch time is used


class OracleError(AMMError):
    """The source gave no usable reading; nothing is written (the reading then goes stale and
    the strategy's STALE guard gives L1 weight 0). `retryable`: the next poll may succeed as is."""

    code = "ORACLE_ERROR"


class OracleUnavailable(OracleError):
    """Timeout, connection refused, an error status: the source is down or slow."""

    code = "ORACLE_UNAVAILABLE"
    retryable = True


class OracleBadAnswer(OracleError):
    """The source answered, but not with a reading: not JSON, no value at the path, not a
    number, out of range, a timestamp that is not one."""

    code = "ORACLE_BAD_ANSWER"


class OracleMisconfigured(OracleError):
    """The market's oracle config cannot work (unknown adapter, no URL, a malformed path)."""

    code = "ORACLE_MISCONFIGURED"


@dataclass(frozen=True, slots=True)
class FeedConfig:
    """One market's oracle settings (the `oracle_*` fields of its config)."""

    adapter: str = ""
    url_template: str = ""
    json_path: str = "probability"
    ts_json_path: str = ""
    unit: str = "probability"
    poll_interval_ms: int = 2_000
    timeout_ms: int = 1_000

    @classmethod
    def from_config(cls, config: Any) -> "FeedConfig":
        """From a StrategyConfig (or anything with its `oracle_*` attributes)."""
        return cls(adapter=config.oracle_adapter, url_template=config.oracle_url_template,
                   json_path=config.oracle_json_path, ts_json_path=config.oracle_ts_json_path,
                   unit=config.oracle_unit, poll_interval_ms=int(config.oracle_poll_interval_ms),
                   timeout_ms=int(config.oracle_timeout_ms))


@dataclass(frozen=True, slots=True)
class OracleQuote:
    """A reading as `amm:oracle:{market_id}` keeps it: YES-view cents, the time it is of, the source."""

    price_cents: float
    ts_ms: int
    source: str


class OracleAdapter:
    """Base of the adapters named in AMM_ORACLE_ADAPTERS. An adapter is built once per
    process with its registered `name` (constructors open no connections) and then serves
    every market whose config names it, from the poller's RQ jobs (several threads may call
    it at once)."""

    def __init__(self, *, name: str) -> None:
        self.name = name

    def read(self, market_id: str, config: FeedConfig, now_ms: int) -> OracleQuote | None:
        """The market's current reading; None when the source has nothing new to say (not a
        failure: nothing is written, nothing counted). Raises OracleError when it cannot
        answer. Must return within about `config.timeout_ms`."""
        raise NotImplementedError

    def config_errors(self, config: FeedConfig) -> dict[str, str]:
        """Config field -> message for settings this adapter cannot work with (checked when
        a market's config is saved)."""
        return {}

    def close(self) -> None:
        """Release connections (tests, shutdown)."""


# --- helpers shared by adapters that read JSON ---------------------------------------------
def json_path_parts(path: str) -> list[str | int]:
    """`data.probability` -> ["data", "probability"]; a numeric part indexes a list
    (`results.0.price`). Raises OracleMisconfigured for an empty or malformed path."""
    text = (path or "").strip()
    if not text:
        raise OracleMisconfigured("the JSON path is empty")
    parts: list[str | int] = []
    for part in text.split("."):
        if not part:
            raise OracleMisconfigured(f"JSON path {path!r} has an empty part")
        parts.append(int(part) if part.isdigit() else part)
    return parts


def json_path_get(document: Any, path: str) -> Any:
    """The value at `path` in a parsed JSON document; OracleBadAnswer when it is not there."""
    value = document
    for part in json_path_parts(path):
        if isinstance(part, int) and isinstance(value, list) and part < len(value):
            value = value[part]
        elif isinstance(value, Mapping) and str(part) in value:
            value = value[str(part)]
        else:
            raise OracleBadAnswer(f"no value at {path!r} in the answer")
    return value


def number(value: Any, what: str) -> float:
    """A finite number from a JSON value (a number, or a string holding one: some feeds
    send decimals as strings); OracleBadAnswer otherwise (booleans and null included)."""
    if isinstance(value, bool) or value is None:
        raise OracleBadAnswer(f"{what} is not a number: {value!r}")
    if isinstance(value, (int, float)):
        result = float(value)
    elif isinstance(value, str):
        try:
            result = float(value.strip())
        except ValueError:
            raise OracleBadAnswer(f"{what} is not a number: {value[:40]!r}") from None
    else:
        raise OracleBadAnswer(f"{what} is not a number: {type(value).__name__}")
    if not math.isfinite(result):
        raise OracleBadAnswer(f"{what} is not a finite number: {value!r}")
    return result


def price_cents(value: Any, unit: str) -> float:
    """YES-view cents from a value in `unit`: probability 0..1 (× 100) or cents 0..100;
    out of range is OracleBadAnswer (never clamped: a feed that says 1.3 is broken)."""
    if unit not in UNITS:
        raise OracleMisconfigured(f"unknown oracle unit {unit!r} (use {' or '.join(UNITS)})")
    x = number(value, "the oracle value")
    cents = x * 100.0 if unit == "probability" else x
    if not 0.0 <= cents <= 100.0:
        bound = "1" if unit == "probability" else "100"
        raise OracleBadAnswer(f"the oracle value {x!r} is outside 0..{bound} ({unit})")
    return cents


def timestamp_ms(value: Any, *, now_ms: int) -> int:
    """Epoch ms of the source's timestamp: a number (ms, or s when below 10¹¹ — before
    1973 in ms, after 5138 in s) or an ISO 8601 string (UTC when it names no zone). A time
    more than FUTURE_TS_TOLERANCE_MS ahead of `now_ms` is the source's clock running fast:
    the fetch time is used, so that a reading never looks fresher than it can be."""
    if isinstance(value, str) and not _numeric(value):
        try:
            parsed = datetime.fromisoformat(value.strip())
        except ValueError:
            raise OracleBadAnswer(f"the oracle timestamp is neither a number nor ISO 8601: {value[:40]!r}") from None
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=timezone.utc)
        ts = int(parsed.timestamp() * 1000)
    else:
        x = number(value, "the oracle timestamp")
        ts = int(x if x >= 1e11 else x * 1000)
    if ts <= 0:
        raise OracleBadAnswer(f"the oracle timestamp {value!r} is not a time")
    return now_ms if ts > now_ms + FUTURE_TS_TOLERANCE_MS else ts


def _numeric(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def quote_from_answer(document: Any, config: FeedConfig, *, now_ms: int, source: str) -> OracleQuote:
    """The reading in a parsed JSON answer: the value at `json_path` in `unit`, the time at
    `ts_json_path` (else `now_ms`, the fetch time)."""
    cents = price_cents(json_path_get(document, config.json_path), config.unit)
    ts = timestamp_ms(json_path_get(document, config.ts_json_path), now_ms=now_ms) if config.ts_json_path else now_ms
    return OracleQuote(price_cents=cents, ts_ms=ts, source=source)
