"""Daily reset of `daily_pnl_cents` and `total_fills_today` at local midnight (SPEC §6,
settings.TIME_ZONE); once per day whatever the number of schedulers or retries."""
from __future__ import annotations

import datetime as dt
import logging

from django.utils import timezone

from amm import state

log = logging.getLogger(__name__)


def local_day(now: dt.datetime | None = None) -> str:
    """Today in settings.TIME_ZONE as YYYY-MM-DD."""
    return timezone.localdate(now or timezone.now()).isoformat()


def daily_reset(day: str) -> bool:
    """Zero the daily counters of every kept market once for `day`; False when done already
    (or when `day` is the first day this Redis has seen: nothing to reset)."""
    markets = sorted(state.markets_kept())
    done = state.daily_reset_apply(day, markets)
    if done:
        log.info("daily reset for %s: daily_pnl_cents and total_fills_today zeroed in %d markets", day, len(markets))
    return done
