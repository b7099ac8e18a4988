"""Leases in Redis (SET NX PX with a random token; renew and release only by that token).

A market's lease (`market:{m}`) makes its quote cycles, reconciliation, kill switch and
shutdown cancel mutually exclusive across every worker on every machine (SPEC §7 "one
market's quote cycles never overlap"). The TTL is short (AMM_LEASE_TTL_MS, 3 s): a worker
that dies or freezes holding it loses it within seconds and another worker takes the market
over. A long cycle renews it before each platform write (`check()`); a holder that finds it
gone has been fenced out and sends nothing more.
"""
from __future__ import annotations

import secrets
import time

from amm import state
from amm.conf import amm_settings
from amm.exceptions import LeaseBusy


def lease_ttl_ms() -> int:
    return amm_settings.AMM_LEASE_TTL_MS


class Lease:
    """One holder's claim on `resource`; use `acquire()` / `release()` or `with`."""

    def __init__(self, resource: str, *, ttl_ms: int | None = None) -> None:
        self.resource = resource
        self.ttl_ms = int(ttl_ms or lease_ttl_ms())
        self.token = secrets.token_hex(8)
        self.held = False
        self._renewed_at = 0.0

    def acquire(self, *, wait_ms: int = 0, poll_ms: int = 5) -> bool:
        """Take the lease, waiting up to `wait_ms` for its holder to release it."""
        deadline = time.monotonic() + wait_ms / 1000
        while True:
            if state.lease_acquire(self.resource, self.token, ttl_ms=self.ttl_ms):
                self.held, self._renewed_at = True, time.monotonic()
                return True
            if time.monotonic() >= deadline:
                return False
            time.sleep(poll_ms / 1000)

    def steal(self) -> str | None:
        """Take it whoever holds it (the kill switch after waiting one cycle); returns the
        previous holder's token. The previous holder is fenced out."""
        previous = state.lease_steal(self.resource, self.token, ttl_ms=self.ttl_ms)
        self.held, self._renewed_at = True, time.monotonic()
        return previous

    def renew(self) -> bool:
        self.held = state.lease_renew(self.resource, self.token, ttl_ms=self.ttl_ms)
        if self.held:
            self._renewed_at = time.monotonic()
        return self.held

    def check(self) -> bool:
        """Still ours? Renews when a third of the TTL has passed (cheap in a short cycle)."""
        if not self.held:
            return False
        if (time.monotonic() - self._renewed_at) * 1000 < self.ttl_ms / 3:
            return True
        return self.renew()

    def release(self) -> bool:
        if not self.held:
            return False
        self.held = False
        return state.lease_release(self.resource, self.token)

    def __enter__(self) -> "Lease":
        if not self.acquire():
            raise LeaseBusy(self.resource)
        return self

    def __exit__(self, *exc) -> None:
        self.release()


def market_lease(market_id: str, **kwargs) -> Lease:
    return Lease(f"market:{market_id}", **kwargs)
