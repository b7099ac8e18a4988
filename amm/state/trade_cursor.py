"""`amm:cursor:trades`: the last trade id the fill feed applied (it survives restarts; a
rebuild is valid only for the trades up to it, see amm/state/rebuild.py)."""
from __future__ import annotations

import redis

import amm.state.keys as K
from amm.state.connection import conn_or_default
from amm.state.lua import script


def trade_cursor_get(*, conn: redis.Redis | None = None) -> int:
    value = conn_or_default(conn).get(K.TRADE_CURSOR)
    return int(value) if value else 0


def trade_cursor_advance(value: int, *, conn: redis.Redis | None = None) -> int:
    """Move the fill-feed cursor forward (never back); returns the cursor."""
    return int(script(conn_or_default(conn), "cursor_advance")(keys=[K.TRADE_CURSOR], args=[int(value)]))
