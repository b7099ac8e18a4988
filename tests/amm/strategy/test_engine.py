"""decide(): the composed quote cycle, determinism, state persistence and invariants on random inputs."""
import json

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from amm.enums import AMMPhase, DefenseLevel, Direction, KillSwitchState, PhaseTransitionReason, Side
from amm.strategy import (
    Fill,
    Inventory,
    LiveOrder,
    LocalOrderBook,
    MarketInfo,
    OracleReading,
    StrategyConfig,
    StrategyState,
    capacity_for,
    decide,
    diff_orders,
)
from amm.strategy.lvr import LVR_SPREAD_MULTIPLIER
from amm.strategy.pricing import OracleMemory, PostFillMemory

DAY = 86_400_000
T0 = 1_750_000_000_000
MARKET = MarketInfo("M1", maker_fee_bps=10, taker_fee_bps=20, trading_end_ms=T0 + 20 * DAY)
CASH = Inventory(cash_cents=1_000_000)
STOCKED = Inventory(yes_volume=1_000, no_volume=1_000, yes_available=1_000, no_available=1_000,
                    yes_cost_sum_cents=50_000, no_cost_sum_cents=50_000, cash_cents=200_000)


def run(state=None, *, market=MARKET, inventory=STOCKED, config=StrategyConfig(), now=T0, **kw):
    state = state or StrategyState.initial(market.market_id, now)
    return decide(state=state, market=market, inventory=inventory, config=config, now_ms=now, **kw)


def as_live(quotes, prefix="o"):
    return tuple(LiveOrder(f"{prefix}{i}", q.side, q.direction, q.price_cents, q.quantity) for i, q in enumerate(quotes))


def test_new_market_without_data_starts_at_initial_price_and_explores():
    d = run(inventory=CASH, market=MarketInfo("M1"))
    assert d.fair.cents == 50 and d.fair.source == "INITIAL"
    assert d.state.phase is AMMPhase.EXPLORATION and d.phase_transition is None
    assert d.sigma_cents == 2.0  # prior
    assert d.gamma == StrategyConfig().gamma_long and d.tau == 1.0  # no end date
    assert d.best_bid < 50 < d.best_ask
    # no shares yet: all quotes are cash-backed BUYs, and idle cash is minted into pairs
    assert {q.direction for q in d.quotes} == {Direction.BUY}
    assert d.mint_pairs > 0
    assert [r.kind for r in d.replacements] == ["PLACE"] * len(d.quotes)
    assert d.halt_reason is None and not d.engage_kill_switch


def test_stocked_market_quotes_from_inventory_and_mints_nothing():
    d = run(book=LocalOrderBook("M1", bids={49: 300}, asks={51: 300}))
    assert {q.direction for q in d.quotes} == {Direction.SELL}
    assert d.mint_pairs == 0
    assert d.fair.micro == 50.0


def test_steady_state_sends_nothing():
    book = LocalOrderBook("M1", bids={48: 300}, asks={52: 300})
    first = run(inventory=CASH, book=book, config=StrategyConfig(auto_reinvest=False))
    live = as_live(first.quotes)
    frozen = sum(o.cash_frozen(MARKET.worst_fee_bps) for o in live)
    after = Inventory(cash_cents=CASH.cash_cents - frozen)  # the platform froze the BUYs' cash
    second = run(first.state, inventory=after, book=book, live_orders=live, now=T0 + 1_000,
                 config=StrategyConfig(auto_reinvest=False))
    assert second.quotes == first.quotes
    assert second.replacements == ()


def test_same_inputs_same_decision_and_replay():
    def script():
        state, live, out = None, (), []
        for i in range(60):
            now = T0 + i * 1_000
            book = LocalOrderBook("M1", bids={45 + i % 5: 100 + i}, asks={52 + i % 3: 200})
            oracle = OracleReading(49 + (i % 4), now - 500)
            fills = (Fill(50 + i % 3, 10, now - 100),) if i % 6 == 0 else ()
            d = run(state, book=book, live_orders=live, oracle=oracle, fills=fills, now=now, daily_pnl_cents=-i)
            out.append(d)
            state, live = d.state, as_live(d.quotes, prefix=f"c{i}-")
        return out

    assert script() == script()


