"""A clock the test controls: `sleep` advances time at once and lets the fake world move."""

from __future__ import annotations

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

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - self._clock.now()) * 1000))
