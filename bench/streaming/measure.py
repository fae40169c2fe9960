"""Run a command and measure it: wall time, and peak RSS of its whole process tree.

Peak RSS is the largest sum of the resident sets of the process and all its descendants (for
Spark: the Python driver and its JVM), polled every 50 ms with psutil, so a spike shorter than
that can be missed.
"""

from __future__ import annotations

import json
import signal
import subprocess
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

POLL_S = 0.05


@dataclass
class Measured:
    """One finished command."""

    wall_s: float
    peak_rss_mb: float
    returncode: int
    stdout: str
    stderr: str
    report: dict[str, Any] = field(default_factory=dict)
    """The command's own measurements: the last stdout line that parses as a JSON object."""

    def failure(self) -> str | None:
        """Why the run counts as failed (the end of its output), or None."""
        if self.returncode == 0:
            return None
        tail = (self.stderr.strip() or self.stdout.strip())[-1500:]
        return f"exit code {self.returncode}: {tail}"


def tree_rss(pid: int) -> int:
    """Bytes resident in process `pid` and all its descendants (0 once it is gone)."""
    import psutil

    try:
        root = psutil.Process(pid)
        procs = [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return 0
    total = 0
    for proc in procs:
        try:
            total += proc.memory_info().rss
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
    return total


def last_json(text: str) -> dict[str, Any]:
    """The last line of `text` that is a JSON object, or {}."""
    for raw in reversed(text.splitlines()):
        line = raw.strip()
        if line.startswith("{"):
            try:
                found = json.loads(line)
            except json.JSONDecodeError:
                continue
            if isinstance(found, dict):
                return found
    return {}


def run(
    cmd: list[str],
    cwd: Path | None = None,
    env: dict[str, str] | None = None,
    stop_after_s: float | None = None,
    on_start: Callable[[], None] | None = None,
) -> Measured:
    """Run `cmd` to its end and measure it.

    With `stop_after_s`, the command is sent SIGTERM that long after it started (and SIGKILL
    60 s later if still running): for long-running commands such as `headwater stream run`.
    `on_start` is called just after the process started (e.g. to start a reader).
    """
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        started = time.perf_counter()
        proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=out, stderr=err)
        if on_start is not None:
            on_start()
        peak, termed_at = 0, None
        while proc.poll() is None:
            peak = max(peak, tree_rss(proc.pid))
            elapsed = time.perf_counter() - started
            if stop_after_s is not None and termed_at is None and elapsed >= stop_after_s:
                proc.send_signal(signal.SIGTERM)
                termed_at = elapsed
            if termed_at is not None and elapsed - termed_at > 60:
                proc.kill()
            time.sleep(POLL_S)
        wall = time.perf_counter() - started
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read(), err.read()
    return Measured(wall, peak / 2**20, proc.returncode, stdout, stderr, last_json(stdout))
