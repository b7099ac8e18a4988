"""quote_cycle against the platform over HTTP (issue 6): quoting both sides, a cycle that
would change nothing sends nothing, a fill is requoted, an unknown outcome is re-synced."""
from __future__ import annotations

import json
import uuid

import httpx
import pytest

from amm import state
from amm.state import keys as K
from amm.runtime import executor
from amm.services import config_update
from amm.runtime.context import context
from amm.runtime.cycle import quote_cycle
from tests.amm.runtime.support import _stop_deadman_sweeper, rt  # noqa: F401 - fixtures

pytestmark = pytest.mark.django_db(transaction=True)


def _count_requests(ctx):
    seen: list[str] = []
    ctx.connector._http.event_hooks["request"].append(lambda request: seen.append(f"{request.method} {request.url.path}"))
    return seen


def test_first_cycle_quotes_both_sides_and_a_quiet_cycle_sends_nothing(rt):
    rt.start()
    result = quote_cycle(rt.market_id, reason="start")
    assert result.outcome == "quoted" and result.placed >= 2, result
    assert rt.quoting()
    book = rt.book()
    assert book["bids"] and book["asks"]
    assert int(state.state_get(rt.market_id)["last_requote_ms"]) > 0

    # The first cycle also minted pairs from idle cash: the next ones re-back the ladder with
    # shares. Once the quotes are what the strategy wants, a cycle sends nothing.
    outcomes = [quote_cycle(rt.market_id).outcome for _ in range(6)]
    assert "unchanged" in outcomes, outcomes
    seen = _count_requests(context())
    before = rt.open_orders()
    again = quote_cycle(rt.market_id, reason="tick")
    assert again.outcome == "unchanged" and again.sent == 0, again
    assert rt.open_orders() == before
    assert not [r for r in seen if not r.startswith("GET ")], seen  # reads only: no order call
    assert len(seen) <= 2, seen


def test_a_fill_is_requoted_by_the_next_cycle(rt):
    rt.start()
    quote_cycle(rt.market_id)
    before = rt.open_orders()
    trades = rt.take("YES", 5)
    assert trades
    context().feed.poll()
    result = quote_cycle(rt.market_id, reason="fill")
    assert result.outcome == "quoted", result
    assert rt.quoting() and rt.open_orders() != before
    pos = rt.position()
    inv = state.inventory_get(rt.market_id)
    assert (inv.yes_volume, inv.no_volume) == (pos.yes_volume, pos.no_volume)
    # where the requote's time went: the fill's age at the cycle's start, then the cycle's own
    # part up to the replace sent, then the platform's acknowledgement
    assert result.fill_age_ms is not None and result.fill_age_ms >= 0, result
    assert 0 <= result.sent_after_ms <= result.replaced_after_ms <= result.duration_ms, result


def test_a_mint_whose_answer_was_lost_is_retried_and_the_cost_basis_is_the_platforms(rt):
    """The mint landed on the platform but its answer never came back; fills were applied in
    the meantime. Retrying with the same request_id mints nothing new, and because weighted-
    average cost depends on the order of events, the answer's position (Redis has seen the
    same fills) sets the cost sums: Redis equals the platform without a rebuild."""
    rt.start()
    quote_cycle(rt.market_id)
    ctx = context()
    ctx.connector.amm_mint(market_id=rt.market_id, quantity=7, request_id="lost-mint-1")  # answer "lost"
    assert rt.take("YES", 3)
    ctx.feed.poll()
    state.runtime_update(rt.market_id, pending_mint="lost-mint-1:7")

    quote_cycle(rt.market_id)
    runtime = state.runtime_get(rt.market_id)
    assert not runtime.get("pending_mint") and not runtime.get("resync_full"), runtime
    ctx.feed.poll()
    pos, inv = rt.position(), state.inventory_get(rt.market_id)
    assert (inv.yes_volume, inv.no_volume, inv.yes_cost_sum_cents, inv.no_cost_sum_cents) == (
        pos.yes_volume, pos.no_volume, pos.yes_cost_sum, pos.no_cost_sum)