def test_state_round_trips_through_json():
    d = run(oracle=OracleReading(55, T0 - 100), fills=(Fill(53, 20, T0 - 50),),
            book=LocalOrderBook("M1", bids={50: 10}, asks={56: 10}))
    d = run(d.state, now=T0 + 5_000, oracle=OracleReading(54, T0 + 4_000))
    restored = StrategyState.from_dict(json.loads(json.dumps(d.state.to_dict())))
    assert restored == d.state
    assert restored.oracle.price == 54.0 and restored.post_fill.price == 53.0 and len(restored.sample_ts) == 2


def test_fair_samples_are_kept_at_most_one_per_5_seconds():
    """Module docstring step 2: a cycle every second keeps a σ sample every 5 s; windows longer
    than 600 samples' worth space them wider (volatility.sample_spacing_ms)."""
    def spacing(config):
        state = None
        for i in range(0, 30_001, 1_000):
            state = run(state, config=config, now=T0 + i, book=LocalOrderBook("M1", bids={49: 300}, asks={51: 300})).state
        return {b - a for a, b in zip(state.sample_ts, state.sample_ts[1:])}

    assert spacing(StrategyConfig()) == {5_000}
    assert spacing(StrategyConfig(price_stable_window_ms=6_000_000)) == {10_000}  # 6 000 s / 600 samples


def test_kill_switch_on_quotes_nothing_and_cancels_everything():
    live = (LiveOrder("a", Side.YES, Direction.SELL, 55, 10), LiveOrder("b", Side.NO, Direction.SELL, 55, 10))
    d = run(live_orders=live, kill_switch=KillSwitchState.ON)
    assert d.quotes == () and d.mint_pairs == 0 and not d.engage_kill_switch
    assert sorted(r.old_order_id for r in d.replacements) == ["a", "b"] and all(r.new is None for r in d.replacements)
    assert d.halt_reason == "KILL_SWITCH:KILL_SWITCH_ON"


def test_defense_reaching_kill_switch_asks_to_engage_it():
    skewed = Inventory(yes_volume=1_000, no_volume=10, yes_available=1_000, no_available=10, cash_cents=10_000)
    d = run(inventory=skewed)
    assert d.defense.level is DefenseLevel.KILL_SWITCH and d.engage_kill_switch and d.quotes == ()
    loss = run(daily_pnl_cents=-60_000)
    assert loss.engage_kill_switch and loss.defense.reason == "DAILY_LOSS_OVER_MAX"


def test_one_side_quotes_only_asks_when_long_yes():
    long_yes = Inventory(yes_volume=1_900, no_volume=70, yes_available=1_900, no_available=70, cash_cents=100_000)
    d = run(inventory=long_yes)
    assert d.defense.level is DefenseLevel.ONE_SIDE
    assert d.quotes and all(not q.is_bid for q in d.quotes)
    assert d.mint_pairs == 0


def test_market_not_active_or_ended_quotes_nothing():
    live = (LiveOrder("a", Side.YES, Direction.SELL, 55, 10),)
    halted = run(market=MarketInfo("M1", status="HALTED"), live_orders=live)
    assert halted.quotes == () and halted.halt_reason == "MARKET_HALTED" and halted.replacements[0].kind == "CANCEL"
    ended = run(market=MarketInfo("M1", trading_end_ms=T0), live_orders=live)
    assert ended.quotes == () and ended.halt_reason == "TRADING_ENDED"


def test_volume_moves_to_stabilization_and_narrows():
    cfg = StrategyConfig(exploration_volume_target=100)
    book = LocalOrderBook("M1", bids={49: 300}, asks={51: 300})
    first = run(config=cfg, book=book, fills=(Fill(50, 60, T0),))
    assert first.phase_transition is None and first.state.phase_fill_volume == 60
    second = run(first.state, config=cfg, book=book, fills=(Fill(50, 40, T0 + 900),), now=T0 + 1_000)
    t = second.phase_transition
    assert (t.from_phase, t.to_phase, t.reason) == (AMMPhase.EXPLORATION, AMMPhase.STABILIZATION,
                                                    PhaseTransitionReason.VOLUME_REACHED)
    assert second.state.phase is AMMPhase.STABILIZATION and second.state.phase_fill_volume == 0
    assert second.state.phase_entered_ms == T0 + 1_000 and second.state.total_fill_volume == 100
    assert second.spread.multiplier < first.spread.multiplier


