"""The AMM's cost per quiet periodic quote cycle (issue 15), in-process and independent of the
machine's load: counts first (Redis round trips, SQL queries, Python function calls per
cycle), then CPU µs per cycle and where it goes.

M markets with the AMM enabled are started against a real platform (gunicorn on a dedicated
database, amm_bench_cycle or AMM_BENCH_CYCLE_DB; a throwaway redis-server of its own) and
quoted once. Then each round runs every market's periodic cycle as the workers do
(`cycle_runs.cycles_run_batch`, AMM_TICK_BATCH markets a batch, the scheduler's job markers
taken first), with push on: the book is `amm:pushbook:{m}` (the platform's book as a WebSocket
feed would have written it), the statuses fresh as the event feed keeps them, so a quiet cycle
calls neither the platform nor anything but Redis (and the instance's SQL read when the row
is older than AMM_INSTANCE_MAX_AGE_MS: amm/runtime/instance_cache.py). What the feeds write
between rounds is outside the measurement; RQ's own per-job cost (about twenty Redis commands
a batch) is not counted.

  CPU µs/cycle     this process's CPU (time.process_time: the cycles and the lease renewer
                   thread) over the measured rounds / cycles, without a profiler
  round trips      Redis requests sent (redis-py `send_packed_command`: a pipeline or a script
                   counts one) and SQL statements, per cycle
  calls/cycle      cProfile's count of Python function calls, per cycle (separate rounds)
  top costs        cProfile timed by this thread's CPU clock: own time of the costliest
                   functions, and the cumulative time of the cycle's steps
  servers' CPU     redis-server's (INFO cpu) and this process's PostgreSQL backend's, per cycle:
                   they share the machine (coarse: the kernel counts in ticks)

    .venv/bin/python bench/cycle.py [--markets 100] [--rounds 20] [--profile-rounds 5]
"""
from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import statistics
import time
import uuid
from collections import Counter
from contextlib import contextmanager

from _setup import django_on_bench_db, machine_speed, throwaway_redis

AMM_USER_ID = "00000000-0000-4000-a000-000000000001"
BENCH_DB = os.environ.get("AMM_BENCH_CYCLE_DB", "amm_bench_cycle")  # dropped and made afresh
INTERVAL_MS = 1000

# The cycle's steps whose cumulative time is reported: (module path's ending, function name).
STEPS = (
    ("runtime/cycle_runs.py", "cycles_run_batch", "the batch (everything measured)"),
    ("runtime/unique_jobs.py", "run_unique", "  a market's job: its marker started/finished around the cycle"),
    ("runtime/cycle.py", "quote_cycle", "  the cycle"),
    ("runtime/lease.py", "acquire", "    lease acquire"),
    ("runtime/lease.py", "release", "    lease release"),
    ("runtime/cycle.py", "load_instance", "    the instance (held, or SQL)"),
    ("runtime/cycle.py", "load", "    the Redis read (+ parse)"),
    ("state/codec.py", "strategy_parse", "      StrategyState blob parsed"),
    ("strategy/engine.py", "from_dict", "      StrategyState built"),
    ("runtime/cycle.py", "book", "    the book (pushed)"),
    ("strategy/engine.py", "decide", "    decide()"),
    ("runtime/cycle.py", "commit", "    the commit"),
    ("strategy/engine.py", "to_dict", "      StrategyState to dict"),
    ("state/codec.py", "strategy_text", "      StrategyState blob written"),
    ("state/quote_cycle.py", "cycle_commit", "      the commit's round trip"),
)


class Counters:
    """Redis requests and SQL statements sent while `on`."""

    def __init__(self, trace: bool = False) -> None:
        self.on = False
        self.trace = trace  # count the Redis requests by where they are sent from
        self.redis = 0
        self.sql = 0
        self.stacks: Counter = Counter()

    def install(self) -> None:
        import redis.connection
        from django.db import connection

        original = redis.connection.AbstractConnection.send_packed_command
        counters = self

        def counted(conn, command, check_health=True):
            if counters.on:
                counters.redis += 1
                if counters.trace:
                    import traceback
                    counters.stacks[" <- ".join(f.name for f in reversed(traceback.extract_stack()[-9:-1]))] += 1
            return original(conn, command, check_health)

        redis.connection.AbstractConnection.send_packed_command = counted

        def sql(execute, sql_text, params, many, context):
            if counters.on:
                counters.sql += 1
            return execute(sql_text, params, many, context)

        connection.execute_wrappers.append(sql)


