"""Redis text <-> Python values for the `amm:*` hashes: Redis stores every value as a string;
the field tables of amm/state/keys.py (field -> int / float / str) say what each one is."""
from __future__ import annotations

import json
import operator
from typing import Any, Mapping

from amm.exceptions import InvalidInput


def parse_int(value: Any, default: int = 0) -> int:
    """A stored integer; `default` when absent or empty. "12.0" and "1e3" are read too (a
    float written where an int was expected must not break a read)."""
    if value is None or value == "":
        return default
    return int(float(value)) if isinstance(value, str) and ("." in value or "e" in value) else int(value)


def parse_fields(raw: Mapping[str, str], types: Mapping[str, type]) -> dict[str, Any]:
    """A hash read typed by its field table; fields the table does not name (and empty values)
    are kept as stored."""
    out: dict[str, Any] = {}
    for name, value in raw.items():
        kind = types.get(name)
        if kind is None or value is None or value == "":
            out[name] = value
        elif kind is int:
            out[name] = parse_int(value)
        elif kind is float:
            out[name] = float(value)
        else:
            out[name] = value
    return out


def field_text(name: str, value: Any, types: Mapping[str, type]) -> str:
    """The text stored for field `name` of a table: an int field refuses anything that is not
    a whole number (a bool included), an enum is stored by its value."""
    kind = types[name]
    value = getattr(value, "value", value)
    if kind is int:
        if isinstance(value, bool) or int(value) != value:
            raise InvalidInput(f"{name} must be an integer, got {value!r}")
        return str(int(value))
    if kind is float:
        return repr(float(value))
    return str(value)


# --- amm:strategy: the StrategyState blob --------------------------------------------------------
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


def strategy_text(strategy: Mapping[str, Any]) -> str:
    """The stored text of a StrategyState dict (StrategyState.to_dict)."""
    packed = dict(strategy)
    if SAMPLE_TS in packed:
        packed[SAMPLE_TS_RUNS] = ts_runs([int(t) for t in packed.pop(SAMPLE_TS)])
    if SAMPLE_PX in packed:
        steps = px_steps(packed[SAMPLE_PX])
        if steps is not None:
            del packed[SAMPLE_PX]
            packed[SAMPLE_PX_STEPS] = steps
    return json.dumps(packed, separators=(",", ":"))


def strategy_parse(raw: str | None) -> dict[str, Any] | None:
    """The StrategyState dict strategy_text stored (None when there is none)."""
    if not raw:
        return None
    out = json.loads(raw)
    if SAMPLE_TS_RUNS in out:
        out[SAMPLE_TS] = ts_from_runs(out.pop(SAMPLE_TS_RUNS))
    if SAMPLE_PX_STEPS in out:
        out[SAMPLE_PX] = px_from_steps(out.pop(SAMPLE_PX_STEPS))
    return out
