"""Redis text <-> Python values for the `amm:*` hashes: Redis stores every value as a string;
the field tables of amm/state/keys.py (field -> int / float / str) say what each one is."""
from __future__ import annotations

import json
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
# Its σ window's sample times (`sample_ts`, ~120 epoch-ms values taken at a steady step) were half
# of the blob; stored as runs of equal steps they take a few bytes. Lossless: strategy_parse gives
# back exactly the dict strategy_text was given (and still reads a blob with a plain sample_ts).
SAMPLE_TS = "sample_ts"
SAMPLE_TS_RUNS = "sample_ts_runs"  # [first, step, count, step, count, ...]


def ts_runs(values: list[int]) -> list[int]:
    """[first, step, count, ...]: ascending integers as runs of equal steps ([] for none)."""
    if not values:
        return []
    out = [values[0]]
    for prev, cur in zip(values, values[1:]):
        step = cur - prev
        if len(out) > 1 and out[-2] == step:
            out[-1] += 1
        else:
            out += [step, 1]
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


def strategy_text(strategy: Mapping[str, Any]) -> str:
    """The stored text of a StrategyState dict (StrategyState.to_dict)."""
    if SAMPLE_TS in strategy:
        packed = {k: v for k, v in strategy.items() if k != SAMPLE_TS}
        packed[SAMPLE_TS_RUNS] = ts_runs([int(t) for t in strategy[SAMPLE_TS]])
        strategy = packed
    return json.dumps(strategy, separators=(",", ":"))


def strategy_parse(raw: str | None) -> dict[str, Any] | None:
    """The StrategyState dict strategy_text stored (None when there is none)."""
    if not raw:
        return None
    out = json.loads(raw)
    if SAMPLE_TS_RUNS in out:
        out[SAMPLE_TS] = ts_from_runs(out.pop(SAMPLE_TS_RUNS))
    return out
