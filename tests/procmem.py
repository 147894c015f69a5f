"""Resident memory of a process and all its descendants, read from ``/proc`` (Linux only).

The bot runs downloads in child processes, so "how much memory does delivering a file take" is
the sum over the process tree, not the bot's own figure. :class:`TreeMemory` samples that sum on a
thread and keeps the peak; because a short spike can fall between two samples, it also keeps each
process's own high-water mark (``VmHWM``, kept by the kernel), whose sum is an upper bound.
Used by the delivery end-to-end tests and by ``bench/delivery.py``.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass, field
from pathlib import Path

PROC = Path("/proc")
MiB = 1024 * 1024


def descendants(root: int) -> list[int]:
    """``root`` and every process below it, from the parent ids in ``/proc/*/stat``."""
    children: dict[int, list[int]] = {}
    for entry in os.scandir(PROC):
        if not entry.name.isdigit():
            continue
        try:
            stat = (PROC / entry.name / "stat").read_text()
        except OSError:  # exited meanwhile
            continue
        # "pid (comm) state ppid …": comm may hold spaces and parentheses; split after the last ")".
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(ppid, []).append(int(entry.name))
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo.extend(children.get(pid, ()))
    return found


def status_kib(pid: int, *keys: str) -> dict[str, int]:
    """Fields of ``/proc/PID/status`` in KiB (``VmRSS``, ``VmHWM``); empty once the process
    exited."""
    try:
        lines = (PROC / str(pid) / "status").read_text().splitlines()
    except OSError:
        return {}
    out = {}
    for line in lines:
        name, _, value = line.partition(":")
        if name in keys:
            out[name] = int(value.split()[0])
    return out


@dataclass
class TreeMemory:
    """Samples the resident memory of ``root``'s process tree every ``interval`` seconds."""

    root: int
    interval: float = 0.05
    peak: int = 0  # bytes: the largest sampled sum of VmRSS over the tree
    samples: int = 0
    hwm: dict[int, int] = field(default_factory=dict)  # pid -> its own peak (bytes), last seen
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def sample(self) -> int:
        total = 0
        for pid in descendants(self.root):
            fields = status_kib(pid, "VmRSS", "VmHWM")
            total += fields.get("VmRSS", 0) * 1024
            if "VmHWM" in fields:
                self.hwm[pid] = fields["VmHWM"] * 1024
        self.peak = max(self.peak, total)
        self.samples += 1
        return total

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.sample()

    def start(self) -> TreeMemory:
        self.sample()
        self._thread = threading.Thread(target=self._run, name="tree-memory", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> TreeMemory:
        """Stop sampling (call while the processes still run, to read their last high-water
        marks)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)
        self.sample()
        return self

    @property
    def hwm_sum(self) -> int:
        """Sum of every process's own peak: an upper bound of the tree's peak."""
        return sum(self.hwm.values())

    def __enter__(self) -> TreeMemory:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
