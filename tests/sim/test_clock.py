"""The simulated clock: time moves only through sleeps, world events run in order, participants interleave
deterministically."""

from __future__ import annotations

import threading
from functools import partial

import pytest

from bluegreen_sim.clock import SimClock


def test_sleep_without_participants_advances_time_at_once():
    clock = SimClock(1000.0)
    clock.sleep(42.5)
    assert clock.now() == 1042.5
    assert clock.elapsed == 42.5


def test_world_events_run_at_their_time_in_order():
    clock = SimClock(0.0)
    seen: list[tuple[str, float]] = []
    clock.call_later(30, lambda: seen.append(("b", clock.now())))
    clock.call_later(10, lambda: seen.append(("a", clock.now())))
    clock.call_later(10, lambda: clock.call_later(5, lambda: seen.append(("c", clock.now()))))
    clock.sleep(60)
    assert seen == [("a", 10.0), ("c", 15.0), ("b", 30.0)]


def test_events_later_than_the_sleep_wait_for_a_later_sleep():
    clock = SimClock(0.0)
    seen: list[float] = []
    clock.call_later(100, lambda: seen.append(clock.now()))
    clock.sleep(50)
    assert seen == []
    clock.sleep(50)
    assert seen == [100.0]


def test_negative_speed_is_refused():
    with pytest.raises(ValueError, match="speed"):
        SimClock(0.0, speed=-1)


def _run_participants(clock: SimClock, plans: dict[str, list[float]]) -> list[tuple[str, float]]:
    order: list[tuple[str, float]] = []
    threads = []

    def work(name: str, sleeps: list[float], registered: threading.Event) -> None:
        with clock.participant(name, registered):
            for seconds in sleeps:
                order.append((name, clock.elapsed))
                clock.sleep(seconds)
            order.append((name, clock.elapsed))

    with clock.participant("starter"):
        for name, sleeps in plans.items():
            registered = threading.Event()
            thread = threading.Thread(target=work, args=(name, sleeps, registered))
            thread.start()
            registered.wait()
            threads.append(thread)
    for thread in threads:
        thread.join(timeout=10)
    return order


def test_participants_wake_in_simulated_time_order():
    clock = SimClock(0.0)
    order = _run_participants(clock, {"a": [10, 10], "b": [15], "c": [5, 30]})
    assert order == [
        ("a", 0.0),
        ("b", 0.0),
        ("c", 0.0),
        ("c", 5.0),
        ("a", 10.0),
        ("b", 15.0),
        ("a", 20.0),
        ("c", 35.0),
    ]


def test_participant_runs_alone_while_others_sleep():
    clock = SimClock(0.0)
    running: list[str | None] = []

    def world_event() -> None:
        running.append(clock.running)

    clock.call_later(7, world_event)
    _run_participants(clock, {"a": [10], "b": [10]})
    assert running == [None]  # time moved only while every participant slept


def test_owner_blocked_on_a_sleeping_helper_does_not_hold_time_back():
    clock = SimClock(0.0)
    seen: list[float] = []

    def worker() -> None:
        for _ in range(3):
            clock.sleep(15)
            seen.append(clock.elapsed)

    with clock.participant("invocation"):
        thread = clock.start_thread(worker, name="worker")
        thread.join(timeout=10)  # a real-time join, as the handler's watchdog does
        assert not thread.is_alive()
    assert seen == [15.0, 30.0, 45.0]


def test_a_helper_that_finishes_while_a_sibling_sleeps_does_not_stall_other_participants():
    # A handler's thread pool: one thread backs off (a 429) while another finishes, as another pipeline runs.
    clock = SimClock(0.0)
    slept: dict[str, float] = {}

    def pool_thread(name: str, seconds: float) -> None:
        start = clock.elapsed
        clock.sleep(seconds)
        slept[name] = clock.elapsed - start

    def invocation(name: str, sleeps: list[float], registered: threading.Event) -> None:
        with clock.participant(name, registered):
            threads = [
                clock.start_thread(partial(pool_thread, f"{name}{n}", s), name=f"{name}{n}")
                for n, s in enumerate(sleeps)
            ]
            for thread in threads:
                thread.join(timeout=10)

    with clock.participant("starter"):
        runners = []
        for name, sleeps in {"a": [5, 60], "b": [30]}.items():
            registered = threading.Event()
            runner = threading.Thread(target=invocation, args=(name, sleeps, registered))
            runner.start()
            registered.wait()
            runners.append(runner)
    for runner in runners:
        runner.join(timeout=10)
    assert not any(r.is_alive() for r in runners)
    assert slept == {"a0": 5.0, "a1": 60.0, "b0": 30.0}


def test_threads_started_with_the_clock_work_for_their_starters_participant():
    # The handler's worker starts the preflight threads: both generations work for the invocation's participant.
    clock = SimClock(0.0)
    families: dict[str, str | None] = {}

    def preflight() -> None:
        families["preflight"] = clock.family()

    def worker() -> None:
        families["worker"] = clock.family()
        clock.start_thread(preflight, name="preflight_0").join(timeout=10)

    with clock.participant("pipeline-1#1"):
        families["invocation"] = clock.family()
        clock.start_thread(worker, name="bluegreen-run").join(timeout=10)

    assert families == {"invocation": "pipeline-1#1", "worker": "pipeline-1#1", "preflight": "pipeline-1#1"}


def test_threads_started_otherwise_work_for_nobody():
    clock = SimClock(0.0)
    families: dict[str, str | None] = {}

    def record(name: str) -> None:
        families[name] = clock.family()

    outside = clock.start_thread(partial(record, "started outside any participant"), name="outside")
    outside.join(timeout=10)
    with clock.participant("pipeline-1#1"):
        plain = threading.Thread(target=record, args=("started without the clock",))  # a server's request thread
        plain.start()
        plain.join(timeout=10)

    assert families == {"started outside any participant": None, "started without the clock": None}
    assert clock.family() is None  # the participant has left


def test_a_thread_started_with_the_clock_is_a_daemon_with_the_given_name():
    clock = SimClock(0.0)
    names: list[str] = []

    thread = clock.start_thread(lambda: names.append(threading.current_thread().name), name="bluegreen-run")
    thread.join(timeout=10)

    assert names == ["bluegreen-run"]
    assert thread.daemon
