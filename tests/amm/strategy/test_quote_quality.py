"""Quote quality through the real entry point, `decide`, over random inputs (issue 13):

- no quote through fair beyond the minimum half-spread outside the unwind mode, and within
  `unwind_max_loss_cents` in it; never at a band end on the wrong side of fair;
- no quote crosses the given book (post-only behaviour);
- skew direction and monotonicity in net exposure;
- near the end the skew is at least the earlier skew and size no larger;
- continuity across the γ tier boundaries;
plus the issue's worked examples (seed-default config).
"""
import math

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from amm.enums import AMMPhase, DefenseLevel, Direction, Side
from amm.strategy import (
    Fill,
    Inventory,
    LiveOrder,
    LocalOrderBook,
    MarketInfo,
    MarketTrade,
    OracleReading,
    StrategyConfig,
    StrategyState,
    decide,
    external_top,
)
from amm.strategy.avellaneda import MID_TIER_HOURS, SHORT_TIER_HOURS

T0 = 1_750_000_000_000
HOUR = 3_600_000
EPS = 1e-6
BIG = 10**12
SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def sampled_state(fair: float, steps: list[float], phase: AMMPhase, lo: int = 1, hi: int = 99) -> StrategyState:
    """A state whose σ window holds a walk of `steps` (cents) ending at `fair`, 5 s apart."""
    px, p = [fair], fair
    for step in reversed(steps):
        p = min(hi, max(lo, p - step))
        px.append(p)
    px.reverse()
    ts = tuple(T0 - 1_000 - 5_000 * (len(px) - 1 - i) for i in range(len(px)))
    return StrategyState("M", phase=phase, phase_entered_ms=T0 - 10 * HOUR, fair=fair, fair_ms=T0 - 1_000,
                         sample_ts=ts, sample_px=tuple(px))


def stocked(net: int, pairs: int = 50_000, cash: int = BIG) -> Inventory:
    """Plenty of both sides, so the ladder is never short of shares (quotes are all SELLs)."""
    yes, no = pairs + max(net, 0), pairs + max(-net, 0)
    return Inventory(yes, no, yes, no, 0, 0, cash)


def best(d, bid: bool):
    side = [q for q in d.quotes if q.is_bid == bid]
    if not side:
        return None, 0
    top = max(side, key=lambda q: q.yes_view_price) if bid else min(side, key=lambda q: q.yes_view_price)
    return top.yes_view_price, top.quantity


# --- random inputs ---------------------------------------------------------------------------
@st.composite
def configs(draw, ordered_gamma: bool = False):
    g = sorted((draw(st.floats(0, 20)), draw(st.floats(0, 20)), draw(st.floats(0, 20))), reverse=True)
    if not ordered_gamma:
        g = draw(st.permutations(g))
    base = draw(st.integers(1, 6))
    return StrategyConfig(
        gamma_short=g[0], gamma_mid=g[1], gamma_long=g[2],
        time_smoothing_kappa=draw(st.sampled_from([1.0, 24.0, 200.0])),
        base_spread_cents=base, max_spread_cents=draw(st.integers(base, 30)),
        order_levels=draw(st.integers(2, 5)), level_spacing_cents=draw(st.integers(1, 3)),
        order_size=draw(st.integers(1, 500)),
        budget_limit_cents=draw(st.integers(10_000, 2_000_000)),
        max_loss_daily_cents=BIG, position_limit=10**9,
        max_reservation_shift_cents=draw(st.integers(0, 30)),
        min_half_spread_cents=draw(st.floats(0.5, 5)),
        unwind_max_loss_cents=draw(st.floats(0, 5)),
        reduce_only_window_ms=draw(st.sampled_from([0, 60_000, 3_600_000])),
        expiry_size_horizon_ms=draw(st.sampled_from([0, 300_000, 3_600_000, 86_400_000, 30 * 86_400_000])),
        expiry_risk_weight=draw(st.floats(0, 5)),
        exposure_limit_pct=draw(st.integers(1, 100)),
        exposure_target_pct=draw(st.sampled_from([0, 0, 0, -40, 30])),
        size_skew_exponent=draw(st.floats(0, 4)),
        intensity_prior_trades=draw(st.floats(0, 100)),
        arrival_decay_k_min=draw(st.floats(0.05, 2)),
        skew_min_inventory=draw(st.integers(0, 500)),
        exploration_volume_target=10**9,
    )


