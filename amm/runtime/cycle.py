"""One quote cycle of one market (SPEC §7, STYLE "strategy decides, executor acts"):

    quote_cycle("MKT-1", reason="fill")

A pipeline, read top to bottom in `_Cycle`: read → decide → act → record. The cycle alone
owns its state; the steps it calls (lifecycle.step, killswitch.engage_by_defense, the
executor) take values and return values.

1. Take the market's lease (cycles of a market never overlap; AMM_CYCLE_LEASE_WAIT_MS) and,
2. in the same round trip once it is taken (`state.cycle_begin`, one script; it also starts
   the cycle's job run), read Redis: inventory, orders, state, config version, oracle,
   market metadata, the kept StrategyState, runtime flags, new fills, the dead man's switch,
   the books. The instance's lifecycle from the database (its source of truth), read by SQL
   only when `instance_version` in that read says the row changed, or the row this worker
   holds is older than AMM_INSTANCE_MAX_AGE_MS (amm/runtime/instance_cache.py). A re-read
   later in the cycle is `state.runtime_cycle_read`.
3. Redis lost the market (FLUSHDB, restart) or asked for it: full rebuild from the platform.
4. Market status: `amm:market:{m}` as the feed job refreshes it (AMM_STATUS_POLL_MS), or a
   GET of the market when that is older than AMM_MARKET_STATUS_MAX_AGE_MS; lifecycle
   reactions (amm/runtime/lifecycle.py) — only RUNNING + ACTIVE + kill switch OFF quotes.
5. Guards: rate-limit pause (Retry-After), the dead man's switch armed, re-sync of the
   orders from the platform when flagged (unknown outcome, freeze, resume) — before quoting.
6. Decide: the order book (a tick keeps the one it last read while the platform reports no
   change to it, `_Cycle.reusable_book`; anything else GETs it), then `decide(...)` on the
   typed inputs built in one place (`StrategyInput`).
7. Act, in the strategy's documented order: record the phase transition; engage the kill
   switch (defense) or record a new defense level; send the replacements through the
   atomic replace (nothing when there are none); mint.
8. Record: write `amm:state` (state_fields + last_requote_ms), the StrategyState, runtime
   fields, the book read and the cycle's latency (`amm_quote_cycle_duration_seconds`,
   counted in that same write), in one round trip with the lease's release and the job run's
   finish (`state.cycle_close`): a quiet cycle makes two Redis round trips and no SQL statement.

A cycle that would change nothing sends nothing: no order call, and a quiet tick no call at all.
Before each replace and mint the decision sends, the lease is checked: a holder that lost
it (frozen past its TTL) is fenced out and sends nothing. (Cancels, the wind-down's burns
and a lost mint's retry are idempotent or only take exposure away.) Every order call
carries the lease's fencing token and is not sent once the lease lapsed by this process's
clock (issue 15): such a cycle ends "fenced", as does one the platform refused as stale.

A holder that finds order calls of an earlier holder that never recorded their answer (it
died, froze, or was cut off from Redis: a takeover) first cancels the market's orders under
its own fencing token: whatever the earlier holder placed is gone, and its calls still on
their way are refused from then on; the cycle then re-syncs and quotes afresh.
"""
from __future__ import annotations

import hashlib
import json
import logging
import time
from dataclasses import dataclass, replace
from typing import Any, Mapping

from amm import state
from amm.alerts import alert_raise_unless_open
from amm.conf import amm_settings
from amm.connector import (
    ConnectorError,
    DuplicateRequest,
    Fenced,
    InsufficientFunds,
    MarketNotActive,
    NotFound,
    OrderNotOpen,
    PlatformUnavailable,
    RateLimited,
    TapeTrade,
    UnknownOutcome,
)
from amm.enums import AMMLifecycleState as L
from amm.enums import AMMPhase, DefenseLevel, KillSwitchState
from amm.exceptions import SyncError, TransitionRefused
from amm.models import AlertSeverity, AlertType, ReconciliationVerdict
from amm.runtime import executor, killswitch, lifecycle
from amm.runtime.context import RuntimeContext, context
from amm.runtime.lease import Lease, market_lease
from amm.runtime.lifecycle import LifecycleInput
from amm.runtime.renewer import renewer
from amm.runtime.instance_cache import instance_for_cycle
from amm.selectors import InstanceView
from amm.services import config_publish, defense_level_set, phase_transition, reconcile_market
from amm.strategy import (
    Decision,
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
)

log = logging.getLogger(__name__)  # "amm.runtime.cycle": bench/runtime.py reads its INFO lines

# The market's last trades a book read also asks for (the order-flow intensity learns from
# them); more than this between two reads of a busy market are seen in part.
TAPE_TRADES = 20

