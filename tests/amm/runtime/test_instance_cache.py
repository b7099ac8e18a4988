"""The instance row a cycle acts on (amm/runtime/instance_cache.py, issue 15): read from the
database only when Redis reports a change, yet a kill switch, a stop or a config change
committed in the database is acted on by the next cycle — also when the Redis write after
the commit was lost (the writer died between the two), and within AMM_INSTANCE_MAX_AGE_MS
when no Redis write was made at all."""
from __future__ import annotations

import pytest
from django.db import connection, transaction
from django.db.models import F
from django.test.utils import CaptureQueriesContext

from amm import state
from amm.models import AMMInstance, MarketConfig
from amm.runtime.context import context
from amm.runtime.cycle import quote_cycle
from amm.selectors import instance_version_of
from amm.services import config_update, instance_kill, instance_stop
from tests.amm.runtime.support import _stop_deadman_sweeper, rt  # noqa: F401 - fixtures

pytestmark = pytest.mark.django_db(transaction=True)


def _settled(rt) -> None:
    rt.start()
    for _ in range(6):
        if quote_cycle(rt.market_id).outcome == "unchanged":
            return
    raise AssertionError("the quotes never settled")


def _instance_reads(queries) -> int:
    return sum(1 for q in queries if "FROM amm_instance i" in q["sql"])


def _committed_without_redis(market_id: str, *transitions: str, announced: bool = True) -> None:
    """The row changed and committed as amm/services/instances.py changes it, but the writer
    died before its Redis write after the commit: only its announcement before the
    transaction ("pending") reached Redis — or, `announced` False, not even that."""
    if announced:
        state.instance_version_pending(market_id, now=state.now_ms())
    with transaction.atomic():
        instance = AMMInstance.objects.select_for_update().get(market_id=market_id)
        for name in transitions:
            getattr(instance, name)()
        instance.save()


def test_quiet_cycles_read_the_instance_from_redis_and_a_committed_change_from_the_database(rt):
    _settled(rt)
    version = state.runtime_get(rt.market_id)["instance_version"]
    assert version == instance_version_of(rt.instance().updated_at)
    with CaptureQueriesContext(connection) as queries:
        outcomes = [quote_cycle(rt.market_id).outcome for _ in range(3)]
    assert outcomes == ["unchanged"] * 3
    assert _instance_reads(queries.captured_queries) == 0, queries.captured_queries

    instance_kill(market_id=rt.market_id, actor="test", reason="committed in the database")
    with CaptureQueriesContext(connection) as queries:
        result = quote_cycle(rt.market_id)
    assert _instance_reads(queries.captured_queries) == 1
    assert result.outcome == "kill_switch", result
    assert rt.open_orders() == {}


def test_a_kill_switch_whose_redis_writes_were_lost_is_acted_on_by_the_next_cycle(rt):
    """Neither the kill switch's mirror in amm:state nor the row's version reached Redis:
    the announcement left by the writer makes the next cycle read the row."""
    _settled(rt)
    assert rt.open_orders()
    _committed_without_redis(rt.market_id, "engage_kill_switch", "kill", "emergency")
    assert state.state_get(rt.market_id).get("kill_switch") != "ON"  # its Redis path lost too

    result = quote_cycle(rt.market_id)
    assert result.outcome == "kill_switch", result
    assert rt.open_orders() == {} and rt.tracked() == {}
    assert quote_cycle(rt.market_id).outcome == "kill_switch"  # and it holds


def test_an_operator_stop_whose_redis_write_was_lost_stops_the_next_cycle(rt):
    _settled(rt)
    _committed_without_redis(rt.market_id, "stop")
    placed_before = rt.open_orders()
    result = quote_cycle(rt.market_id)
    assert result.outcome == "idle", result
    assert rt.open_orders() == placed_before  # nothing sent


def test_a_change_no_redis_write_announced_is_acted_on_within_the_max_age(rt, settings):
    """The writer could not reach Redis at all: the held row is trusted no longer than
    AMM_INSTANCE_MAX_AGE_MS."""
    _settled(rt)
    read_at = state.now_ms()
    quote_cycle(rt.market_id, now_ms=read_at)  # the row held as of read_at
    _committed_without_redis(rt.market_id, "engage_kill_switch", "kill", "emergency", announced=False)

    result = quote_cycle(rt.market_id, now_ms=read_at + settings.AMM_INSTANCE_MAX_AGE_MS)
    assert result.outcome == "kill_switch", result
    assert rt.open_orders() == {}


def test_a_redis_that_lost_the_version_makes_the_cycle_read_the_row_and_write_it_back(rt):
    _settled(rt)
    state.instance_version_drop(rt.market_id)
    instance_stop(market_id=rt.market_id, actor="test", reason="stopped")
    state.instance_version_drop(rt.market_id)  # lost again after the stop's own write
    assert quote_cycle(rt.market_id).outcome == "idle"
    assert state.runtime_get(rt.market_id)["instance_version"] == instance_version_of(rt.instance().updated_at)


def test_a_config_change_is_used_by_the_next_cycle_and_one_redis_lost_is_republished(rt, settings):
    _settled(rt)
    config_update(market_id=rt.market_id, actor="test", order_levels=3)
    assert quote_cycle(rt.market_id).outcome == "quoted"
    assert len(rt.open_orders()) == 6  # three levels a side

    # The database's config moves on without its Redis write (the writer died after the commit).
    MarketConfig.objects.filter(instance__market_id=rt.market_id).update(version=F("version") + 1, order_levels=2)
    version = MarketConfig.objects.get(instance__market_id=rt.market_id).version
    assert state.config_version(rt.market_id) == version - 1
    result = quote_cycle(rt.market_id, now_ms=state.now_ms() + settings.AMM_INSTANCE_MAX_AGE_MS)
    assert result.outcome == "quoted", result
    assert state.config_version(rt.market_id) == version
    assert context().configs[rt.market_id][0] == version
    assert len(rt.open_orders()) == 4  # two levels a side


def test_a_refused_change_withdraws_its_announcement_and_a_committed_one_writes_its_version(rt):
    from amm.exceptions import TransitionRefused

    with pytest.raises(TransitionRefused):
        instance_stop(market_id=rt.market_id, actor="test", reason="not running yet")  # STOPPED already
    assert "instance_version" not in state.runtime_get(rt.market_id)  # not left "pending"
    rt.start()
    assert state.runtime_get(rt.market_id)["instance_version"] == instance_version_of(rt.instance().updated_at)


def test_a_batch_reads_its_markets_rows_in_one_statement_and_each_cycle_still_checks_its_version(rt):
    from amm.runtime.cycle_runs import cycles_run_batch

    other = rt.new_market()
    rt.start(rt.market_id, other)
    for market_id in (rt.market_id, other):
        quote_cycle(market_id)
    context().instances.clear()  # nothing held: the batch reads both rows, once
    with CaptureQueriesContext(connection) as queries:
        cycles_run_batch([rt.market_id, other])
    assert _instance_reads(queries.captured_queries) == 1, queries.captured_queries

    instance_kill(market_id=other, actor="test", reason="after the batch's read")
    with CaptureQueriesContext(connection) as queries:
        cycles_run_batch([rt.market_id, other])
    assert _instance_reads(queries.captured_queries) == 1  # the changed row only, by its cycle
    assert rt.open_orders(other) == {} and rt.open_orders(rt.market_id)