@st.composite
def cycles(draw, ordered_gamma: bool = False, with_book: bool = True):
    lo, hi = draw(st.integers(1, 10)), draw(st.integers(90, 99))
    fair = draw(st.floats(lo, hi))
    end_h = draw(st.one_of(st.none(), st.floats(0, 2_000)))
    market = MarketInfo("M", lo, hi, draw(st.sampled_from([0, 0, 10, 100])), draw(st.sampled_from([0, 20])),
                        None if end_h is None else T0 + int(end_h * HOUR))
    config = draw(configs(ordered_gamma))
    state = sampled_state(fair, draw(st.lists(st.floats(-3, 3), min_size=0, max_size=130)),
                          draw(st.sampled_from(list(AMMPhase))), lo, hi)
    book = None
    if with_book:
        mid = draw(st.integers(lo, hi))
        bids = draw(st.dictionaries(st.integers(max(1, mid - 10), mid), st.integers(1, 2_000), max_size=4))
        asks = draw(st.dictionaries(st.integers(mid, min(99, mid + 10)), st.integers(1, 2_000), max_size=4))
        book = LocalOrderBook("M", bids=bids, asks=asks)  # may be locked or crossed: a torn snapshot
    net = draw(st.one_of(st.integers(-20_000, 20_000), st.integers(-300, 300)))
    pairs = draw(st.sampled_from([0, 200, 50_000]))
    inventory = stocked(net, pairs=pairs, cash=draw(st.sampled_from([0, 100_000, BIG])))
    oracle = draw(st.one_of(st.none(), st.just(OracleReading(fair, T0 - 500))))
    trades = tuple(MarketTrade(draw(st.integers(lo, hi)), draw(st.integers(1, 50)), T0 - 300, f"t{i}")
                   for i in range(draw(st.integers(0, 3))))
    return dict(state=state, market=market, inventory=inventory, config=config, now_ms=T0, book=book,
                oracle=oracle, market_trades=trades)


# --- properties -------------------------------------------------------------------------------
@SETTINGS
@given(case=cycles())
def test_no_quote_through_fair_and_none_crosses_the_book(case):
    d = decide(**case)
    event(f"defense={d.defense.level.value} unwind={d.unwind} reduce_only={d.reduce_only}")
    fair, cfg = d.fair.raw, case["config"]
    m, loss = d.bounds.edge_cents, cfg.unwind_max_loss_cents
    lo, hi = case["market"].min_price_cents, case["market"].max_price_cents
    unwind_side = None
    if d.unwind:
        sides = {q.is_bid for q in d.quotes}
        assert len(sides) <= 1  # the unwind mode is one-sided
        unwind_side = sides.pop() if sides else None
    for q in d.quotes:
        p = q.yes_view_price
        if q.is_bid:
            limit = fair + loss if unwind_side is True else fair - m
            assert p <= limit + EPS, (p, fair, m, d.unwind)
            assert p < hi or fair >= hi  # never bid at the top on the wrong side of fair
        else:
            limit = fair - loss if unwind_side is False else fair + m
            assert p >= limit - EPS, (p, fair, m, d.unwind)
            assert p > lo or fair <= lo  # never sell YES at the bottom on the wrong side of fair
    bid, _, ask, _ = external_top(case["book"], ())
    if ask is not None:
        assert all(q.yes_view_price < ask for q in d.quotes if q.is_bid)
    if bid is not None:
        assert all(q.yes_view_price > bid for q in d.quotes if not q.is_bid)
    if d.reduce_only:
        assert d.mint_pairs == 0 and all(q.direction is Direction.SELL for q in d.quotes)
        sold_yes = sum(q.quantity for q in d.quotes if q.side is Side.YES)
        sold_no = sum(q.quantity for q in d.quotes if q.side is Side.NO)
        assert sold_yes <= max(0, d.net_shares) and sold_no <= max(0, -d.net_shares)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=cycles(), live=st.lists(st.tuples(st.sampled_from(list(Side)), st.sampled_from(list(Direction)),
                                              st.integers(1, 99), st.integers(1, 500)), max_size=6))