def make_markets(count: int) -> list[str]:
    from amm.services import config_update, instance_enable
    from exchange.services import market_create

    made = []
    for _ in range(count):
        market_id = f"BC-{uuid.uuid4().hex[:10]}"
        market_create(market_id=market_id, title="cycle bench", maker_fee_bps=0, taker_fee_bps=20)
        instance_enable(market_id=market_id, budget_cents=200_000, actor="bench")
        config_update(market_id=market_id, actor="bench", requote_interval_ms=INTERVAL_MS, order_levels=2,
                      order_size=10, exploration_size_factor=1.0, dead_man_timeout_ms=60_000)
        made.append(market_id)
    return made


@contextmanager
def quoting(count: int, *, database: str, platform_workers: int, platform_threads: int,
            platform_env: dict[str, str] | None = None):
    """`count` markets with the AMM enabled and started (push on, the dead man's switch armed)
    against the platform under gunicorn, on a dedicated database (dropped and made afresh) and a
    throwaway redis-server: yields (ctx, markets, platform, database_url, redis_url); the platform
    stopped at the end."""
    os.environ["LOG_LEVEL"] = "WARNING"
    with throwaway_redis() as redis_url:
        os.environ["REDIS_URL"] = redis_url
        database_url = django_on_bench_db(database)
        from django.conf import settings

        from amm import state
        from amm.conf import amm_settings
        from amm.runtime import deadman_arming
        from amm.runtime.context import context, context_reset
        from amm.runtime.startup import market_start
        from exchange.models import User
        from exchange.services import account_deposit, api_key_issue
        from tests.amm.runtime.harness import PlatformServer

        settings.REDIS_URL = redis_url
        for queue in settings.RQ_QUEUES.values():
            queue["URL"] = redis_url
        account_deposit(user_id=AMM_USER_ID, amount_cents=count * 400_000)
        amm_key = api_key_issue(user=User.objects.get(pk=AMM_USER_ID))
        markets = make_markets(count)
        platform = PlatformServer(database_url=database_url, redis_url=redis_url, workers=platform_workers,
                                  threads=platform_threads, env=platform_env).start()
        try:
            settings.AMM_PLATFORM_BASE_URL = platform.url
            settings.AMM_PLATFORM_API_KEY = amm_key
            settings.AMM_PUSH = True
            amm_settings.reload()  # assigned directly: no setting_changed signal
            context_reset()
            ctx = context()
            for market_id in markets:
                assert market_start(market_id, ctx=ctx) == "RUNNING", market_id
            state.run_markets_set(markets)
            deadman_arming.arm(ctx, timeout_ms=600_000, market_ids=markets)
            yield ctx, markets, platform, database_url, redis_url
        finally:
            platform.stop()
            platform.cleanup()


class Feeds:
    """What run_amm's feeds keep in Redis while push is healthy: each market's book as the
    WebSocket feed writes it (read from the platform when it changed), the books' heartbeat,
    the statuses vouched for by the event stream and its heartbeat."""

    def __init__(self, ctx, markets: list[str]) -> None:
        self.ctx, self.markets = ctx, markets
        self.sequences: dict[str, int] = {}

    def books(self) -> None:
        from amm import state

        now = state.now_ms()
        for market_id in self.markets:
            got = self.ctx.connector.orderbook_get(market_id, depth=20)
            state.push_book_write(market_id, {"sequence_id": got.sequence_id, "bids": got.bids, "asks": got.asks},
                                  now=now)
            self.sequences[market_id] = got.sequence_id

    def beat(self, market_ids: list[str]) -> None:
        from amm import state

        now = state.now_ms()
        state.push_book_alive(now)
        state.market_push_refresh(market_ids, {m: self.sequences[m] for m in market_ids}, now=now)


def servers_cpu(conn) -> tuple[float, float]:
    """CPU seconds of the throwaway redis-server and of this process's PostgreSQL backend."""
    import psutil
    from django.db import connection

    info = conn.info("cpu")
    connection.ensure_connection()
    backend = psutil.Process(connection.connection.info.backend_pid).cpu_times()
    return float(info["used_cpu_sys"]) + float(info["used_cpu_user"]), backend.user + backend.system


