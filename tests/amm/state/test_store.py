"""amm/state against real Redis: exact keys and fields, one-round-trip reads, atomic fills."""
from __future__ import annotations

import json

import pytest
import redis

from amm import state
from amm.state import FillLeg
from amm.state import keys as K
from tests.amm.conftest import seed_market

M = "MKT-T"


def track(market_id=M, oid="o1", side="YES", direction="BUY", price=40, qty=10, book_type="NATIVE_BUY", **kw):
    return state.order_track(market_id, order_id=oid, side=side, direction=direction, price=price, qty=qty,
                             book_type=book_type, created_ms=1_000, client_order_id=f"c-{oid}", **kw)


def test_keys_fields_and_types_are_the_seeds(market_in_redis, redis_conn):
    track()
    state.fill_apply(M, trade_id=7, legs=[FillLeg("o1", "YES", "BUY", 40, 4, 2, "NATIVE_BUY")])
    state.oracle_write(M, price_cents=61.5, ts_ms=123, source="test")
    state.state_update(M, fair_price_cents=55, sigma_cents=3.2, inventory_skew=0.18, last_requote_ms=5,
                       lvr_cooldown_until=0)
    assert redis_conn.type(f"amm:inventory:{M}") == "hash"
    assert set(redis_conn.hkeys(f"amm:inventory:{M}")) == set(K.INVENTORY_FIELDS)
    assert redis_conn.type(f"amm:orders:{M}") == "hash"
    value = json.loads(redis_conn.hget(f"amm:orders:{M}", "o1"))
    assert set(value) == set(K.ORDER_FIELDS)
    assert value == {"side": "YES", "direction": "BUY", "price": 40, "qty": 10, "remaining": 6,
                     "book_type": "NATIVE_BUY", "created_ms": 1000}
    assert set(redis_conn.hkeys(f"amm:state:{M}")) == set(K.STATE_FIELDS)
    assert redis_conn.type(f"amm:processed:{M}") == "set"
    assert redis_conn.smembers(f"amm:processed:{M}") == {"7"}
    assert 24 * 3600 - 5 <= redis_conn.ttl(f"amm:processed:{M}") <= 24 * 3600
    assert redis_conn.hgetall(f"amm:oracle:{M}") == {"price_cents": "61.5", "ts_ms": "123", "source": "test"}
    for field in K.INVENTORY_FIELDS:  # integers, as the seed types them
        int(redis_conn.hget(f"amm:inventory:{M}", field))


def test_quote_cycle_read_is_one_round_trip(market_in_redis, redis_conn, monkeypatch):
    track()
    state.oracle_write(M, price_cents=50, ts_ms=1, source="x")
    state.config_write(M, {"gamma_short": "2.5"}, version=3)
    sends = []
    original = redis.connection.AbstractConnection.send_packed_command  # TCP and unix socket alike

    def counting(self, command, check_health=True):
        sends.append(command)
        return original(self, command, check_health)

    monkeypatch.setattr(redis.connection.AbstractConnection, "send_packed_command", counting)
    read = state.quote_cycle_read(M)
    assert len(sends) == 1
    assert read.inventory.exists and read.inventory.cash_cents == 100_000 - 10 * 41
    assert list(read.orders) == ["o1"] and read.orders["o1"].remaining == 10
    assert read.config_version == 3
    assert read.oracle == {"price_cents": 50.0, "ts_ms": 1, "source": "x"}
    assert read.state["phase"] == "EXPLORATION" and read.market["taker_fee_bps"] == 100


def test_buy_fill_moves_volume_cost_cash_fee_and_remaining(market_in_redis):
    # BUY YES 10 @ 40 holds 10 × (40 + ceil(40 × 100 / 10000) = 1) = 410 cents, as the platform freezes.
    assert track() == 10
    assert state.inventory_get(M).cash_cents == 100_000 - 410
    assert state.fill_apply(M, trade_id=1, legs=[FillLeg("o1", "YES", "BUY", 39, 4, 2, "NATIVE_BUY")])
    inv = state.inventory_get(M)
    # unfreeze 4 × 41, pay 4 × 39 and a 2-cent fee
    assert inv.cash_cents == 100_000 - 410 + 164 - 156 - 2
    assert (inv.yes_volume, inv.yes_available, inv.yes_cost_sum_cents) == (4, 4, 156)
    assert state.orders_get(M)["o1"].remaining == 6
    assert state.state_get(M)["total_fills_today"] == 1 and state.state_get(M)["daily_pnl_cents"] == -2


