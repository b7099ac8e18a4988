"""Starting markets (run_amm, or an operator's start the scheduler picks up): STOPPED ->
STARTING -> RUNNING through the startup sync (SPEC §5, seed §7.2); a failed sync ->
STOPPED with a SYNC_FAILED alert; the kill switch ON (before or during the sync) ->
EMERGENCY. A market left RUNNING / EMERGENCY / WINDING_DOWN by a run that died is adopted
as it is: Redis is rebuilt from the platform and its cycles go on (the kill switch and
EMERGENCY persist)."""
from __future__ import annotations

import logging

from amm import state
from amm.connector import ConnectorError
from amm.enums import AMMLifecycleState as L
from amm.exceptions import SyncError, TransitionRefused
from amm.models import AlertSeverity, AlertType, AMMInstance
from amm.runtime import deadman_arming, executor
from amm.runtime.context import RuntimeContext, context
from amm.runtime.lease import lease_ttl_ms, market_lease
from amm.selectors import stopped_by_operator
from amm.services import (
    alert_raise,
    instance_start,
    instance_start_complete,
    instance_start_failed,
    instance_stop,
    market_startup_sync,
)

log = logging.getLogger(__name__)


def working_state_check(*, ctx: RuntimeContext | None = None, keep: tuple[str, ...] = ()) -> bool:
    """Before anything is started: is the Redis working state this platform's? The fill
    feed's cursor is 0 or the id of the last AMM trade it applied, which the platform must
    know; if it does not, Redis holds another platform's (or a reset database's) state —
    its cursor would skip this platform's fills and its processed ids refuse them. Then
    every `amm:*` key but `keep` (the caller's leases) is wiped (the startup syncs rebuild
    them) and an alert raised. Returns True when the state was kept."""
    ctx = ctx or context()
    cursor = state.trade_cursor_get()
    if cursor <= 0:
        return True
    page = ctx.connector.trades_list(since=cursor - 1, limit=1)
    if page.results and page.results[0].id == cursor:
        return True
    wiped = state.working_state_wipe(keep=keep)
    log.error("the fill feed's cursor %d is no trade of this platform: Redis held another state; %d keys wiped, "
              "every market is rebuilt from the platform", cursor, wiped)
    alert_raise(type=AlertType.INVENTORY_DRIFT_CRITICAL, severity=AlertSeverity.CRITICAL,
                payload={"source": "startup", "cursor": cursor, "keys_wiped": wiped,
                         "detail": "Redis working state is not this platform's"})
    return False


def privileged_pending_resolve(*, ctx: RuntimeContext | None = None) -> int:
    """Mints/burns a previous run sent and never saw answered: ask again with the same
    request_id (the platform executes each once) and apply the answer, so that the startup
    syncs that follow read a balance Redis agrees with. Returns how many were resolved."""
    ctx = ctx or context()
    resolved = 0
    for market_id, request_id, kind, quantity in state.privileged_pending():
        operation = executor.mint if kind == "MINT" else executor.burn
        try:
            operation(ctx, market_id, quantity=quantity, request_id=request_id, now=state.now_ms())
            resolved += 1
        except ConnectorError as exc:  # refused (dropped by the executor) or still unknown (kept)
            log.warning("%s %s of %s from an earlier run: %s", kind, request_id, market_id, exc)
    return resolved


def markets_to_start(market_ids: list[str], *, named: list[str]) -> list[str]:
    """The markets run_amm starts (or adopts) when it begins: those named with --market, or
    every instance but the STOPPED ones an operator stopped (operator.stop holds across
    restarts: they wait for an operator's start)."""
    if named:
        return list(market_ids)
    stopped = set(AMMInstance.objects.filter(market_id__in=market_ids, lifecycle_state=L.STOPPED.value)
                  .values_list("market_id", flat=True))
    held = {m for m in stopped if stopped_by_operator(market_id=m)}
    for market_id in sorted(held):
        log.info("%s: left STOPPED (an operator stopped it: start it, or name it with --market)", market_id)
    return [m for m in market_ids if m not in held]


