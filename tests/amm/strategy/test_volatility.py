"""σ estimator on known series (SPEC §6: σ in cents, bounded [1.0, 15.0])."""
import math

from hypothesis import given, settings
from hypothesis import strategies as st

from amm.strategy.volatility import (
    SAMPLE_MIN_SPACING_MS,
    SIGMA_MAX_CENTS,
    SIGMA_MIN_CENTS,
    SIGMA_PRIOR_CENTS,
    VOL_HORIZON_MS,
    append_sample,
    bound_sigma,
    price_range,
    realized_sigma,
    realized_sigma_at50,
    sample_spacing_ms,
    sigma_at50,
    sigma_at50_memo,
    sigma_cents,
)


def series(prices, step_ms=5_000, start=0):
    ts = tuple(start + i * step_ms for i in range(len(prices)))
    return ts, tuple(float(p) for p in prices)


def test_flat_series_is_floored_at_one_cent():
    ts, px = series([50] * 121)
    assert realized_sigma(ts, px, now_ms=ts[-1]) == 0.0
    assert sigma_cents(ts, px, now_ms=ts[-1]) == SIGMA_MIN_CENTS


def test_alternating_one_cent_every_5s():
    # 12 one-cent changes per minute: σ² = 12 per minute.
    ts, px = series([50 + (i % 2) for i in range(121)])
    assert math.isclose(sigma_cents(ts, px, now_ms=ts[-1]), math.sqrt(12))


def test_random_walk_constant_steps_gives_d_sqrt_h_over_dt():
    # ±d every Δt: σ = d·√(H/Δt) whatever the signs.
    d, dt = 0.5, 10_000
    moves = [1, 1, -1, 1, -1, -1, -1, 1] * 8
    prices = [50.0]
    for m in moves:
        prices.append(prices[-1] + m * d)
    ts, px = series(prices, step_ms=dt)
    assert math.isclose(sigma_cents(ts, px, now_ms=ts[-1]), d * math.sqrt(VOL_HORIZON_MS / dt))


def test_jump_is_clipped_at_10_cents():
    prices = [50] * 60 + [80] * 61  # one 30-cent jump in 10 minutes
    ts, px = series(prices)
    span = ts[-1] - ts[0]
    expected = math.sqrt(10.0**2 * VOL_HORIZON_MS / span)
    assert math.isclose(realized_sigma(ts, px, now_ms=ts[-1]), expected)


def test_upper_bound():
    ts, px = series([50 + 9 * (i % 2) for i in range(121)])
    assert sigma_cents(ts, px, now_ms=ts[-1]) == SIGMA_MAX_CENTS


def test_prior_until_enough_history():
    assert sigma_cents((), (), now_ms=0) == SIGMA_PRIOR_CENTS
    ts, px = series([50, 55])
    assert sigma_cents(ts, px, now_ms=ts[-1]) == SIGMA_PRIOR_CENTS  # 2 samples, 5 s
    ts, px = series([50, 51, 52, 53], step_ms=10_000)  # 30 s span < 60 s
    assert sigma_cents(ts, px, now_ms=ts[-1]) == SIGMA_PRIOR_CENTS


def test_only_the_window_counts():
    old = [50 + 9 * (i % 2) for i in range(200)]  # wild, but more than 10 minutes ago
    calm = [50] * 121
    ts, px = series(old + calm)
    assert sigma_cents(ts, px, now_ms=ts[-1]) == SIGMA_MIN_CENTS


def test_bound_sigma():
    assert bound_sigma(0.2) == 1.0 and bound_sigma(3.3) == 3.3 and bound_sigma(99) == 15.0


def test_price_range():
    ts, px = series([50, 52, 49, 51])
    assert price_range(ts, px, since_ms=5_000) == (3.0, 5_000)
    assert price_range(ts, px, since_ms=100_000) is None


def test_append_sample_spacing_and_retention():
    ts, px = (), ()
    ts, px = append_sample(ts, px, now_ms=0, price=50.0, retention_ms=600_000)
    ts, px = append_sample(ts, px, now_ms=1_000, price=51.0, retention_ms=600_000)  # too soon: skipped
    assert ts == (0,) and px == (50.0,)
    ts, px = append_sample(ts, px, now_ms=SAMPLE_MIN_SPACING_MS, price=51.0, retention_ms=600_000)
    assert ts == (0, SAMPLE_MIN_SPACING_MS)
    ts, px = append_sample(ts, px, now_ms=700_000, price=52.0, retention_ms=600_000)  # old ones dropped
    assert ts == (700_000,) and px == (52.0,)
    ts2, px2 = append_sample(ts, px, now_ms=600_000, price=1.0, retention_ms=600_000)  # time went back
    assert (ts2, px2) == (ts, px)


