"""The hand-over (continuation) at the invocation's time limit, the run's deadline (TIMEOUT) in each phase, and
a run given up by the watchdog while a call hangs.
"""

from __future__ import annotations

import itertools
from dataclasses import replace

import pytest

from bluegreen.flow import Failed, InProgress, Succeeded
from tests.flow.fake_ports import FakeCloud
from tests.flow.harness import MARGIN, POLL, Runner, make_params

SHORT = 120.0  # seconds of a short invocation: a few polls, then a hand-over


def test_a_run_hands_over_before_the_invocation_runs_out_keeping_the_reserve_for_the_report(
    runner: Runner, cloud: FakeCloud
) -> None:
    cloud.launch_seconds = 1000.0
    deployment = runner.deployment(budget=SHORT)

    outcome = deployment.run(deployment.begin("job-1"))

    assert isinstance(outcome, InProgress)
    assert outcome.state.phase == "WAIT_GREEN"
    assert outcome.state.invocation == 2
    assert MARGIN <= deployment.call_time_left() + MARGIN / 2 < MARGIN + POLL  # handed over with the reserve left
    assert outcome.state.polled_at == int(cloud.clock.now())


def test_a_hand_over_in_start_phase_carries_no_poll_time(runner: Runner, cloud: FakeCloud) -> None:
    deployment = runner.deployment(budget=MARGIN + POLL - 1)  # no time for even one poll after the start

    outcome = deployment.run(deployment.begin("job-1"))

    assert isinstance(outcome, InProgress)
    assert outcome.state.phase == "WAIT_GREEN"  # the start itself never waits for a poll interval
    assert outcome.state.spot_deployment_id is not None


def test_a_run_across_many_hand_overs_starts_spot_once_and_creates_codedeploy_once(
    runner: Runner, cloud: FakeCloud
) -> None:
    cloud.launch_seconds = 400.0
    cloud.deploy_seconds = 400.0

    outcome = runner.to_the_end(budget=SHORT)

    assert isinstance(outcome, Succeeded)
    assert len(runner.outcomes) > 5
    assert len(cloud.called("spot.start_deployment")) == 1
    assert len(cloud.called("codedeploy.create_deployment")) == 1
    assert [o.state.invocation for o in runner.outcomes if o.state] == [
        *list(range(2, len(runner.outcomes) + 1)),
        len(runner.outcomes),
    ]


def test_a_resumed_run_waits_out_the_poll_interval_begun_before_the_hand_over(runner: Runner, cloud: FakeCloud) -> None:
    cloud.launch_seconds = 1000.0
    handed = runner.first(budget=SHORT)
    assert isinstance(handed, InProgress)
    assert handed.state.polled_at is not None
    polls_before = len(cloud.called("ec2.find_green_instances"))

    runner.resume(handed, budget=SHORT)

    first_poll = cloud.called("ec2.find_green_instances")[polls_before]
    assert first_poll.at >= handed.state.polled_at + POLL


def test_every_poll_interval_sees_at_most_one_poll_across_hand_overs(runner: Runner, cloud: FakeCloud) -> None:
    cloud.launch_seconds = 600.0

    runner.to_the_end(budget=SHORT)

    polls = [c.at for c in cloud.calls if c.name in ("ec2.find_green_instances", "ec2.instance_health")]
    assert all(later - earlier >= POLL for earlier, later in itertools.pairwise(polls))


def test_a_resumed_run_follows_its_codedeploy_deployment_and_creates_no_other(runner: Runner, cloud: FakeCloud) -> None:
    cloud.deploy_seconds = 2000.0
    handed = runner.first()
    assert isinstance(handed, InProgress)
    assert handed.state.phase == "WAIT_DEPLOY"
    cloud.deploy_seconds = 0.0

    outcome = runner.resume(handed)

    assert isinstance(outcome, Succeeded)
    assert outcome.state.codedeploy_deployment_id == handed.state.codedeploy_deployment_id
    assert len(cloud.called("codedeploy.create_deployment")) == 1


@pytest.mark.parametrize(
    ("phase", "settings", "says"),
    [
        ("WAIT_GREEN", {"launch_seconds": 10_000.0}, "expected 2 green instance(s) tagged GreenIdentifier="),
        ("WAIT_DEPLOY", {"deploy_seconds": 10_000.0}, "was still InProgress (0/2 instance(s) deployed)"),
    ],
)
def test_the_deadline_fails_the_run_in_each_waiting_phase_and_stops_both_deployments(
    cloud: FakeCloud, phase: str, settings: dict[str, float], says: str
) -> None:
    for name, value in settings.items():
        setattr(cloud, name, value)
    runner = Runner(cloud, make_params(timeout_seconds=600))

    outcome = runner.to_the_end(budget=SHORT)

    assert isinstance(outcome, Failed)
    assert outcome.failure_type == "JobFailed"
    assert outcome.state is not None
    assert outcome.state.phase == phase
    assert f"Timed out after 600 s (TIMEOUT 600 s) in phase {phase}" in outcome.message
    assert says in outcome.message
    assert outcome.state.deadline <= cloud.clock.now() < outcome.state.deadline + POLL
    assert cloud.spot_running() == []
    assert cloud.live_greens(outcome.state.green) == []
    assert all(cloud.codedeploy_status(d) != "InProgress" for d in cloud.codedeploy)


