"""Three-layer fair price and oracle guards (SPEC §6)."""
import math

from hypothesis import given, settings
from hypothesis import strategies as st

from amm.enums import AMMPhase
from amm.strategy.config import StrategyConfig
from amm.strategy.pricing import (
    ORACLE_ABSENT,
    ORACLE_DEVIATION,
    ORACLE_JUMP,
    ORACLE_OK,
    ORACLE_STALE,
    PHASE_WEIGHTS,
    POST_FILL_HALF_LIFE_MS,
    OracleCheck,
    OracleMemory,
    PostFillMemory,
    blend_fair,
    decay,
    jump_gap_cents,
    oracle_check,
    oracle_remember,
    post_fill_update,
)
from amm.strategy.types import Fill, OracleReading

CFG = StrategyConfig(oracle_stale_ms=30_000, oracle_deviation_cents=5, oracle_gap_cents=5)


def check_of(reading, now, book=None, prev=OracleMemory()):
    return oracle_check(oracle_remember(prev, reading, CFG), now_ms=now, book_price=book, config=CFG)


def test_oracle_absent_ok_and_stale():
    assert check_of(None, 0).status == ORACLE_ABSENT
    assert check_of(OracleReading(60, 1_000), 1_000 + 30_000).status == ORACLE_OK  # exactly stale_ms: still fresh
    stale = check_of(OracleReading(60, 1_000), 1_000 + 30_001)
    assert stale.status == ORACLE_STALE and not stale.usable and not stale.distrusted


def test_oracle_deviation_from_book():
    assert check_of(OracleReading(60, 0), 0, book=55.0).status == ORACLE_OK  # 5 = limit
    dev = check_of(OracleReading(60, 0), 0, book=54.9)
    assert dev.status == ORACLE_DEVIATION and dev.distrusted and not dev.usable
    assert check_of(OracleReading(60, 0), 0, book=None).status == ORACLE_OK  # no book, nothing to compare


def test_oracle_jump_is_distrusted_until_confirmed():
    mem = oracle_remember(OracleMemory(), OracleReading(50, 0), CFG)
    mem = oracle_remember(mem, OracleReading(56, 1_000), CFG)  # jump of 6 > 5
    assert oracle_check(mem, now_ms=1_000, book_price=None, config=CFG).status == ORACLE_JUMP
    same = oracle_remember(mem, OracleReading(56, 1_000), CFG)  # the same reading again
    assert same.jump
    confirmed = oracle_remember(mem, OracleReading(57, 2_000), CFG)  # within 5 of the last reading
    assert oracle_check(confirmed, now_ms=2_000, book_price=None, config=CFG).status == ORACLE_OK
    assert not oracle_remember(OracleMemory(50.0, 0), OracleReading(55, 1), CFG).jump  # 5 is not > 5


def test_post_fill_weighted_mean_and_decay():
    mem = post_fill_update(PostFillMemory(), [Fill(60, 100, 0), Fill(40, 100, 0)])
    assert mem.price == 50 and mem.weight == 200
    later = post_fill_update(mem, [Fill(80, 200, POST_FILL_HALF_LIFE_MS)])
    # old weight 200 halves to 100: (50·100 + 80·200) / 300 = 70
    assert math.isclose(later.price, 70.0) and math.isclose(later.weight, 300.0)
    assert post_fill_update(mem, []) is mem
    assert decay(POST_FILL_HALF_LIFE_MS) == 0.5 and decay(-5) == 1.0


def ok(price):
    return OracleCheck(ORACLE_OK, price)


def test_blend_uses_phase_weights():
    post = PostFillMemory(40.0, 1_000, 10.0)
    for phase, (w1, w2, w3) in PHASE_WEIGHTS.items():
        fair = blend_fair(phase=phase, oracle=ok(60.0), micro=50.0, post_fill=post, now_ms=1_000,
                          previous=None, initial=50, lo=1, hi=99)
        assert math.isclose(fair.raw, (60 * w1 + 50 * w2 + 40 * w3) / (w1 + w2 + w3))
        assert math.isclose(fair.w_oracle + fair.w_micro + fair.w_post_fill, 1.0)
    expl = blend_fair(phase=AMMPhase.EXPLORATION, oracle=ok(60.0), micro=50.0, post_fill=post, now_ms=1_000,
                      previous=None, initial=50, lo=1, hi=99)
    stab = blend_fair(phase=AMMPhase.STABILIZATION, oracle=ok(60.0), micro=50.0, post_fill=post, now_ms=1_000,
                      previous=None, initial=50, lo=1, hi=99)
    assert expl.w_micro < stab.w_micro  # stabilization leans on the book


def test_blend_missing_layers_renormalise_and_l3_decays():
    fair = blend_fair(phase=AMMPhase.STABILIZATION, oracle=OracleCheck(ORACLE_STALE, 90.0), micro=50.0,
                      post_fill=PostFillMemory(), now_ms=0, previous=None, initial=50, lo=1, hi=99)
    assert fair.raw == 50.0 and fair.w_micro == 1.0 and fair.oracle_status == ORACLE_STALE
    old_fill = PostFillMemory(70.0, 0, 1.0)
    fresh = blend_fair(phase=AMMPhase.STABILIZATION, oracle=OracleCheck(ORACLE_ABSENT, None), micro=50.0,
                       post_fill=old_fill, now_ms=0, previous=None, initial=50, lo=1, hi=99)
    aged = blend_fair(phase=AMMPhase.STABILIZATION, oracle=OracleCheck(ORACLE_ABSENT, None), micro=50.0,
                      post_fill=old_fill, now_ms=4 * POST_FILL_HALF_LIFE_MS, previous=None, initial=50, lo=1, hi=99)
    assert fresh.raw > aged.raw > 50.0


