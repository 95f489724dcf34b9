"""Time as a dependency.

Owns the `Clock` protocol every waiting loop receives. Nothing in the package calls `time.sleep` or
`time.time` directly, nor starts a thread itself: the handler passes `SystemClock()` in production, tests and the
simulator pass a clock they control, so a 20-minute deployment runs in milliseconds and deterministically. Threads
are started through the clock because a simulated clock has to know which threads wait on it on whose behalf.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Protocol


class Clock(Protocol):
    """Wall-clock time in epoch seconds, a way to wait, and a way to start a thread that waits on this clock."""

    def now(self) -> float:
        """Seconds since the epoch (comparable across Lambda invocations)."""
        ...

    def sleep(self, seconds: float) -> None:
        """Block for `seconds` (a simulated clock just advances)."""
        ...

    def start_thread(self, target: Callable[[], object], name: str) -> threading.Thread:
        """Start a daemon thread running `target` on behalf of the calling thread (a simulated clock schedules
        its sleeps with the caller's) and return it."""
        ...


class SystemClock:
    """The real clock."""

    def now(self) -> float:
        return time.time()

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            time.sleep(seconds)

    def start_thread(self, target: Callable[[], object], name: str) -> threading.Thread:
        thread = threading.Thread(target=target, name=name, daemon=True)
        thread.start()
        return thread