def run_rounds(markets: list[str], rounds: int, batch: int, feeds: Feeds, *, counters: Counters | None = None,
               profiler: cProfile.Profile | None = None,
               conn=None) -> tuple[int, list[float], Counter, tuple[float, float]]:
    """`rounds` rounds of every market's periodic cycle, batch by batch; returns (cycles, CPU
    seconds measured per round, outcomes, and given `conn`, the CPU seconds of Redis and of
    PostgreSQL's backend while measured)."""
    from amm import state
    from amm.runtime import cycle, cycle_runs
    from amm.runtime.job_requests import quote_key

    outcomes: Counter = Counter()
    original = cycle.quote_cycle

    def counting(market_id, **kwargs):
        result = original(market_id, **kwargs)
        outcomes[result.outcome if not result.sent else "sent"] += 1
        return result

    cycle.quote_cycle = counting
    cpu, servers = [], [0.0, 0.0]
    try:
        for _ in range(rounds):
            cpu.append(0.0)
            for i in range(0, len(markets), batch):
                ids = markets[i:i + batch]
                feeds.beat(ids)  # the feeds' writes, as fresh as the feeds keep them
                state.job_request_many([quote_key(m) for m in ids], f"bench-{uuid.uuid4().hex[:6]}",
                                       batch_size=batch, reason="tick", ttl_ms=30_000, rerun=False)
                before = servers_cpu(conn) if conn is not None else (0.0, 0.0)
                if counters is not None:
                    counters.on = True
                if profiler is not None:
                    profiler.enable()
                started = time.process_time()
                cycle_runs.cycles_run_batch(ids, "tick")
                cpu[-1] += time.process_time() - started
                if profiler is not None:
                    profiler.disable()
                if counters is not None:
                    counters.on = False
                if conn is not None:
                    after = servers_cpu(conn)
                    servers = [servers[0] + after[0] - before[0], servers[1] + after[1] - before[1]]
    finally:
        cycle.quote_cycle = original
    return sum(outcomes.values()), cpu, outcomes, (servers[0], servers[1])


def step_times(stats: pstats.Stats, cycles: int) -> list[tuple[str, float, float]]:
    """(label, cumulative µs per cycle, calls per cycle) of the cycle's steps."""
    found = {}
    for (filename, _, name), (_, calls, _, cumulative, _) in stats.stats.items():
        path = filename.replace(os.sep, "/")
        for suffix, step, label in STEPS:
            if name == step and path.endswith(suffix):
                found[label] = (cumulative * 1e6 / cycles, calls / cycles)
    return [(label, *found[label]) for _, _, label in STEPS if label in found]


