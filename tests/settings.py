"""The test run's settings: the project's, with a SECRET_KEY made for the run when none is set.

pytest-django imports settings before any conftest.py is read, so the key is made here (the
DJANGO_SETTINGS_MODULE of pytest.ini). It goes into the environment: xdist workers and
every process a test starts (gunicorn, run_amm) inherit it, and they must share it, since
sessions and signed cookies made by one process are read by another.
"""
import os
import secrets

os.environ.setdefault("SECRET_KEY", "test-" + secrets.token_urlsafe(50))

from ammproject.settings import *  # noqa: E402,F401,F403
