"""The httpx client for the platform contract (SPEC §3.6): the only code that knows its HTTP.

One `httpx.Client` (one connection pool, reused; the constructor opens no connection).
Every call has a timeout. Retries with exponential backoff happen only where repeating is
safe: reads, placement (idempotent on `client_order_id`), mint/burn (idempotent on
`request_id`), cancel-all and the dead man's switch (repeating changes nothing), and any
call whose request certainly never reached the platform (connect failure) or that the
platform refused with 429 (it executed nothing; `Retry-After` is honoured).

Order calls take a `fence` (the market lease they run under, issue 15): its fencing token
goes in the `X-Fencing-Token` header, and no attempt is sent once the lease lapsed by the
caller's clock (`Fenced`; `UnknownOutcome` when an earlier attempt may have executed).

A timeout or 5xx after an order call was sent is an `UnknownOutcome`: placement resolves it
by asking `GET /api/v1/orders?client_order_id=`; a replace by asking for its new orders'
client order ids; a cancel by asking whether the order is still open. What cannot be
resolved is raised as `UnknownOutcome`, never reported as failed or cancelled (SPEC §7).
"""
from __future__ import annotations

import email.utils
import logging
import time
from typing import Any, Callable, Iterable

import httpx

from amm.connector.errors import (
    ConnectorError,
    Fenced,
    PlatformUnavailable,
    ProtocolError,
    RateLimited,
    UnknownOutcome,
    error_for_status,
)
from amm.connector.order_status import OPEN_STATUSES
from amm.connector.types import (
    Balance,
    Fence,
    Market,
    Order,
    OrderBook,
    OrderRequest,
    PlaceResult,
    Position,
    PrivilegedResult,
    Replacement,
    ReplaceResult,
    Trade,
    TradesPage,
    optional_int,
)

log = logging.getLogger(__name__)

API = "/api/v1"
FENCING_HEADER = "X-Fencing-Token"