def test_a_mint_answer_ahead_of_the_fill_feed_rebuilds_the_market(rt):
    """A fill the platform cleared before the mint has not reached Redis yet: the answer's
    volumes differ, so the next cycle rebuilds the market from the platform."""
    rt.start()
    quote_cycle(rt.market_id)
    ctx = context()
    assert rt.take("YES", 3)  # not polled: still in flight
    executor.mint(ctx, rt.market_id, quantity=5, request_id="ahead-1", now=state.now_ms())
    assert state.runtime_get(rt.market_id).get("resync_full")

    quote_cycle(rt.market_id)
    assert not state.runtime_get(rt.market_id).get("resync_full")
    ctx.feed.poll()
    pos, inv = rt.position(), state.inventory_get(rt.market_id)
    assert (inv.yes_volume, inv.no_volume, inv.yes_cost_sum_cents, inv.no_cost_sum_cents) == (
        pos.yes_volume, pos.no_volume, pos.yes_cost_sum, pos.no_cost_sum)


def _quoted_and_settled(rt) -> None:
    """Started and quoted until a cycle has nothing more to change."""
    rt.start()
    for _ in range(6):
        if quote_cycle(rt.market_id).outcome == "unchanged":
            return
    raise AssertionError("the quotes never settled")


def _book_reads(seen: list[str]) -> int:
    return sum(1 for r in seen if r.startswith("GET /api/v1/orderbook/"))


def _place_resting(rt, side: str, price: int) -> None:
    import httpx

    with httpx.Client(base_url=f"{rt.url}/api/v1", headers={"Authorization": f"Token {rt.trader_key}"}) as http:
        assert http.post("/orders", json={"market_id": rt.market_id, "client_order_id": uuid.uuid4().hex, "side": side,
                                          "direction": "BUY", "price_cents": price, "quantity": 3}).status_code == 201


def test_a_tick_reuses_the_book_until_the_platform_reports_a_change(rt):
    """A periodic tick reads the book again only when the platform's reported sequence_id
    moved past the kept one; a fill cycle always reads it."""
    _quoted_and_settled(rt)
    ctx = context()
    seen = _count_requests(ctx)
    executor.market_refresh(ctx, rt.market_id, now=state.now_ms())  # what the feed's status watch does
    assert quote_cycle(rt.market_id, reason="tick").outcome == "unchanged"
    assert _book_reads(seen) == 0, seen

    _place_resting(rt, "YES", 5)  # somebody else changes the book
    assert quote_cycle(rt.market_id, reason="tick").outcome == "unchanged"
    assert _book_reads(seen) == 0  # not reported yet: the freshest book known is kept
    executor.market_refresh(ctx, rt.market_id, now=state.now_ms())
    quote_cycle(rt.market_id, reason="tick")
    assert _book_reads(seen) == 1
    kept = state.runtime_cycle_read(rt.market_id).book
    assert [5, 3] in kept["bids"] and kept["sequence_id"] == rt.book()["sequence_id"]

    executor.market_refresh(ctx, rt.market_id, now=state.now_ms())
    quote_cycle(rt.market_id, reason="fill")
    assert _book_reads(seen) == 2


def test_a_tick_reads_the_book_again_when_the_amms_own_orders_changed(rt):
    """The strategy takes its own orders out of the book, so a book read with other own
    orders live is never reused, even before the platform's new sequence_id is reported."""
    _quoted_and_settled(rt)
    ctx = context()
    seen = _count_requests(ctx)
    executor.market_refresh(ctx, rt.market_id, now=state.now_ms())
    assert rt.take("YES", 2)  # a fill takes part of an AMM ask
    ctx.feed.poll()
    read = state.runtime_cycle_read(rt.market_id)
    assert read.book and read.book["sequence_id"] >= int(read.quote.market["book_sequence_id"])  # seq says "same"
    quote_cycle(rt.market_id, reason="tick")
    assert _book_reads(seen) == 1


