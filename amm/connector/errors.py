"""Typed errors of the platform connector (STYLE: venue errors split into retryable and not);
all `amm.exceptions.AMMError`s.

`retryable` says whether repeating the same request is safe and may succeed. Two families
matter for money:

- `PlatformUnavailable`: the request certainly did not take effect (connection refused,
  connect timeout, pool timeout) or it was a read; repeat freely.
- `UnknownOutcome`: an order call timed out or got a 5xx after it was sent; the platform
  may or may not have executed it. It is never treated as failed or cancelled: the caller
  asks the platform (by `client_order_id`) and keeps the order in flight until it knows
  (SPEC §7).
"""
from __future__ import annotations

from typing import Any

from amm.exceptions import AMMError


class ConnectorError(AMMError):
    """Base of every connector error; `status`/`code`/`detail`/`field` come from the platform."""

    retryable = False

    def __init__(
        self,
        detail: str,
        *,
        status: int | None = None,
        code: str | None = None,
        field: str | None = None,
        body: Any = None,
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        self.status = status
        self.code = code  # the platform's code (None when it gave none)
        self.field = field
        self.body = body

    def __str__(self) -> str:
        parts = [self.detail]
        if self.code:
            parts.insert(0, f"[{self.code}]")
        if self.status:
            parts.insert(0, f"HTTP {self.status}")
        return " ".join(parts)


class PlatformUnavailable(ConnectorError):
    """5xx on a read, connection refused, connect/pool timeout: nothing happened, try later."""

    retryable = True


class UnknownOutcome(ConnectorError):
    """A timeout or 5xx after an order call was sent: it may have been executed.

    `client_order_ids` / `order_ids` / `request_id` name what is in flight; `operation` is
    the call (`order_place`, `orders_replace`, `order_cancel`, `amm_mint`, ...)."""

    retryable = False

    def __init__(
        self,
        detail: str,
        *,
        operation: str = "",
        client_order_ids: tuple[str, ...] = (),
        order_ids: tuple[str, ...] = (),
        request_id: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(detail, **kwargs)
        self.operation = operation
        self.client_order_ids = tuple(client_order_ids)
        self.order_ids = tuple(order_ids)
        self.request_id = request_id


class RateLimited(ConnectorError):
    """429: the platform did not execute the request; repeat after `retry_after_s`."""

    retryable = True

    def __init__(self, detail: str, *, retry_after_s: float = 1.0, **kwargs: Any) -> None:
        super().__init__(detail, **kwargs)
        self.retry_after_s = retry_after_s


class InvalidRequest(ConnectorError):
    """400: the request is malformed or out of range (`field` names the culprit)."""


class Forbidden(ConnectorError):
    """401 / 403: bad API key, or a privileged call by a non-AMM user."""


class NotFound(ConnectorError):
    """404: no such market or order (someone else's order answers the same)."""


class Conflict(ConnectorError):
    """409: the platform is in a state that forbids the call."""


class MarketNotActive(Conflict):
    """409 MARKET_NOT_ACTIVE: the market is suspended, halted, resolved, ..."""


class OrderNotOpen(Conflict):
    """409 ORDER_NOT_OPEN: the order was already filled or cancelled."""


class Fenced(Conflict):
    """The caller's lease on the market is gone: its lease lapsed by its own clock before the
    call was sent (nothing sent), or the platform refused the call's fencing token as older
    than a later holder's (409 STALE_FENCING_TOKEN: nothing done). Either way nothing happened."""


class DuplicateRequest(Conflict):
    """409 DUPLICATE_CLIENT_ORDER_ID / DUPLICATE_REQUEST_ID: an id reused for another request."""


class InsufficientFunds(ConnectorError):
    """422 INSUFFICIENT_FUNDS / INSUFFICIENT_SHARES: not enough available cash or shares."""


class ProtocolError(ConnectorError):
    """The platform answered something the contract does not allow (unparseable body)."""


_CONFLICTS = {
    "MARKET_NOT_ACTIVE": MarketNotActive,
    "ORDER_NOT_OPEN": OrderNotOpen,
    "DUPLICATE_CLIENT_ORDER_ID": DuplicateRequest,
    "DUPLICATE_REQUEST_ID": DuplicateRequest,
    "STALE_FENCING_TOKEN": Fenced,
}


def error_for_status(
    status: int, body: Any, *, order_call: bool, retry_after_s: float | None = None
) -> ConnectorError:
    """Map one HTTP error answer (`{"error": CODE, "detail": text}`) to a typed error (SPEC §3.6)."""
    code = detail = field = None
    if isinstance(body, dict):
        code = body.get("error")
        detail = body.get("detail")
        field = body.get("field")
    detail = str(detail or code or f"HTTP {status}")
    kwargs = {"status": status, "code": code, "field": field, "body": body}
    if status == 429:
        return RateLimited(detail, retry_after_s=retry_after_s if retry_after_s is not None else 1.0, **kwargs)
    if status >= 500:
        if order_call:
            return UnknownOutcome(detail, **kwargs)
        return PlatformUnavailable(detail, **kwargs)
    if status in (401, 403):
        return Forbidden(detail, **kwargs)
    if status == 404:
        return NotFound(detail, **kwargs)
    if status == 409:
        return _CONFLICTS.get(code or "", Conflict)(detail, **kwargs)
    if status == 422:
        return InsufficientFunds(detail, **kwargs)
    return InvalidRequest(detail, **kwargs)
