"""A clock the test controls: `sleep` advances time at once and lets the fake world move.

It also schedules the world's events (`call_later`, `call_at`, as bluegreen_sim's SimClock does), so the one Spot
and CodeDeploy models of bluegreen_sim run on it: an event without delay runs at once, and `run_due_events` runs every
event due by now, so a world with zero delays settles within the call or the advance that moved it.
"""

from __future__ import annotations

import heapq
import itertools
import threading
import time
from collections.abc import Callable


class FakeClock:
    running: str | None = None  # the simulator's participant name; the tests have none

    def __init__(self, start: float = 1_800_000_000.0) -> None:
        self.start = start
        self.current = start
        self.sleeps: list[float] = []
        self.threads_started: list[str] = []
        self.on_advance: list[Callable[[float], None]] = []
        self._events: list[tuple[float, int, Callable[[], None]]] = []
        self._seq = itertools.count()
        self._events_lock = threading.RLock()

    def now(self) -> float:
        return self.current

    @property
    def elapsed(self) -> float:
        return self.current - self.start

    def call_later(self, delay: float, action: Callable[[], None]) -> None:
        """Run `action` once time reaches now + `delay`; at once when there is no delay (the tests' fast world)."""
        self.call_at(self.current + max(0.0, delay), action)

    def call_at(self, at: float, action: Callable[[], None]) -> None:
        """Run `action` once time reaches `at`; at once when it has (the tests' fast world)."""
        if at <= self.current:
            action()
            return
        with self._events_lock:
            heapq.heappush(self._events, (at, next(self._seq), action))

    def run_due_events(self) -> None:
        while True:
            with self._events_lock:  # the event runs outside the lock: it takes the world's own locks
                if not self._events or self._events[0][0] > self.current:
                    return
                action = heapq.heappop(self._events)[2]
            action()

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.advance(seconds)

    def start_thread(self, target: Callable[[], object], name: str) -> threading.Thread:
        """A daemon thread, as the real clock starts it: the tests' clock has no participants to schedule, so
        every thread's sleep just advances time."""
        thread = threading.Thread(target=target, name=name, daemon=True)
        self.threads_started.append(name)
        thread.start()
        return thread

    def advance(self, seconds: float) -> None:
        self.current += max(0.0, seconds)
        for callback in self.on_advance:
            callback(self.current)


class FakeLambdaContext:
    """A Lambda context whose remaining time follows the fake clock."""

    function_name = "bluegreen"
    function_version = "$LATEST"
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:bluegreen"
    memory_limit_in_mb = 256
    log_group_name = "/aws/lambda/bluegreen"
    log_stream_name = "2026/11/26/[$LATEST]0000"

    def __init__(self, clock: FakeClock, budget_seconds: float = 900.0, request_id: str = "req-1") -> None:
        self._clock = clock
        self._deadline = clock.now() + budget_seconds
        self.aws_request_id = request_id

        self._expires_at: float | None = None

    def expire_in(self, real_seconds: float) -> None:
        """From now on the invocation runs out after `real_seconds` of wall time (a call is hanging)."""
        self._expires_at = time.monotonic() + real_seconds

    def get_remaining_time_in_millis(self) -> int:
        remaining = self._deadline - self._clock.now()
        if self._expires_at is not None:
            remaining = min(remaining, self._expires_at - time.monotonic())
        return max(0, int(remaining * 1000))
