"""The stream the handler's JSON log lines go to during a simulation.

Owns collecting each line with the simulated time it was written at, and noticing phase changes (records
carrying a "phase" key) so the CLI can print them and the result can hold a timeline. It never changes or
drops a line: the canary check reads them as written.
"""

from __future__ import annotations

import io
import json
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from bluegreen_sim.clock import SimClock

PhaseListener = Callable[["PhaseChange"], None]


@dataclass(frozen=True)
class PhaseChange:
    """The handler entered `phase` at `elapsed` simulated seconds."""

    elapsed: float
    phase: str
    record: dict[str, Any]
    caller: str | None


class LogCapture(io.TextIOBase):
    """A text stream that keeps lines and reports phase changes."""

    def __init__(self, clock: SimClock, on_phase: PhaseListener | None = None) -> None:
        super().__init__()
        self._clock = clock
        self._on_phase = on_phase
        self._buffer = ""
        self._lock = threading.Lock()
        self.lines: list[tuple[float, str]] = []
        self.phases: list[PhaseChange] = []
        self._last_phase: dict[str, str] = {}

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        with self._lock:
            self._buffer += text
            *complete, self._buffer = self._buffer.split("\n")
        for line in complete:
            if line.strip():
                self._line(line)
        return len(text)

    def text(self) -> str:
        """Everything written so far."""
        return "\n".join(line for _, line in self.lines) + self._buffer

    def _line(self, line: str) -> None:
        elapsed = self._clock.elapsed
        caller = self._clock.running
        change: PhaseChange | None = None
        with self._lock:
            self.lines.append((elapsed, line))
            try:
                record = json.loads(line)
            except ValueError:
                return
            phase = record.get("phase") if isinstance(record, dict) else None
            chain = (caller or "-").split("#", 1)[0]
            if isinstance(phase, str) and self._last_phase.get(chain) != phase:
                self._last_phase[chain] = phase
                change = PhaseChange(elapsed, phase, record, caller)
                self.phases.append(change)
        if change is not None and self._on_phase is not None:
            self._on_phase(change)
