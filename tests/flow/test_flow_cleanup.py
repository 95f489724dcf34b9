"""Cleanup on every failure: what this delivery started is stopped (the CodeDeploy deployment with rollback, the
Spot deployment, so its greens go), and the message says what was done and what is left to do by hand.
"""

from __future__ import annotations

from dataclasses import replace

import pytest

from bluegreen.domain import GREEN_TAG_KEY
from bluegreen.errors import (
    AccessDeniedError,
    ConfigurationError,
    DeploymentFailedError,
    ServiceUnavailableError,
    SpotApiError,
    SpotStartUnknownError,
)
from bluegreen.flow import Failed, InProgress
from tests.flow.fake_ports import FakeCloud
from tests.flow.harness import Runner, make_params


def failed(outcome: object) -> Failed:
    assert isinstance(outcome, Failed), outcome
    assert outcome.state is not None
    return outcome


def test_codedeploy_failing_stops_the_spot_deployment_so_no_green_is_left(runner: Runner, cloud: FakeCloud) -> None:
    cloud.codedeploy_outcome = "Failed"

    outcome = failed(runner.first())

    assert outcome.failure_type == "JobFailed"
    assert outcome.state is not None
    assert cloud.spot_running() == []
    assert cloud.live_greens(outcome.state.green) == []
    assert cloud.called("codedeploy.stop_deployment") == []  # it is over already: nothing to stop
    assert f"Cleanup: stopped Spot deployment {outcome.state.spot_deployment_id}" in outcome.message


def test_a_codedeploy_failure_names_the_failed_instances_and_their_lifecycle_events(
    runner: Runner, cloud: FakeCloud
) -> None:
    cloud.codedeploy_outcome = "Failed"

    outcome = failed(runner.first())

    assert f"CodeDeploy deployment {outcome.state.codedeploy_deployment_id} Failed: HEALTH_CONSTRAINTS" in (
        outcome.message
    )
    assert outcome.message.count("ValidateService ScriptFailed: health check returned 503") == 2
    assert "curl: 503" in outcome.message


def test_unreadable_lifecycle_events_do_not_hide_the_failure_nor_stop_the_cleanup(
    runner: Runner, cloud: FakeCloud
) -> None:
    cloud.codedeploy_outcome = "Failed"
    cloud.fail("codedeploy.failed_targets", AccessDeniedError("AWS codedeploy:ListDeploymentTargets failed"))

    outcome = failed(runner.first())

    assert "the failed instances' lifecycle events could not be read" in outcome.message
    assert cloud.spot_running() == []


def test_a_failure_while_deploying_stops_codedeploy_with_rollback_and_then_spot(
    runner: Runner, cloud: FakeCloud
) -> None:
    cloud.deploy_seconds = 600.0
    cloud.at(cloud.clock.now() + 200, lambda: cloud.fail("codedeploy.deployment_progress", KeyError("boom")))

    outcome = failed(runner.first())

    stops = [c.name for c in cloud.calls if c.name.endswith("stop_deployment")]
    assert stops == ["codedeploy.stop_deployment", "spot.stop_deployment"]
    assert [cloud.codedeploy_status(d) for d in cloud.codedeploy] == ["Stopped"]
    assert cloud.live_greens(outcome.state.green) == []


def test_an_internal_error_is_reported_as_job_failed_naming_it_after_the_cleanup(
    runner: Runner, cloud: FakeCloud
) -> None:
    cloud.fail("ec2.instance_health", KeyError("InstanceStatuses"))

    outcome = failed(runner.first())

    assert outcome.failure_type == "JobFailed"
    assert outcome.message.startswith("WAIT_GREEN: internal error KeyError: 'InstanceStatuses'")
    assert cloud.spot_running() == []


