"""One progress display for a copy of many accounts at once (stderr): messages and bytes copied,
rate, ETA and failures so far. Redrawn in place on a terminal; otherwise a line every
``interval`` seconds and one per finished account, so a log shows the run without flooding it.

An account's totals are known only once it has been scanned; until every account has been, the
ETA extrapolates the unscanned ones from the average of the scanned ones (marked "~").
"""

from __future__ import annotations

import threading
import time
from typing import TextIO


def _clock(seconds: float) -> str:
    s = int(seconds)
    return f"{s // 3600}:{s % 3600 // 60:02d}:{s % 60:02d}"


class Overall:
    def __init__(self, accounts: int, out: TextIO, enabled: bool, interval: float = 5.0) -> None:
        self.accounts = accounts
        self.out, self.enabled = out, enabled
        self.tty = enabled and out.isatty()
        self.interval = interval
        self.started = time.monotonic()
        self.last_line = 0.0
        self.scanned = self.finished = self.failures = 0
        self.total = self.total_bytes = self.done = self.done_bytes = 0
        self._lock = threading.Lock()

    def planned(self, messages: int, size: int) -> None:
        with self._lock:
            self.scanned += 1
            self.total += messages
            self.total_bytes += size
            self._draw()

    def step(self, messages: int, size: int) -> None:
        with self._lock:
            self.done += messages
            self.done_bytes += size
            self._draw()

    def account_done(self, line: str, failed: bool) -> None:
        with self._lock:
            self.finished += 1
            self.failures += int(failed)
            self._emit(line)
            self._draw(force=True)

    def note(self, line: str) -> None:
        with self._lock:
            self._emit(line)

    def close(self) -> None:
        with self._lock:
            self._draw(force=True)
            if self.tty:
                self.out.write("\n")
                self.out.flush()

    def line(self) -> str:
        elapsed = max(time.monotonic() - self.started, 1e-6)
        rate, byte_rate = self.done / elapsed, self.done_bytes / elapsed
        total, total_bytes, approx = self.total, self.total_bytes, ""
        if 0 < self.scanned < self.accounts:
            scale = self.accounts / self.scanned
            total, total_bytes, approx = int(total * scale), int(total_bytes * scale), "~"
        if self.done and (self.scanned or total):
            # the slower of the two estimates: many small messages cost round trips, big ones bytes
            left = max(
                (total - self.done) / max(rate, 1e-6),
                (total_bytes - self.done_bytes) / max(byte_rate, 1e-6),
            )
            eta = approx + _clock(max(left, 0.0))
        else:
            eta = "?"
        return (
            f"copy: {self.finished}/{self.accounts} accounts, "
            f"{self.done:,}/{approx}{total:,} msgs, "
            f"{self.done_bytes / 1e6:.1f}/{approx}{total_bytes / 1e6:.1f} MB, {rate:.0f} msg/s "
            f"{byte_rate / 1e6:.2f} MB/s, ETA {eta}, failures {self.failures}"
        )

    def _emit(self, text: str) -> None:
        if not self.enabled:
            return
        self.out.write(("\r\033[K" if self.tty else "") + text + "\n")
        self.out.flush()

    def _draw(self, force: bool = False) -> None:
        if not self.enabled:
            return
        now = time.monotonic()
        if self.tty:
            if force or now - self.last_line >= 0.2:
                self.last_line = now
                self.out.write("\r\033[K" + self.line()[:200])
                self.out.flush()
        elif force or now - self.last_line >= self.interval:
            self.last_line = now
            self.out.write(self.line() + "\n")
            self.out.flush()
