"""Which threads may change things on behalf of the current invocation.

Owns one rule: a thread changes nothing in Spot, CodeDeploy or CodePipeline unless this invocation granted it
the run. The handler grants its worker thread the run and revokes it when the watchdog gives the run up, so a
worker whose hung call is released later (on Lambda: thawed in the next invocation of the same container)
reads at most, and never starts, stops or creates anything next to the invocation that now owns the run.
"""

from __future__ import annotations

import threading

from bluegreen.errors import AuthorityLostError


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