RECORDED = ("quoted", "unchanged", "kill_switch")  # the outcomes of a decision acted on: its state is written


@dataclass(frozen=True)
class CycleResult:
    """What one cycle did. `outcome`: quoted (a replace was sent), unchanged (nothing to
    send), busy (another holder had the lease), emergency, kill_switch, winding_down,
    stopped, idle, rate_limited, not_armed, unknown, fenced, unavailable, conflict, error..."""

    market_id: str
    reason: str
    outcome: str
    lifecycle: str = ""
    sent: int = 0  # replace entries sent
    placed: int = 0
    cancelled: int = 0
    duration_ms: float = 0.0
    detail: str = ""
    fill_age_ms: int | None = None  # the oldest new fill's age when the cycle began (feed + queue)
    sent_after_ms: int | None = None  # cycle start -> the replace sent (the cycle's own part)
    replaced_after_ms: int | None = None  # cycle start -> the platform acknowledged the replace


@dataclass(frozen=True)
class StrategyInput:
    """Everything `decide` takes, in the strategy's own types: built in one place
    (`_Cycle.strategy_input`) from what the cycle read."""

    state: StrategyState
    market: MarketInfo
    inventory: Inventory
    config: StrategyConfig
    now_ms: int
    book: LocalOrderBook
    live_orders: tuple[LiveOrder, ...]
    oracle: OracleReading | None
    fills: tuple[Fill, ...]
    daily_pnl_cents: int
    kill_switch: KillSwitchState
    market_trades: tuple[MarketTrade, ...] = ()  # the market's tape since the last book read (order-flow intensity)

    def decide(self) -> Decision:
        return decide(state=self.state, market=self.market, inventory=self.inventory, config=self.config,
                      now_ms=self.now_ms, book=self.book, live_orders=self.live_orders, oracle=self.oracle,
                      fills=self.fills, daily_pnl_cents=self.daily_pnl_cents, kill_switch=self.kill_switch,
                      market_trades=self.market_trades)


@dataclass
class CycleJob:
    """The unique job (amm/runtime/unique_jobs.py) a cycle runs in. Its run's start and finish
    ride on the cycle's own two round trips (state.cycle_begin, state.cycle_close) instead of
    two more: the cycle takes the rerun request waiting (its reason becomes the cycle's) and,
    at its end, `again` is the reason of one requested meanwhile (run again), else None."""

    key: str
    ttl_ms: int
    queue: str | None = None  # the job queue's key, peeked at on the way out (in the AMM's Redis)
    again: str | None = None
    peeked: bool = False  # the last cycle's end peeked at the queue: `queue_head` is what it saw
    queue_head: str | None = None


def quote_cycle(market_id: str, *, reason: str = "tick", now_ms: int | None = None,
                wait_ms: int | None = None, ctx: RuntimeContext | None = None,
                job: CycleJob | None = None) -> CycleResult:
    """Run one cycle of `market_id` under its lease (module docstring); within `job`'s run
    when given. A quiet cycle makes two Redis round trips: the lease taken with the read
    (and the job run started), the commit with the lease's release (and the job run finished)."""
    started = time.perf_counter()
    lease = market_lease(market_id)
    sent_at = time.monotonic()
    begun = state.cycle_begin(market_id, lease=lease.resource, token=lease.token, ttl_ms=lease.ttl_ms,
                              job=job.key if job else None, job_ttl_ms=job.ttl_ms if job else None)
    if job is not None:
        reason, job.again, job.peeked = begun.again or reason, None, False
    if begun.fencing_token is not None:
        lease.adopt(begun.fencing_token, sent_at)
    elif not lease.acquire(wait_ms=amm_settings.AMM_CYCLE_LEASE_WAIT_MS if wait_ms is None else wait_ms):
        if job is not None:
            job.again = state.job_finish(job.key, ttl_ms=job.ttl_ms)
        return CycleResult(market_id, reason, "busy")
    handle = renewer.add(lease.renew)
    ctx = ctx or context()
    cycle = _Cycle(market_id, reason=reason, now_ms=now_ms, lease=lease, ctx=ctx, started=started, read=begun.read)
    try:
        result = cycle.run()
    except BaseException:
        renewer.remove(handle)
        lease.release()
        raise
    renewer.remove(handle)
    # The commit (quoted, unchanged, kill_switch) or, for the others, the heartbeat and latency;
    # the heartbeat is wall-clock time: the scheduler compares it with its own clock.
    end = cycle.committed or {"now": state.now_ms(), "outcome": result.outcome,
                              "latency_s": time.perf_counter() - started}
    closed = state.cycle_close(
        market_id, **end, heartbeat_ms=None if result.outcome in ("quoted", "unchanged") else state.now_ms(),
        lease=lease.resource, token=lease.token if lease.let_go() else None,
        job=job.key if job else None, job_ttl_ms=job.ttl_ms if job else None, queue=job.queue if job else None)
    if cycle.kept is not None:  # written: its next cycle here need not parse it back
        ctx.strategies[market_id] = (end["strategy_blob"], cycle.kept)
    if job is not None:
        job.again, job.peeked, job.queue_head = closed.again, job.queue is not None, closed.queue_head
    result = replace(result, duration_ms=round((time.perf_counter() - started) * 1000, 2), **cycle.latencies())
    level = logging.INFO if result.sent or result.outcome not in ("unchanged", "idle") else logging.DEBUG
    timing = "".join(f", {label} {value} ms" for label, value in (("fill age", result.fill_age_ms),
                                                                  ("sent after", result.sent_after_ms),
                                                                  ("replaced after", result.replaced_after_ms))
                     if value is not None)
    log.log(level, "cycle %s (%s): %s%s in %.1f ms%s%s", market_id, reason, result.outcome,
            f", {result.sent} replacements" if result.sent else "", result.duration_ms, timing,
            f" — {result.detail}" if result.detail else "")
    return result


