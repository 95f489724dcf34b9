"""Simulated time for the whole simulated cloud: one clock, one event queue, cooperative runners.

Owns the simulated `now`, the queue of timed world events (green launches, lifecycle steps, Spot
finalisation) and the scheduling of the threads that run handler invocations ("participants").

Time only moves when every participant is blocked in `sleep`: then the clock jumps to the earliest
wake-up, running the world events that fall due on the way, and wakes exactly that participant. So at
most one participant runs at any moment and a run with many concurrent pipelines is as deterministic as
a run with one. A thread that is not a participant and calls `sleep` (the handler's worker thread, its
preflight pool) is a "helper" of the participant running at that moment: it is scheduled like a participant
while it sleeps, and its owner, blocked joining it in real time, stops holding time back meanwhile. With no
participant at all, `sleep` simply advances time (the single-threaded convenience of unit tests).
When one of several sleeping helpers of an owner wakes and then stops without sleeping again (a pool thread
finishing its task), no call tells the clock; sleeping helpers re-check after a short real-time quiet spell
so time moves on. Only in that case can the interleaving depend on real-time speed.

A helper belongs to the participant whose thread (or helper) started it, not to whoever happens to run when
it first sleeps: a handler's thread pool can have one thread asleep (a 429 back-off) while its siblings
still run, and meanwhile another pipeline may run too. While any participant is open, `Thread.start` is
wrapped so a new thread inherits its starter's participant (the lineage); it is restored when the last
participant of every clock has left.

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


class _Lineage:
    """Which participant each thread works for: participants themselves and the threads they start.

    Owns the wrapping of `threading.Thread.start` (installed while any participant is open, in any
    clock): a thread started by a participant, or by a thread working for one, works for that participant
    too. Threads started elsewhere (servers, their request threads) belong to nobody.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._families: dict[int, tuple[SimClock, _Participant]] = {}
        self._participants = 0
        self._original_start: Callable[[threading.Thread], None] | None = None

    def family(self, ident: int) -> tuple[SimClock, _Participant] | None:
        with self._lock:
            return self._families.get(ident)

    def join(self, ident: int, clock: SimClock, participant: _Participant) -> None:
        """Register a participant's own thread (and install the wrapping if it is the first)."""
        with self._lock:
            self._families[ident] = (clock, participant)
            self._participants += 1
            if self._original_start is None:
                self._original_start = threading.Thread.start
                threading.Thread.start = _lineage_start  # type: ignore[method-assign]

    def leave(self, ident: int) -> None:
        """Forget a participant's thread (and restore `Thread.start` once no participant is left)."""
        with self._lock:
            self._families.pop(ident, None)
            self._participants -= 1
            if self._participants == 0 and self._original_start is not None:
                threading.Thread.start = self._original_start  # type: ignore[method-assign,assignment]
                self._original_start = None

    def start(self, thread: threading.Thread) -> None:
        """`Thread.start` while wrapped: the new thread inherits the starter's family, if it has one."""
        with self._lock:
            original = self._original_start or _THREAD_START
            inherited = self._families.get(threading.get_ident())
        if inherited is not None:
            run = thread.run

            def run_in_family() -> None:
                ident = threading.get_ident()
                with self._lock:
                    self._families[ident] = inherited
                try:
                    run()
                finally:
                    with self._lock:
                        self._families.pop(ident, None)

            thread.run = run_in_family  # type: ignore[method-assign]
        original(thread)


_THREAD_START = threading.Thread.start
_LINEAGE = _Lineage()


def _lineage_start(self: threading.Thread) -> None:
    _LINEAGE.start(self)


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
            _LINEAGE.join(ident, self, me)
            if registered is not None:
                registered.set()
            self._schedule()
            while me.waiting:
                self._cond.wait()
        try:
            yield
        finally:
            _LINEAGE.leave(ident)
            with self._cond:
                del self._participants[ident]
                self._running = None
                self._schedule()

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
        family = _LINEAGE.family(ident)
        if family is not None and family[0] is self and any(p is family[1] for p in self._participants.values()):
            owner: _Participant | None = family[1]
        else:  # a thread of unknown lineage: assume it works for whoever runs now
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
