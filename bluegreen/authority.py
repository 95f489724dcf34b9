"""Which threads may change things on behalf of the current invocation, and how much of its time is left.

Owns one rule: a thread changes nothing in Spot, CodeDeploy or CodePipeline unless this invocation granted it
the run. The handler grants its worker thread the run and revokes it when the watchdog gives the run up, so a
worker whose hung call is released later (on Lambda: thawed in the next invocation of the same container)
reads at most, and never starts, stops or creates anything next to the invocation that now owns the run.
`Invocation` adds what the watchdog and the give-up need around that rule: the one give-up of the run (the first
answer stands) and the time a call may still take, with the reserve kept for the report. It never decides what
to report: the flow does.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TypeVar, cast

from bluegreen.errors import AuthorityLostError

_T = TypeVar("_T")


class Authority:
    """The set of threads that may act for this invocation; thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._holders: set[int] = set()
        self._revoked = False

    def grant(self) -> bool:
        """Let the current thread act for the invocation, unless the run was already given up; says which."""
        with self._lock:
            if self._revoked:
                return False
            self._holders.add(threading.get_ident())
            return True

    def entrust(self) -> None:
        """Let the current thread act even after `revoke_all`: only for the invocation's own last cleanup,
        started by the thread that gave the run up.
        """
        with self._lock:
            self._holders.add(threading.get_ident())

    def revoke_all(self) -> None:
        """Take the run away from every thread that held it (the watchdog gave the run up)."""
        with self._lock:
            self._holders.clear()
            self._revoked = True

    @property
    def revoked(self) -> bool:
        """Whether the run was given up by this invocation."""
        with self._lock:
            return self._revoked

    def holds(self) -> bool:
        """Whether the current thread may act for the invocation."""
        with self._lock:
            return threading.get_ident() in self._holders

    def check(self, action: str) -> None:
        """Raises AuthorityLostError unless the current thread may still act: called before every change."""
        if not self.holds():
            raise AuthorityLostError(f"{action}: not sent, this invocation no longer owns the run")


class Invocation:
    """One invocation's hold on the run: the threads that may act for it, whether it gave the run up, and how much
    of its time a call may still take; thread-safe.

    The worker, the handler's watchdog and the clients share it. Giving the run up takes it from every thread at
    once and happens once: the watchdog and the worker may both ask, the first answer stands. The invocation's
    last cleanup (after a give-up past the deadline, or a reclaim) may use most of the time kept for the report.
    """

    def __init__(
        self, remaining_seconds: Callable[[], float], *, safety_margin: float, authority: Authority | None = None
    ) -> None:
        self.authority = authority or Authority()
        self._remaining_seconds = remaining_seconds
        self._safety_margin = safety_margin
        self._last_cleanup = False
        self._give_up_lock = threading.Lock()
        self._answer: list[object] = []  # the first give-up's answer, once there is one

    def remaining(self) -> float:
        """Seconds left in this invocation (Lambda's count)."""
        return self._remaining_seconds()

    def call_time_left(self) -> float:
        """Seconds a call may still take in this invocation: all but the reserve kept for the report (the Spot
        client bounds every attempt by it). The last cleanup, after the run was given up, may use most of that
        reserve too.
        """
        reserve = self._safety_margin / (8 if self._last_cleanup else 2)
        return self._remaining_seconds() - reserve

    def last_cleanup_time(self) -> float:
        """Seconds the last cleanup may run before the report must be sent."""
        return max(0.0, self._remaining_seconds() - self._safety_margin / 4)

    def begin_last_cleanup(self) -> None:
        """From now on calls may use most of the reserve: the run was given up, and only its cleanup is left.
        The thread that cleans up must still be entrusted (`Authority.entrust`).
        """
        self._last_cleanup = True

    @property
    def given_up(self) -> bool:
        """Whether this invocation gave the run up (its worker may still be running, changing nothing)."""
        return self.authority.revoked

    def give_up(self, answer: Callable[[], _T]) -> _T:
        """Take the run away from every thread, then say what to report: `answer()`, computed once. A second
        caller (the worker after the watchdog, or the other way round) waits for the first and gets its answer.
        """
        with self._give_up_lock:
            if not self._answer:
                self.authority.revoke_all()
                self._answer.append(answer())
            return cast("_T", self._answer[0])