def test_an_order_refused_for_shares_redis_believed_in_rebuilds_the_market(rt, redis_conn):
    """Redis believes in shares the platform does not have (a fill it never saw): the atomic
    replace the strategy sizes from them is refused (422) even after catching up, nothing
    changes on the platform, and the reconciliation the cycle runs then finds the drift,
    raises INVENTORY_DRIFT_CRITICAL and rebuilds the market from the platform."""
    from amm.models import Alert, AlertType, ReconciliationRun

    _quoted_and_settled(rt)
    before = rt.open_orders()
    for field in ("yes_volume", "yes_available", "no_volume", "no_available"):
        redis_conn.hincrby(f"amm:inventory:{rt.market_id}", field, 5_000)
    config_update(market_id=rt.market_id, actor="test", order_size=400)  # larger sells, backed by phantoms
    result = quote_cycle(rt.market_id)
    assert result.outcome == "insufficient", result
    assert rt.open_orders() == before
    assert Alert.objects.filter(type=AlertType.INVENTORY_DRIFT_CRITICAL, market_id=rt.market_id).count() == 1
    run = ReconciliationRun.objects.get(market_id=rt.market_id)
    assert (run.verdict, run.rebuilt, run.diffs["trigger"]) == ("CRITICAL", True, "order refused: INSUFFICIENT_SHARES")
    pos, inv = rt.position(), state.inventory_get(rt.market_id)
    assert (inv.yes_volume, inv.no_volume) == (pos.yes_volume, pos.no_volume)

    assert quote_cycle(rt.market_id).outcome == "quoted"
    assert Alert.objects.filter(type=AlertType.INVENTORY_DRIFT_CRITICAL, market_id=rt.market_id).count() == 1


def test_a_second_refusal_from_a_fill_landing_after_the_catch_up_is_no_drift_alert(rt):
    """Takers keep hitting the AMM's ask: one fill lands before the first replace, another
    between the catch-up and the second. Both refusals are races, not drift: the cycle's
    reconciliation finds Redis agreeing with the platform, so no INVENTORY_DRIFT_CRITICAL
    fires, nothing is placed, and the next cycle quotes."""
    from amm.models import Alert, AlertType, ReconciliationRun

    _ask_filled_unseen_and_orders_resized(rt)
    ctx = context()
    original, calls = ctx.connector.orders_replace, []

    def another_fill_before_the_second(**kwargs):
        calls.append(1)
        if len(calls) == 2:
            assert rt.take("YES", 2)  # lands after the catch-up drained the feed
        return original(**kwargs)

    ctx.connector.orders_replace = another_fill_before_the_second
    try:
        before = rt.open_orders()
        result = quote_cycle(rt.market_id)
    finally:
        ctx.connector.orders_replace = original
    assert len(calls) == 2 and result.outcome == "insufficient", (calls, result)
    assert set(rt.open_orders()) == set(before)  # nothing placed or cancelled (the takers shrank one)
    assert not Alert.objects.filter(type=AlertType.INVENTORY_DRIFT_CRITICAL, market_id=rt.market_id).exists()
    run = ReconciliationRun.objects.get(market_id=rt.market_id)
    assert run.verdict != "CRITICAL" and not run.rebuilt, run.diffs
    pos, inv = rt.position(), state.inventory_get(rt.market_id)
    assert (inv.yes_volume, inv.yes_available) == (pos.yes_volume, pos.yes_volume - pos.yes_pending_sell)

    assert quote_cycle(rt.market_id).outcome == "quoted"
    assert not Alert.objects.filter(type=AlertType.INVENTORY_DRIFT_CRITICAL, market_id=rt.market_id).exists()


def _ask_filled_unseen_and_orders_resized(rt):
    """A taker fills part of an AMM ask, not polled (Redis still counts the ask's old
    remaining), and the config resizes every order to all the AMM has: the next replace is
    sized from shares the platform no longer holds for it."""
    _quoted_and_settled(rt)
    assert rt.take("YES", 2)
    config_update(market_id=rt.market_id, actor="test", order_size=400)


