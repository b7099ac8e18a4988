"""The instance row a quote cycle acts on, read from the database only when it may have
changed (issue 15: the row's SQL read was a quarter of a quiet cycle).

The row in PostgreSQL stays the truth for the lifecycle (an operator's stop, EMERGENCY), the
kill switch, the phase and the defense level. Every change of it goes through
amm/services/instances.py, which keeps `instance_version` in `amm:runtime:{m}` (read by the
cycle's first round trip, state.cycle_begin, at no cost more):

1. before its transaction: "pending:{ms}" (the change is on its way);
2. after the commit: the row's new version (its updated_at in µs), with the kill switch,
   phase and defense level mirrored into `amm:state:{m}` in the same MULTI/EXEC;
3. refused or rolled back: the field removed.

A worker thread holds the row it last read (RuntimeContext.instances) and acts on it only
while `instance_version` equals that row's version and the read is younger than
AMM_INSTANCE_MAX_AGE_MS; otherwise it reads the row (one SQL statement) — and, finding no
`instance_version` at all, writes back the version it read (HSETNX: never over a writer's).
So a committed change is acted on by the next cycle that begins after the commit's Redis
write, and while a change is pending (written or not) every cycle reads the database:

- a writer that dies between its commit and step 2 leaves "pending": the cycles read the
  row, and act on the change at their next cycle, as before this cache;
- only when the writer could not write Redis at all (step 1 failed, or Redis lost the field
  and the version a cycle wrote back predates a commit whose step 2 was lost too) may a
  cycle act on an older row, for at most AMM_INSTANCE_MAX_AGE_MS (5 s) plus one cycle.
  The kill switch has its own Redis path as well: `kill_switch=ON` in `amm:state:{m}`
  (written with step 2, read by every cycle: lifecycle.is_kill_on), and the operator's
  kill (killswitch.kill) cancels the market's orders itself under its lease.

A batch of periodic cycles (cycle_runs.cycles_run_batch) first reads, in one statement, the
rows of its markets that this thread does not hold or holds for more than half the max age
(`instances_prefetch`): its cycles then find them held, each still checked against its own
`instance_version` as above, so a change committed after that read is acted on all the same.

The database read also carries the market's config version: a config whose Redis write was
lost (`amm:config:{m}` older than the database's) is republished, within the same bound.
"""
from __future__ import annotations

import logging

from amm import state
from amm.conf import amm_settings
from amm.runtime.context import RuntimeContext
from amm.selectors import InstanceView, instance_view, instance_views

log = logging.getLogger(__name__)


def instance_for_cycle(ctx: RuntimeContext, market_id: str, mirrored: str | None, *,
                       now: int) -> tuple[InstanceView | None, bool]:
    """The instance row of `market_id` as the cycle must act on it, given `instance_version`
    as the cycle's read found it (`mirrored`; None: absent); and whether it was read from the
    database now."""
    held = ctx.instances.get(market_id)
    if (held is not None and mirrored is not None and held[1].version == mirrored
            and 0 <= now - held[0] < amm_settings.AMM_INSTANCE_MAX_AGE_MS):
        return held[1], False
    view = instance_view(market_id=market_id)
    if view is None:
        ctx.instances.pop(market_id, None)
        return None, True
    ctx.instances[market_id] = (now, view)
    if mirrored is None:
        state.instance_version_seed(market_id, view.version)
    return view, True


def instances_prefetch(ctx: RuntimeContext, market_ids: list[str], *, now: int) -> int:
    """Read in one statement the rows of `market_ids` this thread does not hold, or holds for
    AMM_INSTANCE_MAX_AGE_MS / 2 or longer; returns how many were read."""
    half = amm_settings.AMM_INSTANCE_MAX_AGE_MS // 2
    held = ctx.instances
    stale = [m for m in market_ids if (h := held.get(m)) is None or not 0 <= now - h[0] < half]
    if not stale:
        return 0
    views = instance_views(market_ids=stale)
    for market_id in stale:
        view = views.get(market_id)
        if view is None:
            held.pop(market_id, None)
        else:
            held[market_id] = (now, view)
    return len(views)