@pytest.mark.parametrize(
    ("error", "failure_type"),
    [
        (AccessDeniedError("AWS ec2:DescribeInstances failed: AccessDenied"), "PermissionError"),
        (ConfigurationError("GROUP_ID: no such group"), "ConfigurationError"),
        (DeploymentFailedError("greens went away"), "JobFailed"),
    ],
)
def test_every_kind_of_failure_in_wait_green_stops_the_spot_deployment_and_keeps_its_failure_type(
    runner: Runner, cloud: FakeCloud, error: Exception, failure_type: str
) -> None:
    cloud.fail("ec2.find_green_instances", error)

    outcome = failed(runner.first())

    assert outcome.failure_type == failure_type
    assert str(error) in outcome.message
    assert cloud.spot_running() == []
    assert cloud.live_greens(outcome.state.green) == []


def test_a_cleanup_call_that_fails_says_what_to_stop_by_hand(runner: Runner, cloud: FakeCloud) -> None:
    cloud.codedeploy_outcome = "Failed"
    cloud.fail("spot.stop_deployment", SpotApiError("PUT stop blue/green deployment", 503, "Service Unavailable"))

    outcome = failed(runner.first())

    assert "Cleanup FAILED, do this by hand: stop Spot deployment" in outcome.message
    assert f"terminate instances tagged {GREEN_TAG_KEY}={outcome.state.green}" in outcome.message
    assert outcome.failure_type == "JobFailed"  # the run's own failure, not the cleanup's


def test_a_codedeploy_stop_that_fails_does_not_keep_the_spot_deployment_running(
    runner: Runner, cloud: FakeCloud
) -> None:
    cloud.deploy_seconds = 600.0
    cloud.at(cloud.clock.now() + 200, lambda: cloud.fail("codedeploy.deployment_progress", KeyError("boom")))
    cloud.fail("codedeploy.stop_deployment", ServiceUnavailableError("AWS codedeploy:StopDeployment failed"))

    outcome = failed(runner.first())

    assert f"stop CodeDeploy deployment {outcome.state.codedeploy_deployment_id}" in outcome.message
    assert cloud.spot_running() == []


def test_a_spot_deployment_that_had_already_ended_is_reported_so(runner: Runner, cloud: FakeCloud) -> None:
    cloud.codedeploy_outcome = "Failed"
    cloud.at(cloud.clock.now() + 100, lambda: [setattr(r, "state", "FAILED") for r in cloud.spot_deployments.values()])

    outcome = failed(runner.first())

    assert f"Spot deployment {outcome.state.spot_deployment_id} had already ended" in outcome.message


def test_a_spot_start_of_unknown_outcome_is_looked_for_by_its_tag_and_stopped(runner: Runner, cloud: FakeCloud) -> None:
    def started_but_no_answer() -> None:
        cloud.add_spot_deployment(((GREEN_TAG_KEY, runner.deployments[-1].begin("job-1").green),))
        raise SpotStartUnknownError("POST start blue/green deployment", None, "no answer after 3 attempts")

    cloud.fail("spot.start_deployment", started_but_no_answer)

    outcome = failed(runner.first())

    assert outcome.failure_type == "SystemUnavailable"
    assert cloud.spot_running() == []
    assert outcome.state.spot_deployment_id in cloud.spot_deployments
    assert "Cleanup: stopped Spot deployment" in outcome.message


def test_a_spot_start_of_unknown_outcome_that_left_no_trace_says_what_to_look_for(
    runner: Runner, cloud: FakeCloud
) -> None:
    cloud.fail("spot.start_deployment", SpotStartUnknownError("POST start blue/green deployment", None, "no answer"))

    outcome = failed(runner.first())

    assert "do this by hand: look for a blue/green deployment tagged GreenIdentifier=" in outcome.message


def test_after_codedeploy_succeeded_a_failure_leaves_the_spot_deployment_and_greens_running(cloud: FakeCloud) -> None:
    cloud.set_alarm("web-5xx", "OK")
    runner = Runner(cloud, make_params(alarms=("web-5xx",), bake_seconds=600))
    cloud.at(cloud.clock.now() + 400, lambda: cloud.set_alarm("web-5xx", "ALARM"))

    outcome = failed(runner.to_the_end())

    assert outcome.state.phase == "BAKE"
    assert cloud.called("spot.stop_deployment") == []
    assert len(cloud.live_greens(outcome.state.green)) == 2
    assert "onFailure: ROLLBACK" in outcome.message


