"""Reclaim's rules in the state machine (issue 10): when CodePipeline no longer waits for a run, what of it still
runs is stopped; a re-delivery of a run that already ended reports that run's outcome and starts nothing again; a
run resumed into DEPLOY after its Spot deployment was stopped deploys nothing.
"""

from __future__ import annotations

from dataclasses import replace

import pytest

from bluegreen.aws import ActionRun
from bluegreen.domain import DELIVERY_TAG_KEY, GREEN_TAG_KEY
from bluegreen.errors import ServiceUnavailableError
from bluegreen.flow import Failed, InProgress, Succeeded, green_identifier
from tests.flow.fake_ports import FakeCloud
from tests.flow.harness import BUDGET, MARGIN, Runner

GREEN = green_identifier("job-1")
CHANGES = ("spot.start_deployment", "codedeploy.create_deployment")


def started(cloud: FakeCloud, name: str) -> int:
    return len(cloud.called(name))


def deploying(runner: Runner, cloud: FakeCloud) -> InProgress:
    """A run handed over while CodeDeploy deploys (CodePipeline then stops waiting for it)."""
    cloud.deploy_seconds = 5000.0
    handed = runner.first()
    assert isinstance(handed, InProgress)
    assert handed.state.phase == "WAIT_DEPLOY"
    return handed


# ---- reclaim ------------------------------------------------------------------------------------


def test_reclaim_stops_the_codedeploy_deployment_with_rollback_and_the_spot_deployment(
    runner: Runner, cloud: FakeCloud
) -> None:
    handed = deploying(runner, cloud)

    done = runner.deployment().reclaim(handed.state)

    assert [cloud.codedeploy_status(d) for d in cloud.codedeploy] == ["Stopped"]
    assert cloud.spot_running() == []
    assert cloud.live_greens(handed.state.green) == []
    assert "stopped CodeDeploy deployment" in done
    assert "(with rollback)" in done
    assert f"stopped Spot deployment {handed.state.spot_deployment_id}" in done


def test_reclaim_may_use_most_of_the_reserve_kept_for_the_report(runner: Runner, cloud: FakeCloud) -> None:
    handed = deploying(runner, cloud)
    deployment = runner.deployment()
    assert deployment.call_time_left() == pytest.approx(BUDGET - MARGIN / 2)  # a call of the run itself
    budgets: list[float] = []
    cloud.fail("spot.stop_deployment", lambda: budgets.append(deployment.call_time_left()))

    deployment.reclaim(handed.state)

    assert budgets == [pytest.approx(BUDGET - MARGIN / 8)]


def test_reclaim_finds_by_its_tag_a_spot_deployment_the_state_does_not_name_yet(
    runner: Runner, cloud: FakeCloud
) -> None:
    # The invocation was killed after Spot started the deployment, before its state recorded it.
    state = runner.deployment().begin("job-1")
    lost = cloud.add_spot_deployment(((GREEN_TAG_KEY, state.green), (DELIVERY_TAG_KEY, state.delivery or "")))

    done = runner.deployment().reclaim(state)

    assert lost.state == "STOPPED"
    assert f"stopped Spot deployment {lost.deployment_id}" in done


def test_reclaim_finds_by_its_green_marker_a_codedeploy_deployment_the_state_does_not_name_yet(
    runner: Runner, cloud: FakeCloud
) -> None:
    handed = deploying(runner, cloud)
    created_unrecorded = replace(handed.state, phase="DEPLOY", codedeploy_deployment_id=None)

    runner.deployment().reclaim(created_unrecorded)

    assert [cloud.codedeploy_status(d) for d in cloud.codedeploy] == ["Stopped"]


def test_reclaim_while_greens_launch_never_looks_for_a_codedeploy_deployment(runner: Runner, cloud: FakeCloud) -> None:
    cloud.launch_seconds = 5000.0
    handed = runner.first(budget=200)
    assert isinstance(handed, InProgress)
    assert handed.state.phase == "WAIT_GREEN"
    looks = started(cloud, "codedeploy.find_deployment_for_green")

    runner.deployment().reclaim(handed.state)

    assert started(cloud, "codedeploy.find_deployment_for_green") == looks
    assert cloud.spot_running() == []


def test_reclaim_stops_what_a_twin_delivery_of_the_action_started_too(runner: Runner, cloud: FakeCloud) -> None:
    twin = cloud.add_spot_deployment(((GREEN_TAG_KEY, GREEN), (DELIVERY_TAG_KEY, "0badc0de")))
    cloud.deploy_seconds = 5000.0
    handed = runner.first()
    assert isinstance(handed, InProgress)
    assert handed.state.spot_adopted

    runner.deployment().reclaim(handed.state)

    assert twin.state == "STOPPED"  # CodePipeline gave up the whole action execution, the twin's share included


def test_reclaim_leaves_a_release_that_already_went_live_alone(runner: Runner, cloud: FakeCloud) -> None:
    handed = deploying(runner, cloud)
    cloud.deploy_seconds = 0.0  # CodeDeploy succeeded after the hand-over

    done = runner.deployment().reclaim(handed.state)

    assert "had already succeeded, so the release is live and nothing was stopped" in done
    assert cloud.called("spot.stop_deployment") == []
    assert cloud.called("codedeploy.stop_deployment") == []
    assert len(cloud.live_greens(handed.state.green)) == 2


