"""Redis text <-> Python values for the `amm:*` hashes: Redis stores every value as a string;
the field tables of amm/state/keys.py (field -> int / float / str) say what each one is. (The
StrategyState blob has its own: strategy_codec.py.)"""
from __future__ import annotations

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
