"""The operator dashboard (SPEC §9): one page at /amm/dashboard/ that shows every market's
fair price, quotes, inventory, PnL and state at a glance, sorted by what needs attention,
with charts of the last hour (amm:history, written by run_amm's sampler). The page fetches
/amm/dashboard/data every AMM_DASHBOARD_REFRESH_MS; that read costs two SQL queries and one
Redis round trip whatever the number of markets.
"""
