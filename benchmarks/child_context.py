"""The Lambda context the benchmarks' child processes hand the handler (imported by them as scripts)."""

from __future__ import annotations


class HandingOverContext:
    """A 900 s function's context that, once the invocation has started, has `remaining_ms` left: START, one
    WAIT_GREEN poll, then the hand-over (the handler's first look, the start check, sees the full 900 s).
    """

    function_name = "bluegreen"

    def __init__(self, remaining_ms: int, request_id: str = "00000000-0000-4000-8000-000000000000") -> None:
        self.aws_request_id = request_id
        self._remaining_ms = remaining_ms
        self._looked = False

    def get_remaining_time_in_millis(self) -> int:
        if not self._looked:
            self._looked = True
            return 900_000
        return self._remaining_ms