def test_fast_fair_price_starts_lvr_cooldown_and_widens():
    cfg = StrategyConfig(lvr_velocity_threshold=0.05, lvr_cooldown_ms=5_000, max_spread_cents=40)
    calm = run(config=cfg, book=LocalOrderBook("M1", bids={49: 100}, asks={51: 100}))
    jump = run(calm.state, config=cfg, book=LocalOrderBook("M1", bids={69: 100}, asks={71: 100}), now=T0 + 1_000)
    assert jump.lvr.triggered and jump.state.lvr_cooldown_until == T0 + 6_000
    assert jump.spread.multiplier == calm.spread.multiplier * LVR_SPREAD_MULTIPLIER
    later = run(jump.state, config=cfg, book=LocalOrderBook("M1", bids={69: 100}, asks={71: 100}), now=T0 + 6_000)
    assert not later.lvr.active and later.spread.multiplier == calm.spread.multiplier


def test_oracle_jump_widens_through_defense():
    first = run(oracle=OracleReading(50, T0))
    second = run(first.state, oracle=OracleReading(60, T0 + 1_000), now=T0 + 1_000)
    assert second.fair.oracle_status == "JUMP" and second.defense.level is DefenseLevel.WIDEN
    assert second.fair.w_oracle == 0.0


def test_state_fields_for_redis():
    d = run(book=LocalOrderBook("M1", bids={49: 300}, asks={51: 300}))
    fields = d.state_fields()
    assert fields["phase"] == "EXPLORATION" and fields["defense_level"] == "NORMAL"
    assert fields["fair_price_cents"] == "50" and float(fields["sigma_cents"]) == 2.0
    assert all(isinstance(v, str) for v in fields.values())


# --- properties over random inputs ------------------------------------------------------------
sides = st.sampled_from(list(Side))
directions = st.sampled_from(list(Direction))


