"""Simulated time for the whole simulated cloud: one clock, one event queue, cooperative runners.

Owns the simulated `now`, the queue of timed world events (green launches, lifecycle steps, Spot
finalisation) and the scheduling of the threads that run handler invocations ("participants").

Time only moves when every participant is blocked in `sleep`: then the clock jumps to the earliest
wake-up, running the world events that fall due on the way, and wakes exactly that participant. So at
most one participant runs at any moment and a run with many concurrent pipelines is as deterministic as
a run with one. A thread that is not a participant and calls `sleep` (the handler's worker thread, its
preflight threads) is a "helper" of the participant it works for (below): it is scheduled like a participant
while it sleeps, and its owner, blocked joining it in real time, stops holding time back meanwhile. With no
participant at all, `sleep` simply advances time (the single-threaded convenience of unit tests).
When one of several sleeping helpers of an owner wakes and then stops without sleeping again (a pool thread
finishing its check), no call tells the clock; sleeping helpers re-check after a short real-time quiet spell
so time moves on. Only in that case can the interleaving depend on real-time speed.

A helper belongs to the participant whose thread (or helper) started it, not to whoever happens to run when
it first sleeps: a handler's preflight threads can have one asleep (a 429 back-off) while its siblings
still run, and meanwhile another pipeline may run too. The handler starts its threads with the clock it is
given (`start_thread`, of `bluegreen.clock.Clock`), so a new thread joins its starter's family; nothing is
patched. A thread started otherwise (servers, their request threads) belongs to nobody; should one sleep, it is
taken for a helper of whoever runs at that moment.

It must not perform I/O itself, apart from the optional real-time pacing (`speed`).
"""

from __future__ import annotations

import heapq
import itertools
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

WorldEvent = Callable[[], None]
_IDLE_RECHECK = 0.1  # real seconds a sleeping helper waits before checking whether time is stuck
AdvanceListener = Callable[[float], None]


@dataclass(order=True)
class _Scheduled:
    at: float
    seq: int
    action: WorldEvent = field(compare=False)


@dataclass
class _Participant:
    name: str
    seq: int
    wake: float
    waiting: bool
    owner: _Participant | None = None
    sleeping_helpers: int = 0

    @property
    def delegating(self) -> bool:
        """A participant whose helper threads sleep is blocked on them: it does not hold time back."""
        return self.owner is None and self.sleeping_helpers > 0