def test_the_amms_own_orders_are_not_the_book_it_must_not_cross(case, live):
    """Own live orders are cancelled by the atomic replace before the new ones are placed, so
    only the *external* book bounds the quotes (book.external_top)."""
    live_orders = tuple(LiveOrder(f"o{i}", s, dr, p, n) for i, (s, dr, p, n) in enumerate(live))
    d = decide(**case, live_orders=live_orders)
    bid, _, ask, _ = external_top(case["book"], live_orders)
    if ask is not None:
        assert all(q.yes_view_price < ask for q in d.quotes if q.is_bid)
    if bid is not None:
        assert all(q.yes_view_price > bid for q in d.quotes if not q.is_bid)


@SETTINGS
@given(case=cycles(), n1=st.integers(-20_000, 20_000), n2=st.integers(-20_000, 20_000))
def test_skew_direction_and_monotonicity_in_net_exposure(case, n1, n2):
    case["config"] = StrategyConfig(**{**_values(case["config"]), "exposure_target_pct": 0})
    m = case["market"]  # the full band: every level is inventory-backed (stocked), sizes are the strategy's
    case["market"] = MarketInfo("M", 1, 99, m.maker_fee_bps, m.taker_fee_bps, m.trading_end_ms)
    lo_net, hi_net = sorted((n1, n2))
    a = decide(**{**case, "inventory": stocked(lo_net)})
    b = decide(**{**case, "inventory": stocked(hi_net)})
    fair = a.fair.raw
    assert b.fair.raw == fair
    # direction: long YES leans to selling (r below fair), long NO to buying
    for d in (a, b):
        if d.net_shares > 0:
            assert d.reservation_price <= fair + EPS and d.exposure_skew > 0
        elif d.net_shares < 0:
            assert d.reservation_price >= fair - EPS and d.exposure_skew < 0
    # monotone: more net YES never raises the reservation price, a bid, the bid size, or lowers the ask size
    assert b.exposure_skew >= a.exposure_skew
    assert b.reservation_price <= a.reservation_price + EPS
    if a.quotes and b.quotes and a.defense.level is b.defense.level is DefenseLevel.NORMAL and not a.reduce_only:
        (bid_a, bq_a), (ask_a, aq_a) = best(a, True), best(a, False)
        (bid_b, bq_b), (ask_b, aq_b) = best(b, True), best(b, False)
        if bid_a is not None and bid_b is not None:
            assert bid_b <= bid_a and bq_b <= bq_a
        if ask_a is not None and ask_b is not None:
            assert ask_b <= ask_a and aq_b >= aq_a


@SETTINGS
@given(case=cycles(ordered_gamma=True), h1=st.floats(0, 2_000), h2=st.floats(0, 2_000))
def test_near_the_end_the_skew_is_at_least_the_earlier_skew_and_size_no_larger(case, h1, h2):
    """With the seed's ordering γ_short ≥ γ_mid ≥ γ_long (shorter-lived, more risk-averse), and
    shares enough on both sides that every level is inventory-backed (the sizes compared are
    the strategy's, not what scarce cash or a band edge leaves of them)."""
    near_h, far_h = sorted((h1, h2))
    market = MarketInfo("M", 1, 99, case["market"].maker_fee_bps, case["market"].taker_fee_bps)
    case = {**case, "inventory": stocked(case["inventory"].yes_volume - case["inventory"].no_volume)}
    near = decide(**{**case, "market": _ending(market, near_h)})
    far = decide(**{**case, "market": _ending(market, far_h)})
    event(f"reduce_only near={near.reduce_only} far={far.reduce_only}")
    assert abs(near.reservation_price - near.fair.raw) >= abs(far.reservation_price - far.fair.raw) - EPS
    assert near.risk.variance >= far.risk.variance - EPS
    assert near.bid_size <= far.bid_size and near.ask_size <= far.ask_size
    for bid, far_size in ((True, far.bid_size), (False, far.ask_size)):
        # what is quoted near the end is never more than that side was to quote earlier (a side the
        # band kept out earlier may appear in the unwind mode, at most at its earlier size)
        assert best(near, bid)[1] <= far_size