@st.composite
def cycle_inputs(draw):
    lo = draw(st.integers(1, 45))
    hi = draw(st.integers(55, 99))
    market = MarketInfo(
        "M1", lo, hi, draw(st.integers(0, 300)), draw(st.integers(0, 300)),
        draw(st.one_of(st.none(), st.integers(T0 - DAY, T0 + 90 * DAY))), None,
        draw(st.sampled_from(["ACTIVE", "ACTIVE", "ACTIVE", "SUSPENDED"])),
    )
    yes_v = draw(st.integers(0, 20_000))
    no_v = draw(st.one_of(
        st.integers(0, 20_000),
        st.integers(yes_v // 2, yes_v * 2),  # near-balanced
        st.integers(yes_v // 25, yes_v // 8),  # skew around the WIDEN / ONE_SIDE / KILL thresholds
    ))
    inventory = Inventory(
        yes_v, no_v, draw(st.integers(0, yes_v)), draw(st.integers(0, no_v)),
        draw(st.integers(0, 10**6)), draw(st.integers(0, 10**6)), draw(st.integers(0, 5 * 10**6)),
    )
    base = draw(st.integers(1, 10))
    config = StrategyConfig(
        base_spread_cents=base,
        max_spread_cents=draw(st.integers(base, 40)),
        order_levels=draw(st.integers(2, 10)),
        level_spacing_cents=draw(st.integers(1, 5)),
        order_size=draw(st.integers(1, 3_000)),
        budget_limit_cents=draw(st.integers(0, 3 * 10**6)),
        position_limit=draw(st.integers(0, 30_000)),
        gamma_short=draw(st.floats(0, 50)),
        gamma_mid=draw(st.floats(0, 50)),
        gamma_long=draw(st.floats(0, 50)),
        quote_tolerance_cents=draw(st.integers(0, 3)),
        size_tolerance_pct=draw(st.integers(0, 100)),
        skew_min_inventory=draw(st.integers(0, 500)),
        max_loss_daily_cents=draw(st.integers(10_000, 10**6)),
    )
    bids = draw(st.dictionaries(st.integers(1, 60), st.integers(1, 1_000), max_size=6))
    asks = draw(st.dictionaries(st.integers(40, 99), st.integers(1, 1_000), max_size=6))
    live = draw(st.lists(
        st.builds(LiveOrder, order_id=st.uuids().map(str), side=sides, direction=directions,
                  price_cents=st.integers(1, 99), remaining=st.integers(1, 300)),
        max_size=8, unique_by=lambda o: o.order_id,
    ))
    # the inventory must be consistent with the live sells it already excludes
    yes_pending = sum(o.remaining for o in live if o.side is Side.YES and o.direction is Direction.SELL)
    no_pending = sum(o.remaining for o in live if o.side is Side.NO and o.direction is Direction.SELL)
    inventory = Inventory(
        max(inventory.yes_volume, yes_pending), max(inventory.no_volume, no_pending),
        max(0, min(inventory.yes_available, max(inventory.yes_volume, yes_pending) - yes_pending)),
        max(0, min(inventory.no_available, max(inventory.no_volume, no_pending) - no_pending)),
        inventory.yes_cost_sum_cents, inventory.no_cost_sum_cents, inventory.cash_cents,
    )
    oracle = draw(st.one_of(st.none(), st.builds(OracleReading, st.floats(1, 99), st.integers(T0 - 60_000, T0))))
    fills = tuple(draw(st.lists(st.builds(Fill, st.integers(1, 99), st.integers(1, 500), st.integers(T0 - 5_000, T0)),
                                max_size=3)))
    state = StrategyState(
        "M1",
        phase=draw(st.sampled_from(list(AMMPhase))),
        phase_entered_ms=T0 - draw(st.integers(0, 10 * 3_600_000)),
        fair=draw(st.one_of(st.none(), st.floats(1, 99))),
        fair_ms=T0 - 1_000,
        oracle=OracleMemory(draw(st.one_of(st.none(), st.floats(1, 99))), T0 - 2_000, draw(st.booleans())),
        post_fill=PostFillMemory(draw(st.one_of(st.none(), st.floats(1, 99))), T0 - 10_000, 5.0),
    )
    return dict(
        state=state, market=market, inventory=inventory, config=config, now_ms=T0,
        book=LocalOrderBook("M1", bids=bids, asks=asks), live_orders=tuple(live), oracle=oracle, fills=fills,
        daily_pnl_cents=draw(st.one_of(st.integers(-20_000, 10**5), st.integers(-10**6, 0))),
        kill_switch=draw(st.sampled_from([KillSwitchState.OFF] * 5 + [KillSwitchState.ON])),
    )


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=cycle_inputs())
def test_decision_invariants_on_random_inputs(case):
    d = decide(**case)
    event(f"defense={d.defense.level.value}:{d.defense.reason}")
    event(f"quoting={bool(d.quotes)}")
    event(f"replacements={'some' if d.replacements else 'none'}")
    market, config, inv = case["market"], case["config"], case["inventory"]
    fee = market.worst_fee_bps
    capacity = capacity_for(inv, case["live_orders"], config, fee)
    lo, hi = market.min_price_cents, market.max_price_cents
    assert lo <= d.fair.cents <= hi and 1.0 <= d.sigma_cents <= 15.0
    assert 1 <= d.spread.cents <= config.max_spread_cents
    if d.halt_reason is not None:
        assert d.quotes == () and d.mint_pairs == 0
    if case["kill_switch"] is KillSwitchState.ON or d.defense.level is DefenseLevel.KILL_SWITCH:
        assert d.quotes == () and d.halt_reason is not None
    assert len(d.quotes) <= 2 * config.order_levels
    bids = [q for q in d.quotes if q.is_bid]
    asks = [q for q in d.quotes if not q.is_bid]
    if bids and asks:
        assert max(q.yes_view_price for q in bids) < min(q.yes_view_price for q in asks)
    for q in d.quotes:
        assert lo <= q.price_cents <= hi and lo <= q.yes_view_price <= hi and q.quantity >= 1
    total = lambda side, direction: sum(q.quantity for q in d.quotes if q.side is side and q.direction is direction)  # noqa: E731
    assert total(Side.YES, Direction.SELL) <= capacity.yes_sellable  # A2
    assert total(Side.NO, Direction.SELL) <= capacity.no_sellable
    assert inv.yes_volume + total(Side.YES, Direction.BUY) <= max(config.position_limit, inv.yes_volume)
    assert inv.no_volume + total(Side.NO, Direction.BUY) <= max(config.position_limit, inv.no_volume)
    cash = sum(q.cash_needed(fee) for q in d.quotes)
    frees = sum(o.price_cents * o.remaining for o in case["live_orders"] if o.direction is Direction.BUY)
    assert cash <= inv.cash_cents + frees  # what the cancels free for sure
    assert cash <= max(0, config.budget_limit_cents - inv.cost_sum_cents)
    if d.mint_pairs:
        assert 100 * d.mint_pairs <= inv.cash_cents and 100 * d.mint_pairs + cash <= capacity.cash_free
    if d.defense.level is DefenseLevel.ONE_SIDE:
        assert not bids or not asks
    assert d.replacements == diff_orders(case["live_orders"], d.quotes, price_tolerance_cents=config.quote_tolerance_cents,
                                         size_tolerance_pct=config.size_tolerance_pct, fee_bps=fee)
    assert d.engage_kill_switch == (d.defense.is_kill and case["kill_switch"] is KillSwitchState.OFF)
    assert StrategyState.from_dict(json.loads(json.dumps(d.state.to_dict()))) == d.state
    assert decide(**case) == d  # pure: same inputs, same decision


def test_a_one_lot_quote_cannot_set_the_fair_price():
    one_lot = LocalOrderBook("M1", bids={79: 1}, asks={81: 1})
    d = run(book=one_lot)  # new market, no oracle: prior is the initial 50
    assert 50 < d.fair.raw < 51
    deep = run(book=LocalOrderBook("M1", bids={79: 500}, asks={81: 500}))
    assert deep.fair.cents == 80


def test_summary_is_json_ready():
    d = run(book=LocalOrderBook("M1", bids={49: 300}, asks={51: 300}), oracle=OracleReading(50, T0))
    summary = json.loads(json.dumps(d.summary()))
    assert summary["fair_price_cents"] == 50 and summary["phase"] == "EXPLORATION"
    assert summary["bid_price_cents"] == d.best_bid and summary["ask_price_cents"] == d.best_ask
    assert summary["bid_quantity"] > 0 and summary["orders"] == len(d.quotes)


def test_inputs_parse_from_redis_shapes():
    raw = {b"yes_volume": b"1800", b"no_volume": b"1500", b"yes_available": b"1300", b"no_available": b"1200",
           b"yes_cost_sum_cents": b"90000", b"no_cost_sum_cents": b"75000", b"cash_cents": b"420000",
           b"updated_at_ms": b"1740652800000"}
    assert Inventory.from_mapping(raw) == Inventory(1800, 1500, 1300, 1200, 90000, 75000, 420000)
    assert Inventory.from_mapping({}) == Inventory()
    order = LiveOrder.from_mapping("880a", {"side": "NO", "direction": "SELL", "price": 42, "qty": 80,
                                            "remaining": 70, "book_type": "SYNTHETIC_BUY", "created_ms": 1})
    assert (order.side, order.direction, order.price_cents, order.remaining) == (Side.NO, Direction.SELL, 42, 70)
    assert order.yes_view_price == 58 and order.is_bid


def test_silent_market_leaves_exploration_only_by_time():
    cfg = StrategyConfig(price_stable_window_ms=60_000, exploration_duration_ms=600_000)
    state = None
    for i in range(0, 600_001, 5_000):
        d = run(state, market=MarketInfo("M1"), config=cfg, now=T0 + i)  # no oracle, no book, no fills
        state = d.state
        if d.phase_transition:
            break
    assert d.phase_transition.reason is PhaseTransitionReason.TIME_EXPIRED and i == 600_000
    informed = None
    for i in range(0, 70_001, 5_000):
        e = run(informed, config=cfg, now=T0 + i, book=LocalOrderBook("M1", bids={49: 300}, asks={51: 300}))
        informed = e.state
        if e.phase_transition:
            break
    assert e.phase_transition.reason is PhaseTransitionReason.PRICE_STABLE


def test_first_fill_of_a_cash_only_start_is_not_a_full_skew():
    after_one_fill = Inventory(yes_volume=10, yes_available=10, yes_cost_sum_cents=500, cash_cents=999_500)
    d = run(inventory=after_one_fill, book=LocalOrderBook("M1", bids={49: 300}, asks={51: 300}))
    assert d.skew == 1.0 and d.risk_skew == 0.1
    assert d.defense.level is DefenseLevel.NORMAL and d.quotes
    assert 49 < d.reservation_price < 50  # a small lean towards selling YES, not a 10-cent jump
    strict = run(inventory=after_one_fill, config=StrategyConfig(skew_min_inventory=0))
    assert strict.engage_kill_switch  # the seed's exact A1 rule, if an operator wants it