class SimClock:
    """Implements `bluegreen.clock.Clock` on simulated time.

    `speed`: None runs as fast as possible; X > 0 also sleeps for real `seconds / X` while advancing, so a
    person can watch.
    """

    def __init__(self, start: float, *, speed: float | None = None) -> None:
        if speed is not None and speed <= 0:
            raise ValueError("speed must be positive")
        self._start = start
        self._now = start
        self._speed = speed
        self._cond = threading.Condition(threading.RLock())
        self._events: list[_Scheduled] = []
        self._events_lock = threading.Lock()
        self._seq = itertools.count()
        self._participants: dict[int, _Participant] = {}
        self._listeners: list[AdvanceListener] = []
        self._running: str | None = None
        # Which participant each thread works for: participants themselves and the threads they (or their
        # helpers) start with `start_thread`.
        self._families: dict[int, _Participant] = {}
        self._families_lock = threading.Lock()

    # -- the Clock protocol ---------------------------------------------------------------------------
    def now(self) -> float:
        """Simulated epoch seconds."""
        return self._now

    def sleep(self, seconds: float) -> None:
        """Block the caller for `seconds` of simulated time."""
        seconds = max(0.0, float(seconds))
        ident = threading.get_ident()
        with self._cond:
            me = self._participants.get(ident)
            if me is None:
                if not self._participants:
                    self._advance_to(self._now + seconds)
                    return
                self._helper_sleep(ident, seconds)
                return
            me.wake = self._now + seconds
            me.waiting = True
            self._running = None
            self._schedule()
            while me.waiting:
                self._cond.wait()

    def start_thread(self, target: Callable[[], object], name: str) -> threading.Thread:
        """Start a daemon thread running `target` that works for the caller's participant, if it has one (its
        sleeps are then scheduled on that participant's behalf)."""
        with self._families_lock:
            inherited = self._families.get(threading.get_ident())

        def run_in_family() -> None:
            ident = threading.get_ident()
            if inherited is not None:
                with self._families_lock:
                    self._families[ident] = inherited
            try:
                target()
            finally:
                if inherited is not None:
                    with self._families_lock:
                        self._families.pop(ident, None)

        thread = threading.Thread(target=run_in_family, name=name, daemon=True)
        thread.start()
        return thread

    # -- everything else ------------------------------------------------------------------------------
    @property
    def elapsed(self) -> float:
        """Simulated seconds since the clock was created."""
        return self._now - self._start

    @property
    def running(self) -> str | None:
        """Name of the participant that is running now, if any."""
        return self._running

    def call_at(self, at: float, action: WorldEvent) -> None:
        """Run `action` (a world event) when simulated time reaches `at` (or next advance if past)."""
        with self._events_lock:
            heapq.heappush(self._events, _Scheduled(max(at, self._now), next(self._seq), action))

    def call_later(self, delay: float, action: WorldEvent) -> None:
        """Run `action` `delay` simulated seconds from now."""
        self.call_at(self._now + max(0.0, delay), action)

    def set_speed(self, speed: float | None) -> None:
        """Change real-time pacing (None: as fast as possible)."""
        self._speed = speed

    def clear_listeners(self) -> None:
        """Forget every advance listener."""
        self._listeners.clear()

    def add_listener(self, listener: AdvanceListener) -> None:
        """Call `listener(now)` after every advance of time (progress displays)."""
        self._listeners.append(listener)

    @contextmanager
    def participant(self, name: str, registered: threading.Event | None = None) -> Iterator[None]:
        """Make the calling thread a scheduled participant for the duration of the block.

        `registered` is set once the thread counts as a participant (before it is first scheduled), so a
        starter can make several threads participants before simulated time moves on.
        """
        ident = threading.get_ident()
        with self._cond:
            if ident in self._participants:
                raise RuntimeError(f"thread is already participant {self._participants[ident].name}")
            me = _Participant(name, next(self._seq), self._now, True)
            self._participants[ident] = me
            with self._families_lock:
                self._families[ident] = me
            if registered is not None:
                registered.set()
            self._schedule()
            while me.waiting:
                self._cond.wait()
        try:
            yield
        finally:
            with self._families_lock:
                self._families.pop(ident, None)
            with self._cond:
                del self._participants[ident]
                self._running = None
                self._schedule()

    def family(self) -> str | None:
        """Name of the participant the calling thread works for: its own, or that of the participant whose thread
        (or helper) started it with `start_thread`; None for any other thread."""
        with self._families_lock:
            participant = self._families.get(threading.get_ident())
        return participant.name if participant is not None else None

    def is_participant(self) -> bool:
        """Whether the calling thread is a participant."""
        return threading.get_ident() in self._participants

    def run_due_events(self) -> None:
        """Run world events already due (used after a participant changes the world and leaves)."""
        with self._cond:
            self._advance_to(self._now)

    # -- internals (called with self._cond held) ------------------------------------------------------
    def _helper_sleep(self, ident: int, seconds: float) -> None:
        """A thread the running participant started (a handler's worker or pool thread) sleeps.

        It becomes a participant for the length of its sleep, on behalf of its owner; while any of an
        owner's helpers sleeps, the owner (blocked joining them, in real time) does not hold time back.
        """
        with self._families_lock:
            family = self._families.get(ident)
        if family is not None and any(p is family for p in self._participants.values()):
            owner: _Participant | None = family
        else:  # a thread not started with `start_thread`: assume it works for whoever runs now
            owner = next((p for p in self._participants.values() if p.name == self._running and p.owner is None), None)
        name = owner.name if owner is not None else self._running or "helper"
        me = _Participant(name, next(self._seq), self._now + seconds, True, owner)
        self._participants[ident] = me
        if owner is not None:
            owner.sleeping_helpers += 1
        self._running = None
        try:
            self._schedule()
            while me.waiting:
                if not self._cond.wait(_IDLE_RECHECK):
                    # A sibling woken while this one slept runs untracked (its owner still delegates); when it
                    # finishes without sleeping again nobody else would schedule, so look again after a quiet spell.
                    self._schedule()
        finally:
            del self._participants[ident]
            if owner is not None:
                owner.sleeping_helpers -= 1
                self._running = owner.name

    def _schedule(self) -> None:
        parts = [p for p in self._participants.values() if not p.delegating]
        if not parts or any(not p.waiting for p in parts):
            return
        nxt = min(parts, key=lambda p: (p.wake, p.seq))
        self._advance_to(nxt.wake)
        nxt.waiting = False
        self._running = nxt.name
        self._cond.notify_all()

    def _advance_to(self, target: float) -> None:
        while True:
            with self._events_lock:
                due = self._events[0] if self._events and self._events[0].at <= target else None
                if due is not None:
                    heapq.heappop(self._events)
            if due is None:
                break
            self._move(due.at)
            due.action()
        self._move(target)

    def _move(self, to: float) -> None:
        if to <= self._now:
            return
        if self._speed is not None:
            time.sleep((to - self._now) / self._speed)
        self._now = to
        self._cond.notify_all()
        for listener in self._listeners:
            listener(to)
