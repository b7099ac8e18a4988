"""The AMM's application errors: one base, translated into one error body by the API's
exception handler and into a message by the admin."""
from __future__ import annotations


class AMMError(Exception):
    """Base of every error the AMM raises on purpose; `code` is stable for scripts."""

    code = "AMM_ERROR"
    retryable = False

    def __init__(self, detail: str, *, code: str | None = None):
        super().__init__(detail)
        self.detail = detail
        if code:
            self.code = code


class ActionRefused(AMMError):
    """An operator action that is illegal now (an FSM transition not allowed from the current
    state, a missing reason, a market not in a state that allows it). Nothing was changed."""

    code = "ACTION_REFUSED"


class InstanceNotFound(AMMError):
    code = "INSTANCE_NOT_FOUND"


class ActionFailed(AMMError):
    """An operator action that was allowed but could not be completed (the platform did not
    answer a cancel); the state machines were left as they were: try again."""

    code = "ACTION_FAILED"
    retryable = True