def test_reclaim_twice_stops_nothing_more_and_never_fails(runner: Runner, cloud: FakeCloud) -> None:
    handed = deploying(runner, cloud)
    runner.deployment().reclaim(handed.state)
    stops = started(cloud, "codedeploy.stop_deployment")

    again = runner.deployment().reclaim(handed.state)

    assert started(cloud, "codedeploy.stop_deployment") == stops  # CodeDeploy says it is over: nothing to stop
    assert f"Spot deployment {handed.state.spot_deployment_id} had already ended" in again
    assert started(cloud, "spot.start_deployment") == 1
    assert started(cloud, "codedeploy.create_deployment") == 1


def test_reclaim_never_stops_a_codedeploy_deployment_that_is_not_this_runs(runner: Runner, cloud: FakeCloud) -> None:
    handed = deploying(runner, cloud)
    foreign = cloud.add_codedeploy(GREEN, f"[{GREEN_TAG_KEY}={GREEN}] theirs", application="billing")
    forged = replace(handed.state, codedeploy_deployment_id=foreign.deployment_id)

    done = runner.deployment().reclaim(forged)

    assert not foreign.stopped
    assert f"Not stopped, because not this run's: CodeDeploy deployment {foreign.deployment_id}" in done


def test_reclaim_that_cannot_look_for_the_spot_deployment_says_what_to_check_by_hand(
    runner: Runner, cloud: FakeCloud
) -> None:
    state = runner.deployment().begin("job-1")
    cloud.fail("spot.find_deployment_by_tag", ServiceUnavailableError("Spot GET blue/green deployments failed"))

    done = runner.deployment().reclaim(state)

    assert f"Reclaim could not look for the Spot deployment tagged {GREEN_TAG_KEY}={state.green}" in done
    assert done.endswith("check by hand.")


def test_reclaim_of_a_run_with_nothing_left_says_so(runner: Runner, cloud: FakeCloud) -> None:
    state = runner.deployment().begin("job-1")

    assert runner.deployment().reclaim(state) == "nothing of this run was still running"


def test_an_invocation_that_gave_the_run_up_may_still_reclaim_it(runner: Runner, cloud: FakeCloud) -> None:
    handed = deploying(runner, cloud)
    deployment = runner.deployment()
    deployment.abandon()  # the watchdog gave this invocation's run up; then CodePipeline refused its report

    deployment.reclaim(handed.state)

    assert cloud.spot_running() == []


# ---- a re-delivery of a run that already ended ----------------------------------------------------------


def test_a_re_delivery_of_a_run_that_succeeded_reports_success_and_starts_nothing(
    runner: Runner, cloud: FakeCloud
) -> None:
    first = runner.first()
    assert isinstance(first, Succeeded)
    for record in cloud.spot_deployments.values():
        record.state = record.status = "FINISHED"  # Elastigroup retired the blues

    again = runner.first()  # the same event delivered again: same green, a new delivery marker

    assert isinstance(again, Succeeded)
    assert again.state.codedeploy_deployment_id == first.state.codedeploy_deployment_id
    assert started(cloud, "spot.start_deployment") == 1
    assert started(cloud, "codedeploy.create_deployment") == 1


def test_a_re_delivery_of_a_run_that_failed_reports_codedeploys_cause_and_starts_nothing(
    runner: Runner, cloud: FakeCloud
) -> None:
    cloud.codedeploy_outcome = "Failed"
    first = runner.first()
    assert isinstance(first, Failed)

    again = runner.first()

    assert isinstance(again, Failed)
    assert "Failed: HEALTH_CONSTRAINTS" in again.message
    assert started(cloud, "spot.start_deployment") == 1
    assert started(cloud, "codedeploy.create_deployment") == 1


def test_a_re_delivery_after_the_spot_deployment_ended_before_any_codedeploy_deployment_starts_nothing(
    runner: Runner, cloud: FakeCloud
) -> None:
    cloud.add_spot_deployment(((GREEN_TAG_KEY, GREEN), (DELIVERY_TAG_KEY, "0badc0de")), state="STOPPED")

    outcome = runner.first()

    assert isinstance(outcome, Failed)
    assert "before any CodeDeploy deployment was made" in outcome.message
    assert "nothing was started again" in outcome.message
    assert [c for c in cloud.calls if c.name in CHANGES] == []


def test_the_green_identifier_comes_from_the_action_execution_so_a_continuation_job_finds_its_run(
    runner: Runner,
) -> None:
    deployment = runner.deployment()
    run = ActionRun("web", "exec-1", "action-exec-1")

    assert (
        deployment.begin("job-1", run).green
        == deployment.begin("job-2", run).green
        == green_identifier("action-exec-1")
    )
    assert deployment.begin("job-1", run).action_execution_id == "action-exec-1"


# ---- resumed into DEPLOY --------------------------------------------------------------------------------


def test_a_run_resumed_into_deploy_after_its_spot_deployment_was_stopped_deploys_nothing(
    runner: Runner, cloud: FakeCloud
) -> None:
    cloud.launch_seconds = 400.0
    handed = runner.first(budget=200)
    assert isinstance(handed, InProgress)
    greens_ready = replace(handed.state, phase="DEPLOY")
    for record in cloud.spot_deployments.values():
        record.state = record.status = "STOPPED"  # someone stopped it between the two invocations

    outcome = runner.resume(InProgress(greens_ready, "", 50))

    assert isinstance(outcome, Failed)
    assert "before the CodeDeploy deployment was made" in outcome.message
    assert cloud.called("codedeploy.create_deployment") == []