class _Cycle:
    """One running cycle, the only owner of its state: what it read (instance, Redis,
    lifecycle, runtime flags, the fills it took) and what it did (sent, placed, cancelled)."""

    def __init__(self, market_id: str, *, reason: str, now_ms: int | None, lease: Lease,
                 ctx: RuntimeContext, started: float, read: state.CycleRead | None = None) -> None:
        self.market_id = market_id
        self.reason = reason
        self.lease = lease
        self.ctx = ctx
        self.started = started  # perf_counter: the latency histogram's origin
        self.fixed_now = now_ms
        self.started_ms = state.now_ms()  # the cycle's clock read; `now` goes down to every step
        self.now = now_ms if now_ms is not None else self.started_ms
        # read
        self.instance: InstanceView | None = None
        self.read: state.CycleRead | None = None
        self.prefetched = read  # the read taken with the lease (state.cycle_begin): the first load's
        self.runtime: Mapping[str, Any] = {}
        self.fills: list[dict[str, Any]] = []  # every read takes the new fills: kept across re-reads
        self.lifecycle = ""
        self.market_status = ""
        self.kill_switch_on = False
        self.recorded_phase = self.recorded_defense = ""  # as the database has them (load_instance, act)
        self.config_version: int | None = None  # the database's, when Redis held an older one (config_caught_up)
        # done
        self.fetched_book: dict[str, Any] | None = None
        self.pushed = False  # the cycle read the book the WebSocket feed keeps
        self.tape: tuple[MarketTrade, ...] = ()  # the market's trades since the last book read
        self.tape_id: int | None = None  # set by a book read: the newest trade of the tape seen
        self.sent = self.placed = self.cancelled = 0
        self.sending_ms = self.replaced_ms = 0
        self.took_over = False  # found an earlier holder's unanswered order calls
        self.committed: dict[str, Any] | None = None  # what `commit` hands to state.cycle_close
        self.kept: StrategyState | None = None  # the StrategyState the commit writes

    def result(self, outcome: str, detail: str = "") -> CycleResult:
        return CycleResult(self.market_id, self.reason, outcome, lifecycle=self.lifecycle, sent=self.sent,
                           placed=self.placed, cancelled=self.cancelled, detail=detail)

    def latencies(self) -> dict[str, int | None]:
        """Where a fill's requote spent its time: before the cycle (the feed's poll, the queue)
        and in it until the platform acknowledged the new quotes."""
        stamps = [int(f["ts_ms"]) for f in self.fills if f.get("ts_ms")]
        return {"fill_age_ms": self.started_ms - min(stamps) if stamps else None,
                "sent_after_ms": self.sending_ms - self.started_ms if self.sending_ms else None,
                "replaced_after_ms": self.replaced_ms - self.started_ms if self.replaced_ms else None}

    def tick(self) -> None:
        """A new attempt after a refusal: the clock read again (unless a test fixed it)."""
        if self.fixed_now is None:
            self.now = state.now_ms()

    # --- the pipeline --------------------------------------------------------------------------
    def run(self) -> CycleResult:
        try:
            return self._run()
        except UnknownOutcome as exc:
            return self.result("unknown", str(exc))
        except RateLimited as exc:
            state.runtime_update(self.market_id, retry_after_ms=self.now + int(exc.retry_after_s * 1000))
            return self.result("rate_limited", str(exc))
        except PlatformUnavailable as exc:
            return self.result("unavailable", str(exc))
        except Fenced as exc:
            log.warning("cycle %s: fenced out: %s", self.market_id, exc)
            return self.result("fenced", str(exc))
        except InsufficientFunds as exc:
            return self.result("insufficient", self.inventory_disagrees(exc))
        except ConnectorError as exc:
            log.error("cycle %s: platform refused: %s", self.market_id, exc)
            return self.result("error", str(exc))

    def _run(self) -> CycleResult:
        if not self.load_instance():
            return self.result("no_instance")
        self.load()
        if self.lifecycle in (L.STOPPED.value, L.STARTING.value):
            return self.result("idle")
        if self.took_over:
            self.take_over()
        if not self.read.quote.inventory.exists or self.read.quote.market is None or self.runtime.get("resync_full"):
            try:
                executor.full_sync(self.ctx, self.market_id)
            except SyncError as exc:
                return self.result("sync_failed", str(exc))
            self.load()
        funds_resynced = False
        for attempt in range(3):
            self.market_status = self.status(force=attempt > 0)
            step = lifecycle.step(self.lifecycle_input(), ctx=self.ctx)
            self.lifecycle, self.runtime = step.lifecycle, step.runtime
            if step.outcome is not None:
                return self.result(step.outcome)
            try:
                return self.quote()
            except (OrderNotOpen, NotFound) as exc:
                # An order the decision replaced is gone (filled, passively cancelled): re-sync, decide again.
                log.info("cycle %s: %s; re-syncing orders", self.market_id, exc)
                executor.orders_resync(self.ctx, self.market_id, now=self.now)
            except InsufficientFunds as exc:
                # A fill not yet through the feed shrank an order the decision cancels, so its
                # cancel frees less than Redis counted: catch up on fills and orders, decide
                # again. Refused again after that, Redis itself is wrong (run() handles it).
                if funds_resynced:
                    raise
                funds_resynced = True
                log.info("cycle %s: %s; catching up on fills and orders before deciding again", self.market_id, exc)
                executor.orders_resync(self.ctx, self.market_id, now=self.now)
            except MarketNotActive as exc:
                log.info("cycle %s: %s; reading the market status", self.market_id, exc)
            except DuplicateRequest as exc:
                log.warning("cycle %s: %s; new client order ids", self.market_id, exc)
            self.tick()
            self.load()
        return self.result("conflict")

    def quote(self) -> CycleResult:
        """Guards, then decide → act → record."""
        held = self.held()
        if held is not None:
            return self.result(held)
        quote = self.catch_up()
        version = quote.config_version
        if self.config_version is not None and (version is None or version < self.config_version):
            version = self.config_version
        config = self.ctx.config(self.market_id, version)
        book = self.book(quote, config)
        decision = self.strategy_input(quote, config, book).decide()
        outcome, detail = self.act(decision)
        if outcome in RECORDED:  # fenced / not_armed sent nothing and record nothing
            self.commit(decision, requoted=outcome != "kill_switch")
        return self.result(outcome, detail)

    # --- read ----------------------------------------------------------------------------------
    def load_instance(self) -> bool:
        """The instance row: the one this thread holds while Redis reports it unchanged, else
        read from the database (amm/runtime/instance_cache.py)."""
        begun = self.prefetched
        mirrored = begun.runtime.get("instance_version") if begun is not None else None
        self.instance, fresh = instance_for_cycle(self.ctx, self.market_id, mirrored, now=self.now)
        if self.instance is None:
            return False
        if fresh and begun is not None:
            self.config_caught_up(begun.quote.config_version)
        self.lifecycle = self.instance.lifecycle_state
        self.recorded_phase, self.recorded_defense = self.instance.phase, self.instance.defense_level
        return True

    def config_caught_up(self, published: int | None) -> None:
        """The database holds a newer config than `amm:config:{m}` (its Redis write was
        lost, or is still on its way after the commit): publish it again from the database."""
        known = self.instance.config_version
        if known is not None and published is not None and published < known:
            log.warning("cycle %s: amm:config holds version %s, the database %s: republished",
                        self.market_id, published, known)
            config_publish(market_id=self.market_id)
            self.config_version = known  # the cycle decides on the database's config

    def load(self) -> None:
        read, self.prefetched = self.prefetched, None
        self.read = read or state.runtime_cycle_read(self.market_id)
        self.fills += self.read.fills
        self.took_over = self.took_over or bool(state.order_calls_in_flight(self.read.runtime))
        self.runtime = executor.orphaned_calls_adopt(self.market_id, self.read.runtime)
        kill = (self.read.quote.state or {}).get("kill_switch")
        self.kill_switch_on = lifecycle.is_kill_on(self.instance.kill_switch, kill)

    def take_over(self) -> None:
        """The earlier holder left order calls unanswered (module docstring): cancel the
        market's orders under this lease's fencing token before anything else."""
        cancelled = executor.cancel_all(self.ctx, self.market_id, now=self.now)
        log.warning("cycle %s: took over from a holder that left order calls unanswered; cancelled %d tracked "
                    "orders under fencing token %s", self.market_id, cancelled, self.lease.fencing_token)
        self.cancelled += cancelled
        self.load()

    def status(self, *, force: bool = False) -> str:
        meta = self.read.quote.market or {}
        age = self.now - int(meta.get("updated_at_ms") or 0)
        if force or not meta.get("status") or age > amm_settings.AMM_MARKET_STATUS_MAX_AGE_MS:
            meta = executor.market_refresh(self.ctx, self.market_id, now=self.now)
        return str(meta.get("status") or "")

    def lifecycle_input(self) -> LifecycleInput:
        return LifecycleInput(market_id=self.market_id, lifecycle=self.lifecycle, market_status=self.market_status,
                              kill_switch_on=self.kill_switch_on, runtime=self.runtime,
                              orders_tracked=bool(self.read.quote.orders), now=self.now)

    # --- guards --------------------------------------------------------------------------------
    def held(self) -> str | None:
        """Why the cycle may not quote now (a rate-limit pause, the dead man's switch not
        armed), else None."""
        rt = self.runtime
        if int(rt.get("retry_after_ms") or 0) > self.now:
            return "rate_limited"
        if not self.deadman_armed():
            if not rt.get("resync"):
                state.runtime_update(self.market_id, resync="the dead man's switch was not armed")
            return "not_armed"
        return None

    def deadman_armed(self) -> bool:
        if not amm_settings.AMM_DEADMAN_REQUIRED:
            return True
        deadman = state.deadman_get() if self.read is None else self.read.deadman
        until = int(deadman.get("armed_until_ms") or 0)
        # The clock now, not the cycle's `now`: the margin must hold when the orders go out.
        return until - state.now_ms() > amm_settings.AMM_DEADMAN_MARGIN_MS

    def catch_up(self) -> state.QuoteCycleRead:
        """Redis brought up to the platform before deciding: the orders re-synced while
        flagged or within an unknown outcome's grace, a mint whose answer was lost asked
        again (same request id). Returns the seed keys to decide on, read again when either
        changed them."""
        m, now, rt = self.market_id, self.now, self.runtime
        quote: state.QuoteCycleRead | None = self.read.quote
        if executor.resync_due(rt, now):
            released, adopted = executor.orders_resync(self.ctx, m, now=now)
            if released or adopted:  # as orders_resync recorded it: this cycle reads the platform's book
                self.runtime = {**self.runtime, "own_sequence_id": state.OWN_SEQUENCE_UNKNOWN}
            if rt.get("resync"):
                state.runtime_update(m, resync="")
                self.runtime = {**self.runtime, "resync": ""}
            quote = None
        if rt.get("pending_mint"):
            request_id, _, qty = str(rt["pending_mint"]).rpartition(":")
            executor.mint(self.ctx, m, quantity=int(qty), request_id=request_id, now=now)
            quote = None
        return quote if quote is not None else state.quote_cycle_read(m)

    # --- decide --------------------------------------------------------------------------------
    def book(self, quote: state.QuoteCycleRead, config: StrategyConfig) -> LocalOrderBook:
        """The market's order book: the one a cycle last read when nothing says it changed
        (`reusable_book`), else a GET. Every change of the platform's book bumps its
        sequence_id, which the feed's status watch reports for every market."""
        pushed = self.pushed_book()
        known = (quote.market or {}).get("book_sequence_id")
        own = int(self.runtime.get("own_sequence_id") or 0)
        own_unknown = own == state.OWN_SEQUENCE_UNKNOWN  # orders changed, no sequence told: the platform's book
        newest = max(int(known) if known not in (None, "") else 0, own)
        if pushed is not None and (own_unknown or int(pushed["sequence_id"]) < newest):
            # The event stream already told of a newer book (the fill this cycle answers, say),
            # or the AMM's own last replace made one: the WebSocket has not brought it yet, and
            # the AMM's own orders in Redis are newer than that book (its old orders would pass
            # for outside ones). The REST book, not a wrong one.
            log.debug("cycle %s: pushed book %s behind %s: REST book", self.market_id, pushed["sequence_id"], newest)
            pushed = None
        if pushed is not None:
            book = LocalOrderBook(self.market_id)
            book.apply_snapshot(pushed)
            self.pushed = True
            tape = {int(t["id"]): t for t in reversed(self.read.tape)}  # a trade the stream brought twice: once
            self.tape_read(tuple(TapeTrade(id=i, price_cents=int(t["price_cents"]), quantity=int(t["quantity"]),
                                           executed_ms=int(t["executed_ms"])) for i, t in sorted(tape.items(), reverse=True)))
            return book
        snapshot = None if own_unknown else self.reusable_book(quote)
        if snapshot is None:
            depth = max(amm_settings.AMM_ORDERBOOK_DEPTH, config.order_levels + 3)
            got = self.ctx.connector.orderbook_get(self.market_id, depth=min(depth, 50), trades=TAPE_TRADES)
            snapshot = {"sequence_id": got.sequence_id, "bids": got.bids, "asks": got.asks,
                        "fetched_ms": state.now_ms(),  # its age decides its reuse: when it was read
                        "own": own_orders_key(quote.orders)}
            self.fetched_book = snapshot
            self.tape_read(got.recent_trades)
            if own_unknown:  # read after the orders changed: a pushed book this new shows them
                state.runtime_update(self.market_id, own_sequence_id=got.sequence_id)
                self.runtime = {**self.runtime, "own_sequence_id": got.sequence_id}
        book = LocalOrderBook(self.market_id)
        book.apply_snapshot({"bids": snapshot["bids"], "asks": snapshot["asks"], "sequence_id": snapshot["sequence_id"]})
        return book

    def pushed_book(self) -> dict[str, Any] | None:
        """The book the WebSocket book feed keeps (amm/runtime/book_feed.py) when it is healthy,
        and the tape the event-stream feed keeps beside it: no REST call. When a feed runs but cannot vouch for this market's book (a gap not yet
        healed, a lost connection, a dead feed), None — the REST book — and a PUSH_FALLBACK
        alert (once per market while it lasts, per worker)."""
        if not amm_settings.AMM_PUSH or self.read is None:
            return None
        events_ms = self.read.events_alive
        if events_ms is None or state.now_ms() - events_ms > amm_settings.AMM_BOOK_PUSH_MAX_AGE_MS:
            # The event stream is not read: no tape kept (the order-flow intensity learns from
            # it), so the REST book, which brings its tape (the stream's fallback alerted).
            return None
        book, feed = state.push_book_parse(self.read.push_book, self.read.push_alive, now=state.now_ms(),
                                           max_age_ms=amm_settings.AMM_BOOK_PUSH_MAX_AGE_MS)
        alerted = self.ctx.book_fallbacks
        if feed == "ok":
            alerted.discard(self.market_id)
        elif feed != "off" and self.market_id not in alerted:
            alerted.add(self.market_id)
            log.warning("cycle %s: the pushed book is %s: REST book", self.market_id, feed)
            try:
                alert_raise_unless_open(type=AlertType.PUSH_FALLBACK, severity=AlertSeverity.WARNING,
                                        market_id=self.market_id, payload={"feed": "book", "state": feed})
            except Exception:  # noqa: BLE001 - the database down: the log line stands, the cycle goes on
                log.exception("could not record the PUSH_FALLBACK alert")
        return book

    def tape_read(self, recent: tuple[TapeTrade, ...]) -> None:
        """The market's trades since the last book read (every trade moves the book's
        sequence_id, so a trade is never missed by reuse; the tape shows the last 20). The
        first read of a market only notes where the tape is: older trades say little about
        the flow now."""
        known = self.runtime.get("tape_id")
        seen = int(known or 0)
        self.tape_id = max([seen, *(t.id for t in recent)])
        if known not in (None, ""):
            self.tape = tuple(MarketTrade(price_cents=t.price_cents, quantity=t.quantity, ts_ms=t.executed_ms,
                                          trade_id=str(t.id)) for t in reversed(recent) if t.id > seen)

    def reusable_book(self, quote: state.QuoteCycleRead) -> dict[str, Any] | None:
        """The kept book, for a periodic tick only, when it is as new as the platform's latest
        reported sequence_id (reported within AMM_MARKET_STATUS_MAX_AGE_MS), was read with the
        same own orders live (the strategy takes them out of the book), and is younger than
        AMM_BOOK_REUSE_MAX_MS. Fills, status changes and operator actions always read afresh."""
        kept, meta = self.read.book if self.read else None, quote.market or {}
        if self.reason != "tick" or not kept or meta.get("book_sequence_id") in (None, ""):
            return None
        if self.now - int(meta.get("updated_at_ms") or 0) > amm_settings.AMM_MARKET_STATUS_MAX_AGE_MS:
            return None
        if int(kept.get("sequence_id", -1)) < int(meta["book_sequence_id"]):
            return None
        if self.now - int(kept.get("fetched_ms") or 0) > amm_settings.AMM_BOOK_REUSE_MAX_MS:
            return None
        return kept if kept.get("own") == own_orders_key(quote.orders) else None

    def strategy_input(self, quote: state.QuoteCycleRead, config: StrategyConfig,
                       book: LocalOrderBook) -> StrategyInput:
        """The strategy's inputs from the cycle's read, in its own types (the one place)."""
        m, now = self.market_id, self.now
        meta = quote.market or {}
        market = MarketInfo(
            market_id=m, min_price_cents=int(meta.get("min_price_cents") or 1),
            max_price_cents=int(meta.get("max_price_cents") or 99), maker_fee_bps=int(meta.get("maker_fee_bps") or 0),
            taker_fee_bps=int(meta.get("taker_fee_bps") or 0),
            trading_end_ms=int(meta["trading_end_ms"]) if meta.get("trading_end_ms") not in (None, "") else None,
            resolution_ms=int(meta["resolution_ms"]) if meta.get("resolution_ms") not in (None, "") else None,
            status=self.market_status or str(meta.get("status") or "ACTIVE"),
        )
        strategy_state = self.kept_strategy()
        if strategy_state is not None:
            if strategy_state.phase.value != self.instance.phase:  # the database's phase is the truth
                strategy_state = replace(strategy_state, phase=AMMPhase(self.instance.phase),
                                         phase_entered_ms=self.instance.phase_changed_at_ms or now)
        else:
            strategy_state = StrategyState(market_id=m, phase=AMMPhase(self.instance.phase),
                                           phase_entered_ms=self.instance.phase_changed_at_ms or now)
        oracle = quote.oracle
        reading = (OracleReading(price_cents=float(oracle["price_cents"]), ts_ms=int(oracle["ts_ms"]),
                                 source=str(oracle.get("source") or ""))
                   if oracle and oracle.get("price_cents") not in (None, "") and oracle.get("ts_ms") else None)
        fills = tuple(Fill(price_cents=int(f["price_cents"]), quantity=int(f["quantity"]), ts_ms=int(f["ts_ms"]),
                           trade_id=str(f.get("trade_id", ""))) for f in self.fills)
        live = tuple(LiveOrder(o.order_id, o.side, o.direction, o.price, o.remaining) for o in quote.orders.values())
        st = quote.state or {}
        return StrategyInput(
            state=strategy_state, market=market, inventory=quote.inventory,
            config=config, now_ms=now, book=book, live_orders=live, oracle=reading, fills=fills,
            daily_pnl_cents=int(st.get("daily_pnl_cents") or 0),
            kill_switch=KillSwitchState.ON if self.kill_switch_on else KillSwitchState.OFF,
            market_trades=self.tape,
        )

    def kept_strategy(self) -> StrategyState | None:
        """The StrategyState kept in `amm:strategy:{m}`: the one this worker thread wrote there
        when the blob is still the very text it wrote (the codec round-trips a StrategyState
        exactly: tests/amm/state/test_compact_encoding.py), else parsed."""
        blob, held = self.read.strategy_blob, self.ctx.strategies.get(self.market_id)
        if blob is not None and held is not None and held[0] == blob:
            return held[1]
        saved = self.read.strategy
        return StrategyState.from_dict(saved) if saved and saved.get("market_id") == self.market_id else None

    # --- act -----------------------------------------------------------------------------------
    def act(self, decision: Decision) -> tuple[str, str]:
        """Carry the decision out in the strategy's documented order; returns the outcome
        and its detail."""
        m, now = self.market_id, self.now
        # 1. phase transition (recorded; a refusal such as the rollback cooldown is logged)
        if decision.phase_transition is not None:
            t = decision.phase_transition
            try:
                phase_transition(market_id=m, to_phase=t.to_phase, reason=t.reason, timestamp_ms=t.timestamp_ms)
                self.recorded_phase = getattr(t.to_phase, "value", t.to_phase)
            except (TransitionRefused, ValueError) as exc:
                log.warning("%s: phase transition not recorded: %s", m, exc)
        # 2. kill switch from the defense stack, or a new defense level
        if decision.engage_kill_switch:
            self.lifecycle = killswitch.engage_by_defense(
                m, reason=decision.defense.reason or "defense KILL_SWITCH", now=now)
            self.recorded_defense = DefenseLevel.KILL_SWITCH.value
            executor.cancel_all(self.ctx, m, now=now)
            return "kill_switch", decision.defense.reason or ""
        level = decision.defense.level.value
        if level != self.instance.defense_level:
            try:
                defense_level_set(market_id=m, level=level, reason=decision.defense.reason or level, timestamp_ms=now)
                self.recorded_defense = level
            except TransitionRefused as exc:
                log.warning("%s: defense level not recorded: %s", m, exc)
        # 3. replacements: only while the lease is ours and the dead man's switch armed
        outcome = "unchanged"
        if decision.replacements:
            if not self.lease.check():
                return "fenced", "lost the market's lease before sending"
            if not self.deadman_armed():
                return "not_armed", ""
            self.sent = len(decision.replacements)
            self.sending_ms = state.now_ms()
            replaced = executor.replace(self.ctx, m, decision.replacements, now=now)
            self.placed, self.cancelled, self.replaced_ms = replaced.placed, replaced.cancelled, replaced.replaced_ms
            outcome = "quoted"
        # 4. mint
        if decision.mint_pairs > 0 and self.lease.check():
            request_id = self.ctx.ids.request_id(market_id=m, kind="mint", timestamp_ms=now)
            try:
                executor.mint(self.ctx, m, quantity=decision.mint_pairs, request_id=request_id, now=now)
            except UnknownOutcome:
                log.warning("%s: mint %s outcome unknown; retried next cycle", m, request_id)
            except ConnectorError as exc:
                log.warning("%s: mint of %d pairs refused: %s", m, decision.mint_pairs, exc)
        return outcome, ""

    # --- record --------------------------------------------------------------------------------
    def commit(self, decision: Decision, *, requoted: bool) -> None:
        # Redis follows the database: the phase and defense level as recorded there (a
        # refused transition, such as the rollback cooldown, leaves them where they were).
        fields = {**decision.state_fields(), "phase": self.recorded_phase, "defense_level": self.recorded_defense}
        strategy = decision.state
        if strategy.phase.value != self.recorded_phase:
            strategy = replace(strategy, phase=AMMPhase(self.recorded_phase),
                               phase_entered_ms=self.instance.phase_changed_at_ms or strategy.phase_entered_ms)
        self.kept = strategy
        if requoted:  # when the platform acknowledged the new quotes, or confirmed the old ones
            fields["last_requote_ms"] = self.now if self.fixed_now is not None else (self.replaced_ms or state.now_ms())
        if log.isEnabledFor(logging.DEBUG):  # what the strategy decided: kept in no Redis key (memory per market)
            log.debug("cycle %s decided %s", self.market_id, json.dumps(decision.summary(), separators=(",", ":")))
        # Written with the lease's release at the cycle's end (quote_cycle: state.cycle_close).
        self.committed = dict(
            commit=True, state_fields=fields, strategy_blob=state.strategy_text(strategy.to_dict(), self.market_id),
            runtime={"last_reason": self.reason, "last_outcome": "quoted" if self.sent else "unchanged",
                     **({"tape_id": self.tape_id} if self.tape_id is not None else {})},
            book=self.fetched_book if not self.sent else None,  # a replace changed the book it read
            drop_book=self.pushed,  # the kept REST book is older than the pushed one it read
            now=self.now,
            latency_s=time.perf_counter() - self.started,
            outcome="quoted" if self.sent else ("unchanged" if requoted else "kill_switch"),
        )

    # --- a refusal the catch-up did not explain ------------------------------------------------
    def inventory_disagrees(self, exc: InsufficientFunds) -> str:
        """The platform refused an order the strategy sized from Redis's cash or shares, even
        after the cycle caught up on fills and orders. That is not proof of drift: a taker's
        fill can land between the catch-up and the second replace. Nothing was placed (the
        replace is atomic), so reconcile the market now, in its lane: drift beyond tolerance
        raises INVENTORY_DRIFT_CRITICAL and rebuilds it from the platform there; any smaller
        difference (the strategy sizes to the last share, so even one matters) or a platform
        that could not be read rebuilds it quietly on the next cycle."""
        log.warning("cycle %s: %s, again after catching up; reconciling the market", self.market_id, exc)
        run = reconcile_market(market_id=self.market_id, connector=self.ctx.connector, feed=self.ctx.feed,
                               trigger=f"order refused: {exc.code}")
        if run.verdict != ReconciliationVerdict.OK and not run.rebuilt:
            state.runtime_update(self.market_id, resync_full=f"the platform refused an order: {exc.code}")
        return f"{exc} (reconciliation {run.verdict})"


def own_orders_key(orders: dict[str, state.OrderEntry]) -> str:
    """A digest of the AMM's live orders (ids and remaining quantities)."""
    text = ",".join(f"{oid}:{orders[oid].remaining}" for oid in sorted(orders))
    return hashlib.blake2b(text.encode(), digest_size=8).hexdigest()
