"""`amm:strategy:{m}`: the StrategyState blob kept between quote cycles (StrategyState.to_dict),
stored compactly and losslessly: `strategy_text` / `strategy_parse` give back exactly the dict
given, and read every form older versions wrote (plain JSON; sample times as runs and prices
as steps)."""
from __future__ import annotations

import array
import base64
import json
import operator
import sys
from typing import Any, Mapping

from amm.exceptions import InvalidInput


# --- the runs and steps form (the previous version's, still read) ---------------------------------
# Its σ window (~120 samples) was nearly all of the blob (3.3 KB of JSON, 3.7 KB of Redis memory
# per market). The sample times (epoch ms at a steady step) are stored as runs of equal steps;
# the prices (cents rounded to 4 decimals by the strategy) as steps in ten-thousandths of a
# cent, when every one of them is exactly such a value. Lossless:
# strategy_parse gives back exactly the dict strategy_text was given (and reads the plain form).
SAMPLE_TS = "sample_ts"
SAMPLE_TS_RUNS = "sample_ts_runs"  # [first, step, count, step, count, ...]
SAMPLE_PX = "sample_px"
SAMPLE_PX_STEPS = "sample_px_e4_steps"  # [first, step, step, ...] in 1e-4 cents
PX_SCALE = 10_000


def ts_runs(values: list[int]) -> list[int]:
    """[first, step, count, ...]: ascending integers as runs of equal steps ([] for none)."""
    if len(values) < 2:
        return list(values)[:1]
    first, step = values[0], values[1] - values[0]
    if step and values == list(range(first, first + step * len(values), step)):
        return [first, step, len(values) - 1]  # one steady step, the usual case: checked in C
    out = [first]
    run_step, count = None, 0
    for step_now in map(operator.sub, values[1:], values[:-1]):
        if step_now == run_step:
            count += 1
        else:
            if count:
                out += [run_step, count]
            run_step, count = step_now, 1
    out += [run_step, count]
    return out


def ts_from_runs(runs: list[int]) -> list[int]:
    if not runs:
        return []
    if len(runs) % 2 == 0 or any(not isinstance(v, int) for v in runs):
        raise InvalidInput(f"{SAMPLE_TS_RUNS} must be [first, step, count, ...] of integers")
    values = [runs[0]]
    for i in range(1, len(runs), 2):
        step, count = runs[i], runs[i + 1]
        last = values[-1]
        values.extend(last + step * k for k in range(1, count + 1))
    return values


def px_steps(values: list[float]) -> list[int] | None:
    """[first, step, ...] of prices in 1e-4 cents; None unless each one is exactly k / 10,000.
    (Comprehensions and map: this runs in every cycle's write.)"""
    try:
        scaled = [int(v * PX_SCALE + 0.5) for v in values]  # prices are >= 0; the check below is the proof
    except (TypeError, ValueError, OverflowError):  # not a number, NaN, infinity
        return None
    if [k / PX_SCALE for k in scaled] != values:
        return None
    return scaled[:1] + list(map(operator.sub, scaled[1:], scaled[:-1]))


def px_from_steps(steps: list[int]) -> list[float]:
    if any(not isinstance(v, int) for v in steps):
        raise InvalidInput(f"{SAMPLE_PX_STEPS} must be integers")
    out, level = [], 0
    for step in steps:
        level += step
        out.append(level / PX_SCALE)
    return out


