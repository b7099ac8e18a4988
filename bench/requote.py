"""A fill's requote, stage by stage, one at a time (issue 15: where tick-to-quote goes).

bench/runtime.py measures tick-to-quote under load, end to end. This bench takes the same path
with nothing else running on it, one fill at a time, and times each step, so that what the
path itself costs (its floor on this machine) is apart from what load adds:

  the platform under gunicorn (its production config) and `manage.py exchange_relay` as
  subprocesses, on a dedicated database (amm_bench_requote, or AMM_BENCH_REQUOTE_DB; dropped
  and made afresh) and a throwaway redis-server; M markets with the AMM enabled and quoting
  (push on: books in amm:pushbook as the WebSocket feed writes them, after each round). Then, round after round,
  a taker process crosses one ladder level of a market (an IOC over HTTP) and this process
  does what a worker's feed job and fast lane do, in one thread: it reads the event stream
  (the AMM's consumer group), applies the batch (event_feed.apply_batch: the fill, and the
  requote it asks for), runs the market's cycle (cycle.quote_cycle, reason "fill") and
  acknowledges the batch.

Stages (wall ms, p50 / p90 over the rounds):

  commit        the trade's executed_at -> its outbox row's insert (ts_ms of the stream
                entry): the rest of the taker's transaction
  relay         ts_ms -> the stream entry read by the feed (NOTIFY at commit, the relay's
                read and XADD, the feed's blocking XREADGROUP waking); split at the XADD (the
                entry id's ms): "to the stream" (the commit, the relay's wake, read and XADD)
                and "to the feed" (the feed's XREADGROUP waking), each to the millisecond
  apply         the batch applied: the fill in Redis, the requote requested
  cycle: begin  the cycle's start -> its replace sent (lease, reads, instance, decide)
  cycle: replace   the platform's replace call (HTTP), from sent to answered; "in the
                platform": gunicorn's own time for it (its access log's %(D)s, from the
                request read to the answer written), the rest being the AMM's HTTP client
                and the loopback
  tick-to-quote executed_at -> the replace answered: bench/runtime.py's tick-to-quote with
                nothing else running (its last_requote_ms is the answer's time, recorded),
                without the bench's own wait for the taker's report between relay and apply
  cycle: close  the answer -> the cycle's end (the answer recorded, a mint the decision asked
                for, the commit, the lease's release): after tick-to-quote

and this process's CPU per stage (time.process_time: independent of the machine's load),
Redis round trips and SQL statements per stage. `--profile` adds cProfile of the cycles.

    .venv/bin/python bench/requote.py [--markets 5] [--rounds 60] [--profile]
"""
from __future__ import annotations

import argparse
import cProfile
import datetime as dt
import os
import pstats
import random
import subprocess
import sys
import tempfile
import time
import uuid

from _setup import machine_speed, pct
from cycle import Counters, Feeds, quoting  # bench/cycle.py: the same markets, setup and counters

BENCH_DB = os.environ.get("AMM_BENCH_REQUOTE_DB", "amm_bench_requote")  # dropped and made afresh
STAGES = ("commit", "relay", "  to the stream", "  to the feed", "apply", "cycle: begin", "cycle: replace",
          "  in the platform", "tick-to-quote", "cycle: close")


def iso_ms(value: str) -> float:
    return dt.datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp() * 1000


