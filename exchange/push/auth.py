"""A WebSocket connection's platform user: the REST API's credentials (exchange/apis/auth.py),
read from the handshake's `Authorization: Token <key>` header or, for clients that cannot set
headers (browsers), from `?token=<key>`."""
from __future__ import annotations

from urllib.parse import parse_qs

from exchange.apis.auth import KEYWORD
from exchange.models import User
from exchange.services import user_for_api_key


def api_key_from_scope(scope: dict) -> str | None:
    """The key the handshake carries; None when it carries none or a malformed one."""
    for name, value in scope.get("headers") or ():
        if name.lower() == b"authorization":
            parts = value.split()
            if len(parts) != 2 or parts[0].lower() != KEYWORD.lower().encode():
                return None
            try:
                return parts[1].decode()
            except UnicodeError:
                return None
    try:
        query = parse_qs((scope.get("query_string") or b"").decode(), strict_parsing=False)
    except UnicodeError:
        return None
    tokens = query.get("token") or []
    return tokens[0] if len(tokens) == 1 and tokens[0] else None


def user_for_scope(scope: dict) -> User | None:
    """The active user of the handshake's active key, else None (the consumer closes 4401)."""
    key = api_key_from_scope(scope)
    return user_for_api_key(key) if key else None