@SETTINGS
@given(case=cycles(), boundary=st.sampled_from([SHORT_TIER_HOURS, MID_TIER_HOURS]), side=st.sampled_from([-1, 1]))
def test_no_jump_at_a_gamma_tier_boundary(case, boundary, side):
    market = case["market"]
    at = decide(**{**case, "market": _ending(market, boundary)})
    nudged = decide(**{**case, "market": _ending(market, boundary + side * 0.01)})  # 36 seconds
    assert abs(at.gamma - nudged.gamma) < 1e-3 * (1 + at.gamma)
    assert abs(at.reservation_price - nudged.reservation_price) < 0.01 + 1e-3 * abs(at.reservation_price - at.fair.raw)
    assert abs(at.spread.raw - nudged.spread.raw) < 0.05
    for bid in (True, False):
        p_at, p_nudged = best(at, bid)[0], best(nudged, bid)[0]
        if p_at is not None and p_nudged is not None:
            assert abs(p_at - p_nudged) <= 1


def _ending(market: MarketInfo, hours: float) -> MarketInfo:
    return MarketInfo(market.market_id, market.min_price_cents, market.max_price_cents, market.maker_fee_bps,
                      market.taker_fee_bps, T0 + int(round(hours * HOUR)), None, market.status)


def _values(config: StrategyConfig) -> dict:
    return {name: getattr(config, name) for name in config.__dataclass_fields__}


# --- the examples, seed-default config ----------------------------------------------------
def default_case(*, fair=50.0, sigma_step=0.0, net=0, end_h=None, book=None, config=StrategyConfig(), **kw):
    state = sampled_state(fair, [sigma_step * (1 if i % 2 else -1) for i in range(120)], AMMPhase.STABILIZATION)
    market = MarketInfo("M", trading_end_ms=None if end_h is None else T0 + int(end_h * HOUR))
    return decide(state=state, market=market, inventory=stocked(net, pairs=1_000, cash=10**6), config=config,
                  now_ms=T0, book=book, oracle=OracleReading(fair, T0 - 500), **kw)


def test_short_of_yes_at_fair_50_bids_below_fair_not_at_51():
    """Issue: fair 50, q = −0.8, σ = 3 quoted bid 51 / ask 60. Now: the bid stays at fair − 1."""
    d = default_case(net=-1_600, sigma_step=0.87)  # exposure −80,000 c = −0.8 of the 20 % limit
    assert math.isclose(d.exposure_skew, -0.8) and 2.9 < d.sigma_cents < 3.1
    assert d.reservation_price > 55 and best(d, True)[0] == 49 and best(d, False)[0] > 55


def test_never_bids_into_the_books_ask():
    """Issue: book 44/46 and q = −0.8 bid 47 into the 46 ask (the AMM became the taker)."""
    d = default_case(fair=45.0, net=-1_600, book=LocalOrderBook("M", bids={44: 300}, asks={46: 300}))
    assert best(d, True)[0] <= 44 and best(d, False)[0] >= 47


def test_one_side_never_dumps_at_the_band_end():
    """Issue: ONE_SIDE sold YES at 1 c with fair 5 and bid 99 with fair 95."""
    long_yes = default_case(fair=5.0, net=21_000)
    assert long_yes.defense.level is DefenseLevel.ONE_SIDE and long_yes.unwind
    assert min(q.yes_view_price for q in long_yes.quotes) >= 5 - StrategyConfig().unwind_max_loss_cents
    long_no = default_case(fair=95.0, net=-21_000)
    assert long_no.defense.level is DefenseLevel.ONE_SIDE
    assert max(q.yes_view_price for q in long_no.quotes) <= 95 + StrategyConfig().unwind_max_loss_cents


def test_an_hour_before_the_end_the_skew_grows_and_the_size_shrinks():
    """Issue: q = +0.5 one hour before the end quoted 49/51 at full size and kept minting."""
    far = default_case(net=1_000, end_h=24 * 60)
    hour = default_case(net=1_000, end_h=1.0)
    assert hour.risk.variance > 2 * far.risk.variance
    assert hour.fair.raw - hour.reservation_price >= far.fair.raw - far.reservation_price
    assert best(hour, True)[0] < 49 and best(hour, True)[1] < best(far, True)[1]
    window = default_case(net=1_000, end_h=0.5 / 60)  # 30 s before the end: reduce-only
    assert window.reduce_only and window.mint_pairs == 0
    assert window.quotes and all(not q.is_bid and q.direction is Direction.SELL for q in window.quotes)
    flat = default_case(net=0, end_h=0.5 / 60)
    assert flat.quotes == () and flat.halt_reason == "REDUCE_ONLY_FLAT" and flat.mint_pairs == 0


