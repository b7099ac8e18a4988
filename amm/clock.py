"""The AMM's one clock: wall-clock milliseconds since the epoch (UTC), the unit of every
`*_ms` field in Redis, the database and the platform's API.

A leaf module. Code that decides takes `now` as an argument (the strategy never reads a
clock; a quote cycle reads it once and passes it down); this is where the edges read it.
"""
from __future__ import annotations

import time


def now_ms() -> int:
    return int(time.time() * 1000)