def test_a_replace_refused_for_a_fill_still_in_flight_catches_up_and_quotes_without_an_alert(rt):
    """A taker fills part of an AMM ask that the feed has not delivered yet: the replace that
    cancels it counts its old remaining as freed, so the platform refuses it (422). That is a
    race, not drift: the cycle drains the feed, re-syncs its orders, decides again and quotes
    in the same cycle, with no INVENTORY_DRIFT_CRITICAL alert and no rebuild."""
    from amm.models import Alert, AlertType

    _ask_filled_unseen_and_orders_resized(rt)
    seen = _count_requests(context())
    result = quote_cycle(rt.market_id)
    replaces = [r for r in seen if r == "POST /api/v1/amm/orders/replace"]
    assert len(replaces) == 2, seen  # refused once, then accepted
    assert result.outcome == "quoted", result
    assert not Alert.objects.filter(type=AlertType.INVENTORY_DRIFT_CRITICAL, market_id=rt.market_id).exists()
    assert not state.runtime_get(rt.market_id).get("resync_full")
    pos, inv = rt.position(), state.inventory_get(rt.market_id)
    assert (inv.yes_volume, inv.yes_available) == (pos.yes_volume, pos.yes_volume - pos.yes_pending_sell)
    assert rt.tracked() == rt.open_orders()


def test_a_resync_never_hands_back_shares_of_an_order_filled_meanwhile(rt):
    """An order filled just before the resync reads the open orders is gone from the
    platform: its fill is booked (shares sold), not released as if cancelled (shares back)."""
    _quoted_and_settled(rt)
    ctx = context()
    original = ctx.connector.orders_open

    def filled_right_before(market_id):
        assert rt.take("YES", 50)  # the AMM's YES asks fill, none of it polled yet
        return original(market_id)

    ctx.connector.orders_open = filled_right_before
    executor.orders_resync(ctx, rt.market_id, now=state.now_ms())
    ctx.connector.orders_open = original
    pos, inv = rt.position(), state.inventory_get(rt.market_id)
    assert (inv.yes_volume, inv.yes_available) == (pos.yes_volume, pos.yes_volume - pos.yes_pending_sell)
    assert rt.tracked() == rt.open_orders()


def test_a_mint_an_earlier_run_never_saw_answered_is_resolved_before_the_syncs(rt):
    """run_amm starts by asking again, with the same request_id, for every mint/burn left in
    flight: one the platform executed is applied once; one it refuses is dropped."""
    from amm.runtime.startup import privileged_pending_resolve

    _quoted_and_settled(rt)
    ctx = context()
    state.privileged_pending_add(rt.market_id, kind="MINT", request_id="prev-run-1", quantity=7)
    ctx.connector.amm_mint(market_id=rt.market_id, quantity=7, request_id="prev-run-1")  # executed, answer lost
    state.privileged_pending_add(rt.market_id, kind="BURN", request_id="prev-run-2", quantity=10**6)  # refused: 422
    assert privileged_pending_resolve(ctx=ctx) == 1
    assert state.privileged_pending() == []
    from tests.amm.live.helpers import platform_truth

    ctx.feed.poll()
    truth, inv = platform_truth(rt.market_id), state.inventory_get(rt.market_id)
    assert (inv.yes_volume, inv.no_volume, inv.cash_cents) == (truth["yes_volume"], truth["no_volume"],
                                                               truth["cash_cents"])
    assert privileged_pending_resolve(ctx=ctx) == 0


def test_the_phase_in_redis_follows_the_database_never_the_other_way(rt, redis_conn):
    """A kept StrategyState whose phase the database never recorded (a refused transition,
    a stale Redis) is brought back to the database's phase by the next cycle, and amm:state
    says what the database says."""
    from amm.models import AMMInstance

    rt.start()
    assert quote_cycle(rt.market_id, reason="start").outcome == "quoted"
    kept = state.strategy_get(rt.market_id)
    assert kept["phase"] == "EXPLORATION"
    redis_conn.set(K.strategy_key(rt.market_id), json.dumps({**kept, "phase": "STABILIZATION"}))
    assert state.strategy_get(rt.market_id)["phase"] == "STABILIZATION"

    quote_cycle(rt.market_id, reason="tick")
    assert AMMInstance.objects.get(market_id=rt.market_id).phase == "EXPLORATION"
    assert state.state_get(rt.market_id)["phase"] == "EXPLORATION"
    assert state.strategy_get(rt.market_id)["phase"] == "EXPLORATION"


