"""The invocation's hold on the run (bluegreen/authority.py): who may act, the one give-up, and the time left."""

from __future__ import annotations

import threading

import pytest

from bluegreen.authority import Authority, Invocation
from bluegreen.errors import AuthorityLostError


def _invocation(remaining: float = 100.0, margin: float = 40.0) -> Invocation:
    return Invocation(lambda: remaining, safety_margin=margin, authority=Authority())


def test_a_call_may_take_all_but_half_the_safety_margin() -> None:
    assert _invocation(remaining=100.0, margin=40.0).call_time_left() == 80.0


def test_the_last_cleanup_may_use_most_of_the_reserve() -> None:
    invocation = _invocation(remaining=100.0, margin=40.0)

    invocation.begin_last_cleanup()

    assert invocation.call_time_left() == 95.0  # an eighth of the margin is kept for the report
    assert invocation.last_cleanup_time() == 90.0  # the cleanup's own thread is waited for until a quarter is left


def test_the_last_cleanup_is_given_no_time_when_the_invocation_has_none() -> None:
    assert _invocation(remaining=5.0, margin=40.0).last_cleanup_time() == 0.0


def test_giving_up_takes_the_run_from_every_thread_that_held_it() -> None:
    invocation = _invocation()
    assert invocation.authority.grant()

    invocation.give_up(lambda: "reported")

    assert invocation.given_up
    with pytest.raises(AuthorityLostError, match="Spot PUT stop: not sent, this invocation no longer owns the run"):
        invocation.authority.check("Spot PUT stop")
    assert not invocation.authority.grant()  # a worker started after the give-up never gets the run


def test_the_first_answer_to_a_give_up_stands_for_every_later_caller() -> None:
    invocation = _invocation()
    answers: list[str] = []

    first = invocation.give_up(lambda: answers.append("watchdog") or "watchdog's")
    second = invocation.give_up(lambda: answers.append("worker") or "worker's")

    assert (first, second, answers) == ("watchdog's", "watchdog's", ["watchdog"])


def test_a_give_up_asked_while_another_is_deciding_waits_for_its_answer() -> None:
    invocation = _invocation()
    deciding, release = threading.Event(), threading.Event()
    answers: list[str] = []

    def slow_answer() -> str:
        deciding.set()
        release.wait(5)
        return "first"

    watchdog = threading.Thread(target=lambda: answers.append(invocation.give_up(slow_answer)))
    watchdog.start()
    deciding.wait(5)
    worker = threading.Thread(target=lambda: answers.append(invocation.give_up(lambda: "second")))
    worker.start()
    release.set()
    watchdog.join(5)
    worker.join(5)

    assert answers == ["first", "first"]


def test_an_entrusted_thread_may_act_after_the_give_up_for_the_last_cleanup() -> None:
    invocation = _invocation()
    invocation.give_up(lambda: None)

    invocation.authority.entrust()

    invocation.authority.check("codedeploy:StopDeployment")  # does not raise
    assert invocation.given_up
