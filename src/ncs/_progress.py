"""A status line on a terminal for steps that take more than a few seconds.

Drawn on standard error only when it is a terminal, and only once a step has run for
:data:`DELAY_S` seconds: quick runs and redirected output see nothing.
"""

from __future__ import annotations

import sys
import threading
import time
from typing import IO

__all__ = ["DELAY_S", "Status"]

#: Seconds a step runs before its status line appears.
DELAY_S = 2.0
_REFRESH_S = 0.25


class Status:
    """``with Status("analysing") as status: ...; status.update(done, total)``.

    Parameters
    ----------
    label : str
        What is being done ("reading study.csv").
    enabled : bool, optional
        Force on or off; default: when ``stream`` is a terminal.
    stream : file, optional
        Default ``sys.stderr``.
    """

    def __init__(self, label: str, *, enabled: bool | None = None, stream: IO[str] | None = None):
        self.stream = stream or sys.stderr
        if enabled is None:
            isatty = getattr(self.stream, "isatty", None)
            enabled = bool(isatty and isatty())
        self.enabled = enabled
        self.label = label
        self.done: int | None = None
        self.total: int | None = None
        self.start = time.perf_counter()
        self._shown = False
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def __enter__(self) -> Status:
        self.start = time.perf_counter()
        if self.enabled:
            self._thread = threading.Thread(target=self._run, daemon=True)
            self._thread.start()
        return self

    def update(self, done: int, total: int | None = None, label: str | None = None) -> None:
        """Record progress (``done`` of ``total`` items); the line is redrawn by a timer."""
        with self._lock:
            self.done, self.total = done, total
            if label is not None:
                self.label = label

    def _line(self) -> str:
        elapsed = time.perf_counter() - self.start
        text = f"ncs: {self.label}"
        if self.done is not None and self.total:
            width = 24
            frac = min(self.done / self.total, 1.0)
            bar = "#" * int(frac * width)
            text += f" [{bar:<{width}}] {self.done:,}/{self.total:,}"
        return f"{text}  {elapsed:,.0f} s"

    def _run(self) -> None:
        if self._stop.wait(DELAY_S):
            return
        while True:
            with self._lock:
                line = self._line()
            self.stream.write("\r\x1b[2K" + line)
            self.stream.flush()
            self._shown = True
            if self._stop.wait(_REFRESH_S):
                return

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        if self._shown:
            self.stream.write("\r\x1b[2K")
            self.stream.flush()
