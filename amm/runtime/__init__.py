"""The AMM runtime (SPEC §5, §7): RQ quoting loops driven by `manage.py run_amm`.

- cycle.py: `quote_cycle(market_id, reason=, now_ms=)` — one cycle under the market's lease
  (read Redis once, refresh status and book, lifecycle, decide, replace, publish).
- lifecycle.py: reactions to market status and the kill switch (EMERGENCY, resume, wind down).
- executor.py: the platform calls a cycle makes and their bookkeeping (cancel-all, re-sync, replace, mint, burn).
- killswitch.py: `kill(market_ids | None, reason, actor)`, `resume(...)`.
- operator.py: the operator actions every surface calls (kill, reset_kill_switch, resume,
  start, stop), refusals as amm.exceptions.ActionRefused (docs/state-machines.md).
- lease.py / keeper.py: per-market leases (SET NX PX + token) kept alive while their holder lives.
- queue.py / scheduling.py: unique jobs on the "amm" queue (one queued-or-running per key).
- feed.py: the feed job — fill poller (fills -> requotes at the front) and market-status watch.
- scheduler.py: the loop run_amm runs (intervals, feed, reconcile, config, journal, daily reset,
  dead man's switch); deadman.py, daily.py, startup.py, recon.py its pieces.
- worker.py: the worker class (SimpleWorker, no fork: chosen for latency) and worker helpers.
- status.py: one status line per market (run_amm, amm_status).
Jobs themselves are thin functions in amm/jobs.py.
"""
