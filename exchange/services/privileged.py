"""The AMM's privileged mint and burn (SPEC §3.6), idempotent on request_id."""
from __future__ import annotations

from dataclasses import dataclass

from django.db import IntegrityError, transaction

from exchange.conf import exchange_settings
from exchange.enums import MarketStatus
from exchange.exceptions import Forbidden, InvalidInput, WrongState
from exchange.models import Account, Position, PrivilegedOp
from exchange.services.clearing import Clearing

BURN_ALLOWED = {MarketStatus.ACTIVE, MarketStatus.SUSPENDED, MarketStatus.HALTED, MarketStatus.RESOLVED}


@dataclass
class PrivilegedResult:
    market_id: str
    quantity: int
    account: Account
    position: Position
    created: bool


def _check(user_id: str, quantity: int, request_id: str) -> None:
    if user_id not in exchange_settings.EXCHANGE_MINT_BURN_USERS:
        raise Forbidden("mint and burn are reserved to the market maker", code="NOT_PRIVILEGED")
    if not isinstance(quantity, int) or isinstance(quantity, bool) or not 1 <= quantity <= 10_000_000:
        raise InvalidInput("quantity must be an integer from 1 to 10000000", code="INVALID_QUANTITY", field="quantity")
    if not isinstance(request_id, str) or not 1 <= len(request_id) <= 128:
        raise InvalidInput("request_id must be a string of 1 to 128 characters", field="request_id")


def _privileged(kind: str, *, user_id: str, market_id: str, quantity: int, request_id: str,
                fencing_token: int | None = None) -> PrivilegedResult:
    _check(user_id, quantity, request_id)
    try:
        with transaction.atomic():
            clearing = Clearing(market_id, fence=(user_id, fencing_token))
            done = PrivilegedOp.objects.filter(user_id=user_id, request_id=request_id).first()
            if done is None:
                allowed = {MarketStatus.ACTIVE} if kind == "MINT" else BURN_ALLOWED
                if clearing.market.status not in allowed:
                    raise WrongState(f"market {market_id} is {clearing.market.status}", code="MARKET_NOT_ACTIVE")
                clearing.lock_accounts([user_id])
                clearing.load_positions([user_id])
                (clearing.mint if kind == "MINT" else clearing.burn)(user_id, quantity, request_id)
                clearing.flush()
                PrivilegedOp.objects.create(
                    user_id=user_id, request_id=request_id, market=clearing.market, kind=kind, quantity=quantity
                )
            elif (done.kind, done.market_id, done.quantity) != (kind, market_id, quantity):
                raise WrongState(f"request_id {request_id!r} was already used for another operation",
                                 code="DUPLICATE_REQUEST_ID", field="request_id")
            account = Account.objects.get(user_id=user_id)
            position = Position.objects.filter(user_id=user_id, market_id=market_id).first() or Position(
                user_id=user_id, market_id=market_id)
            return PrivilegedResult(market_id, quantity, account, position, created=done is None)
    except IntegrityError as exc:
        if "uq_privileged_ops_request" not in str(exc):
            raise
        return _privileged(kind, user_id=user_id, market_id=market_id, quantity=quantity, request_id=request_id,
                           fencing_token=fencing_token)


def amm_mint(*, user_id: str, market_id: str, quantity: int, request_id: str,
             fencing_token: int | None = None) -> PrivilegedResult:
    return _privileged("MINT", user_id=user_id, market_id=market_id, quantity=quantity, request_id=request_id,
                       fencing_token=fencing_token)


def amm_burn(*, user_id: str, market_id: str, quantity: int, request_id: str,
             fencing_token: int | None = None) -> PrivilegedResult:
    return _privileged("BURN", user_id=user_id, market_id=market_id, quantity=quantity, request_id=request_id,
                       fencing_token=fencing_token)
