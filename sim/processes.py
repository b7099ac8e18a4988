"""The processes a demo starts, and the guarantee that none outlives it.

Each child runs in a session of its own (a Ctrl-C in the terminal reaches only the demo,
which stops the children in order: the AMM first, so that it cancels its orders while the
platform still answers) and gets SIGTERM from the kernel when the demo dies, however it
dies (`die_with_parent`, Linux PR_SET_PDEATHSIG; run_amm does the same for its workers,
gunicorn's workers leave when their master does). A watchdog (sim/watchdog.py) is told
every child's process group and the embedded servers the demo started, and cleans them up
once the demo is gone. SIGTERM and SIGHUP are turned into the same orderly stop as Ctrl-C
(`StopRequested`).
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from amm.runtime.worker import die_with_parent
from sim.watchdog import group_members


def database_url() -> str:
    """A URL of the database this process uses now, for the children (under pytest the test
    database, not DATABASE_URL's)."""
    from urllib.parse import quote

    from django.conf import settings

    cfg = settings.DATABASES["default"]
    user = quote(cfg.get("USER") or "postgres", safe="")
    password = cfg.get("PASSWORD") or ""
    auth = f"{user}:{quote(password, safe='')}" if password else user
    host, port, name = cfg.get("HOST") or "", cfg.get("PORT") or "", quote(cfg["NAME"], safe="")
    if host.startswith("/"):  # a socket directory (the embedded PostgreSQL)
        return f"postgresql://{auth}@/{name}?host={quote(host, safe='')}" + (f"&port={port}" if port else "")
    return f"postgresql://{auth}@{host or '127.0.0.1'}{':' + str(port) if port else ''}/{name}"


class StopRequested(KeyboardInterrupt):
    """SIGTERM or SIGHUP: stop as Ctrl-C does."""


HANDLED = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


def stop_on_signals() -> dict:
    """SIGTERM and SIGHUP raise StopRequested in the main thread (Ctrl-C raises
    KeyboardInterrupt); returns the handlers before, for `restore_signals`."""

    def handler(signum, frame):
        raise StopRequested(signal.Signals(signum).name)

    before = {sig: signal.getsignal(sig) for sig in HANDLED}
    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGHUP, handler)
    return before


def ignore_signals() -> None:
    """While stopping in order: a second Ctrl-C or SIGTERM does not cut the stop short (the
    watchdog still cleans up if the demo is killed outright)."""
    for sig in HANDLED:
        signal.signal(sig, signal.SIG_IGN)


def restore_signals(before: dict) -> None:
    for sig, handler in before.items():
        signal.signal(sig, handler if handler is not None else signal.SIG_DFL)


class Watchdog:
    """The `python -m sim.watchdog` child: told each group and server, acts when we are gone."""

    def __init__(self) -> None:
        self.proc = subprocess.Popen([sys.executable, "-m", "sim.watchdog"], stdin=subprocess.PIPE,
                                     cwd=Path(__file__).resolve().parent.parent, start_new_session=True,
                                     text=True, stdout=subprocess.DEVNULL)

    def tell(self, line: str) -> None:
        try:
            self.proc.stdin.write(line + "\n")
            self.proc.stdin.flush()
        except (BrokenPipeError, ValueError):
            pass

    def close(self, timeout_s: float = 30.0) -> None:
        """End of our life: the watchdog cleans up what is left and exits; wait for it."""
        try:
            self.proc.stdin.close()
        except (BrokenPipeError, ValueError):
            pass
        try:
            self.proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            pass


def embedded_servers_owned() -> list[tuple[str, int, int]]:
    """(name, pid, stop signal) of the embedded servers this process started (none when
    DATABASE_URL / REDIS_URL name real servers, or when they were running already)."""
    from ammproject import embedded

    stop = {"postgres": signal.SIGINT, "redis": signal.SIGTERM}  # PostgreSQL's fast shutdown; Redis saves
    return [(name, pid, int(stop[name])) for name, pid in sorted(embedded.started_servers().items())]


class Children:
    """Named child processes, each in its own session, stopped group by group."""

    def __init__(self, watchdog: Watchdog | None = None) -> None:
        self.watchdog = watchdog
        self.procs: dict[str, subprocess.Popen] = {}

    def spawn(self, name: str, argv: list[str], *, env: dict[str, str], cwd: str | Path,
              log_path: Path | None = None) -> subprocess.Popen:
        """Start from the main thread: PR_SET_PDEATHSIG fires when the *thread* that forked exits."""
        out = open(log_path, "w") if log_path is not None else None
        proc = subprocess.Popen(argv, env=env, cwd=cwd, stdin=subprocess.DEVNULL, stdout=out,
                                stderr=subprocess.STDOUT if out else None, start_new_session=True,
                                preexec_fn=die_with_parent(signal.SIGTERM))
        if out is not None:
            out.close()
        self.procs[name] = proc
        if self.watchdog is not None:
            self.watchdog.tell(f"group {proc.pid}")
        return proc

    def pids(self) -> dict[str, int]:
        return {name: proc.pid for name, proc in self.procs.items()}

    def exited(self) -> list[tuple[str, int]]:
        return [(name, proc.returncode) for name, proc in self.procs.items() if proc.poll() is not None]

    def stop(self, name: str, *, timeout_s: float, say=None) -> int | None:
        """SIGTERM to the child's whole group, SIGKILL after `timeout_s`; its exit code."""
        proc = self.procs.get(name)
        if proc is None:
            return None
        if proc.poll() is None:
            if say:
                say(f"== stopping {name}")
            _killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                if say:
                    say(f"== {name} did not stop within {timeout_s:.0f}s: killed")
                _killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=5)
        _wait_group_gone(proc.pid, timeout_s=5.0)  # its workers leave after it
        if self.watchdog is not None:
            self.watchdog.tell(f"forget {proc.pid}")
        return proc.returncode

    def kill_all(self) -> None:
        for proc in self.procs.values():
            _killpg(proc.pid, signal.SIGKILL)


def _killpg(pgid: int, sig: int) -> None:
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def _wait_group_gone(pgid: int, *, timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if not group_members(pgid):
            return True
        time.sleep(0.05)
    _killpg(pgid, signal.SIGKILL)
    return False