def test_size_shrinks_with_the_time_left_only_inside_the_expiry_size_horizon():
    """A market minutes from its end quoted a tiny fraction of its depth for its whole life: the
    seed's √τ with τ = h/(h + 24 h) is 0.08 ten minutes before the end. The shrink is now
    √(time left / expiry_size_horizon_ms), full size before that horizon."""
    config = StrategyConfig(expiry_size_horizon_ms=300_000, reduce_only_window_ms=60_000)
    full = default_case(net=0, config=config)  # no end date
    assert full.bid_size == full.ask_size > 1
    ten = default_case(net=0, end_h=10 / 60, config=config)
    assert (ten.bid_size, ten.ask_size) == (full.bid_size, full.ask_size)
    quarter = default_case(net=0, end_h=1.25 / 60, config=config)  # a quarter of the horizon left: √¼ of the size
    assert quarter.bid_size == quarter.ask_size == max(1, int(full.bid_size * 0.5))
    day = default_case(net=0, end_h=10 / 60)  # the default horizon, 24 h: shrunk as before
    assert day.bid_size == max(1, int(full.bid_size * math.sqrt(10 / 60 / 24)))
    never = default_case(net=0, end_h=1.25 / 60, config=StrategyConfig(expiry_size_horizon_ms=0))
    assert (never.bid_size, never.ask_size) == (full.bid_size, full.ask_size)


def test_minting_does_not_move_the_point_where_buying_stops():
    """Issue: a seller hitting the bid every cycle was stopped at 1,000 or 1,900 net shares
    depending on auto-reinvest. Now the bid size reaches 0 at the exposure limit however many
    pairs are held."""
    def bid_size(net, pairs):
        state = sampled_state(50.0, [], AMMPhase.STABILIZATION)
        d = decide(state=state, market=MarketInfo("M"), inventory=stocked(net, pairs=pairs, cash=10**6),
                   config=StrategyConfig(), now_ms=T0, oracle=OracleReading(50.0, T0 - 500))
        return best(d, True)[1]

    for pairs in (1_000, 5_000, 20_000, 100_000):  # (fewer pairs: the seed's A1 skew stops it earlier)
        assert bid_size(1_000, pairs) > 0 and bid_size(2_000, pairs) == 0


def test_no_jump_at_720_hours():
    """Issue: at σ = 3, q = +0.5 the bid dropped 6 c when h crossed 720 h (42/51 → 36/50)."""
    before = default_case(net=1_000, sigma_step=0.87, end_h=720.01)
    after = default_case(net=1_000, sigma_step=0.87, end_h=719.99)
    assert abs(before.reservation_price - after.reservation_price) < 0.01
    assert best(before, True)[0] == best(after, True)[0] and best(before, False)[0] == best(after, False)[0]


def test_the_spread_does_not_jump_where_the_level_size_is_cut_to_a_whole_share():
    """At the expiry size horizon the shrink leaves 1.0: a level of exactly 2 shares there is
    1.99999... a moment later and cut to 1. The shares quoted do drop by one; the spread's
    inventory term (one level's fill as exposure) follows the uncut size and does not jump
    (hypothesis found this where the horizon met the 720 h tier boundary)."""
    config = StrategyConfig(order_size=2, expiry_size_horizon_ms=720 * 3_600_000)
    at = default_case(net=200, sigma_step=0.87, end_h=720.0, config=config)
    past = default_case(net=200, sigma_step=0.87, end_h=720.0 - 0.01, config=config)
    assert (at.bid_size, past.bid_size) == (2, 1)  # the cut itself
    assert abs(at.spread.as_term - past.spread.as_term) < 1e-3 * at.spread.as_term
    assert abs(at.spread.raw - past.spread.raw) < 0.01


def test_sigma_has_the_shape_of_a_probability():
    """Issue: σ = 3 quoted 1/9 at fair 2 and 43/57 at fair 50."""
    low = default_case(fair=2.0, sigma_step=0.87 * 4 * 0.02 * 0.98)  # the same log-odds σ as 3 at 50
    mid = default_case(fair=50.0, sigma_step=0.87)
    assert abs(low.sigma_cents - mid.sigma_cents) < 0.2
    assert low.risk.variance < mid.risk.variance / 50
    assert best(low, False)[0] - best(low, True)[0] <= best(mid, False)[0] - best(mid, True)[0] + 1


