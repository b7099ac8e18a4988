"""Gunicorn reads ./gunicorn.conf.py by itself, so the plain production command of SPEC §3.7,
`gunicorn ammproject.wsgi` run from the project root, gets the project's serving config."""
import runpy
from pathlib import Path

globals().update(
    {k: v for k, v in runpy.run_path(str(Path(__file__).with_name("ammproject") / "gunicorn.conf.py")).items()
     if not k.startswith("__")}
)
