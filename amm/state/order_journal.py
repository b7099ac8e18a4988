"""`amm:journal`: the stream of order events (PLACED, FILL, CANCELLED, REPLACED) the Lua
scripts append to, flushed in batches to the AMMOrder table by
amm/services/journal.py, which acks (deletes) them once committed."""
from __future__ import annotations

from typing import Any, Iterable, Mapping

import redis

import amm.state.keys as K
from amm.conf import amm_settings
from amm.state.connection import conn_or_default


def journal_maxlen() -> int:
    """The stream's approximate cap (AMM_JOURNAL_MAXLEN), read at call time like every setting."""
    return amm_settings.AMM_JOURNAL_MAXLEN


def journal_read(count: int, *, conn: redis.Redis | None = None) -> list[tuple[str, dict[str, str]]]:
    """The oldest `count` order-journal events (stream id, fields)."""
    return [(eid, fields) for eid, fields in conn_or_default(conn).xrange(K.JOURNAL, count=count)]


def journal_append(events: Iterable[Mapping[str, Any]], *, conn: redis.Redis | None = None) -> int:
    """Append order events outside a script (e.g. the orders a rebuild adopted), in one round trip."""
    pipe = conn_or_default(conn).pipeline(transaction=False)
    n = 0
    for event in events:
        pipe.xadd(K.JOURNAL, {k: str(v) for k, v in event.items() if v is not None},
                  maxlen=journal_maxlen(), approximate=True)
        n += 1
    if n:
        pipe.execute()
    return n


def journal_ack(event_ids: Iterable[str], *, conn: redis.Redis | None = None) -> int:
    ids = list(event_ids)
    return int(conn_or_default(conn).xdel(K.JOURNAL, *ids)) if ids else 0


def journal_length(*, conn: redis.Redis | None = None) -> int:
    return int(conn_or_default(conn).xlen(K.JOURNAL))