def test_widen_still_widens_when_the_risk_term_is_large():
    """Issue: the spread sat on its 15 c cap, so WIDEN and the LVR guard changed nothing."""
    config = StrategyConfig(order_size=2_000, budget_limit_cents=200_000)  # big levels: the risk term is large
    calm = default_case(net=0, sigma_step=3.0, end_h=1.0, config=config)
    widen = default_case(net=-680, sigma_step=3.0, end_h=1.0, config=config)  # exposure 0.85 of 40,000 c: WIDEN
    assert calm.spread.core_capped and widen.defense.level is DefenseLevel.WIDEN
    assert calm.spread.cents < config.max_spread_cents and widen.spread.cents > calm.spread.cents


def test_market_trades_teach_k_and_count_once_with_fills():
    state = sampled_state(50.0, [], AMMPhase.STABILIZATION)
    args = dict(market=MarketInfo("M"), inventory=stocked(0), config=StrategyConfig(), now_ms=T0)
    far = tuple(MarketTrade(58, 10, T0 - 100, f"m{i}") for i in range(40))
    learned = decide(state=state, market_trades=far, **args)
    assert learned.intensity.k_per_cent < StrategyConfig().arrival_decay_k and learned.intensity.trades == 40
    both = decide(state=state, market_trades=far, fills=(Fill(58, 10, T0 - 100, "m0"),), **args)
    assert both.intensity.trades == 40  # the AMM's fill m0 is also a market trade: counted once
    none = decide(state=state, **args)
    assert none.intensity.k_per_cent == StrategyConfig().arrival_decay_k  # no trades: the prior


def test_old_state_without_the_new_keys_still_loads():
    d = default_case()
    raw = d.state.to_dict()
    for key in ("flow", "sigma_memo"):
        raw.pop(key)
    raw["version"] = 1
    old = StrategyState.from_dict(raw)
    assert old.flow.ts_ms is None and old.sigma_memo is None
    assert decide(state=old, market=MarketInfo("M"), inventory=stocked(0), config=StrategyConfig(), now_ms=T0 + 1_000).quotes


def test_an_oracle_following_a_binary_near_its_end_is_not_a_jump():
    """A 10-cent move in a second is a jump a day before the end, not three minutes before it."""
    def second_reading(end_h):
        market = MarketInfo("M", trading_end_ms=T0 + int(end_h * HOUR))
        first = decide(state=sampled_state(50.0, [], AMMPhase.STABILIZATION), market=market, inventory=stocked(0),
                       config=StrategyConfig(), now_ms=T0, oracle=OracleReading(50.0, T0 - 500))
        return decide(state=first.state, market=market, inventory=stocked(0), config=StrategyConfig(),
                      now_ms=T0 + 1_000, oracle=OracleReading(60.0, T0 + 500))

    assert second_reading(24.0).fair.oracle_status == "JUMP"
    near = second_reading(3 / 60)
    assert near.fair.oracle_status == "OK" and near.defense.level is DefenseLevel.NORMAL


@SETTINGS
@given(case=cycles(), yes=st.integers(0, 3_000), no=st.integers(0, 3_000))
def test_no_side_filled_to_its_last_share_breaks_invariant_a1(case, yes, no):
    """A small book (not diluted by minting) never quotes a side whose full fill would take
    the seed's skew past 0.95 (A1: the kill switch)."""
    inventory = Inventory(yes, no, yes, no, 0, 0, BIG)
    m = case["config"].skew_min_inventory
    if abs(inventory.risk_skew(m)) > 0.95:
        return
    d = decide(**{**case, "inventory": inventory})
    for bid in (True, False):
        y, n = yes, no
        for q in (q for q in d.quotes if q.is_bid == bid):
            sign = 1 if q.direction is Direction.BUY else -1
            if q.side is Side.YES:
                y += sign * q.quantity
            else:
                n += sign * q.quantity
        after = Inventory(y, n, y, n, 0, 0, BIG)
        assert abs(after.risk_skew(m)) <= 0.95 + EPS, (yes, no, bid, y, n)
