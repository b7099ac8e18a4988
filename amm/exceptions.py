"""The AMM's errors, in one place: one base (`AMMError`, with a stable `code` for scripts and
`retryable`: may the same call, repeated, succeed?), translated into one error body by the
API's exception handler and into a message by the admin.

A leaf module (it imports nothing of the AMM), so every layer may raise these. The platform
connector's errors (amm/connector/errors.py) and the oracle's (amm/oracle/base.py) are
`AMMError`s too, kept beside the code that raises them.

Compatibility by design: `InvalidInput` is also a `ValueError` and `TransitionRefused` also
django-fsm's `TransitionNotAllowed`, so code written against those still catches them. The
services translate FSM refusals at their edge (amm/services/instances.py); nothing above
them needs to know django-fsm.
"""
from __future__ import annotations

from django_fsm import TransitionNotAllowed


class AMMError(Exception):
    """Base of every error the AMM raises on purpose; `code` is stable for scripts."""

    code = "AMM_ERROR"
    retryable = False

    def __init__(self, detail: str, *, code: str | None = None):
        super().__init__(detail)
        self.detail = detail
        if code:
            self.code = code


class InvalidInput(AMMError, ValueError):
    """A caller's value is out of its domain (a bad market id, a negative budget, an unknown
    field). Nothing was changed; repeating the call changes nothing."""

    code = "INVALID_INPUT"


class ActionRefused(AMMError):
    """An operator action that is illegal now (an FSM transition not allowed from the current
    state, a missing reason, a market not in a state that allows it). Nothing was changed."""

    code = "ACTION_REFUSED"


class TransitionRefused(ActionRefused, TransitionNotAllowed):
    """A state-machine transition not allowed from the current state (lifecycle, phase,
    defense, kill switch); raised by the services, nothing changed."""

    code = "TRANSITION_REFUSED"

    def __init__(self, detail: str, *, code: str | None = None, object=None, method: str | None = None):
        super().__init__(detail, code=code)
        self.object = object  # TransitionNotAllowed's attributes, for code that reads them
        self.method = method


class InstanceNotFound(AMMError):
    code = "INSTANCE_NOT_FOUND"


class ActionFailed(AMMError):
    """An operator action that was allowed but could not be completed (the platform did not
    answer a cancel); the state machines were left as they were: try again."""

    code = "ACTION_FAILED"
    retryable = True


class SyncError(AMMError, RuntimeError):
    """The platform kept trading while the AMM tried to take a consistent snapshot of a
    market; the next attempt usually succeeds."""

    code = "SYNC_FAILED"
    retryable = True


class LeaseBusy(AMMError, RuntimeError):
    """Another holder has the market's lease."""

    code = "LEASE_BUSY"
    retryable = True
