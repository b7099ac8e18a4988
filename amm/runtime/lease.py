"""Leases in Redis (a random holder token with a TTL; renew and release only by that token).

A market's lease (`market:{m}`) makes its quote cycles, reconciliation, kill switch and
shutdown cancel mutually exclusive across every worker on every machine (SPEC §7 "one
market's quote cycles never overlap"). The TTL is short (AMM_LEASE_TTL_MS, 3 s): a worker
that dies or freezes holding it loses it within seconds and another worker takes the market
over. A long cycle renews it before each platform write (`check()`); a holder that finds it
gone has been fenced out and sends nothing more.

Across hosts (issue 15) a holder cut off from Redis cannot learn that its lease expired, so
it keeps its own deadline: the lease is valid until the last successful renewal's *sending*
time plus the TTL less AMM_LEASE_MARGIN_MS (clock rates, the call's way to the platform);
past it, `valid()` is false and the connector sends no order call (`amm/connector`'s fence).
Each acquisition also gets a fencing token, strictly increasing per market, that every order
call carries: a late call of an old holder arriving after its successor's first call is
refused by the platform (409 STALE_FENCING_TOKEN).

While a thread holds a market's lease, `held_fence(market_id)` answers it: the executor's
order calls take their fence from there, whichever code path (cycle, kill switch, startup,
shutdown) holds the lease.
"""
from __future__ import annotations

import secrets
import threading
import time

from amm import state
from amm.conf import amm_settings
from amm.exceptions import LeaseBusy

MARKET_PREFIX = "market:"


def lease_ttl_ms() -> int:
    return amm_settings.AMM_LEASE_TTL_MS


class _Held(threading.local):
    def __init__(self) -> None:
        self.fences: dict[str, Lease] = {}


_held = _Held()


def held_fence(market_id: str) -> "Lease | None":
    """The market's lease this thread holds now (the fence of its order calls), or None."""
    lease = _held.fences.get(market_id)
    return lease if lease is not None and lease.held else None


class Lease:
    """One holder's claim on `resource`; use `acquire()` / `release()` or `with`."""

    def __init__(self, resource: str, *, ttl_ms: int | None = None) -> None:
        self.resource = resource
        self.ttl_ms = int(ttl_ms or lease_ttl_ms())
        self.token = secrets.token_hex(8)
        self.held = False
        self.fencing_token: int | None = None
        self._renewed_at = 0.0  # monotonic: when the last successful acquire/renew was sent
        self._valid_until = 0.0

    def _taken(self, sent_at: float) -> None:
        """The lease is ours as of a call sent at `sent_at` (the TTL started after that)."""
        self.held, self._renewed_at = True, sent_at
        # At most a sixth of the TTL (500 ms of the default 3 s): a short lease keeps most of its time.
        margin_ms = min(amm_settings.AMM_LEASE_MARGIN_MS, self.ttl_ms // 6)
        self._valid_until = sent_at + (self.ttl_ms - margin_ms) / 1000

    def _register(self) -> None:
        """This thread's order calls of the market carry this lease's fence (held_fence)."""
        if self.resource.startswith(MARKET_PREFIX):
            _held.fences[self.resource[len(MARKET_PREFIX):]] = self

    def adopt(self, fencing_token: int, sent_at: float) -> None:
        """The lease was taken for this holder's token by a call sent at `sent_at` (monotonic)
        that got `fencing_token`: acquire's own call, or a script that takes it along with
        more (state.cycle_begin)."""
        self.fencing_token = fencing_token
        self._taken(sent_at)
        self._register()

    def acquire(self, *, wait_ms: int = 0, poll_ms: int = 5) -> bool:
        """Take the lease, waiting up to `wait_ms` for its holder to release it."""
        deadline = time.monotonic() + wait_ms / 1000
        while True:
            sent_at = time.monotonic()
            fencing_token = state.lease_acquire(self.resource, self.token, ttl_ms=self.ttl_ms)
            if fencing_token is not None:
                self.adopt(fencing_token, sent_at)
                return True
            if time.monotonic() >= deadline:
                return False
            time.sleep(poll_ms / 1000)

    def steal(self) -> str | None:
        """Take it whoever holds it (the kill switch after waiting one cycle); returns the
        previous holder's token. The previous holder is fenced out: its renewals fail and
        its order calls carry a lower fencing token."""
        sent_at = time.monotonic()
        got = state.lease_steal(self.resource, self.token, ttl_ms=self.ttl_ms)
        self.adopt(got.fencing_token, sent_at)
        return got.previous

    def renew(self) -> bool:
        sent_at = time.monotonic()
        renewed = state.lease_renew(self.resource, self.token, ttl_ms=self.ttl_ms)
        if renewed and self.held:
            self._taken(sent_at)
        else:
            self.held = False
        return self.held

    def valid(self) -> bool:
        """Ours by this process's own clock: held and within its local deadline (no Redis call)."""
        return self.held and time.monotonic() < self._valid_until

    def check(self) -> bool:
        """Still ours? Renews when a third of the TTL has passed (cheap in a short cycle)."""
        if not self.held:
            return False
        if (time.monotonic() - self._renewed_at) * 1000 < self.ttl_ms / 3 and self.valid():
            return True
        return self.renew()

    def let_go(self) -> bool:
        """This process stops using the lease (no more order calls under its fence); True
        when it held it: Redis must then be told, by `release()` or along with more
        (state.cycle_close, which releases only while the token is still ours)."""
        if self.resource.startswith(MARKET_PREFIX) and _held.fences.get(self.resource[len(MARKET_PREFIX):]) is self:
            del _held.fences[self.resource[len(MARKET_PREFIX):]]
        if not self.held:
            return False
        self.held = False
        return True

    def release(self) -> bool:
        return self.let_go() and state.lease_release(self.resource, self.token)

    def __enter__(self) -> "Lease":
        if not self.acquire():
            raise LeaseBusy(self.resource)
        return self

    def __exit__(self, *exc) -> None:
        self.release()


def market_lease(market_id: str, **kwargs) -> Lease:
    return Lease(f"{MARKET_PREFIX}{market_id}", **kwargs)
