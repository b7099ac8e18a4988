"""The AMM runtime (SPEC §5, §7): RQ quoting loops driven by `manage.py run_amm`.

One line per module, listed top to bottom: each imports only modules listed below it.

- run_loop.py: the scheduler loop run_amm runs: it only requests jobs, and re-arms the dead man's switch.
- operator.py: the operator actions every surface calls (kill, reset_kill_switch, resume, start, stop).
- startup.py: starting, adopting and shutting down markets (the startup sync, cancel at shutdown).
- cycle_runs.py: the quote jobs' bodies: one market's cycle; a batch of periodic ones that gives way.
- fast_lane.py: requotes that skip the queue: a fill's or a book move's cycle at once on a thread of this process.
- cycle.py: `quote_cycle`: one cycle under the market's lease, read → decide → act → record.
- instance_cache.py: the instance row a cycle acts on, read by SQL only when Redis reports it changed (or it is older than AMM_INSTANCE_MAX_AGE_MS).
- lifecycle.py: `step(LifecycleInput) -> LifecycleOutcome`: reactions to the market's status and the kill switch.
- killswitch.py: the kill switch: an operator's kill and resume, the defense stack's engage.
- executor.py: the platform calls a cycle makes, each with its bookkeeping; strategy → wire types.
- feed.py: the feed job: fills -> requotes at the front of the queue, the markets' statuses.
- reconcile_lane.py: reconciliation (§8) of one market under its lease.
- config_refresh.py: the periodic config reload into this worker's parsed configs (§4).
- deadman_arming.py: arming and disarming the platform's dead man's switch (cancel-all-after).
- daily.py: the daily reset of the PnL and fill counters at local midnight.
- history_sampler.py: the dashboard's history samples of every driven market, off the cycle.
- status_lines.py: one status line per market (run_amm, amm_status).
- context.py: what a worker thread keeps between jobs: connector, fill feed, order ids, configs.
- worker.py: the RQ worker class (SimpleWorker, no fork: chosen for latency) and worker helpers.
- job_requests.py: requests for jobs, named by their dotted path in amm/jobs.py.
- unique_jobs.py: unique jobs on the "amm" RQ queue (one queued-or-running per key).
- lease.py: leases in Redis (SET NX PX + token): a market's lanes never overlap.
- renewer.py: the thread that keeps this process's leases and job markers alive.

The jobs themselves are thin functions in amm/jobs.py, the layer above: RQ imports them by
name, nothing here imports that module.
"""