# The compact form (issue 15; the forms above stay readable): a JSON array
# [fair_ms, floats, value, value, ..., sample_ts runs, sample_px] of the StrategyState dict's
# values in STRATEGY_LAYOUT's order, without the market id (the key names it) and without field
# names. Every timestamp ("t") is stored as its distance from fair_ms (a few digits instead of
# 13; from 0 when fair_ms is None). The phase and defense level ("e") are stored as their index
# in ENUM_CODES (a frozen list: an index never changes meaning; any other value is stored as it
# is). The floats ("f", and the σ memo's value) are stored together as little-endian doubles in
# one base64 text (11 characters each instead of 17; None as NaN, so a NaN value takes the
# plain form). sample_ts is stored as its runs (the first one from fair_ms); sample_px as
# "h<first>:<base64>": its first price and the steps after it, in 1e-4 cents, as little-endian
# int16 (a larger step escaped: _steps_text), or as the list of floats when they are not exact
# 1e-4 values. A dict that does not fit the layout exactly (another StrategyState version) is
# stored in the plain form.
ENUM_CODES = ("EXPLORATION", "STABILIZATION", "NORMAL", "WIDEN", "ONE_SIDE", "KILL_SWITCH")
_ENUM_INDEX = {name: i for i, name in enumerate(ENUM_CODES)}
STRATEGY_LAYOUT = (  # (key, field of the nested dict or None, kind)
    ("version", None, "v"), ("phase", None, "e"), ("defense_level", None, "e"),
    ("phase_entered_ms", None, "t"), ("last_rollback_ms", None, "t"), ("fair", None, "f"),
    ("lvr_cooldown_until", None, "v"), ("phase_fill_volume", None, "v"), ("total_fill_volume", None, "v"),
    ("sigma_memo", None, "m"),  # [first ts, last ts, raw σ or None] or None: the σ among the floats
    ("oracle", "price", "f"), ("oracle", "ts_ms", "t"), ("oracle", "jump", "v"),
    ("post_fill", "price", "f"), ("post_fill", "ts_ms", "t"), ("post_fill", "weight", "f"),
    ("flow", "count", "f"), ("flow", "distance", "f"), ("flow", "time_s", "f"), ("flow", "ts_ms", "t"),
)
STRATEGY_NESTED = {"oracle": frozenset(("price", "ts_ms", "jump")),
                   "post_fill": frozenset(("price", "ts_ms", "weight")),
                   "flow": frozenset(("count", "distance", "time_s", "ts_ms"))}
STRATEGY_KEYS = frozenset({key for key, _, _ in STRATEGY_LAYOUT} | {"market_id", "fair_ms", SAMPLE_TS, SAMPLE_PX})
ESCAPE = -(1 << 15)  # in the int16 steps: the next two int16 are a larger step's high and low 16 bits
_NONE = float("nan")


class _Misfit(Exception):
    """A value the compact layout cannot hold exactly: the plain form is stored."""


def _int(value: Any) -> bool:
    return type(value) is int  # noqa: E721 - not a bool


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii").rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.b64decode(text + "=" * (-len(text) % 4))


def _little(packed: array.array) -> array.array:
    if sys.byteorder != "little":
        packed.byteswap()
    return packed


def _steps_text(steps: list[int]) -> str | None:
    """"h<first>:<base64>": the steps after the first as int16; one beyond ±32,767 (a jump of
    3.28 cents or more) as ESCAPE and its high and low 16 bits. None beyond 32 bits."""
    rest = steps[1:]
    if rest and not (ESCAPE < min(rest) and max(rest) < -ESCAPE):
        if not (-(1 << 31) <= min(rest) and max(rest) < 1 << 31):
            return None
        escaped = []
        for step in rest:
            if ESCAPE < step < -ESCAPE:
                escaped.append(step)
            else:
                low = step & 0xFFFF
                escaped += [ESCAPE, step >> 16, low - 0x10000 if low >= 0x8000 else low]
        rest = escaped
    return f"h{steps[0]}:" + _b64(_little(array.array("h", rest)).tobytes())


def _steps_from_text(text: str) -> list[int]:
    first, _, encoded = text[1:].partition(":")
    if text[:1] != "h":
        raise InvalidInput(f"{SAMPLE_PX} steps of an unknown form {text[:1]!r}")
    packed = array.array("h")
    packed.frombytes(_unb64(encoded))
    rest = _little(packed).tolist()
    if ESCAPE in rest:
        values, at = [], 0
        while at < len(rest):
            if rest[at] == ESCAPE:
                values.append((rest[at + 1] << 16) | (rest[at + 2] & 0xFFFF))
                at += 3
            else:
                values.append(rest[at])
                at += 1
        rest = values
    return [int(first), *rest]


def _float(value: Any, floats: list[float]) -> None:
    if value is None:
        floats.append(_NONE)
    elif type(value) is float and value == value:  # noqa: E721 - an int or a NaN takes the plain form
        floats.append(value)
    else:
        raise _Misfit


def _pack_value(value: Any, kind: str, base: int, floats: list[float]) -> Any:
    if kind == "t":
        if value is not None and not _int(value):
            raise _Misfit
        return None if value is None else value - base
    if kind == "e":
        if not isinstance(value, str):
            raise _Misfit
        return _ENUM_INDEX.get(value, value)
    if kind == "f":
        _float(value, floats)
        return None
    if kind == "m":
        if value is None:
            return None
        if not (isinstance(value, list) and len(value) == 3 and _int(value[0]) and _int(value[1])):
            raise _Misfit
        _float(value[2], floats)
        return [value[0] - base, value[1] - base]
    return value


