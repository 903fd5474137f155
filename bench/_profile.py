"""Where a benchmarked process spends its CPU: its CPU time from /proc, and a
py-spy sampling profile (a dev dependency; it reads the process from outside,
so the process runs unchanged) summarised as the functions with the most
samples of their own."""

from __future__ import annotations

import collections
import os
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

TICKS_PER_SECOND = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """User + system CPU the process has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS_PER_SECOND


class Profile:
    """py-spy recording `pid` from start() until stop(); stop() returns the
    top functions by own samples as {"function (file:line)": percent}."""

    def __init__(self, pid: int, *, rate: int = 200, top: int = 12) -> None:
        self._pid = pid
        self._rate = rate
        self._top = top
        self._output = Path(tempfile.mkdtemp(prefix="chorus-profile-")) / "stacks.txt"
        self._process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        spy = Path(sys.executable).with_name("py-spy")
        self._process = subprocess.Popen(
            [
                str(spy),
                "record",
                "--pid",
                str(self._pid),
                "--rate",
                str(self._rate),
                "--format",
                "raw",
                "--function",
                "--nonblocking",
                "--output",
                str(self._output),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    def stop(self) -> dict[str, float]:
        assert self._process is not None, "start() first"
        self._process.send_signal(signal.SIGINT)  # py-spy writes its output on SIGINT
        self._process.wait(timeout=60)
        return self.summary()

    def summary(self) -> dict[str, float]:
        own: collections.Counter[str] = collections.Counter()
        for line in self._output.read_text().splitlines():
            stack, _, count = line.rpartition(" ")
            if stack:
                own[_short(stack.split(";")[-1])] += int(count)
        total = sum(own.values()) or 1
        return {name: round(100 * n / total, 1) for name, n in own.most_common(self._top)}


def _short(frame: str) -> str:
    """ "send (aiokafka/producer/producer.py:310)" from a frame with a full path."""
    name, _, where = frame.partition(" (")
    path, _, line = where.rstrip(")").rpartition(":")
    parts = Path(path).parts
    for anchor in ("site-packages", "src", "lib"):
        if anchor in parts:
            parts = parts[len(parts) - parts[::-1].index(anchor) :]
            break
    return f"{name} ({'/'.join(parts[-3:])}:{line})"
