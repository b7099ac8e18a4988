"""Nothing a demo starts outlives it: its children (and theirs) and the servers it owns are
gone within seconds of the demo's SIGKILL; a SIGTERM is an orderly stop."""
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parents[2]

# A stand-in demo: two children in sessions of their own (one with a grandchild in its
# group), and a daemonized "server" (a child of init, like pgserver's postgres) that the
# watchdog is told to stop. It prints every pid, then waits to be killed.
PARENT = textwrap.dedent("""
    import json, os, subprocess, sys, time
    from sim.processes import Children, Watchdog
    sleeper = [sys.executable, "-c", "import time; time.sleep(600)"]
    with_grandchild = [sys.executable, "-c",
        "import subprocess, sys, time; p = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(600)']);"
        " print(p.pid, flush=True); time.sleep(600)"]
    watchdog = Watchdog()
    children = Children(watchdog)
    a = children.spawn("a", sleeper, env=dict(os.environ), cwd=".")
    b = subprocess.Popen(with_grandchild, stdout=subprocess.PIPE, start_new_session=True, text=True,
                         preexec_fn=__import__("sim.processes", fromlist=["die_with_parent"]).die_with_parent())
    watchdog.tell(f"group {b.pid}")
    grandchild = int(b.stdout.readline())
    daemon = subprocess.run([sys.executable, "-c",
        "import os, subprocess, sys\\n"
        "p = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(600)'], start_new_session=True,"
        " stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)\\n"
        "print(p.pid)"], capture_output=True, text=True).stdout.strip()
    watchdog.tell(f"server {daemon} 15")
    print(json.dumps({"pids": [a.pid, b.pid, grandchild, int(daemon), watchdog.proc.pid]}), flush=True)
    time.sleep(600)
""")


def _alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def _wait_gone(pids: list[int], timeout: float) -> list[int]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        left = [p for p in pids if _alive(p)]
        if not left:
            return []
        time.sleep(0.1)
    return [p for p in pids if _alive(p)]


def test_a_sigkilled_parent_leaves_no_child_grandchild_or_owned_server():
    parent = subprocess.Popen([sys.executable, "-c", PARENT], cwd=ROOT, stdout=subprocess.PIPE, text=True,
                              env={**os.environ, "PYTHONPATH": str(ROOT)})
    try:
        pids = json.loads(parent.stdout.readline())["pids"]
        assert all(_alive(p) for p in pids)
        parent.send_signal(signal.SIGKILL)
        parent.wait(timeout=5)
        assert _wait_gone(pids, timeout=15) == []
    finally:
        for pid in [parent.pid]:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