def test_a_failure_whose_cleanup_outlives_the_invocation_is_reported_with_what_to_check_by_hand(
    runner: Runner, cloud: FakeCloud
) -> None:
    cloud.codedeploy_outcome = "Failed"
    reported: list[object] = []  # what the watchdog reports when it gives the run up
    cloud.fail("spot.stop_deployment", lambda: reported.append(runner.give_up()))

    runner.first()

    outcome = failed(reported[0])
    assert outcome.failure_type == "JobFailed"
    assert outcome.message.startswith("WAIT_DEPLOY: CodeDeploy deployment")
    assert "Cleanup did not finish before the invocation's deadline" in outcome.message
    assert f"stop Spot deployment {outcome.state.spot_deployment_id} of {runner.params.group_id}" in outcome.message


def test_a_run_handed_over_is_not_cleaned_up(runner: Runner, cloud: FakeCloud) -> None:
    cloud.launch_seconds = 5000.0

    outcome = runner.first(budget=200)

    assert isinstance(outcome, InProgress)
    assert cloud.called("spot.stop_deployment") == []
    assert len(cloud.spot_running()) == 1


def test_a_group_whose_capacity_the_flow_cannot_count_launches_nothing(cloud: FakeCloud) -> None:
    cloud.group = replace(cloud.group, capacity_unit="cpu")
    runner = Runner(cloud, make_params())

    outcome = failed(runner.first())

    assert outcome.failure_type == "ConfigurationError"
    assert "capacity unit 'cpu'" in outcome.message
    assert cloud.called("spot.start_deployment") == []


def _polls_fail_from(cloud: FakeCloud, moment: float, times: int) -> None:
    blip = ServiceUnavailableError("AWS codedeploy:GetDeployment failed: ThrottlingException")
    cloud.at(moment, lambda: cloud.fail("codedeploy.deployment_progress", *[blip] * times))


def test_polls_failing_just_as_codedeploy_succeeds_leave_the_fleet_it_made_live_running(
    runner: Runner, cloud: FakeCloud
) -> None:
    _polls_fail_from(cloud, cloud.clock.now() + 140, times=3)  # CodeDeploy succeeds at 150 s, unseen

    outcome = failed(runner.first())

    assert outcome.failure_type == "SystemUnavailable"
    assert [cloud.codedeploy_status(d) for d in cloud.codedeploy] == ["Succeeded"]
    assert cloud.called("spot.stop_deployment") == []
    assert len(cloud.live_greens(outcome.state.green)) == 2
    assert "were left running" in outcome.message


def test_when_how_codedeploy_ended_cannot_be_read_the_spot_deployment_is_stopped_as_before(
    runner: Runner, cloud: FakeCloud
) -> None:
    _polls_fail_from(cloud, cloud.clock.now() + 140, times=4)  # the read after the refused stop fails too

    outcome = failed(runner.first())

    assert cloud.spot_running() == []
    assert "Cleanup: stopped Spot deployment" in outcome.message


def test_a_codedeploy_deployment_that_failed_unseen_still_gets_the_spot_deployment_stopped(
    runner: Runner, cloud: FakeCloud
) -> None:
    cloud.codedeploy_outcome = "Failed"
    _polls_fail_from(cloud, cloud.clock.now() + 140, times=3)

    outcome = failed(runner.first())

    assert outcome.failure_type == "SystemUnavailable"
    assert cloud.spot_running() == []
    assert cloud.live_greens(outcome.state.green) == []


def test_cleanup_stops_the_codedeploy_deployment_it_created_without_reading_whose_it_is(
    runner: Runner, cloud: FakeCloud
) -> None:
    runner.params = make_params(timeout_seconds=600)
    cloud.deploy_seconds = 5000.0

    outcome = failed(runner.to_the_end())

    assert f"stopped CodeDeploy deployment {outcome.state.codedeploy_deployment_id} (with rollback)" in outcome.message
    reads = [call.at for call in cloud.called("codedeploy.deployment_progress")]
    assert len(reads) == len(set(reads))  # one read per poll, none more before the stop: it is known as its own
