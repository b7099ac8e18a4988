"""Fencing tokens on order calls (issue 15: AMM workers on several hosts).

An AMM host holds a market's lease in Redis; each acquisition gets a larger token, which
the host sends with every order-changing call (`X-Fencing-Token`). The platform keeps, per
(user, market), the highest token seen and refuses a lower one with 409
STALE_FENCING_TOKEN: a host cut off from Redis whose late call arrives after its successor
has spoken changes nothing. Checked inside the operation's transaction, right after the market
lock is taken (in the same round trip: `fence_statement`, sent with the lock by the clearing
engine), so that two calls of one market are checked one after the other and a refusal rolls
back with the rest. A call without a token is not checked (other users, older
clients)."""
from __future__ import annotations

from django.db import connection

from exchange.exceptions import WrongState

TOKEN_MAX = 2**63 - 1  # a BIGINT


# Raise the floor, or keep it when the token equals it (one holder sends many calls); no
# row back when the stored token is higher: the call is stale. Sent with the market lock by the
# clearing engine (`fence_statement`: right after the lock, in the same round trip); it inserts
# nothing for a market that does not exist (the lock's own answer tells that first).
_RAISE_FLOOR_SQL = """INSERT INTO fencing_tokens (user_id, market_id, token, updated_at)
SELECT %s::varchar, m.id, %s::bigint, now() FROM markets m WHERE m.id = %s::varchar
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
        cursor.execute(*fence_statement(user_id, market_id, token))
        fence_answered(token, cursor.fetchall())


def fence_statement(user_id: str, market_id: str, token: int) -> tuple[str, list]:
    """fence_check's statement, to be sent right after the statement locking the market; its
    rows go to fence_answered."""
    return _RAISE_FLOOR_SQL, [user_id, int(token), market_id]


def fence_answered(token: int, rows: list) -> None:
    """No row back: the stored token is higher, the call is stale."""
    if not rows:
        raise WrongState(f"fencing token {token} is older than the market's current holder's",
                         code="STALE_FENCING_TOKEN")
