"""The compact forms of the runtime's own keys (issue 15: Redis memory per market) give back
exactly what was stored, for any input (property tests), and read what older versions wrote:
the StrategyState blob (amm/state/codec.py), the order books, fills and tape entries
(amm/state/packing.py), the tape as a sorted set trimmed by the cycle that saw it, the
runtime hash without the decision summary."""
from __future__ import annotations

import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from amm import state
from amm.state import keys as K
from amm.state.strategy_codec import ENUM_CODES, strategy_parse, strategy_text
from amm.state.packing import (
    ASK,
    BID,
    book_parse,
    book_text,
    fill_parse,
    fill_text,
    levels_pack,
    levels_unpack,
    push_book_text,
    push_book_value,
    trade_parse,
    trade_text,
)
from amm.state.rebuild import runtime_compact
from amm.strategy import StrategyState

COMPACT = ("listpack", "ziplist")  # Redis's small encoding: "ziplist" before 7.0 (the embedded server)

M = "MKT-COMPACT"
EXAMPLES = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
IN_REDIS = settings(max_examples=40, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])

ints = st.integers(min_value=-(2**62), max_value=2**62)
stamps = st.none() | st.integers(min_value=0, max_value=2**45)
floats = st.floats(allow_nan=False)
opt_floats = st.none() | floats
e4_prices = st.integers(min_value=0, max_value=1_000_000).map(lambda k: k / 10_000)  # the strategy's 4 decimals
labels = st.sampled_from(ENUM_CODES) | st.text(max_size=12)


@st.composite
def strategy_dicts(draw) -> dict:
    """A StrategyState.to_dict() with any values its types allow (and some they do not)."""
    n = draw(st.integers(min_value=0, max_value=150))
    start, step = draw(st.integers(min_value=0, max_value=2**44)), draw(st.sampled_from([5_000, 1_000, 7_500]))
    times = draw(st.one_of(
        st.just([start + step * i for i in range(n)]),  # the usual steady sampling
        st.lists(st.integers(min_value=0, max_value=2**45), min_size=n, max_size=n)))
    prices = draw(st.one_of(st.lists(e4_prices, min_size=n, max_size=n),  # steps, some beyond int16
                            st.lists(floats, min_size=n, max_size=n)))  # any floats: kept as floats
    memo = draw(st.none() | st.tuples(st.integers(min_value=0, max_value=2**45),
                                      st.integers(min_value=0, max_value=2**45), opt_floats).map(list))
    return {
        "version": draw(st.integers(min_value=0, max_value=9)), "market_id": M, "phase": draw(labels),
        "phase_entered_ms": draw(stamps), "last_rollback_ms": draw(stamps), "fair": draw(opt_floats),
        "fair_ms": draw(stamps), "sample_ts": times, "sample_px": prices,
        "oracle": {"price": draw(opt_floats), "ts_ms": draw(stamps), "jump": draw(st.booleans())},
        "post_fill": {"price": draw(opt_floats), "ts_ms": draw(stamps), "weight": draw(floats)},
        "lvr_cooldown_until": draw(ints), "phase_fill_volume": draw(ints), "total_fill_volume": draw(ints),
        "defense_level": draw(labels),
        "flow": {"count": draw(floats), "distance": draw(floats), "time_s": draw(floats), "ts_ms": draw(stamps)},
        "sigma_memo": memo,
    }


@EXAMPLES
@given(strategy_dicts())
def test_any_strategy_state_round_trips_through_the_compact_form(strategy):
    text = strategy_text(strategy, M)
    assert isinstance(json.loads(text), list)  # the compact form: every value fits the layout
    assert M not in text and "sample_px" not in text  # no market id, no field names
    assert strategy_parse(text, M) == strategy


@EXAMPLES
@given(strategy_dicts(), st.sampled_from(["extra", "int_float", "no_flow_ts", "tuple_times", "other_market"]))
def test_a_strategy_state_the_layout_does_not_fit_is_stored_plain_and_read_back(strategy, change):
    if change == "extra":
        strategy["new_field"] = [1, "two"]  # a StrategyState of a later version
    elif change == "int_float":
        strategy["post_fill"]["weight"] = 3  # an int where the layout keeps a double
    elif change == "no_flow_ts":
        del strategy["flow"]["ts_ms"]
    elif change == "tuple_times":
        strategy["sample_ts"] = [float(t) + 0.5 for t in strategy["sample_ts"]] or [0.5]
        strategy["sample_px"] = strategy["sample_px"][:1] or [1.0]
    text = strategy_text(strategy, "another market" if change == "other_market" else M)
    assert isinstance(json.loads(text), dict)  # the plain form
    if change != "tuple_times":  # the plain form has always stored sample times as integers
        assert strategy_parse(text, M) == strategy


def test_a_real_strategy_state_is_compact_and_its_sigma_window_costs_about_two_bytes_a_sample():
    from tests.amm.state.test_memory_bounds import START_MS, run_cycles

    strategy = run_cycles(StrategyState.initial(M, START_MS), 0, 900)
    text = strategy_text(strategy.to_dict(), M)
    assert StrategyState.from_dict(strategy_parse(text, M)) == strategy
    plain = strategy_text(strategy.to_dict())  # the previous form (runs and steps)
    assert len(text) < 0.6 * len(plain)
    assert len(text) < 250 + 3 * len(strategy.sample_px)