def test_the_markets_trades_reach_the_strategy_once_each(rt):
    """A book read also reads the market's tape; each trade since the last read reaches the
    order-flow intensity once, also when it is one of the AMM's own fills."""
    rt.start()
    quote_cycle(rt.market_id, reason="start")
    quote_cycle(rt.market_id)  # the first read only notes where the tape is
    seen = int(state.runtime_get(rt.market_id).get("tape_id") or 0)
    counted = (state.strategy_get(rt.market_id).get("flow") or {}).get("count") or 0.0
    trades = rt.take("YES", 5)
    assert trades
    context().feed.poll()
    assert quote_cycle(rt.market_id, reason="fill").outcome == "quoted"
    new_ids = sorted(int(t["id"]) for t in trades)
    assert int(state.runtime_get(rt.market_id)["tape_id"]) == new_ids[-1] > seen
    flow = state.strategy_get(rt.market_id)["flow"]
    assert flow["count"] == pytest.approx(counted + len(new_ids), rel=0.05)  # a fill and its tape entry: once
    quote_cycle(rt.market_id)  # no new trade: nothing more counted
    assert state.strategy_get(rt.market_id)["flow"]["count"] == pytest.approx(flow["count"], rel=0.05)


def _order(url: str, key: str, **order) -> httpx.Response:
    with httpx.Client(base_url=f"{url}/api/v1", timeout=10,
                      headers={"Authorization": f"Token {key}", "Connection": "close"}) as http:
        return http.post("/orders", json={"client_order_id": uuid.uuid4().hex, **order})


def test_a_trade_between_two_others_reaches_the_strategy_through_the_tape(rt):
    """A trade the AMM is not part of (inside its spread) still teaches it the order flow."""
    from exchange.services import account_deposit, api_key_issue, user_get_or_create

    rt.start()
    quote_cycle(rt.market_id, reason="start")
    quote_cycle(rt.market_id)
    book = rt.book()
    bid, ask = book["bids"][0][0], book["asks"][0][0]
    assert ask - bid >= 2, book
    counted = state.strategy_get(rt.market_id)["flow"]["count"]
    other, _ = user_get_or_create(username=f"other_{uuid.uuid4().hex[:8]}")
    account_deposit(user_id=str(other.id), amount_cents=100_000)
    price = bid + 1  # inside the AMM's spread: the two others meet before anyone reaches the AMM
    resting = _order(rt.url, rt.trader_key, market_id=rt.market_id, side="YES", direction="BUY",
                     price_cents=price, quantity=2)
    assert resting.status_code in (200, 201), resting.text
    taken = _order(rt.url, api_key_issue(user=other), market_id=rt.market_id, side="NO", direction="BUY",
                   price_cents=100 - price, quantity=2, time_in_force="IOC")
    assert [t["price_cents"] for t in taken.json()["trades"]] == [price], taken.text
    quote_cycle(rt.market_id, reason="book")  # a fresh book read (a tick reads one once the feed reports the change)
    assert state.strategy_get(rt.market_id)["flow"]["count"] == pytest.approx(counted + 1, rel=0.05)


def _sends_of_this_thread(monkeypatch) -> list:
    """The Redis round trips this thread sends from now on (the live server's and the lease
    renewer's threads are not the cycle's)."""
    import threading

    import redis

    me, sends = threading.get_ident(), []
    original = redis.connection.AbstractConnection.send_packed_command

    def counting(self, command, check_health=True):
        if threading.get_ident() == me:
            sends.append(command)
        return original(self, command, check_health)

    monkeypatch.setattr(redis.connection.AbstractConnection, "send_packed_command", counting)
    return sends