def test_a_fill_is_applied_exactly_once(market_in_redis):
    track()
    leg = FillLeg("o1", "YES", "BUY", 40, 4, 0, "NATIVE_BUY")
    assert state.fill_apply(M, trade_id=11, legs=[leg]) is True
    before = (state.inventory_get(M), state.orders_get(M), state.state_get(M))
    assert state.fill_apply(M, trade_id=11, legs=[leg]) is False
    assert (state.inventory_get(M), state.orders_get(M), state.state_get(M)) == before
    assert state.processed_contains(M, 11)


def test_sell_releases_cost_pro_rata_and_full_fill_removes_the_order(redis_conn):
    seed_market(M, cash=0, yes=10, yes_cost=455)
    track(oid="s1", side="YES", direction="SELL", price=60, qty=4, book_type="NATIVE_SELL")
    assert state.inventory_get(M).yes_available == 6  # 4 shares held by the open sell
    state.fill_apply(M, trade_id=1, legs=[FillLeg("s1", "YES", "SELL", 60, 3, 0, "NATIVE_SELL")])
    inv = state.inventory_get(M)
    assert (inv.yes_volume, inv.yes_available, inv.yes_cost_sum_cents, inv.cash_cents) == (7, 6, 455 - 136, 180)
    state.fill_apply(M, trade_id=2, legs=[FillLeg("s1", "YES", "SELL", 60, 1, 0, "NATIVE_SELL")])
    assert "s1" not in state.orders_get(M)
    inv = state.inventory_get(M)
    assert (inv.yes_volume, inv.yes_available, inv.yes_cost_sum_cents) == (6, 6, 319 - 319 * 1 // 7)
    assert state.state_get(M)["daily_pnl_cents"] == (180 - 136) + (60 - 319 // 7)


def test_fill_before_tracking_then_track_then_cancel_agrees_with_the_platform(market_in_redis):
    # The feed brings a fill of o9 before the placement answer was recorded.
    state.fill_apply(M, trade_id=3, legs=[FillLeg("o9", "YES", "BUY", 40, 3, 1, "NATIVE_BUY")])
    assert state.untracked_fills_get(M) == {"o9": 3}
    assert track(oid="o9", qty=10) == 7  # only the unfilled 7 are held
    assert state.untracked_fills_get(M) == {}
    assert state.inventory_get(M).cash_cents == 100_000 - 3 * 40 - 1 - 7 * 41
    assert state.orders_untrack(M, ["o9"]) == 1
    # platform: freeze 410, fill unfreezes 123 and pays 121, cancel unfreezes 287 -> −121
    assert state.inventory_get(M).cash_cents == 100_000 - 121
    assert state.orders_untrack(M, ["o9"]) == 0  # idempotent


def test_untracked_sell_fill_then_track_keeps_available_right(redis_conn):
    seed_market(M, cash=0, yes=10, yes_cost=500)
    state.fill_apply(M, trade_id=4, legs=[FillLeg("s9", "YES", "SELL", 55, 2, 0, "NATIVE_SELL")])
    assert (state.inventory_get(M).yes_volume, state.inventory_get(M).yes_available) == (8, 8)
    track(oid="s9", side="YES", direction="SELL", price=55, qty=5, book_type="NATIVE_SELL")
    # platform: pending 5 then 2 filled -> volume 8, pending 3, available 5
    assert state.inventory_get(M).yes_available == 5
    assert state.orders_get(M)["s9"].remaining == 3


def test_self_trade_applies_both_legs_sell_first(redis_conn):
    seed_market(M, cash=10_000, yes=10, yes_cost=400, maker_bps=0, taker_bps=0)
    track(oid="ask", side="YES", direction="SELL", price=60, qty=5, book_type="NATIVE_SELL")
    track(oid="bid", side="YES", direction="BUY", price=60, qty=5, book_type="NATIVE_BUY")
    legs = [FillLeg("ask", "YES", "SELL", 60, 5, 0, "NATIVE_SELL"), FillLeg("bid", "YES", "BUY", 60, 5, 0, "NATIVE_BUY")]
    assert state.fill_apply(M, trade_id=9, legs=legs)
    inv = state.inventory_get(M)
    # sell 5 of 10 releases 200, then buy 5 at 60 adds 300
    assert (inv.yes_volume, inv.yes_available, inv.yes_cost_sum_cents, inv.cash_cents) == (10, 10, 500, 10_000)
    assert state.orders_get(M) == {}


def test_every_kept_market_reads_the_accounts_cash_at_once(redis_conn):
    seed_market("A", cash=50_000)
    seed_market("B", cash=50_000)
    state.order_track("A", order_id="x", side="NO", direction="BUY", price=30, qty=10, book_type="SYNTHETIC_SELL",
                      created_ms=1)
    assert state.inventory_get("A").cash_cents == state.inventory_get("B").cash_cents == 50_000 - 300
    state.fill_apply("A", trade_id=1, legs=[FillLeg("x", "NO", "BUY", 30, 10, 0, "SYNTHETIC_SELL")])
    assert state.inventory_get("B").cash_cents == 50_000 - 300
    assert state.inventory_get("A").no_volume == 10 and state.inventory_get("B").no_volume == 0
    assert state.cash_view("A") == (50_000 - 300, 0)
    assert state.cash_view("B") == (50_000 - 300, 0)
    assert state.quote_cycle_read_many(["A", "B"])["B"].inventory.cash_cents == 50_000 - 300


def test_a_cash_move_writes_one_market_and_the_others_mirror_catches_up_at_their_cycle(redis_conn):
    """One cash move touches amm:cash and the hash of the market worked on, whatever the number
    of markets kept (it touched every kept market's hash: O(markets²) a second at scale)."""
    for m in ("A", "B", "C"):
        seed_market(m, cash=50_000)
    before = {m: redis_conn.hgetall(f"amm:inventory:{m}") for m in ("B", "C")}
    state.order_track("A", order_id="x", side="YES", direction="BUY", price=40, qty=10, book_type="NATIVE_BUY",
                      created_ms=1)
    assert redis_conn.get("amm:cash") == str(50_000 - 400)
    assert redis_conn.hget("amm:inventory:A", "cash_cents") == str(50_000 - 400)
    assert {m: redis_conn.hgetall(f"amm:inventory:{m}") for m in ("B", "C")} == before  # not written
    # B's quote cycle starts: its mirror is the account's cash again, and so is what it reads
    begun = state.cycle_begin("B", lease="market:B", token="t1", ttl_ms=3000)
    assert begun.read.quote.inventory.cash_cents == 50_000 - 400
    assert redis_conn.hget("amm:inventory:B", "cash_cents") == str(50_000 - 400)
    assert redis_conn.hget("amm:inventory:C", "cash_cents") == "50000"  # until its own cycle


def test_cash_kept_by_an_earlier_version_in_every_markets_hash_is_adopted(redis_conn):
    """A Redis written before amm:cash existed holds the cash only as the mirror in each kept
    market's hash: the first cash move adopts it, and no move is lost."""
    seed_market("A", cash=50_000)
    seed_market("B", cash=50_000)
    redis_conn.delete("amm:cash")  # as an earlier version left it
    assert state.inventory_get("B").cash_cents == 50_000  # the mirror, while nothing moved
    state.order_track("B", order_id="x", side="YES", direction="BUY", price=40, qty=10, book_type="NATIVE_BUY",
                      created_ms=1)
    assert redis_conn.get("amm:cash") == str(50_000 - 400)
    assert state.inventory_get("A").cash_cents == state.inventory_get("B").cash_cents == 50_000 - 400

    redis_conn.delete("amm:cash")
    redis_conn.hset("amm:inventory:A", "cash_cents", 50_000 - 400)  # the earlier version's mirrors agree
    assert state.cash_view("A") == (50_000 - 400, 400)  # reconciliation's read adopts it too
    assert redis_conn.get("amm:cash") == str(50_000 - 400)


def test_mint_and_burn_answers_apply_once(market_in_redis):
    assert state.privileged_apply(M, kind="MINT", request_id="r1", quantity=10) == "applied"
    assert state.privileged_apply(M, kind="MINT", request_id="r1", quantity=10) == "repeat"
    inv = state.inventory_get(M)
    assert (inv.yes_volume, inv.no_volume, inv.yes_cost_sum_cents, inv.no_cost_sum_cents) == (10, 10, 500, 500)
    assert inv.cash_cents == 100_000 - 1000
    assert state.privileged_apply(M, kind="BURN", request_id="r2", quantity=4) == "applied"
    inv = state.inventory_get(M)
    assert (inv.yes_volume, inv.no_available, inv.yes_cost_sum_cents, inv.cash_cents) == (6, 6, 300, 100_000 - 600)


def test_a_mint_answer_whose_volumes_agree_makes_the_cost_sums_exact(market_in_redis):
    """The platform sold 4 of 10 YES (cost 60 each) before the mint, Redis saw the sale after
    it: the delta alone would release cost at the post-mint average. The answer's position
    (same volumes) replaces the order-dependent cost sums."""
    state.privileged_apply(M, kind="MINT", request_id="r0", quantity=10)
    position = {"yes_volume": 16, "yes_cost_sum": 850, "no_volume": 20, "no_cost_sum": 1000}
    assert state.privileged_apply(M, kind="MINT", request_id="r1", quantity=10, position=position) == "diverged"
    inv = state.inventory_get(M)
    assert (inv.yes_volume, inv.yes_cost_sum_cents) == (20, 1000)  # delta applied, cost sums untouched
    # Redis now sees the sale; a later answer with agreeing volumes is adopted.
    state.fill_apply(M, trade_id=9, legs=[FillLeg("gone", "YES", "SELL", 60, 4, 0, "NATIVE_SELL")])
    position = {"yes_volume": 21, "yes_cost_sum": 905, "no_volume": 25, "no_cost_sum": 1250}
    assert state.privileged_apply(M, kind="MINT", request_id="r2", quantity=5, position=position) == "exact"
    inv = state.inventory_get(M)
    assert (inv.yes_volume, inv.yes_cost_sum_cents, inv.no_volume, inv.no_cost_sum_cents) == (21, 905, 25, 1250)


def test_cancel_all_releases_every_tracked_order(market_in_redis):
    track(oid="a")
    track(oid="b", side="NO", direction="SELL", price=50, qty=0 + 1, book_type="SYNTHETIC_BUY")
    assert state.orders_untrack(M, None) == 2
    assert state.orders_get(M) == {} and state.inventory_get(M).cash_cents == 100_000


def test_rebuild_refuses_a_snapshot_older_than_the_feed(market_in_redis):
    state.fill_apply(M, trade_id=42, legs=[])
    assert state.trade_cursor_get() == 42
    with pytest.raises(ValueError):
        state.market_rebuild(M, yes_volume=0, yes_cost_sum=0, yes_pending_sell=0, no_volume=0, no_cost_sum=0,
                             no_pending_sell=0, cash_mode="bogus", cash_value=0, market_meta={}, orders=[],
                             expected_cursor=42)
    assert seed_market(M, cash=1, cursor=41) is None  # the feed applied trade 42 since
    assert state.inventory_get(M).cash_cents == 100_000
    assert seed_market(M, cash=1, cursor=42) == 1


def test_rebuild_total_mode_subtracts_cash_held_by_tracked_orders(market_in_redis):
    track(oid="b1", price=40, qty=10)  # holds 410 in MKT-T
    cash = state.market_rebuild(
        "OTHER", yes_volume=0, yes_cost_sum=0, yes_pending_sell=0, no_volume=0, no_cost_sum=0, no_pending_sell=0,
        cash_mode="total", cash_value=200_000, market_meta={"status": "ACTIVE"}, orders=[],
        expected_cursor=state.trade_cursor_get())
    assert cash == 200_000 - 410
    assert state.inventory_get(M).cash_cents == state.inventory_get("OTHER").cash_cents == 200_000 - 410


def _rebuild_other(**kwargs):
    return state.market_rebuild(
        "OTHER", yes_volume=0, yes_cost_sum=0, yes_pending_sell=0, no_volume=0, no_cost_sum=0, no_pending_sell=0,
        cash_mode="total", cash_value=200_000, market_meta={"status": "ACTIVE"}, orders=[],
        expected_cursor=state.trade_cursor_get(), **kwargs)


def test_a_rebuild_never_straddles_a_mint_or_burn_of_any_market(market_in_redis):
    """A balance read while another market's mint is in flight, or before one was applied,
    would count that mint twice in every market's cash: such a rebuild writes nothing."""
    epoch = state.cash_epoch()
    state.privileged_pending_add(M, kind="MINT", request_id="m1", quantity=2)
    assert _rebuild_other(expected_epoch=epoch) is None  # in flight
    assert state.privileged_apply(M, kind="MINT", request_id="m1", quantity=2) == "applied"
    assert state.privileged_pending() == [] and state.cash_epoch() == epoch + 1
    assert _rebuild_other(expected_epoch=epoch) is None  # applied since the snapshot began
    assert _rebuild_other(expected_epoch=state.cash_epoch()) == 200_000
    assert state.inventory_get(M).cash_cents == 200_000

    # A pending entry older than AMM_PRIVILEGED_PENDING_MAX_MS no longer blocks (and is dropped).
    state.privileged_pending_add(M, kind="BURN", request_id="b1", quantity=1, now=state.now_ms() - 60_000)
    assert _rebuild_other(expected_epoch=state.cash_epoch()) == 200_000
    assert state.privileged_pending() == []


def test_cursor_only_moves_forward(redis_conn):
    assert state.trade_cursor_get() == 0
    assert state.trade_cursor_advance(10) == 10
    assert state.trade_cursor_advance(3) == 10
    assert state.trade_cursor_get() == 10


def test_state_update_accepts_only_seed_fields_and_types(market_in_redis):
    with pytest.raises(ValueError):
        state.state_update(M, not_a_field=1)
    with pytest.raises(ValueError):
        state.state_update(M, fair_price_cents=50.5)
    state.state_update(M, fair_price_cents=51, sigma_cents=2)
    assert state.state_get(M)["sigma_cents"] == 2.0


def test_order_events_are_journaled(market_in_redis):
    track()
    state.fill_apply(M, trade_id=1, legs=[FillLeg("o1", "YES", "BUY", 40, 10, 0, "NATIVE_BUY")])
    kinds = [(f["event"], f.get("remaining")) for _, f in state.journal_read(10)]
    assert kinds == [("PLACED", None), ("FILL", "0")]


def test_processed_trim_keeps_the_dedup_window_and_drops_what_the_cursor_is_past(market_in_redis, redis_conn):
    """Every fill refreshes the set's 24 h TTL, so an active market's set never expires whole:
    the trim bounds it. Trade ids far enough below the cursor go, the newest stay (a rewound
    cursor still finds them), and a trade applied before the trim is still applied once."""
    day_ms = 24 * 3600 * 1000
    now = 1_800_000_000_000  # a real epoch time in ms
    key = f"amm:processed:{M}"
    redis_conn.sadd(key, *range(1, 3001))
    redis_conn.sadd(key, f"mint:amm_{M}_mint_{now - day_ms - 1}_1", f"mint:amm_{M}_mint_{now - 60_000}_2",
                    f"burn:amm_{M}_winddown_10_10")
    state.trade_cursor_advance(3000)

    assert state.processed_trim(M, now=now, keep_trades=1000, batch=100) == 2000 + 1
    members = redis_conn.smembers(key)
    assert {str(i) for i in range(2001, 3001)} <= members and "2000" not in members
    assert f"mint:amm_{M}_mint_{now - 60_000}_2" in members and f"burn:amm_{M}_winddown_10_10" in members
    assert len(members) == 1000 + 2
    track(oid="o9")
    assert state.fill_apply(M, trade_id=2500, legs=[FillLeg("o9", "YES", "BUY", 40, 1, 0, "NATIVE_BUY")]) is False
    assert state.processed_trim(M, now=now, keep_trades=1000) == 0  # nothing more to drop