# --- order books -------------------------------------------------------------------------------
@st.composite
def book_sides(draw, direction: int) -> list[list[int]]:
    """Best first: each level 1 cent further from the touch, now and then more."""
    price = draw(st.integers(min_value=-50, max_value=150))
    levels = []
    for _ in range(draw(st.integers(min_value=0, max_value=25))):
        levels.append([price, draw(st.integers(min_value=1, max_value=10**9))])
        price += direction * draw(st.sampled_from([1, 1, 1, 2, 3, 40]))
    return levels


any_levels = st.lists(st.lists(st.integers(min_value=-5, max_value=1_000), min_size=2, max_size=2), max_size=8)


@EXAMPLES
@given(book_sides(BID), book_sides(ASK))
def test_ordered_book_sides_pack_to_quantities_and_gaps_and_back(bids, asks):
    packed_bids, packed_asks = levels_pack(bids, BID), levels_pack(asks, ASK)
    assert packed_bids is not None and packed_asks is not None
    assert len(packed_bids) <= 2 * len(bids) and levels_unpack(packed_bids, BID) == bids
    assert levels_unpack(packed_asks, ASK) == asks
    assert levels_pack(asks, BID) is None or len(asks) < 2  # an ask side is not a bid side


@EXAMPLES
@given(book_sides(BID) | any_levels, book_sides(ASK) | any_levels, st.integers(min_value=0, max_value=2**40),
       st.integers(min_value=0, max_value=2**45), st.text(max_size=20))
def test_any_book_round_trips_compact_or_plain(bids, asks, sequence_id, ms, own):
    kept = {"sequence_id": sequence_id, "fetched_ms": ms, "own": own, "bids": bids, "asks": asks}
    assert book_parse(book_text(kept)) == kept
    pushed = {"sequence_id": sequence_id, "ms": ms, "bids": bids, "asks": asks}
    assert push_book_value(push_book_text(pushed)) == pushed
    if levels_pack(bids, BID) is not None and levels_pack(asks, ASK) is not None:
        assert isinstance(json.loads(push_book_text(pushed)), list)


def test_books_in_the_plain_json_of_older_versions_are_still_read():
    book = {"sequence_id": 7, "bids": [[40, 5], [38, 1]], "asks": [[41, 2]], "fetched_ms": 1, "own": "ab"}
    assert book_parse(json.dumps(book)) == book
    pushed = {"sequence_id": 7, "bids": [[40, 5]], "asks": [], "ms": 2}
    assert push_book_value(json.dumps(pushed)) == pushed
    assert book_parse(None) is None and push_book_value("") is None


# --- fills and trades ----------------------------------------------------------------------------
entry_values = st.integers(min_value=-(2**53), max_value=2**53) | st.text(max_size=10) | st.none() | floats


@EXAMPLES
@given(st.integers(min_value=0, max_value=2**53), st.integers(min_value=0, max_value=2**31),
       st.integers(min_value=0, max_value=2**45), st.text(max_size=20),
       st.dictionaries(st.sampled_from(["price_cents", "quantity", "ts_ms", "trade_id", "extra"]), entry_values))
def test_fills_round_trip_compact_or_plain(price, quantity, ts, trade_id, odd):
    fill = {"price_cents": price, "quantity": quantity, "ts_ms": ts, "trade_id": trade_id}
    assert isinstance(json.loads(fill_text(fill)), list) and fill_parse(fill_text(fill)) == fill
    assert fill_parse(fill_text(odd)) == odd  # missing, extra or other-typed fields: the plain form
    assert fill_parse(json.dumps(fill)) == fill  # as older versions wrote them


@EXAMPLES
@given(st.integers(min_value=0, max_value=2**53), st.integers(min_value=0, max_value=100),
       st.integers(min_value=0, max_value=2**31), st.integers(min_value=0, max_value=2**45),
       st.dictionaries(st.sampled_from(["id", "price_cents", "quantity", "executed_ms", "buyer"]), entry_values))
def test_trades_round_trip_compact_or_plain(trade_id, price, quantity, ms, odd):
    trade = {"id": trade_id, "price_cents": price, "quantity": quantity, "executed_ms": ms}
    assert isinstance(json.loads(trade_text(trade)), list) and trade_parse(trade_text(trade)) == trade
    assert trade_parse(trade_text(odd)) == odd


# --- in Redis ------------------------------------------------------------------------------------
@IN_REDIS
@given(strategy=strategy_dicts(), bids=book_sides(BID), asks=book_sides(ASK),
       fills=st.lists(st.fixed_dictionaries({"price_cents": st.integers(1, 99), "quantity": st.integers(1, 10**6),
                                             "ts_ms": st.integers(0, 2**45), "trade_id": st.text(max_size=12)}),
                      max_size=5))
