"""Time as a dependency.

Owns the `Clock` protocol every waiting loop receives. Nothing in the package calls `time.sleep` or
`time.time` directly: the handler passes `SystemClock()` in production, tests and the simulator pass a
clock they control, so a 20-minute deployment runs in milliseconds and deterministically.
"""

from __future__ import annotations

import time
from typing import Protocol


class Clock(Protocol):
    """Wall-clock time in epoch seconds and a way to wait."""

    def now(self) -> float:
        """Seconds since the epoch (comparable across Lambda invocations)."""
        ...

    def sleep(self, seconds: float) -> None:
        """Block for `seconds` (a simulated clock just advances)."""
        ...


class SystemClock:
    """The real clock."""

    def now(self) -> float:
        return time.time()

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            time.sleep(seconds)