def taker_loop(base: str, key: str, markets: list[str], rounds: int, seed: int) -> None:
    """The taker, as its own process: on each line of stdin, cross one level of a random market;
    print the trade's executed_at (ms) or 'none'."""
    import httpx

    http = httpx.Client(base_url=base, headers={"Authorization": f"Token {key}"}, timeout=10)
    rng = random.Random(seed)
    for _ in sys.stdin:
        market_id = rng.choice(markets)
        body = {"market_id": market_id, "client_order_id": uuid.uuid4().hex, "side": rng.choice(("YES", "NO")),
                "direction": "BUY", "price_cents": 99, "quantity": 10, "time_in_force": "IOC"}
        trades = http.post("/orders", json=body).json().get("trades", [])
        print(f"{market_id} {min(iso_ms(t['executed_at']) for t in trades)}" if trades else f"{market_id} none",
              flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--markets", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=60, help="fills measured")
    parser.add_argument("--profile", action="store_true", help="cProfile the cycles (own rounds, after)")
    parser.add_argument("--taker", nargs=3, metavar=("BASE", "KEY", "MARKETS"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.taker:  # the taker subprocess
        taker_loop(args.taker[0], args.taker[1], args.taker[2].split(","), args.rounds, 7)
        return
    print(machine_speed(), flush=True)
    # The platform's own time per replace (gunicorn's access log, %(D)s: from the request read
    # to the answer written), so that "cycle: replace" splits into the platform's part and the
    # AMM's (its HTTP client) with the loopback between.
    access_log = tempfile.NamedTemporaryFile(prefix="requote-access-", suffix=".log", delete=False)
    access_log.close()
    gunicorn_args = f"--access-logfile {access_log.name} --access-logformat '%(m)s %(U)s %(D)s'"

    with quoting(args.markets, database=BENCH_DB, platform_workers=2, platform_threads=4,
                 platform_env={"GUNICORN_CMD_ARGS": gunicorn_args}) as (
            ctx, markets, platform, database_url, redis_url):
        from amm import state
        from amm.connector.events import EventStreamAbsent
        from amm.runtime import cycle
        from amm.runtime.event_feed import apply_batch
        from amm.runtime.job_requests import install_requote_handler
        from exchange.services import account_deposit, api_key_issue, user_get_or_create
        from tests.push_fixtures import RelayProcess

        taker_user, _ = user_get_or_create(username=f"bench_taker_{uuid.uuid4().hex[:6]}")
        account_deposit(user_id=str(taker_user.id), amount_cents=10**11)
        taker_key = api_key_issue(user=taker_user)
        relay = RelayProcess({**os.environ, "DATABASE_URL": database_url, "REDIS_URL": redis_url,
                              "PYTHONUNBUFFERED": "1", "DEBUG": "false"}, []).start()
        taker = subprocess.Popen([sys.executable, __file__, "--taker", platform.url + "/api/v1", taker_key,
                                  ",".join(markets)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                                 bufsize=1)
        try:
            feeds = Feeds(ctx, markets)
            consumer = ctx.events()
            deadline = time.monotonic() + 60
            while True:  # the relay publishes the markets' events: the streams exist then
                try:
                    consumer.open()
                    break
                except EventStreamAbsent:
                    if time.monotonic() > deadline:
                        print(relay.output()[-3000:])
                        raise
                    time.sleep(0.2)
            requested: list[str] = []
            install_requote_handler(lambda market_id, reason: requested.append(market_id))
            for market_id in markets:  # quoted once; the books as the WebSocket feed would push them
                cycle.quote_cycle(market_id, reason="tick")
            feeds.books()
            while consumer.read(block_ms=50, count=1000).events:  # the start's events: not measured
                pass
            print(f"{args.markets} markets quoting (2 levels x 10 shares a side), push on; platform gunicorn "
                  f"2 gthread workers x 4 threads on {platform.url}; manage.py exchange_relay; one fill at a time",
                  flush=True)

            counters = Counters()
            counters.install()
            timing = {"send": 0.0, "answer": 0.0}
            original_replace = ctx.connector.orders_replace

            def timed_replace(**kwargs):
                timing["send"] = time.time() * 1000
                try:
                    return original_replace(**kwargs)
                finally:
                    timing["answer"] = time.time() * 1000

            ctx.connector.orders_replace = timed_replace
            rest_books = {"on": False, "reads": 0}  # REST book reads by the fill cycles (the pushed book not usable)
            ctx.connector._http.event_hooks["request"].append(
                lambda request: rest_books.__setitem__("reads", rest_books["reads"] + 1)
                if rest_books["on"] and "/orderbook/" in request.url.path else None)
            walls = {s: [] for s in STAGES}
            cpus = {s: [] for s in ("apply", "cycle")}
            trips = {s: [] for s in ("apply", "cycle")}
            sqls = {s: [] for s in ("apply", "cycle")}
            outcomes: dict[str, int] = {}
            profiler = cProfile.Profile(time.thread_time) if args.profile else None

            def drain() -> None:
                while True:
                    batch = consumer.read(block_ms=1, count=1000)
                    if not batch.events:
                        return
                    apply_batch(ctx, batch, running=set(markets), now=state.now_ms())
                    consumer.ack([(e.stream, e.entry_id) for e in batch.events])

            def one_round(profile: bool) -> None:
                feeds.beat(markets)  # the book feed's heartbeat and the stream's vouching, as they run
                drain()
                requested.clear()
                taker.stdin.write("go\n")
                # Blocked on the stream while the taker's order is in flight, as the feed job is.
                batch = consumer.read(block_ms=3000, count=1000)
                read_ms = time.time() * 1000
                market_id, executed = taker.stdout.readline().split()
                trades = [e for e in batch.events if e.stream == "trade_events" and e.market_id == market_id]
                if executed == "none" or not trades:
                    outcomes["no fill" if executed == "none" else "fill not in the first batch"] = \
                        outcomes.get("no fill" if executed == "none" else "fill not in the first batch", 0) + 1
                    if batch.events:
                        apply_batch(ctx, batch, running=set(markets), now=state.now_ms())
                        consumer.ack([(e.stream, e.entry_id) for e in batch.events])
                    feeds.books()
                    return
                executed_ms, entry_ts = float(executed), trades[0].ts_ms
                counters.redis = counters.sql = 0
                counters.on = True
                apply_ms = time.time() * 1000  # after the taker's report (the bench's, not the path's)
                cpu0 = time.process_time()
                apply_batch(ctx, batch, running=set(markets), now=state.now_ms())
                applied_ms = time.time() * 1000
                cpu1 = time.process_time()
                redis_apply, sql_apply = counters.redis, counters.sql
                if profile:
                    profiler.enable()
                rest_books["on"] = not profile
                result = cycle.quote_cycle(market_id, reason="fill") if market_id in requested else None
                rest_books["on"] = False
                if profile:
                    profiler.disable()
                closed_ms = time.time() * 1000
                cpu2 = time.process_time()
                counters.on = False
                consumer.ack([(e.stream, e.entry_id) for e in batch.events])
                outcome = "no requote requested" if result is None else result.outcome
                outcomes[outcome] = outcomes.get(outcome, 0) + 1
                if not profile and result is not None and result.sent:
                    started_ms = closed_ms - result.duration_ms
                    walls["commit"].append(entry_ts - executed_ms)
                    walls["relay"].append(read_ms - entry_ts)
                    xadd_ms = int(str(trades[0].entry_id).split("-")[0])  # the stream entry id: its XADD's ms
                    walls["  to the stream"].append(xadd_ms - entry_ts)
                    walls["  to the feed"].append(read_ms - xadd_ms)
                    walls["apply"].append(applied_ms - apply_ms)
                    walls["cycle: begin"].append(timing["send"] - started_ms)
                    walls["cycle: replace"].append(timing["answer"] - timing["send"])
                    walls["cycle: close"].append(closed_ms - timing["answer"])
                    walls["tick-to-quote"].append(read_ms - executed_ms + timing["answer"] - apply_ms)
                    cpus["apply"].append((cpu1 - cpu0) * 1000)
                    cpus["cycle"].append((cpu2 - cpu1) * 1000)
                    trips["apply"].append(redis_apply)
                    trips["cycle"].append(counters.redis - redis_apply)
                    sqls["apply"].append(sql_apply)
                    sqls["cycle"].append(counters.sql - sql_apply)
                feeds.books()  # the replace moved the book: pushed as the WebSocket feed would
                time.sleep(0.02)

            log_start = os.path.getsize(access_log.name)
            for i in range(args.rounds):
                one_round(False)
                if (i + 1) % 20 == 0:
                    print(f"  {i + 1}/{args.rounds} fills", flush=True)
            print(f"outcomes: {outcomes}; REST book reads by the fill cycles: {rest_books['reads']}")
            with open(access_log.name) as log:
                log.seek(log_start)
                walls["  in the platform"] = [int(line.split()[2]) / 1000 for line in log
                                              if line.startswith("POST /api/v1/amm/orders/replace ")]
            n = len(walls["tick-to-quote"])
            print(f"\nstage (wall ms over {n} fills that were requoted)      p50      p90")
            for stage in STAGES:
                print(f"  {stage:44s} {pct(walls[stage], .5):8.2f} {pct(walls[stage], .9):8.2f}")
            print("\nthis process, per fill                  CPU ms p50   Redis round trips   SQL statements")
            for stage in ("apply", "cycle"):
                print(f"  {stage:38s} {pct(cpus[stage], .5):8.2f}   {pct(trips[stage], .5):10.0f}   "
                      f"{pct(sqls[stage], .5):12.0f}")
            if profiler is not None:
                for _ in range(max(10, args.rounds // 2)):
                    one_round(True)
                stats = pstats.Stats(profiler)
                cycles = max(1, outcomes.get("quoted", 1))
                print(f"\ncProfile of the fill cycles (CPU clock): {stats.total_calls / cycles:.0f} Python calls a cycle")
                stats.sort_stats("cumulative").print_stats(30)
                stats.sort_stats("tottime").print_stats(25)
        finally:
            os.unlink(access_log.name)
            relay.stop()
            try:
                taker.stdin.close()
                taker.wait(timeout=10)
            except (OSError, subprocess.TimeoutExpired):  # it died first (the error above says why)
                taker.kill()


if __name__ == "__main__":
    main()