def _compact_strategy(strategy: Mapping[str, Any], market_id: str) -> str | None:
    if strategy.keys() != STRATEGY_KEYS or strategy["market_id"] != market_id:
        return None
    for name, fields in STRATEGY_NESTED.items():
        if not isinstance(strategy[name], Mapping) or strategy[name].keys() != fields:
            return None
    fair_ms, times, prices = strategy["fair_ms"], strategy[SAMPLE_TS], strategy[SAMPLE_PX]
    if not (fair_ms is None or _int(fair_ms)) or not isinstance(times, list) or not isinstance(prices, list):
        return None
    if not all(map(_int, times)):
        return None
    base, floats, values = fair_ms or 0, [], []
    try:
        for key, field, kind in STRATEGY_LAYOUT:
            value = _pack_value(strategy[key] if field is None else strategy[key][field], kind, base, floats)
            if kind != "f":
                values.append(value)
    except _Misfit:
        return None
    runs = ts_runs(times)
    if runs:
        runs[0] -= base
    steps = px_steps(prices) if prices else None
    px = (_steps_text(steps) if steps is not None else None) or prices
    return json.dumps([fair_ms, _b64(_little(array.array("d", floats)).tobytes()), *values, runs, px],
                      separators=(",", ":"))


def _strategy_from_compact(value: list, market_id: str | None) -> dict[str, Any]:
    if market_id is None:
        raise InvalidInput("the compact StrategyState form needs its market id (the key's)")
    fair_ms, packed_floats = value[0], array.array("d")
    packed_floats.frombytes(_unb64(value[1]))
    floats = iter([None if f != f else f for f in _little(packed_floats).tolist()])
    base, rest = fair_ms or 0, iter(value[2:])
    out: dict[str, Any] = {"market_id": market_id, "fair_ms": fair_ms, **{n: {} for n in STRATEGY_NESTED}}
    for key, field, kind in STRATEGY_LAYOUT:
        if kind == "f":
            got = next(floats)
        else:
            packed = next(rest)
            if kind == "t":
                got = None if packed is None else packed + base
            elif kind == "e":
                got = ENUM_CODES[packed] if _int(packed) else packed
            elif kind == "m":
                got = None if packed is None else [packed[0] + base, packed[1] + base, next(floats)]
            else:
                got = packed
        if field is None:
            out[key] = got
        else:
            out[key][field] = got
    runs, px = next(rest), next(rest)
    if runs:
        runs[0] += base
    out[SAMPLE_TS] = ts_from_runs(runs)
    out[SAMPLE_PX] = px_from_steps(_steps_from_text(px)) if isinstance(px, str) else px
    return out


def strategy_text(strategy: Mapping[str, Any], market_id: str | None = None) -> str:
    """The stored text of a StrategyState dict (StrategyState.to_dict) of `market_id`: the
    compact form when the dict has the layout's keys, else the plain object."""
    if market_id is not None:
        compact = _compact_strategy(strategy, market_id)
        if compact is not None:
            return compact
    packed = dict(strategy)
    if SAMPLE_TS in packed:
        packed[SAMPLE_TS_RUNS] = ts_runs([int(t) for t in packed.pop(SAMPLE_TS)])
    if SAMPLE_PX in packed:
        steps = px_steps(packed[SAMPLE_PX])
        if steps is not None:
            del packed[SAMPLE_PX]
            packed[SAMPLE_PX_STEPS] = steps
    return json.dumps(packed, separators=(",", ":"))


def strategy_parse(raw: str | None, market_id: str | None = None) -> dict[str, Any] | None:
    """The StrategyState dict strategy_text stored (None when there is none), in any of its
    forms: compact (needs the key's `market_id`), runs and steps, plain."""
    if not raw:
        return None
    out = json.loads(raw)
    if isinstance(out, list):
        return _strategy_from_compact(out, market_id)
    if SAMPLE_TS_RUNS in out:
        out[SAMPLE_TS] = ts_from_runs(out.pop(SAMPLE_TS_RUNS))
    if SAMPLE_PX_STEPS in out:
        out[SAMPLE_PX] = px_from_steps(out.pop(SAMPLE_PX_STEPS))
    return out
