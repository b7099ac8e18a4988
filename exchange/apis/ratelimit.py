"""Per-user rate limits of the platform API, by scope, in fixed 60 s windows (SPEC §3.6: 429
with Retry-After).

Scopes: `replace` (the AMM's atomic replace, `ratelimit:{user_id}:replace`, SPEC §4), `read`
(every other GET) and `write` (every other call), each counted apart under
`ratelimit:{user_id}:{scope}` against its setting. A call counts once, a long poll
(`GET /trades?wait_ms=`) included. One Redis round trip per call, in the engine's Redis: one
script (EVALSHA), which costs the API process less than a MULTI/EXEC of three commands.
"""
from __future__ import annotations

import logging
from functools import lru_cache

from ammproject.redis import get_redis
from exchange.conf import exchange_settings
from exchange.exceptions import RateLimited

logger = logging.getLogger(__name__)

RATE_WINDOW_S = 60
# Count the call; the window opens with its first call (the key expires with it). Answers the
# count, and the seconds left in the window once the count is over the limit (ARGV[2]).
_HIT_LUA = """
local count = redis.call('INCR', KEYS[1])
if count == 1 then redis.call('EXPIRE', KEYS[1], ARGV[1]) end
if count > tonumber(ARGV[2]) then return {count, redis.call('TTL', KEYS[1])} end
return {count, 0}
"""
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
        count, ttl = _hit_script(get_redis())(keys=[key], args=[RATE_WINDOW_S, limit])
    except Exception:  # Redis down: serve rather than stop every market maker
        logger.exception("%s rate limit unavailable; request allowed", scope)
        return
    if count > limit:
        retry_after = ttl if ttl and ttl > 0 else RATE_WINDOW_S
        raise RateLimited(f"more than {limit} {scope} calls in {RATE_WINDOW_S} s; retry in {retry_after} s",
                          retry_after_s=retry_after)


@lru_cache(maxsize=8)
def _hit_script(client):
    """The counting script on `client` (redis-py sends its SHA, and the script itself again
    only when the server does not know it, e.g. after a restart)."""
    return client.register_script(_HIT_LUA)
