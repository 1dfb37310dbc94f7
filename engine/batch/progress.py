"""A dependency-free progress line for batch evaluation, on stderr, only on a terminal.

``Progress.update`` is cheap enough to call once per written chunk: it redraws at most every
``interval`` seconds. The line shows cases done, errors, the rate and, when the size of the input is
known (regular files, not stdin or gzip), the share read so far.
"""
from __future__ import annotations

import sys
import time
from typing import TextIO


def wanted(stream: TextIO, disabled: bool) -> bool:
    """Show a progress line: only to a terminal, and never when ``--no-progress`` was given."""
    if disabled:
        return False
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


class Progress:
    """A ``\\r``-redrawn status line: ``1,234,567 cases  12 errors  23,456 cases/s  41%  0:52``."""

    def __init__(self, stream: TextIO | None = None, *, total_bytes: int | None = None, interval: float = 0.2):
        self.stream = stream or sys.stderr
        self.total_bytes = total_bytes or None
        self.interval = interval
        self.start = time.monotonic()
        self._last = 0.0
        self._width = 0
        self.done = 0
        self.errors = 0
        self.pos = 0

    def update(self, done: int, errors: int, pos: int = 0, *, force: bool = False) -> None:
        self.done, self.errors, self.pos = done, errors, pos
        now = time.monotonic()
        if not force and now - self._last < self.interval:
            return
        self._last = now
        self._draw(now)

    def _draw(self, now: float, final: bool = False) -> None:
        elapsed = max(now - self.start, 1e-9)
        rate = self.done / elapsed
        parts = [f"{self.done:,} cases", f"{self.errors:,} errors", f"{rate:,.0f} cases/s"]
        if self.total_bytes:
            pct = 100 if final else min(99, int(100 * self.pos / self.total_bytes))
            parts.append(f"{pct}%")
        m, s = divmod(int(elapsed), 60)
        h, m = divmod(m, 60)
        parts.append(f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}")
        text = "  ".join(parts)
        pad = " " * max(0, self._width - len(text))
        self._width = len(text)
        self.stream.write("\r" + text + pad)
        self.stream.flush()

    def close(self) -> None:
        """Draw the final state and end the line."""
        self._draw(time.monotonic(), final=True)
        self.stream.write("\n")
        self.stream.flush()