def test_the_deadline_in_the_bake_fails_the_run_and_leaves_the_released_greens_running(cloud: FakeCloud) -> None:
    runner = Runner(cloud, make_params(timeout_seconds=600, bake_seconds=550))

    outcome = runner.to_the_end()

    assert isinstance(outcome, Failed)
    assert outcome.state is not None
    assert outcome.state.phase == "BAKE"
    assert "Timed out after 600 s (TIMEOUT 600 s) in phase BAKE" in outcome.message
    assert "of BAKE_TIME 550 s had been baked" in outcome.message
    assert "were left running" in outcome.message
    assert cloud.called("spot.stop_deployment") == []
    assert cloud.called("codedeploy.stop_deployment") == []
    assert len(cloud.live_greens(outcome.state.green)) == 2


def test_a_run_that_reaches_deploy_past_its_deadline_creates_no_codedeploy_deployment(cloud: FakeCloud) -> None:
    cloud.launch_seconds = 400.0
    runner = Runner(cloud, make_params(timeout_seconds=600))
    handed = runner.first(budget=SHORT)
    assert isinstance(handed, InProgress)
    greens_ready = replace(handed.state, phase="DEPLOY")  # the last poll before the hand-over saw them ready
    cloud.clock.advance(1000.0)  # CodePipeline calls again late: TIMEOUT has passed

    outcome = runner.deployment().run(greens_ready)

    assert isinstance(outcome, Failed)
    assert "Timed out after" in outcome.message
    assert "in phase DEPLOY" in outcome.message
    assert cloud.called("codedeploy.create_deployment") == []
    assert cloud.spot_running() == []


def test_a_run_never_sleeps_past_its_deadline(cloud: FakeCloud) -> None:
    cloud.launch_seconds = 10_000.0
    runner = Runner(cloud, make_params(timeout_seconds=607))

    outcome = runner.first()

    assert isinstance(outcome, Failed)
    assert outcome.state is not None
    assert cloud.clock.now() == outcome.state.deadline


def test_a_call_that_hangs_until_the_watchdog_gives_up_hands_the_run_over_unchanged(
    runner: Runner, cloud: FakeCloud
) -> None:
    cloud.fail("codedeploy.find_deployment_for_green", runner.give_up)

    outcome = runner.first()

    assert isinstance(outcome, InProgress)
    assert outcome.state.phase == "DEPLOY"
    assert outcome.state.invocation == 2
    assert "did not answer in time; resuming in the next invocation" in outcome.summary
    assert runner.deployments[-1].abandoned


def test_a_run_given_up_changes_nothing_afterwards(runner: Runner, cloud: FakeCloud) -> None:
    cloud.fail("codedeploy.find_deployment_for_green", runner.give_up)

    runner.first()

    assert cloud.called("codedeploy.create_deployment") == []


def test_the_next_invocation_resumes_a_given_up_run_to_success(runner: Runner, cloud: FakeCloud) -> None:
    cloud.fail("codedeploy.find_deployment_for_green", runner.give_up)

    outcome = runner.to_the_end()

    assert isinstance(outcome, Succeeded)
    assert len(cloud.called("codedeploy.create_deployment")) == 1


def test_the_watchdog_and_the_worker_get_the_same_answer_from_abandon(runner: Runner, cloud: FakeCloud) -> None:
    answers = []
    cloud.fail("ec2.find_green_instances", lambda: answers.append(runner.give_up()))

    outcome = runner.first()

    assert answers == [outcome]


def test_a_call_hanging_past_the_deadline_fails_the_run_and_still_cleans_up(runner: Runner, cloud: FakeCloud) -> None:
    cloud.deploy_seconds = 10_000.0

    def hang_past_the_deadline() -> None:
        deployment = runner.deployments[-1]
        cloud.clock.advance(4000.0)
        deployment.abandon()

    cloud.at(cloud.clock.now() + 100, lambda: cloud.fail("codedeploy.deployment_progress", hang_past_the_deadline))

    outcome = runner.first(budget=10_000.0)

    assert isinstance(outcome, Failed)
    assert outcome.failure_type == "JobFailed"
    assert "in phase WAIT_DEPLOY" in outcome.message
    assert "(a call to Spot or AWS was still waiting for an answer)" in outcome.message
    assert cloud.spot_running() == []
    assert [cloud.codedeploy_status(d) for d in cloud.codedeploy] == ["Stopped"]


def test_a_run_given_up_by_the_watchdog_before_it_began_changes_nothing(runner: Runner, cloud: FakeCloud) -> None:
    deployment = runner.deployment()
    state = deployment.begin("job-1")
    deployment.abandon()

    outcome = deployment.run(state)

    assert isinstance(outcome, Failed)
    assert outcome.failure_type == "SystemUnavailable"
    assert cloud.calls == []


def test_the_cleanup_after_a_hang_past_the_deadline_may_use_most_of_the_reserve(
    runner: Runner, cloud: FakeCloud
) -> None:
    cloud.deploy_seconds = 10_000.0
    ends = cloud.clock.now() + 10_000.0
    budgets: list[tuple[float, float]] = []

    def hang_past_the_deadline() -> None:
        deployment = runner.deployments[-1]
        cloud.clock.advance(4000.0)
        cloud.fail(
            "codedeploy.stop_deployment", lambda: budgets.append((deployment.call_time_left(), cloud.clock.now()))
        )
        deployment.abandon()

    cloud.at(cloud.clock.now() + 100, lambda: cloud.fail("codedeploy.deployment_progress", hang_past_the_deadline))

    outcome = runner.first(budget=10_000.0)

    assert isinstance(outcome, Failed)
    [(budget, at)] = budgets
    assert budget == pytest.approx(ends - at - MARGIN / 8)  # not half the margin, as a call of the run itself
