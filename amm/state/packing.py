"""Compact text of the runtime's own values (issue 15: Redis memory per market): the order books
(`amm:book:{m}`, `amm:pushbook:{m}`), the fills waiting for a cycle (`amm:fills:{m}`) and the
public trades of the tape (`amm:trades:{m}`).

Each is a JSON array of its values in a fixed order (no field names: most of the old JSON was
names), which json.loads reads in C. A value that does not fit the compact form is stored as
the JSON object it was (the form older versions wrote), and every reader takes both: lossless
either way, and an upgrade reads what the previous version left.

Book sides (`[[price, qty], ...]`, best first) are packed as `[first price, qty, qty, ...]`:
each next level is one cent further from the touch (lower for bids, higher for asks) unless a
negative number `-g` before its quantity says it is `g` cents further. A side that is not
strictly ordered so, or holds a quantity that is not a positive integer, keeps the plain form.
"""
from __future__ import annotations

import json
from typing import Any, Mapping, Sequence

BID, ASK = -1, 1  # the direction of worse prices on each side
FILL_FIELDS = ("price_cents", "quantity", "ts_ms", "trade_id")
TRADE_FIELDS = ("id", "price_cents", "quantity", "executed_ms")
BOOK_FIELDS = ("sequence_id", "fetched_ms", "own", "bids", "asks")  # amm:book (a cycle's REST read)
PUSH_BOOK_FIELDS = ("sequence_id", "ms", "bids", "asks")  # amm:pushbook (the WebSocket feed's)


def _dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"))


def _is_int(value: Any) -> bool:
    return type(value) is int  # noqa: E721 - a bool (or a float) is not a price or a quantity


# --- book sides ------------------------------------------------------------------------------------
def levels_pack(levels: Sequence[Sequence[int]], direction: int) -> list[int] | None:
    """`[first price, qty, (-gap,) qty, ...]`, or None when the side does not fit (module doc)."""
    if not levels:
        return []
    out: list[int] = []
    prev = None
    for level in levels:
        if len(level) != 2:
            return None
        price, qty = level
        if not (_is_int(price) and _is_int(qty)) or qty <= 0:
            return None
        if prev is None:
            out.append(price)
        else:
            gap = (price - prev) * direction
            if gap < 1:
                return None
            if gap > 1:
                out.append(-gap)
        out.append(qty)
        prev = price
    return out


def levels_unpack(packed: Sequence[int], direction: int) -> list[list[int]]:
    if not packed:
        return []
    price, gap, out = packed[0] - direction, 1, []
    for value in packed[1:]:
        if value < 0:
            gap = -value
            continue
        price += gap * direction
        out.append([price, value])
        gap = 1
    return out


def _packed_sides(book: Mapping[str, Any]) -> tuple[list[int], list[int]] | None:
    bids, asks = levels_pack(book["bids"], BID), levels_pack(book["asks"], ASK)
    return None if bids is None or asks is None else (bids, asks)


def _book_text(book: Mapping[str, Any], fields: tuple[str, ...]) -> str:
    """The compact array of `fields` (bids and asks packed) when the book has exactly those and
    they fit; else the JSON object."""
    if set(book) == set(fields) and all(_is_int(book[f]) for f in fields[:2]):
        sides = _packed_sides(book)
        if sides is not None:
            return _dumps([*(book[f] for f in fields[:-2]), *sides])
    return _dumps(dict(book))


def _book_parse(raw: str | None, fields: tuple[str, ...]) -> dict[str, Any] | None:
    if not raw:
        return None
    value = json.loads(raw)
    if isinstance(value, dict):
        return value  # the plain form (older versions, or a book the compact form does not fit)
    out = dict(zip(fields[:-2], value))
    out["bids"], out["asks"] = levels_unpack(value[-2], BID), levels_unpack(value[-1], ASK)
    return out


def book_text(book: Mapping[str, Any]) -> str:
    """`amm:book:{m}`: a cycle's REST read {sequence_id, fetched_ms, own, bids, asks}."""
    return _book_text(book, BOOK_FIELDS)


def book_parse(raw: str | None) -> dict[str, Any] | None:
    return _book_parse(raw, BOOK_FIELDS)


def push_book_text(book: Mapping[str, Any]) -> str:
    """`amm:pushbook:{m}`: the WebSocket feed's book {sequence_id, ms, bids, asks}."""
    return _book_text(book, PUSH_BOOK_FIELDS)


def push_book_value(raw: str | None) -> dict[str, Any] | None:
    return _book_parse(raw, PUSH_BOOK_FIELDS)


# --- list entries: fills, trades of the tape -------------------------------------------------------
def _entry_text(entry: Mapping[str, Any], fields: tuple[str, ...], kinds: tuple[type, ...]) -> str:
    if len(entry) == len(fields) and all(type(entry.get(f)) is k for f, k in zip(fields, kinds)):
        return _dumps([entry[f] for f in fields])
    return _dumps(dict(entry))


def _entry_parse(raw: str, fields: tuple[str, ...]) -> dict[str, Any]:
    value = json.loads(raw)
    return value if isinstance(value, dict) else dict(zip(fields, value))


def fill_text(fill: Mapping[str, Any]) -> str:
    """One `amm:fills:{m}` entry: [price_cents, quantity, ts_ms, "trade_id"]."""
    return _entry_text(fill, FILL_FIELDS, (int, int, int, str))


def fill_parse(raw: str) -> dict[str, Any]:
    return _entry_parse(raw, FILL_FIELDS)


def trade_text(trade: Mapping[str, Any]) -> str:
    """One trade of the tape: [id, price_cents, quantity, executed_ms]."""
    return _entry_text(trade, TRADE_FIELDS, (int, int, int, int))


def trade_parse(raw: str) -> dict[str, Any]:
    return _entry_parse(raw, TRADE_FIELDS)
