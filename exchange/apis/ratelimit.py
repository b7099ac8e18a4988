"""Per-user rate limits of the platform API, by scope, in fixed 60 s windows (SPEC §3.6: 429
with Retry-After).

Scopes: `replace` (the AMM's atomic replace, `ratelimit:{user_id}:replace`, SPEC §4), `read`
(every other GET) and `write` (every other call), each counted apart under
`ratelimit:{user_id}:{scope}` against its setting. A call counts once, a long poll
(`GET /trades?wait_ms=`) included. One Redis round trip per call, in the engine's Redis.
"""
from __future__ import annotations

import logging

from ammproject.redis import get_redis
from exchange.conf import exchange_settings
from exchange.exceptions import RateLimited

logger = logging.getLogger(__name__)

RATE_WINDOW_S = 60
SCOPE_SETTINGS = {
    "replace": "EXCHANGE_REPLACE_RATE_LIMIT",
    "read": "EXCHANGE_RATE_LIMIT_READ",
    "write": "EXCHANGE_RATE_LIMIT_WRITE",
}


def rate_limit_hit(*, user_id: str, scope: str) -> None:
    """Count one call of `scope` in the caller's window; over the scope's limit raise
    RateLimited (429) with the seconds left in the window."""
    limit = getattr(exchange_settings, SCOPE_SETTINGS[scope])
    key = f"ratelimit:{user_id}:{scope}"
    try:
        pipe = get_redis().pipeline(transaction=True)
        pipe.set(key, 0, ex=RATE_WINDOW_S, nx=True)  # the window opens with the first call
        pipe.incr(key)
        pipe.ttl(key)
        _, count, ttl = pipe.execute()
    except Exception:  # Redis down: serve rather than stop every market maker
        logger.exception("%s rate limit unavailable; request allowed", scope)
        return
    if count > limit:
        retry_after = ttl if ttl and ttl > 0 else RATE_WINDOW_S
        raise RateLimited(f"more than {limit} {scope} calls in {RATE_WINDOW_S} s; retry in {retry_after} s",
                          retry_after_s=retry_after)
