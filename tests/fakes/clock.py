"""A clock the test controls: `sleep` advances time at once and lets the fake world move."""

from __future__ import annotations

import time
from collections.abc import Callable


class FakeClock:
    def __init__(self, start: float = 1_800_000_000.0) -> None:
        self.current = start
        self.sleeps: list[float] = []
        self.on_advance: list[Callable[[float], None]] = []

    def now(self) -> float:
        return self.current

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.advance(seconds)

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