def market_start(market_id: str, *, actor: str = "run_amm", ctx: RuntimeContext | None = None,
                 only_starting: bool = False) -> str:
    """Start (or adopt) one market; returns its lifecycle state afterwards. With
    `only_starting` (an operator's start picked up by the scheduler) a market that is no
    longer STARTING is left alone. The kill switch holds through the start: ON before it or
    engaged during the sync, the market ends in EMERGENCY and nothing is quoted."""
    ctx = ctx or context()
    lease = market_lease(market_id)
    if not lease.acquire(wait_ms=lease_ttl_ms()):
        lease.steal()
    try:
        instance = AMMInstance.objects.get(market_id=market_id)
        lifecycle = instance.lifecycle_state
        if only_starting and lifecycle != L.STARTING.value:
            return lifecycle
        if lifecycle == L.STOPPED.value:
            instance_start(market_id=market_id, actor=actor, reason="run_amm")
            lifecycle = L.STARTING.value
        try:
            market_startup_sync(market_id=market_id, connector=ctx.connector, feed=ctx.feed)
            state.runtime_update(market_id, resync="", resync_full="", retry_after_ms=0, pending_mint="")
        except (SyncError, ConnectorError) as exc:
            if lifecycle != L.STARTING.value:
                log.error("%s (%s): re-sync failed (%s); its cycles retry", market_id, lifecycle, exc)
                state.resync_request([market_id], reason="startup sync failed", full=True)
                return lifecycle
            try:
                instance_start_failed(market_id=market_id, actor=actor, reason=f"startup sync failed: {exc}"[:255])
            except TransitionRefused:  # the kill switch moved it to EMERGENCY meanwhile: its cycles re-sync
                state.resync_request([market_id], reason="startup sync failed", full=True)
                return AMMInstance.objects.get(market_id=market_id).lifecycle_state
            alert_raise(type=AlertType.SYNC_FAILED, severity=AlertSeverity.CRITICAL, market_id=market_id,
                        payload={"error": str(exc)})
            return L.STOPPED.value
        if lifecycle == L.STARTING.value:
            lifecycle = instance_start_complete(market_id=market_id, actor=actor,
                                                reason="startup sync done").lifecycle_state
            if lifecycle == L.EMERGENCY.value:
                state.runtime_update(market_id, emergency_cause="KILL_SWITCH")
                log.warning("%s: kill switch ON, EMERGENCY instead of RUNNING (nothing quoted)", market_id)
            return lifecycle
        log.info("%s: adopted in %s from an earlier run, Redis rebuilt from the platform", market_id, lifecycle)
        return lifecycle
    finally:
        lease.release()


def market_shutdown(market_id: str, *, actor: str = "run_amm", ctx: RuntimeContext | None = None) -> int:
    """run_amm stops: cancel every AMM order of the market (under its lease, taken over
    after one TTL) and release them in Redis; a RUNNING market becomes STOPPED (EMERGENCY
    and WINDING_DOWN stay for the next run). Returns the orders released."""
    ctx = ctx or context()
    lease = market_lease(market_id)
    if not lease.acquire(wait_ms=lease_ttl_ms()):
        lease.steal()
    try:
        released = executor.cancel_all(ctx, market_id)
        instance = AMMInstance.objects.filter(market_id=market_id).first()
        if instance is not None and instance.lifecycle_state == L.RUNNING.value:
            try:
                instance_stop(market_id=market_id, actor=actor, reason="run_amm stopped")
            except TransitionRefused:
                pass
        return released
    finally:
        lease.release()


def markets_shutdown(market_ids: list[str], *, ctx: RuntimeContext, workers_killed: int = 0) -> list[str]:
    """run_amm's last act: cancel every market's orders (`market_shutdown`), then disarm the
    dead man's switch — only when every cancel succeeded and no worker was killed mid-job.
    Otherwise orders may be left (a failed cancel) or still land (a killed worker's call in
    flight), and the armed switch has the platform cancel them within its timeout.
    Returns the markets whose cancel failed."""
    failed = []
    for market_id in market_ids:
        try:
            released = market_shutdown(market_id, ctx=ctx)
            log.info("%s: orders cancelled (%d released)", market_id, released)
        except Exception as exc:  # noqa: BLE001 - keep going: the dead man's switch is the backstop
            failed.append(market_id)
            log.error("%s: cancelling at shutdown failed: %s", market_id, exc)
    if failed or workers_killed:
        log.warning("dead man's switch left armed: %s", f"cancel failed for {failed}" if failed
                    else f"{workers_killed} worker(s) killed mid-job")
        return failed
    try:
        deadman_arming.disarm(ctx)
    except Exception as exc:  # noqa: BLE001
        log.error("dead man's switch: disarm failed: %s", exc)
    return failed
