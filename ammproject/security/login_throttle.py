"""Admin login throttling: failed logins counted per (username, client address) in Redis.

LOGIN_THROTTLE_FAILURES failures within LOGIN_THROTTLE_WINDOW_S lock that pair out for
LOGIN_THROTTLE_LOCKOUT_S: every attempt is then refused, the right password included, so
guessing cannot go on. The counters live in the project's Redis, shared by every gunicorn
worker. Redis unreachable: logins are allowed (and logged), since operators must reach the
console, kill switch included, during an incident.
"""
from __future__ import annotations

import hashlib
import logging

import redis
from django.conf import settings

from ammproject.redis import get_redis

logger = logging.getLogger(__name__)

# KEYS: failures, lock; ARGV: window_s, failures allowed, lockout_s -> seconds locked (0: not).
# An attempt made while locked is not counted: the lockout runs from the last allowed failure.
_RECORD_FAILURE = """
local left = redis.call('PTTL', KEYS[2])
if left > 0 then return math.ceil(left / 1000) end
local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('EXPIRE', KEYS[1], ARGV[1]) end
if n >= tonumber(ARGV[2]) then
  redis.call('SET', KEYS[2], '1', 'EX', ARGV[3])
  redis.call('DEL', KEYS[1])
  return tonumber(ARGV[3])
end
return 0
"""


def _keys(username: str, ip: str) -> tuple[str, str]:
    # Hashed: a username is user input of any characters; the key stays short and plain.
    digest = hashlib.sha256(f"{username}\0{ip}".encode()).hexdigest()[:32]
    return f"login:fail:{digest}", f"login:lock:{digest}"


def client_ip(request) -> str:
    """The client's address: LOGIN_THROTTLE_IP_HEADER's last entry (the one the trusted proxy
    wrote; a client can forge only earlier ones), else the connection's address."""
    header = settings.LOGIN_THROTTLE_IP_HEADER
    if header:
        value = request.META.get("HTTP_" + header.upper().replace("-", "_"), "")
        address = value.split(",")[-1].strip()
        if address:
            return address
    return request.META.get("REMOTE_ADDR") or "unknown"


def login_lock_remaining(*, username: str, ip: str) -> int:
    """Seconds the pair stays locked out (0: it may try)."""
    try:
        left_ms = get_redis().pttl(_keys(username, ip)[1])
    except redis.RedisError:
        logger.exception("login throttle unavailable; login attempt allowed")
        return 0
    return -(-left_ms // 1000) if left_ms > 0 else 0


def login_failure_record(*, username: str, ip: str) -> int:
    """Count one failed login; returns the seconds of lockout it starts or finds (0: none)."""
    failures, lock = _keys(username, ip)
    try:
        return int(get_redis().eval(_RECORD_FAILURE, 2, failures, lock, settings.LOGIN_THROTTLE_WINDOW_S,
                                    settings.LOGIN_THROTTLE_FAILURES, settings.LOGIN_THROTTLE_LOCKOUT_S))
    except redis.RedisError:
        logger.exception("login throttle unavailable; failed login not counted")
        return 0


def login_failures_clear(*, username: str, ip: str) -> None:
    """A successful login forgets the pair's earlier failures."""
    try:
        get_redis().delete(_keys(username, ip)[0])
    except redis.RedisError:
        logger.exception("login throttle unavailable; failures not cleared")