def main() -> None:
    print(machine_speed(), flush=True)
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--markets", type=int, default=100, help="markets (M)")
    parser.add_argument("--rounds", type=int, default=20, help="measured rounds (N cycles = M × rounds)")
    parser.add_argument("--profile-rounds", type=int, default=5, help="rounds under cProfile (0: none)")
    parser.add_argument("--warmup", type=int, default=3, help="rounds before measuring")
    parser.add_argument("--top", type=int, default=25, help="functions listed by own time")
    parser.add_argument("--trace", action="store_true", help="count the Redis requests by their callers")
    args = parser.parse_args()

    with quoting(args.markets, database=BENCH_DB, platform_workers=1, platform_threads=2) as (
            ctx, markets, platform, _, redis_url):
        from amm.conf import amm_settings

        feeds = Feeds(ctx, markets)
        feeds.books()
        batch = max(1, amm_settings.AMM_TICK_BATCH)
        # The first round quotes every market (its book then changed: read it again, as the
        # feed would push it); the next ones settle.
        for _ in range(args.warmup):
            _, _, outcomes, _ = run_rounds(markets, 1, batch, feeds)
            if outcomes["sent"]:
                feeds.books()
        print(f"{args.markets} markets, AMM_TICK_BATCH {batch}, push on (books in amm:pushbook:*); "
              f"platform gunicorn on {platform.url}; last warm-up round: {dict(outcomes)}", flush=True)

        counters = Counters(trace=args.trace)
        counters.install()
        import redis

        conn = redis.Redis.from_url(redis_url, decode_responses=True)
        cycles, cpu, outcomes, (redis_s, pg_s) = run_rounds(markets, args.rounds, batch, feeds,
                                                             counters=counters, conn=conn)
        print(f"measured: {cycles} cycles ({args.rounds} rounds), outcomes {dict(outcomes)}")
        per_round = sorted(c * 1e6 / len(markets) for c in cpu)
        mean = sum(cpu) * 1e6 / cycles
        print(f"  CPU per cycle        {mean:9.0f} µs mean, {statistics.median(per_round):.0f} median round, "
              f"{per_round[0]:.0f} best round ({1e6 / mean:.0f} quiet cycles/s per core)")
        print(f"  redis-server CPU     {redis_s * 1e6 / cycles:9.0f} µs per cycle (INFO cpu: coarse)")
        print(f"  PostgreSQL CPU       {pg_s * 1e6 / cycles:9.0f} µs per cycle (this process's backend; coarse)")
        print(f"  Redis round trips    {counters.redis / cycles:9.2f} per cycle")
        print(f"  SQL statements       {counters.sql / cycles:9.2f} per cycle")
        for stack, n in counters.stacks.most_common(8):
            print(f"    {n / cycles:5.2f}  {stack}")
        # What a quiet cycle rewrites with a different value (the rest is rewritten as it was).
        before = {m: (conn.get(f"amm:strategy:{m}"), conn.hgetall(f"amm:state:{m}"), conn.hgetall(f"amm:runtime:{m}"))
                  for m in markets}
        run_rounds(markets, 1, batch, feeds)
        changed: Counter = Counter()
        for m, (blob, st, rt) in before.items():
            changed["amm:strategy blob"] += conn.get(f"amm:strategy:{m}") != blob
            for name, value in conn.hgetall(f"amm:state:{m}").items():
                changed[f"amm:state {name}"] += st.get(name) != value
            for name, value in conn.hgetall(f"amm:runtime:{m}").items():
                changed[f"amm:runtime {name}"] += rt.get(name) != value
        print("  changed by one quiet cycle (markets of " + str(len(markets)) + "): "
              + ", ".join(f"{k} {v}" for k, v in sorted(changed.items()) if v))
        if args.profile_rounds:
            profiler = cProfile.Profile(time.thread_time)  # CPU, not wall time: no waits for Redis
            pcycles, _, _, _ = run_rounds(markets, args.profile_rounds, batch, feeds, profiler=profiler)
            stats = pstats.Stats(profiler)
            print(f"  Python calls         {stats.total_calls / pcycles:9.0f} per cycle (cProfile, "
                  f"{pcycles} cycles)")
            print("\nthe cycle's steps (cProfile, cumulative µs per cycle, calls per cycle):")
            for label, micros, calls in step_times(stats, pcycles):
                print(f"  {label:66s} {micros:8.0f} µs  {calls:6.2f}")
            print(f"\nthe project's top {args.top} by cumulative time (cProfile; µs per cycle, calls per cycle):")
            ours = [(k, v) for k, v in stats.stats.items()
                    if "/amm/" in k[0].replace(os.sep, "/") and "site-packages" not in k[0]]
            for (filename, line, name), (_, calls, _, cumulative, _) in sorted(
                    ours, key=lambda kv: kv[1][3], reverse=True)[:args.top]:
                where = "amm/" + filename.replace(os.sep, "/").rsplit("/amm/", 1)[-1]
                print(f"  {cumulative * 1e6 / pcycles:7.1f} µs  {calls / pcycles:6.1f}  {name} ({where}:{line})")
            print(f"\ntop {args.top} by own time (cProfile; µs per cycle, calls per cycle):")
            rows = sorted(stats.stats.items(), key=lambda kv: kv[1][2], reverse=True)[:args.top]
            for (filename, line, name), (_, calls, own, _, _) in rows:
                where = filename.replace(os.sep, "/")
                where = where.split("site-packages/")[-1].split("/cyc/")[-1] if "/" in where else where
                print(f"  {own * 1e6 / pcycles:7.1f} µs  {calls / pcycles:6.1f}  {name} ({where}:{line})")


if __name__ == "__main__":
    main()