def _retry_after_seconds(value: str | None) -> float | None:
    """Retry-After as seconds: delta-seconds or an HTTP-date (RFC 9110 §10.2.3)."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


class PlatformClient:
    """Typed calls of the platform API for one user (the AMM's API key)."""

    def __init__(
        self,
        *,
        base_url: str,
        api_key: str,
        timeout_s: float = 5.0,
        connect_timeout_s: float = 2.0,
        max_attempts: int = 4,
        backoff_base_s: float = 0.05,
        backoff_max_s: float = 2.0,
        max_retry_after_s: float = 30.0,
        max_connections: int = 20,
        transport: httpx.BaseTransport | None = None,
        headers: dict[str, str] | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.max_attempts = max(1, max_attempts)
        self.backoff_base_s = backoff_base_s
        self.backoff_max_s = backoff_max_s
        self.max_retry_after_s = max_retry_after_s
        self._sleep = sleep
        self._http = httpx.Client(
            base_url=self.base_url,
            headers={"Authorization": f"Token {api_key}", "Accept": "application/json", **(headers or {})},
            timeout=httpx.Timeout(timeout_s, connect=connect_timeout_s, pool=connect_timeout_s),
            limits=httpx.Limits(max_connections=max_connections, max_keepalive_connections=max_connections),
            transport=transport,
        )

    # --- lifecycle ---------------------------------------------------------------------
    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> "PlatformClient":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    # --- transport core ------------------------------------------------------------------
    def _backoff(self, attempt: int) -> float:
        return min(self.backoff_max_s, self.backoff_base_s * (2 ** (attempt - 1)))

    def _request(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, Any] | None = None,
        json: Any = None,
        retry_when_sent: bool,
        order_call: bool,
        operation: str,
        hold_s: float = 0.0,
        fence: Fence | None = None,
    ) -> httpx.Response:
        """Send one call with the retry policy above; returns a 2xx response or raises.
        `hold_s`: how long the platform may hold the answer on purpose (a long poll), added
        to the read timeout. `fence`: see the module docstring."""
        attempt = 0
        maybe_executed = False  # an earlier attempt of this order call may have reached the platform
        timeout = None
        if hold_s:
            base = self._http.timeout
            timeout = httpx.Timeout(base.read + hold_s, connect=base.connect, pool=base.pool, write=base.write)
        headers = None
        if fence is not None and fence.fencing_token is not None:
            headers = {FENCING_HEADER: str(fence.fencing_token)}
        while True:
            attempt += 1
            sent = True
            if fence is not None and not fence.valid():
                lapsed = f"{operation}: not sent, the market's lease lapsed by this process's clock"
                if maybe_executed:
                    raise UnknownOutcome(f"{lapsed} (an earlier attempt's outcome is unknown)", operation=operation)
                raise Fenced(lapsed)
            try:
                if timeout is None:
                    response = self._http.request(method, path, params=params, json=json, headers=headers)
                else:
                    response = self._http.request(method, path, params=params, json=json, headers=headers,
                                                  timeout=timeout)
            except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
                sent = False  # the request never reached the platform
                error: ConnectorError = PlatformUnavailable(f"{operation}: {exc.__class__.__name__}: {exc}")
            except httpx.TransportError as exc:  # read/write timeouts, dropped connections
                detail = f"{operation}: {exc.__class__.__name__}: {exc}"
                error = UnknownOutcome(detail, operation=operation) if order_call else PlatformUnavailable(detail)
            else:
                if response.status_code < 400:
                    return response
                error = error_for_status(
                    response.status_code,
                    _body(response),
                    order_call=order_call,
                    retry_after_s=_retry_after_seconds(response.headers.get("Retry-After")),
                )
                if isinstance(error, UnknownOutcome):
                    error.operation = operation
            if isinstance(error, UnknownOutcome):
                maybe_executed = True
            elif maybe_executed and isinstance(error, (PlatformUnavailable, Fenced)):
                # A later attempt that never got through (or was fenced out) says nothing of an
                # earlier one that may have.
                error = UnknownOutcome(f"{error} (an earlier attempt's outcome is unknown)", operation=operation)
            if attempt >= self.max_attempts:
                raise error
            if isinstance(error, RateLimited):
                if error.retry_after_s > self.max_retry_after_s:
                    raise error
                wait = max(error.retry_after_s, self._backoff(attempt))
            elif isinstance(error, PlatformUnavailable) and (not sent or not order_call or retry_when_sent):
                wait = self._backoff(attempt)
            elif isinstance(error, UnknownOutcome) and retry_when_sent:
                wait = self._backoff(attempt)
            else:
                raise error
            log.info("platform %s: %s; retry %d/%d in %.3fs", operation, error, attempt, self.max_attempts - 1, wait)
            self._sleep(wait)

    def _get(self, path: str, *, params: dict[str, Any] | None = None, operation: str, hold_s: float = 0.0) -> Any:
        response = self._request(
            "GET", path, params=params, retry_when_sent=True, order_call=False, operation=operation, hold_s=hold_s
        )
        return _json(response)

    # --- reads -----------------------------------------------------------------------------
    def balance_get(self) -> Balance:
        return Balance.parse(self._get(f"{API}/account/balance", operation="balance_get"))

    def position_get(self, market_id: str) -> Position:
        return Position.parse(self._get(f"{API}/positions/{market_id}", operation="position_get"), market_id)

    def markets_list(self) -> list[Market]:
        data = self._get(f"{API}/markets", operation="markets_list")
        rows = data.get("results", []) if isinstance(data, dict) else data
        return [Market.parse(row) for row in rows]

    def market_get(self, market_id: str) -> Market:
        return Market.parse(self._get(f"{API}/markets/{market_id}", operation="market_get"))

    def orders_list(
        self,
        *,
        market_id: str | None = None,
        status: Iterable[str] | None = None,
        client_order_id: str | None = None,
    ) -> list[Order]:
        params: dict[str, Any] = {}
        if market_id is not None:
            params["market_id"] = market_id
        if status:
            params["status"] = ",".join(status)
        if client_order_id is not None:
            params["client_order_id"] = client_order_id
        data = self._get(f"{API}/orders", params=params, operation="orders_list")
        return [Order.parse(row) for row in _results(data)]

    def orders_open(self, market_id: str) -> list[Order]:
        """The caller's live orders in a market (`status=OPEN,PARTIALLY_FILLED`)."""
        return self.orders_list(market_id=market_id, status=OPEN_STATUSES)

    def order_resolve(self, client_order_id: str) -> Order | None:
        """Ask the platform what became of a placement: the order, or None if it has none."""
        found = [o for o in self.orders_list(client_order_id=client_order_id) if o.client_order_id == client_order_id]
        return found[0] if found else None

    def trades_list(self, *, since: int = 0, market_id: str | None = None, limit: int | None = None,
                    wait_ms: int = 0) -> TradesPage:
        """The caller's trades after `since`. `wait_ms`: when there is none yet, the platform
        may hold the answer that long for the next one (a long poll; a platform that does
        not know the parameter answers at once)."""
        params: dict[str, Any] = {"since": int(since)}
        if market_id is not None:
            params["market_id"] = market_id
        if limit is not None:
            params["limit"] = int(limit)
        if wait_ms > 0:
            params["wait_ms"] = int(wait_ms)
        data = self._get(f"{API}/trades", params=params, operation="trades_list", hold_s=max(0, wait_ms) / 1000)
        trades = [Trade.parse(row) for row in _results(data)]
        next_since = data.get("next_since") if isinstance(data, dict) else None
        if next_since is None:
            next_since = max([since] + [t.id for t in trades])
        return TradesPage(results=trades, next_since=int(next_since))

    def orderbook_get(self, market_id: str, *, depth: int | None = None, trades: int = 0) -> OrderBook:
        """The book's levels; with `trades`, also the market's last trades (`recent_trades`)."""
        params = {**({"depth": int(depth)} if depth is not None else {}), **({"trades": int(trades)} if trades else {})}
        params = params or None
        return OrderBook.parse(self._get(f"{API}/orderbook/{market_id}", params=params, operation="orderbook_get"))

    # --- order calls -------------------------------------------------------------------------
    def order_place(self, *, market_id: str, order: OrderRequest, fence: Fence | None = None) -> PlaceResult:
        """Place one order; a lost answer is resolved by `client_order_id` (never assumed failed)."""
        body = {"market_id": market_id, **order.as_body()}
        try:
            response = self._request(
                "POST", f"{API}/orders", json=body, retry_when_sent=True, order_call=True, operation="order_place",
                fence=fence,
            )
        except UnknownOutcome as exc:
            found = self._resolve_placement(order.client_order_id, exc)
            log.warning("order_place %s: outcome was unknown (%s); the platform has it as %s",
                        order.client_order_id, exc, found.status)
            return PlaceResult(order=found, trades=[], created=None, resolved=True)
        data = _json(response)
        return PlaceResult(
            order=Order.parse(_field(data, "order")),
            trades=[Trade.parse(t) for t in data.get("trades") or []],
            created=response.status_code == 201,
        )

    def _resolve_placement(self, client_order_id: str, cause: UnknownOutcome) -> Order:
        try:
            found = self.order_resolve(client_order_id)
        except ConnectorError as exc:
            raise UnknownOutcome(
                f"order_place {client_order_id}: outcome unknown and the platform could not be asked ({exc})",
                operation="order_place", client_order_ids=(client_order_id,),
            ) from cause
        if found is None:
            # Absent now, but a slow request may still commit: keep it in flight, ask again later.
            raise UnknownOutcome(
                f"order_place {client_order_id}: outcome unknown; the platform has no such order yet",
                operation="order_place", client_order_ids=(client_order_id,),
            ) from cause
        return found

    def order_cancel(self, order_id: str, *, market_id: str | None = None, fence: Fence | None = None) -> Order | None:
        """Cancel one order. Returns the cancelled order; on a lost answer with `market_id`
        given, asks whether it is still open and returns None when it no longer is (it was
        cancelled or filled; the fill feed tells which)."""
        try:
            response = self._request(
                "DELETE", f"{API}/orders/{order_id}", retry_when_sent=False, order_call=True, operation="order_cancel",
                fence=fence,
            )
        except UnknownOutcome as exc:
            if market_id is None:
                raise UnknownOutcome(str(exc), operation="order_cancel", order_ids=(order_id,)) from exc
            if self._still_open(market_id, [order_id], exc, "order_cancel"):
                raise UnknownOutcome(
                    f"order_cancel {order_id}: outcome unknown and the order is still open",
                    operation="order_cancel", order_ids=(order_id,),
                ) from exc
            return None
        data = _json(response)
        return Order.parse(data.get("order", data) if isinstance(data, dict) else data)

    def orders_cancel_all(self, market_id: str, *, fence: Fence | None = None) -> list[Order]:
        """Cancel every open order of the caller in a market (repeating it is harmless)."""
        response = self._request(
            "POST", f"{API}/orders/cancel-all", json={"market_id": market_id},
            retry_when_sent=True, order_call=True, operation="orders_cancel_all", fence=fence,
        )
        data = _json(response)
        rows = data.get("cancelled", data.get("results", [])) if isinstance(data, dict) else data
        return [Order.parse(row) for row in rows or []]

    def orders_replace(self, *, market_id: str, replacements: list[Replacement],
                       fence: Fence | None = None) -> ReplaceResult:
        """Atomic replace (all or nothing). Not idempotent (the old orders are gone after the
        first success), so a lost answer is resolved by asking for the new client order ids."""
        body = {
            "market_id": market_id,
            "replacements": [
                {"old_order_id": r.old_order_id, "new": r.new.as_body() if r.new is not None else None}
                for r in replacements
            ],
        }
        try:
            response = self._request(
                "POST", f"{API}/amm/orders/replace", json=body,
                retry_when_sent=False, order_call=True, operation="orders_replace", fence=fence,
            )
        except UnknownOutcome as exc:
            return self._resolve_replace(market_id, replacements, exc)
        data = _json(response)
        return ReplaceResult(
            cancelled=[Order.parse(o) for o in data.get("cancelled") or []],
            placed=[Order.parse(o) for o in data.get("placed") or []],
            trades=[Trade.parse(t) for t in data.get("trades") or []],
            sequence_id=optional_int(data, "sequence_id"),
        )

    def _resolve_replace(self, market_id: str, replacements: list[Replacement], cause: UnknownOutcome) -> ReplaceResult:
        coids = tuple(r.new.client_order_id for r in replacements if r.new is not None)
        olds = tuple(r.old_order_id for r in replacements if r.old_order_id is not None)

        def unknown(detail: str) -> UnknownOutcome:
            return UnknownOutcome(f"orders_replace: {detail}", operation="orders_replace",
                                  client_order_ids=coids, order_ids=olds)

        try:
            if coids:
                found = {coid: self.order_resolve(coid) for coid in coids}
                placed = [o for o in found.values() if o is not None]
                if len(placed) == len(coids):
                    return ReplaceResult(placed=placed, resolved=True, cancelled_ids=olds)
                if placed:
                    raise unknown(f"only {len(placed)} of {len(coids)} new orders exist (all-or-nothing broken?)")
                raise unknown("outcome unknown; none of the new orders exists yet")
            if not self._still_open(market_id, list(olds), cause, "orders_replace"):
                return ReplaceResult(resolved=True, cancelled_ids=olds)
            raise unknown("outcome unknown; the old orders are still open")
        except UnknownOutcome as exc:
            raise exc from cause
        except ConnectorError as exc:
            raise unknown(f"outcome unknown and the platform could not be asked ({exc})") from cause

    def _still_open(self, market_id: str, order_ids: list[str], cause: UnknownOutcome, operation: str) -> bool:
        try:
            open_ids = {o.id for o in self.orders_open(market_id)}
        except ConnectorError as exc:
            raise UnknownOutcome(f"{operation}: outcome unknown and the platform could not be asked ({exc})",
                                 operation=operation, order_ids=tuple(order_ids)) from cause
        return any(oid in open_ids for oid in order_ids)

    def amm_mint(self, *, market_id: str, quantity: int, request_id: str,
                 fence: Fence | None = None) -> PrivilegedResult:
        return self._privileged("mint", market_id, quantity, request_id, fence)

    def amm_burn(self, *, market_id: str, quantity: int, request_id: str,
                 fence: Fence | None = None) -> PrivilegedResult:
        return self._privileged("burn", market_id, quantity, request_id, fence)

    def _privileged(self, kind: str, market_id: str, quantity: int, request_id: str,
                    fence: Fence | None) -> PrivilegedResult:
        try:
            response = self._request(
                "POST", f"{API}/amm/{kind}", json={"market_id": market_id, "quantity": int(quantity),
                                                   "request_id": request_id},
                retry_when_sent=True, order_call=True, operation=f"amm_{kind}", fence=fence,
            )
        except UnknownOutcome as exc:
            # Repeating with the same request_id is the way to ask; the caller does so later.
            raise UnknownOutcome(str(exc), operation=f"amm_{kind}", request_id=request_id) from exc
        data = _json(response)
        balance = data.get("balance")
        position = data.get("position")
        return PrivilegedResult(
            market_id=str(data.get("market_id", market_id)),
            quantity=int(data.get("quantity", quantity)),
            balance=Balance.parse(balance) if isinstance(balance, dict) else None,
            position=Position.parse(position, market_id) if isinstance(position, dict) else None,
            request_id=request_id,
        )

    def cancel_all_after(self, timeout_ms: int) -> dict[str, Any]:
        """Arm (or with 0 disarm) the platform's dead man's switch."""
        response = self._request(
            "POST", f"{API}/orders/cancel-all-after", json={"timeout_ms": int(timeout_ms)},
            retry_when_sent=True, order_call=True, operation="cancel_all_after",
        )
        data = _json(response)
        return data if isinstance(data, dict) else {"result": data}


def _body(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return {"detail": response.text[:500]}


def _json(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError as exc:
        raise ProtocolError(f"platform answered HTTP {response.status_code} with a non-JSON body",
                            status=response.status_code) from exc


def _results(data: Any) -> list[dict[str, Any]]:
    if isinstance(data, list):
        return data
    if isinstance(data, dict) and isinstance(data.get("results"), list):
        return data["results"]
    raise ProtocolError("platform answer lacks 'results'", body=data)


def _field(data: Any, name: str) -> Any:
    if not isinstance(data, dict) or name not in data:
        raise ProtocolError(f"platform answer lacks {name!r}", body=data)
    return data[name]
