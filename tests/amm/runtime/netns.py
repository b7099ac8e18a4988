"""Separate hosts on this machine for the multi-host tests (issue 15): Linux network namespaces,
each joined to the root namespace by a veth pair, and the plumbing that lets them reach the
services that listen on the root namespace's loopback.

- `Host`: a namespace `name` with a veth pair on 10.77.{subnet}.0/24: the root side is
  `gateway` (.1, where the platform's proxy and the database forwarder listen for this host)
  and `redis_address` (.3, where Redis listens for it); the host itself is .2.
  `cut_from_redis()` drops every packet it sends to its Redis address (a blackhole route:
  established connections hang, as in a real partition), the platform stays reachable.
- `TcpForwarder`: a threaded TCP relay (PostgreSQL listens on 127.0.0.1 only; the machine's
  configuration is left alone).
- `netns_unavailable()`: why namespaces cannot be made here (not root, no `ip`), or None.

Needs root and iproute2 (`.ci/run` installs it when missing).
"""
from __future__ import annotations

import os
import shutil
import socket
import subprocess
import threading
from dataclasses import dataclass


def _ip(*args: str, netns: str | None = None, check: bool = True) -> subprocess.CompletedProcess:
    cmd = ["ip", *(["netns", "exec", netns, "ip"] if netns else []), *args]
    return subprocess.run(cmd, check=check, capture_output=True, text=True, timeout=10)


def netns_unavailable() -> str | None:
    """None when this process can make network namespaces, else the reason it cannot."""
    if shutil.which("ip") is None:
        return "iproute2's `ip` is not installed (apt-get install iproute2)"
    if os.geteuid() != 0:
        return "network namespaces need root"
    probe = f"amm-probe-{os.getpid()}"
    made = subprocess.run(["ip", "netns", "add", probe], capture_output=True, text=True)
    if made.returncode != 0:
        return f"cannot create a network namespace: {made.stderr.strip()}"
    subprocess.run(["ip", "netns", "del", probe], capture_output=True)
    return None


@dataclass
class Host:
    """One simulated host (see the module docstring); `create()`, then `destroy()` in a finally."""

    label: str
    subnet: int  # 10.77.{subnet}.0/24

    def __post_init__(self) -> None:
        tag = f"{os.getpid() % 100000}{self.label}"
        self.name = f"amm-{tag}"
        self.veth = f"v{tag}"  # the root side; interface names are at most 15 characters
        self.peer = f"v{tag}p"
        self.gateway = f"10.77.{self.subnet}.1"
        self.address = f"10.77.{self.subnet}.2"
        self.redis_address = f"10.77.{self.subnet}.3"

    def create(self) -> "Host":
        self.destroy()  # what a killed earlier run of this pid may have left
        _ip("netns", "add", self.name)
        _ip("link", "add", self.veth, "type", "veth", "peer", "name", self.peer)
        _ip("link", "set", self.peer, "netns", self.name)
        _ip("addr", "add", f"{self.gateway}/24", "dev", self.veth)
        _ip("addr", "add", f"{self.redis_address}/24", "dev", self.veth)
        _ip("link", "set", self.veth, "up")
        _ip("addr", "add", f"{self.address}/24", "dev", self.peer, netns=self.name)
        _ip("link", "set", self.peer, "up", netns=self.name)
        _ip("link", "set", "lo", "up", netns=self.name)
        return self

    def command(self, *args: str) -> list[str]:
        """`args` run inside this host's namespace."""
        return ["ip", "netns", "exec", self.name, *args]

    def cut_from_redis(self) -> None:
        _ip("route", "add", "blackhole", f"{self.redis_address}/32", netns=self.name)

    def destroy(self) -> None:
        _ip("netns", "del", self.name, check=False)
        _ip("link", "del", self.veth, check=False)  # gone with the namespace, unless a process kept it


class TcpForwarder:
    """Accepts on (host, port 0) and relays each connection to `target`, a thread per direction.
    A target host that is a directory is PostgreSQL's unix-socket one (the embedded default's):
    the forwarder then connects to its `.s.PGSQL.<port>` socket, which a namespace cannot use
    over TCP."""

    def __init__(self, host: str, target: tuple[str, int]) -> None:
        self.target = target
        self._server = socket.create_server((host, 0))
        self._server.settimeout(0.2)  # so that stop() is seen
        self.address = self._server.getsockname()[:2]
        self._stopping = threading.Event()
        self._sockets: list[socket.socket] = []
        threading.Thread(target=self._accept, name="tcp-forwarder", daemon=True).start()

    def _accept(self) -> None:
        while not self._stopping.is_set():
            try:
                client, _ = self._server.accept()
                upstream = self._connect_upstream()
            except OSError:
                if self._stopping.is_set():
                    return
                continue
            client.settimeout(None)
            upstream.settimeout(None)
            self._sockets += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    def _connect_upstream(self) -> socket.socket:
        host, port = self.target
        if not host.startswith("/"):
            return socket.create_connection(self.target, timeout=5)
        upstream = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        upstream.settimeout(5)
        upstream.connect(f"{host}/.s.PGSQL.{port}")
        return upstream

    @staticmethod
    def _pump(src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (src, dst):
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def stop(self) -> None:
        self._stopping.set()
        self._server.close()
        for sock in self._sockets:
            try:
                sock.close()
            except OSError:
                pass