def test_a_quiet_periodic_cycle_is_two_redis_round_trips_and_still_moves_the_heartbeats(rt, redis_conn, monkeypatch):
    """Issue 15: the job run started, the lease taken and the read in one script; the commit,
    the lease released and the job run finished in another. What the health checks and the
    monitoring read (last_requote_ms, the run's last cycle, the market's cycles) moves on."""
    import time

    from amm.runtime import cycle_runs
    from amm.runtime.job_requests import quote_key

    m = rt.market_id
    rt.start()
    outcomes = [quote_cycle(m).outcome for _ in range(6)]
    assert "unchanged" in outcomes, outcomes
    state.market_meta_write(m, {"updated_at_ms": state.now_ms()})  # the feed's fresh status: no market read
    requoted, runtime = state.state_get(m)["last_requote_ms"], state.runtime_get(m)
    heartbeat = int(redis_conn.hget(K.RUN, "last_cycle_ms"))
    assert state.job_request(quote_key(m), "job-1", reason="tick", ttl_ms=60_000)
    time.sleep(0.005)
    sends = _sends_of_this_thread(monkeypatch)

    cycle_runs.cycle_run(m, "tick")

    assert len(sends) == 2, sends
    after = state.runtime_get(m)
    assert after["last_outcome"] == "unchanged" and after["cycles"] == runtime["cycles"] + 1
    assert after["last_cycle_ms"] > runtime["last_cycle_ms"]
    assert int(redis_conn.hget(K.RUN, "last_cycle_ms")) > heartbeat
    assert state.state_get(m)["last_requote_ms"] > requoted
    assert state.job_marker(quote_key(m)) is None and state.lease_holder(f"market:{m}") is None


def test_a_cycle_that_finds_the_lease_held_takes_nothing_writes_nothing_and_ends_its_job_run(rt):
    from amm.runtime.cycle import CycleJob
    from amm.runtime.job_requests import quote_key
    from amm.runtime.lease import market_lease

    m = rt.market_id
    rt.start()
    holder = market_lease(m)
    assert holder.acquire()
    try:
        fill = {"price_cents": 40, "quantity": 3, "ts_ms": state.now_ms(), "trade_id": "1"}
        state.fills_push(m, [fill])
        assert state.job_request(quote_key(m), "job-1", reason="tick", ttl_ms=60_000)
        cycles = state.runtime_get(m).get("cycles", 0)
        job = CycleJob(quote_key(m), 3000)

        assert quote_cycle(m, wait_ms=0, job=job).outcome == "busy"

        assert job.again is None and state.job_marker(quote_key(m)) is None  # the job run is over
        assert state.lease_holder(f"market:{m}") == holder.token
        assert state.runtime_get(m).get("cycles", 0) == cycles
        assert state.runtime_cycle_read(m).fills == [fill]  # left for the holder
    finally:
        holder.release()


def test_a_worker_keeps_the_strategy_state_it_wrote_and_parses_one_it_did_not(rt):
    """The StrategyState a cycle wrote is the next cycle's on this worker thread while
    `amm:strategy:{m}` still holds that very text; any other text is parsed."""
    from amm.state import keys as K
    from amm.strategy import StrategyState

    _quoted_and_settled(rt)
    ctx = context()
    text, kept = ctx.strategies[rt.market_id]
    redis = state.connection.get_redis()
    assert redis.get(K.strategy_key(rt.market_id)) == text
    assert StrategyState.from_dict(state.strategy_get(rt.market_id)) == kept

    other = StrategyState.from_dict({**kept.to_dict(), "fair": 33.25})  # another writer's
    redis.set(K.strategy_key(rt.market_id), state.strategy_text(other.to_dict(), rt.market_id))
    quote_cycle(rt.market_id)  # decided from fair 33.25, not from the state this worker wrote
    assert ctx.strategies[rt.market_id][1].fair != kept.fair
