"""The AMM monitoring API under /api/amm/v1/ (SPEC §9): instances with their live Redis state,
state-machine histories, alerts, reconciliation runs, audit reports, health, and the
operator's kill switch / reset / resume. One API class per operation (thin: validate, call
one selector or service, serialize); `errors` turns the AMM's one error type into the
project's one error body; `base` holds authentication, permissions and pagination.

Users are Django auth users (operators, staff), authenticated by a DRF token
(`Authorization: Token <key>`, `manage.py amm_api_token USERNAME`) or the admin's session;
not the platform's users, whose keys only open /api/v1/.
"""