def test_blend_with_no_layer_keeps_previous_then_initial():
    none = OracleCheck(ORACLE_ABSENT, None)
    first = blend_fair(phase=AMMPhase.EXPLORATION, oracle=none, micro=None, post_fill=PostFillMemory(), now_ms=0,
                       previous=None, initial=42, lo=1, hi=99)
    assert (first.raw, first.cents, first.source) == (42.0, 42, "INITIAL")
    kept = blend_fair(phase=AMMPhase.EXPLORATION, oracle=none, micro=None, post_fill=PostFillMemory(), now_ms=0,
                      previous=47.3, initial=42, lo=1, hi=99)
    assert (kept.raw, kept.cents, kept.source) == (47.3, 47, "PREVIOUS")


def test_blend_is_clamped_to_the_band():
    fair = blend_fair(phase=AMMPhase.EXPLORATION, oracle=ok(97.0), micro=None, post_fill=PostFillMemory(), now_ms=0,
                      previous=None, initial=50, lo=5, hi=95)
    assert fair.raw == 95 and fair.cents == 95


@settings(max_examples=300, deadline=None)
@given(
    phase=st.sampled_from(list(AMMPhase)),
    oracle=st.one_of(st.none(), st.floats(1, 99)),
    micro=st.one_of(st.none(), st.floats(1, 99)),
    fill=st.one_of(st.none(), st.tuples(st.floats(1, 99), st.integers(0, 10**7))),
    band=st.tuples(st.integers(1, 99), st.integers(1, 99)).map(sorted),
)
def test_fair_stays_in_band_and_between_layers(phase, oracle, micro, fill, band):
    lo, hi = band
    post = PostFillMemory(fill[0], 0, 1.0) if fill else PostFillMemory()
    check = ok(oracle) if oracle is not None else OracleCheck(ORACLE_ABSENT, None)
    fair = blend_fair(phase=phase, oracle=check, micro=micro, post_fill=post, now_ms=fill[1] if fill else 0,
                      previous=None, initial=50, lo=lo, hi=hi)
    assert lo <= fair.raw <= hi and lo <= fair.cents <= hi
    layers = [x for x in (oracle, micro, fill[0] if fill else None) if x is not None]
    if layers and fair.source == "LAYERS":
        assert min(max(min(layers), lo), hi) - 1e-9 <= fair.raw <= max(min(max(layers), hi), lo) + 1e-9


def test_micro_depth_factor():
    from amm.strategy.pricing import micro_depth_factor

    assert micro_depth_factor(100, 500, 100) == 1.0
    assert micro_depth_factor(10, 500, 100) == 0.1
    assert micro_depth_factor(0, 0, 100) == 0.0
    assert micro_depth_factor(1, 1, 0) == 1.0


def test_thin_book_only_nudges_the_fair_price():
    none = OracleCheck(ORACLE_ABSENT, None)
    thin = blend_fair(phase=AMMPhase.STABILIZATION, oracle=none, micro=80.0, post_fill=PostFillMemory(), now_ms=0,
                      previous=50.0, initial=50, lo=1, hi=99, micro_confidence=0.01)
    assert math.isclose(thin.raw, 50.0 + 0.01 * 30.0)
    first = blend_fair(phase=AMMPhase.STABILIZATION, oracle=none, micro=80.0, post_fill=PostFillMemory(), now_ms=0,
                       previous=None, initial=50, lo=1, hi=99, micro_confidence=0.5)
    assert math.isclose(first.raw, 65.0)  # no previous: the initial price is the prior
    deep = blend_fair(phase=AMMPhase.STABILIZATION, oracle=none, micro=80.0, post_fill=PostFillMemory(), now_ms=0,
                      previous=50.0, initial=50, lo=1, hi=99, micro_confidence=1.0)
    assert deep.raw == 80.0


def test_jump_gap_grows_with_the_expected_volatility():
    """Issue 13: near a binary's end the price moves many cents a second; an oracle following it
    is not a jump. The seed's oracle_gap_cents stays the floor."""
    assert jump_gap_cents(5, 0.0, 1_000) == 5  # the seed's fixed gap
    assert jump_gap_cents(5, 2.0, 1_000) == 5  # calm: 4·2·√(1/60) ≈ 1 c
    assert math.isclose(jump_gap_cents(5, 40.0, 1_000), 4 * 40.0 * math.sqrt(1 / 60))  # a minute before the end
    fast = oracle_remember(OracleMemory(50.0, 0), OracleReading(60, 1_000), CFG, expected_sigma_cents=40.0)
    assert not fast.jump
    assert oracle_remember(OracleMemory(50.0, 0), OracleReading(60, 1_000), CFG, expected_sigma_cents=2.0).jump
