"""The operator console in the Django admin (SPEC §9): AMM instances with their live figures
and operator actions, config, alerts, reconciliation runs and the transition records.

- instances.py: the instances' changelist (live figures from Redis, one round trip a page),
  the operator actions (changelist and the instance page) and the instance page.
- operations.py: what each operator action is (permission, confirmation, the call into
  amm.runtime.operator) — shared by the changelist and the instance page.
- config.py: per-market config, validated, saved through amm.services.market_config.config_save.
- records.py: alerts (acknowledge), reconciliation runs, order history, transition records.
"""
from amm.admin import instances, market_config, records  # noqa: F401 - registers the ModelAdmins
from amm.admin.base import ReadOnlyAdmin  # noqa: F401
