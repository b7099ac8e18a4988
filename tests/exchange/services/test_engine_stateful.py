"""Random order flows from several users (the AMM included) through the engine, with the
invariants I1-I5 and the per-account rules of SPEC §3.5 asserted after every step."""
import uuid

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from exchange.enums import AMM_USER_ID
from exchange.exceptions import ExchangeError
from exchange.invariants import invariants_check
from exchange.models import Account, Order
from exchange.services import (
    NewOrder,
    Replacement,
    account_deposit,
    account_withdraw,
    amm_burn,
    amm_mint,
    market_set_status,
    order_cancel,
    order_cancel_all,
    order_place,
    orders_replace,
)
from tests.exchange.conftest import new_market, new_user

EXPECTED = {"INSUFFICIENT_FUNDS", "INSUFFICIENT_SHARES", "MARKET_NOT_ACTIVE", "ORDER_NOT_OPEN", "PRICE_OUT_OF_RANGE",
            "ILLEGAL_TRANSITION"}
prices = st.integers(min_value=1, max_value=99)
sides = st.sampled_from(["YES", "NO"])
directions = st.sampled_from(["BUY", "SELL"])


class EngineMachine(RuleBasedStateMachine):
    def __init__(self):
        super().__init__()
        self.markets = [new_market(maker_fee_bps=30, taker_fee_bps=70, min_price_cents=2, max_price_cents=98)
                        for _ in range(2)]
        self.users = [new_user(50_000) for _ in range(3)] + [AMM_USER_ID]
        # The AMM's account outlives each example (the other users are new): start every
        # example from the same available cash, or a replayed prefix could take other branches.
        spare = Account.objects.get(user_id=AMM_USER_ID).available_balance
        if spare:
            account_withdraw(user_id=AMM_USER_ID, amount_cents=spare)
        account_deposit(user_id=AMM_USER_ID, amount_cents=100_000)
        for market in self.markets:
            amm_mint(user_id=AMM_USER_ID, market_id=market, quantity=200, request_id=uuid.uuid4().hex)

    def _try(self, fn):
        try:
            fn()
        except ExchangeError as exc:
            assert exc.code in EXPECTED, f"{exc.code}: {exc.detail}"

    def _open(self, user=None):
        """Open orders in an order the example itself fixes (not the table's physical order or
        query plan, which autovacuum and autoanalyze change under load): hypothesis replays
        prefixes of examples and requires every draw, preconditions included, to repeat."""
        rows = Order.objects.filter(market_id__in=self.markets, status__in=["OPEN", "PARTIALLY_FILLED"])
        rows = list(rows.filter(user_id=user) if user else rows)
        return sorted(rows, key=lambda o: (self.markets.index(o.market_id), o.priority, o.yes_price, o.book_side,
                                           self.users.index(o.user_id), o.quantity, o.filled_quantity))

    @rule(u=st.integers(0, 3), m=st.integers(0, 1), side=sides, direction=directions, price=prices,
          qty=st.integers(1, 40), ioc=st.booleans())
    def place(self, u, m, side, direction, price, qty, ioc):
        new = NewOrder(uuid.uuid4().hex, side, direction, price, qty, "IOC" if ioc else "GTC")
        self._try(lambda: order_place(user_id=self.users[u], market_id=self.markets[m], new=new))

    @precondition(lambda self: bool(self._open()))
    @rule(pick=st.integers(0, 10_000), u=st.integers(0, 3), qty=st.integers(1, 40), with_shares=st.booleans(),
          ioc=st.booleans())
    def take(self, pick, u, qty, with_shares, ioc):
        """Cross a resting order on purpose: random flows alone rarely trade."""
        orders = self._open()
        resting = orders[pick % len(orders)]
        p = resting.yes_price
        if resting.book_side == "BID":  # hit it with an ask: SELL YES at p or BUY NO at 100 - p
            side, direction, price = ("YES", "SELL", p) if with_shares else ("NO", "BUY", 100 - p)
        else:  # lift it with a bid: BUY YES at p or SELL NO at 100 - p
            side, direction, price = ("NO", "SELL", 100 - p) if with_shares else ("YES", "BUY", p)
        new = NewOrder(uuid.uuid4().hex, side, direction, price, qty, "IOC" if ioc else "GTC")
        self._try(lambda: order_place(user_id=self.users[u], market_id=resting.market_id, new=new))

    @rule(m=st.integers(0, 1), mid=st.integers(20, 80), half=st.integers(1, 4), qty=st.integers(1, 25))
    def amm_quote(self, m, mid, half, qty):
        """The AMM requotes both sides from inventory: SELL YES above mid, SELL NO below it."""
        market = self.markets[m]
        olds = [Replacement(str(o.id), None) for o in self._open(AMM_USER_ID) if o.market_id == market]
        news = [Replacement(None, NewOrder(uuid.uuid4().hex, "YES", "SELL", min(98, mid + half), qty)),
                Replacement(None, NewOrder(uuid.uuid4().hex, "NO", "SELL", min(98, 100 - mid + half), qty))]
        self._try(lambda: orders_replace(user_id=AMM_USER_ID, market_id=market, replacements=olds + news))

    @rule(u=st.integers(0, 2), m=st.integers(0, 1), qty=st.integers(1, 10))
    def sweep_both_sides(self, u, m, qty):
        """A trader lifts YES and NO offers at once: holding both, its pairs get netted."""
        for side in ("YES", "NO"):
            new = NewOrder(uuid.uuid4().hex, side, "BUY", 98, qty, "IOC")
            self._try(lambda: order_place(user_id=self.users[u], market_id=self.markets[m], new=new))

    @precondition(lambda self: bool(self._open()))
    @rule(pick=st.integers(0, 10_000))
    def cancel(self, pick):
        orders = self._open()
        order = orders[pick % len(orders)]
        self._try(lambda: order_cancel(user_id=order.user_id, order_id=order.id))

    @rule(m=st.integers(0, 1), u=st.integers(0, 3))
    def cancel_all(self, m, u):
        order_cancel_all(user_id=self.users[u], market_id=self.markets[m])

    @rule(m=st.integers(0, 1), n_old=st.integers(0, 3),
          news=st.lists(st.tuples(sides, directions, prices, st.integers(1, 30)), max_size=4))
    def amm_replace(self, m, n_old, news):
        olds = [str(o.id) for o in self._open(AMM_USER_ID) if o.market_id == self.markets[m]][:n_old]
        pairs = [Replacement(old, None) for old in olds]
        pairs += [Replacement(None, NewOrder(uuid.uuid4().hex, s, d, p, q)) for s, d, p, q in news]
        if pairs:
            self._try(lambda: orders_replace(user_id=AMM_USER_ID, market_id=self.markets[m], replacements=pairs))

    @rule(m=st.integers(0, 1), qty=st.integers(1, 50), burn=st.booleans())
    def amm_mint_burn(self, m, qty, burn):
        op = amm_burn if burn else amm_mint
        self._try(lambda: op(user_id=AMM_USER_ID, market_id=self.markets[m], quantity=qty,
                             request_id=uuid.uuid4().hex))

    @rule(u=st.integers(0, 2), amount=st.integers(1, 20_000), out=st.booleans())
    def cash(self, u, amount, out):
        op = account_withdraw if out else account_deposit
        self._try(lambda: op(user_id=self.users[u], amount_cents=amount))

    @rule(m=st.integers(0, 1), halt=st.booleans())
    def pause_and_resume(self, m, halt):
        """Suspend (or halt) and reopen: every open order is cancelled passively."""
        self._try(lambda: market_set_status(market_id=self.markets[m], status="HALTED" if halt else "SUSPENDED"))
        self._try(lambda: market_set_status(market_id=self.markets[m], status="ACTIVE"))

    @rule(m=st.integers(0, 1), outcome=sides, void=st.booleans(), roll=st.integers(0, 5))
    def finish_market(self, m, outcome, void, roll):
        """Now and then resolve and settle (or void) a market, then trade on in a fresh one."""
        if roll:
            return
        if void:
            self._try(lambda: market_set_status(market_id=self.markets[m], status="VOIDED"))
        else:
            self._try(lambda: market_set_status(market_id=self.markets[m], status="RESOLVED", outcome=outcome))
            self._try(lambda: market_set_status(market_id=self.markets[m], status="SETTLED"))
        self.markets[m] = new_market(maker_fee_bps=10, taker_fee_bps=20)
        amm_mint(user_id=AMM_USER_ID, market_id=self.markets[m], quantity=100, request_id=uuid.uuid4().hex)

    @invariant()
    def platform_invariants_hold(self):
        assert invariants_check() == []


@pytest.mark.django_db
def test_random_order_flows_keep_the_invariants():
    machine = EngineMachine.TestCase
    machine.settings = settings(max_examples=25, stateful_step_count=30, deadline=None,
                                suppress_health_check=list(HealthCheck))
    machine().runTest()
