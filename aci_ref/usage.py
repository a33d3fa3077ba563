"""What every `aci-ref` command shares: the one-line usage error and progress lines for logs.

Kept apart from `aci_ref.cli` so that sub-command modules (experiments, the AIVM) can refuse and
report progress without importing the command line that imports them.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TextIO

PROGRESS_EVERY_S = 5.0
"""Seconds between progress lines when stderr is not a terminal."""


class UsageError(Exception):
    """A bad input; `main` prints it as one line on stderr and exits with USAGE_EXIT."""


class PlainProgress:
    """Progress for logs and pipes: one line at most every `every` seconds, and one at the end."""

    def __init__(
        self,
        stream: TextIO,
        every: float = PROGRESS_EVERY_S,
        clock: Callable[[], float] = time.monotonic,
        label: str = "simulate",
        unit: str = "jobs",
    ) -> None:
        self.stream = stream
        self.label = label
        self.unit = unit
        self.every = every
        self.clock = clock
        self.started = self.last = clock()

    def __call__(self, done: int, total: int) -> None:
        now = self.clock()
        if done < total and now - self.last < self.every:
            return
        self.last = now
        print(
            f"{self.label}: {done}/{total} {self.unit}, {now - self.started:.1f} s",
            file=self.stream,
        )
        self.stream.flush()
