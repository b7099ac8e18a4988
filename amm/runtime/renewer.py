"""The renewer: one daemon thread per process that keeps this process's leases and job
markers alive.

A cycle registers its market lease (and its job marker) while it runs; the renewer renews
them every third of their TTL, so a cycle stuck in a slow platform call keeps its market,
while a process that dies or is frozen stops renewing and loses it within one TTL
(SPEC §7: a market whose worker died is picked up by another worker).
"""
from __future__ import annotations

import logging
import threading
from typing import Callable

log = logging.getLogger(__name__)


class Renewer:
    def __init__(self, interval_s: float = 1.0) -> None:
        self.interval_s = interval_s
        self._items: dict[int, Callable[[], object]] = {}
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._seq = 0

    def add(self, renew: Callable[[], object]) -> int:
        with self._lock:
            self._seq += 1
            self._items[self._seq] = renew
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="amm-lease-renewer", daemon=True)
                self._thread.start()
            return self._seq

    def remove(self, handle: int) -> None:
        with self._lock:
            self._items.pop(handle, None)

    def _run(self) -> None:
        event = threading.Event()
        while True:
            event.wait(self.interval_s)
            with self._lock:
                items = list(self._items.values())
            for renew in items:
                try:
                    renew()
                except Exception:  # noqa: BLE001 - Redis down: the lease lapses, which is the safe side
                    log.warning("lease renewal failed", exc_info=True)


renewer = Renewer()
