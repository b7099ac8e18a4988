"""Fencing tokens on order calls (issue 15: AMM workers on several hosts).

An AMM host holds a market's lease in Redis; each acquisition gets a larger token, which
the host sends with every order-changing call (`X-Fencing-Token`). The platform keeps, per
(user, market), the highest token seen and refuses a lower one with 409
STALE_FENCING_TOKEN: a host cut off from Redis whose late call arrives after its successor
has spoken changes nothing. Called inside the operation's transaction, after the market
lock is taken, so that two calls of one market are checked one after the other and a
refusal rolls back with the rest. A call without a token is not checked (other users, older
clients)."""
from __future__ import annotations

from django.db import connection

from exchange.exceptions import WrongState

TOKEN_MAX = 2**63 - 1  # a BIGINT

# Raise the floor, or keep it when the token equals it (one holder sends many calls); no
# row back when the stored token is higher: the call is stale.
_RAISE_FLOOR_SQL = """
INSERT INTO fencing_tokens (user_id, market_id, token, updated_at) VALUES (%s, %s, %s, now())
ON CONFLICT (user_id, market_id) DO UPDATE SET token = EXCLUDED.token, updated_at = EXCLUDED.updated_at
WHERE fencing_tokens.token <= EXCLUDED.token
RETURNING token
"""


def fence_check(*, user_id: str, market_id: str, token: int | None) -> None:
    """Refuse (409 STALE_FENCING_TOKEN) a call whose token is below the highest one this
    user's calls carried in the market; else record it as the new floor. Must run inside
    the operation's transaction, under the market lock."""
    if token is None:
        return
    with connection.cursor() as cursor:
        cursor.execute(_RAISE_FLOOR_SQL, [user_id, market_id, int(token)])
        if cursor.fetchone() is None:
            raise WrongState(f"fencing token {token} is older than the market's current holder's",
                             code="STALE_FENCING_TOKEN")