def test_spacing_grows_for_long_retention():
    assert sample_spacing_ms(600_000) == SAMPLE_MIN_SPACING_MS
    assert sample_spacing_ms(86_400_000) == 144_000  # one day in 600 samples


@settings(max_examples=200, deadline=None)
@given(
    steps=st.lists(st.floats(-20, 20, allow_nan=False), min_size=0, max_size=150),
    gaps=st.lists(st.integers(1, 30_000), min_size=150, max_size=150),
)
def test_sigma_always_bounded(steps, gaps):
    ts, px, t, p = [], [], 0, 50.0
    for step, gap in zip(steps, gaps):
        t += gap
        p = min(99.0, max(1.0, p + step))
        ts.append(t)
        px.append(p)
    sigma = sigma_cents(tuple(ts), tuple(px), now_ms=t)
    assert SIGMA_MIN_CENTS <= sigma <= SIGMA_MAX_CENTS


@settings(max_examples=100, deadline=None)
@given(
    signs=st.lists(st.sampled_from([-1, 1]), min_size=40, max_size=100),
    d=st.floats(0.1, 3.0),
    step_ms=st.sampled_from([1_000, 5_000, 20_000]),
)
def test_constant_step_walk_is_exact_at_any_sampling_interval(signs, d, step_ms):
    """Time normalisation: ±d every Δt gives d·√(H/Δt) for any Δt and any sign sequence."""
    prices = [50.0]
    for s in signs:
        prices.append(prices[-1] + s * d)
    ts, px = series(prices, step_ms=step_ms)
    raw = realized_sigma(ts, px, now_ms=ts[-1], window_ms=10**9, min_span_ms=0)
    assert math.isclose(raw, d * math.sqrt(VOL_HORIZON_MS / step_ms))


# --- σ in log-odds, quoted in cents at 50 (issue 13) -------------------------------------------
def test_sigma_at50_matches_cents_near_50_and_scales_a_move_at_the_ends():
    ts, px = series([50 + 0.1 * (i % 2) for i in range(121)])
    assert math.isclose(sigma_at50(ts, px, now_ms=ts[-1]), sigma_cents(ts, px, now_ms=ts[-1]), rel_tol=1e-3)
    # the same 0.1-cent flicker at 2 c is a 12.8× larger move in log-odds
    ts, px = series([2 + 0.1 * (i % 2) for i in range(121)])
    ratio = realized_sigma_at50(ts, px, now_ms=ts[-1]) / realized_sigma(ts, px, now_ms=ts[-1])
    assert 12.0 < ratio < 13.5
    assert sigma_at50((), (), now_ms=0) == SIGMA_PRIOR_CENTS


def test_sigma_memo_recomputes_only_when_a_sample_is_appended():
    ts, px = series([50 + (i % 2) for i in range(121)])
    sigma, memo = sigma_at50_memo(ts, px, now_ms=ts[-1])
    assert sigma == sigma_at50(ts, px, now_ms=ts[-1]) and memo[1] == ts[-1]
    fake = (memo[0], memo[1], 7.5)  # a memo for the same last sample is the answer
    assert sigma_at50_memo(ts, px, now_ms=ts[-1] + 1_000, memo=fake)[0] == 7.5
    ts2, px2 = ts + (ts[-1] + 5_000,), px + (50.0,)
    assert sigma_at50_memo(ts2, px2, now_ms=ts2[-1], memo=fake)[0] == sigma_at50(ts2, px2, now_ms=ts2[-1])
    assert sigma_at50_memo(ts, px, now_ms=ts[-1] + 10**9)[0] == SIGMA_PRIOR_CENTS  # nothing in the window


@settings(max_examples=200, deadline=None)
@given(
    steps=st.lists(st.floats(-20, 20, allow_nan=False), min_size=0, max_size=150),
    gaps=st.lists(st.integers(1, 30_000), min_size=150, max_size=150),
    start=st.floats(1, 99),
)
def test_sigma_at50_always_bounded(steps, gaps, start):
    ts, px, t, p = [], [], 0, start
    for step, gap in zip(steps, gaps):
        t += gap
        p = min(99.0, max(1.0, p + step))
        ts.append(t)
        px.append(p)
    assert SIGMA_MIN_CENTS <= sigma_at50(tuple(ts), tuple(px), now_ms=t) <= SIGMA_MAX_CENTS