def test_a_cycle_reads_back_exactly_what_the_last_one_kept(redis_conn, strategy, bids, asks, fills):
    book = {"sequence_id": 12, "bids": bids, "asks": asks, "fetched_ms": 99, "own": "digest"}
    state.cycle_commit(M, strategy=strategy, book=book, now=1_000)
    state.fills_push(M, fills)
    state.push_book_write(M, {"sequence_id": 13, "bids": bids, "asks": asks}, now=1_001)
    read = state.runtime_cycle_read(M)
    assert read.strategy == strategy and read.book == book and read.fills == fills
    assert push_book_value(read.push_book) == {"sequence_id": 13, "ms": 1_001, "bids": bids, "asks": asks}
    redis_conn.delete(K.fills_key(M))


def test_fills_and_books_older_versions_left_in_redis_are_read(redis_conn):
    old_fill = {"price_cents": 40, "quantity": 3, "ts_ms": 5, "trade_id": "17"}
    redis_conn.rpush(K.fills_key(M), json.dumps(old_fill))
    state.fills_push(M, [dict(old_fill, trade_id="18")])
    old_book = {"sequence_id": 3, "bids": [[40, 1]], "asks": [[45, 2]], "fetched_ms": 9, "own": "x"}
    redis_conn.set(K.book_key(M), json.dumps(old_book))
    read = state.runtime_cycle_read(M)
    assert read.fills == [old_fill, dict(old_fill, trade_id="18")] and read.book == old_book


def test_a_cycle_that_read_the_pushed_book_drops_the_kept_rest_book(redis_conn):
    book = {"sequence_id": 3, "bids": [[40, 1]], "asks": [[45, 2]], "fetched_ms": 9, "own": "x"}
    state.cycle_commit(M, book=book, now=1)
    state.cycle_commit(M, now=2)  # a cycle that reused it: kept
    assert state.runtime_cycle_read(M).book == book
    state.cycle_commit(M, drop_book=True, now=3)
    assert redis_conn.exists(K.book_key(M)) == 0 and state.runtime_cycle_read(M).book is None


def _trade(i: int) -> dict:
    return {"id": 1_000 + i, "price_cents": 40 + i % 3, "quantity": i + 1, "executed_ms": 5_000 + i}


def test_the_tape_keeps_each_trade_once_newest_first_until_a_cycle_has_seen_it(redis_conn):
    state.market_push_refresh([M], {M: 1}, tapes={M: [_trade(i) for i in range(5)]}, now=1)
    state.market_push_refresh([M], {M: 2}, tapes={M: [_trade(3), _trade(4), _trade(5)]}, now=2)  # redelivered
    assert [t["id"] for t in state.runtime_cycle_read(M).tape] == [1_005, 1_004, 1_003, 1_002, 1_001, 1_000]
    assert state.runtime_cycle_read(M).tape[0] == _trade(5)
    state.cycle_commit(M, runtime={"tape_id": 1_003}, now=3)  # the cycle handed trades up to 1003 to the strategy
    assert [t["id"] for t in state.runtime_cycle_read(M).tape] == [1_005, 1_004]
    assert redis_conn.object("encoding", K.tape_key(M)) in COMPACT
    state.cycle_commit(M, runtime={"tape_id": 1_005}, now=4)
    assert redis_conn.exists(K.tape_key(M)) == 0  # nothing left to see: no key


def test_the_tape_is_capped_at_its_newest_trades(redis_conn):
    for start in range(0, 3 * K.TAPE_KEEP, 7):
        state.market_push_refresh([M], {}, tapes={M: [_trade(i) for i in range(start, start + 7)]}, now=start)
    ids = [t["id"] for t in state.runtime_cycle_read(M).tape]
    newest = 1_000 + (3 * K.TAPE_KEEP // 7 + 1) * 7 - 1
    assert ids == list(range(newest, newest - K.TAPE_KEEP, -1))


def test_the_runtime_hash_stays_compact_and_older_versions_leftovers_are_dropped_at_a_rebuild(redis_conn):
    from tests.amm.conftest import seed_market

    state.cycle_commit(M, runtime={"last_reason": "tick", "last_outcome": "quoted", "tape_id": 12}, now=1)
    state.order_call_begin(M, token="t1", what="replace", now=2)
    assert redis_conn.object("encoding", K.runtime_key(M)) in COMPACT
    # what an older version left: the decision summary (1 KB of JSON: a hashtable) and a list tape
    redis_conn.hset(K.runtime_key(M), "summary", json.dumps({"fair_price_cents": 50, "pad": "x" * 1_000}))
    redis_conn.lpush(K.legacy_tape_key(M), json.dumps(_trade(1)))
    assert redis_conn.object("encoding", K.runtime_key(M)) == "hashtable"
    before = redis_conn.hgetall(K.runtime_key(M))

    seed_market(M)  # a startup sync's rebuild

    after = redis_conn.hgetall(K.runtime_key(M))
    assert after == {k: v for k, v in before.items() if k != "summary"} and "inflight:t1" in after
    assert redis_conn.object("encoding", K.runtime_key(M)) in COMPACT
    assert redis_conn.exists(K.legacy_tape_key(M)) == 0
    assert runtime_compact(M) is False  # nothing left to drop: not rewritten

