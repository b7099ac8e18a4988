"""The platform's one error type (STYLE: one error type per app, one body, one handler).

Every error carries a stable `code`, a human `detail`, an HTTP `status` and optionally the
`field` at fault; the API turns it into `{"error": code, "detail": detail}`.
"""
from __future__ import annotations


class ExchangeError(Exception):
    status = 400
    code = "BAD_REQUEST"

    def __init__(self, detail: str, *, code: str | None = None, field: str | None = None, status: int | None = None):
        super().__init__(detail)
        self.detail = detail
        if code is not None:
            self.code = code
        if status is not None:
            self.status = status
        self.field = field

    def with_prefix(self, prefix: str) -> "ExchangeError":
        """The same error, located (e.g. `replacements[2]`), for batch operations."""
        field = f"{prefix}.{self.field}" if self.field else prefix
        return type(self)(f"{prefix}: {self.detail}", code=self.code, field=field, status=self.status)


class InvalidInput(ExchangeError):
    status = 400
    code = "INVALID_INPUT"


class NotFound(ExchangeError):
    status = 404
    code = "NOT_FOUND"


class Forbidden(ExchangeError):
    status = 403
    code = "FORBIDDEN"


class WrongState(ExchangeError):
    """409: the market is not ACTIVE, the order is no longer open, an illegal transition."""

    status = 409
    code = "WRONG_STATE"


class Insufficient(ExchangeError):
    """422: not enough available cash or shares."""

    status = 422
    code = "INSUFFICIENT_FUNDS"


class RateLimited(ExchangeError):
    status = 429
    code = "RATE_LIMITED"

    def __init__(self, detail: str, *, retry_after_s: int):
        super().__init__(detail)
        self.retry_after_s = retry_after_s

    def with_prefix(self, prefix: str) -> "RateLimited":
        return self
