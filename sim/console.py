"""The operator console's login for a demo run (issue 11): the console can be opened while
the demo or the simulator runs."""
from __future__ import annotations

from amm.conf import amm_settings
from ammproject.security.operators import operator_ensure


def operator_login_lines(base: str) -> str:
    """Make the console's login for this run: the password from the environment
    (AMM_DEMO_OPERATOR_PASSWORD), else a new one, shown only in the lines returned (stored
    hashed)."""
    login = operator_ensure(username=amm_settings.AMM_DEMO_OPERATOR_USERNAME,
                            password=amm_settings.AMM_DEMO_OPERATOR_PASSWORD or None, new_password=True)
    password = login.password or "(AMM_DEMO_OPERATOR_PASSWORD)"
    return (f"== operator console: user {login.username}  password {password}\n"
            f"   {base}/admin/   {base}/amm/dashboard/")
