"""`python -m sim.watchdog`: what stops a demo's processes when the demo itself cannot.

The demo (or the simulator) starts this first, in a session of its own, and writes to its
stdin what to clean up: `group PGID` for each child's process group (gunicorn and its
workers, run_amm and its workers) and `server PID SIGNAL` for an embedded PostgreSQL or
Redis that the demo started. When stdin reaches end of file (the demo exited, normally or
killed by any signal, SIGKILL included: the kernel closes its end of the pipe), the
watchdog terminates the groups (SIGTERM, then SIGKILL after a grace period), then the
servers, and exits. Pure standard library: it starts in milliseconds.
"""
from __future__ import annotations

import os
import signal
import sys
import time

GROUP_GRACE_S = 8.0
SERVER_GRACE_S = 15.0


def _stat(pid: str) -> tuple[str, int] | None:
    """(state, process group) of a live process from /proc, None when it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as handle:
            fields = handle.read().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return fields[0], int(fields[2])


def group_members(pgid: int) -> list[int]:
    """Processes of group `pgid` that still run (zombies, waiting to be reaped, do not count)."""
    members = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            stat = _stat(entry)
            if stat is not None and stat[1] == pgid and stat[0] not in ("Z", "X"):
                members.append(int(entry))
    return members


def _alive_group(pgid: int) -> bool:
    return bool(group_members(pgid))


def _alive(pid: int) -> bool:
    stat = _stat(str(pid))
    return stat is not None and stat[0] not in ("Z", "X")


def _signal_group(pgid: int, sig: int) -> None:
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def _wait(predicate, timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return predicate()


def cleanup(groups: list[int], servers: list[tuple[int, int]]) -> None:
    for pgid in groups:
        _signal_group(pgid, signal.SIGTERM)
    if not _wait(lambda: not any(_alive_group(g) for g in groups), GROUP_GRACE_S):
        for pgid in groups:
            _signal_group(pgid, signal.SIGKILL)
        _wait(lambda: not any(_alive_group(g) for g in groups), 3.0)
    for pid, sig in servers:
        try:
            os.kill(pid, sig)
        except (ProcessLookupError, PermissionError):
            continue
    for pid, _ in servers:
        if not _wait(lambda: not _alive(pid), SERVER_GRACE_S):
            try:
                os.kill(pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass


def main() -> int:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # a Ctrl-C is the demo's to handle, not ours
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    groups: list[int] = []
    servers: list[tuple[int, int]] = []
    for line in sys.stdin:
        words = line.split()
        if len(words) == 2 and words[0] == "group":
            groups.append(int(words[1]))
        elif len(words) == 2 and words[0] == "forget":
            groups = [g for g in groups if g != int(words[1])]
        elif len(words) == 3 and words[0] == "server":
            servers.append((int(words[1]), int(words[2])))
    cleanup(groups, servers)
    return 0


if __name__ == "__main__":
    sys.exit(main())
