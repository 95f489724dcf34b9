"""The twin rules (a twin delivery of the same job is followed, and what it started is left to it) and the
ownership rules (a deployment that is not this run's is never followed, stopped or reported as success).
"""

from __future__ import annotations

from dataclasses import replace

from bluegreen.domain import DELIVERY_TAG_KEY, GREEN_TAG_KEY
from bluegreen.flow import Failed, InProgress, Succeeded, green_identifier
from bluegreen.state import RunState
from tests.flow.fake_ports import FakeCloud
from tests.flow.harness import Runner

GREEN = green_identifier("job-1")
TWIN = "0badc0de"  # the twin delivery's marker


def twin_codedeploy_description() -> str:
    return f"[{GREEN_TAG_KEY}={GREEN}] [{DELIVERY_TAG_KEY}={TWIN}] bluegreen: the twin's deployment"


def resumed(runner: Runner, cloud: FakeCloud, **fields: object) -> RunState:
    """A continuation's state (what a token carries), in the run's second invocation."""
    state = runner.deployment().begin("job-1")
    return replace(state, invocation=2, expected_greens=2, **fields)  # type: ignore[arg-type]


# ---- twins ------------------------------------------------------------------------------------


def test_a_spot_deployment_a_twin_started_is_attached_to_and_not_started_again(
    runner: Runner, cloud: FakeCloud
) -> None:
    twin = cloud.add_spot_deployment(((GREEN_TAG_KEY, GREEN), (DELIVERY_TAG_KEY, TWIN)))

    outcome = runner.first()

    assert isinstance(outcome, Succeeded)
    assert cloud.called("spot.start_deployment") == []
    assert outcome.state.spot_deployment_id == twin.deployment_id
    assert outcome.state.spot_adopted


def test_a_failing_run_leaves_the_twins_spot_deployment_to_the_twin(runner: Runner, cloud: FakeCloud) -> None:
    twin = cloud.add_spot_deployment(((GREEN_TAG_KEY, GREEN), (DELIVERY_TAG_KEY, TWIN)))
    cloud.codedeploy_outcome = "Failed"

    outcome = runner.first()

    assert isinstance(outcome, Failed)
    assert cloud.called("spot.stop_deployment") == []
    assert twin.state == "IN_PROGRESS"
    assert f"Left to the twin delivery of this job that started it: Spot deployment {twin.deployment_id}" in (
        outcome.message
    )


def test_a_spot_deployment_carrying_this_deliverys_own_marker_is_its_own_and_is_stopped_on_failure(
    runner: Runner, cloud: FakeCloud
) -> None:
    deployment = runner.deployment()
    state = deployment.begin("job-1")
    ours = cloud.add_spot_deployment(((GREEN_TAG_KEY, GREEN), (DELIVERY_TAG_KEY, state.delivery or "")))
    cloud.codedeploy_outcome = "Failed"

    outcome = deployment.run(state)

    assert isinstance(outcome, Failed)
    assert outcome.state is not None
    assert not outcome.state.spot_adopted
    assert ours.state == "STOPPED"


def test_a_codedeploy_deployment_a_twin_created_is_followed_and_not_created_again(
    runner: Runner, cloud: FakeCloud
) -> None:
    cloud.add_spot_deployment(((GREEN_TAG_KEY, GREEN), (DELIVERY_TAG_KEY, TWIN)))
    twin = cloud.add_codedeploy(GREEN, twin_codedeploy_description())

    outcome = runner.first()

    assert isinstance(outcome, Succeeded)
    assert cloud.called("codedeploy.create_deployment") == []
    assert outcome.state.codedeploy_deployment_id == twin.deployment_id
    assert outcome.state.codedeploy_adopted


def test_a_failing_run_leaves_the_twins_codedeploy_deployment_to_the_twin(runner: Runner, cloud: FakeCloud) -> None:
    cloud.deploy_seconds = 1000.0
    twin = cloud.add_codedeploy(GREEN, twin_codedeploy_description())
    cloud.at(cloud.clock.now() + 300, lambda: cloud.fail("codedeploy.deployment_progress", KeyError("boom")))

    outcome = runner.first()

    assert isinstance(outcome, Failed)
    assert cloud.called("codedeploy.stop_deployment") == []
    assert cloud.codedeploy_status(twin.deployment_id) == "InProgress"
    assert f"CodeDeploy deployment {twin.deployment_id} (stop it in the CodeDeploy console" in outcome.message
    assert cloud.spot_running() == []  # what this delivery started is still stopped


def test_a_twin_that_creates_its_codedeploy_deployment_first_is_followed_after_deployment_limit_exceeded(
    runner: Runner, cloud: FakeCloud
) -> None:
    # Between this run's look for a deployment and its create, the twin creates one onto the same greens.
    cloud.fail("codedeploy.create_deployment", lambda: cloud.add_codedeploy(GREEN, twin_codedeploy_description()))

    outcome = runner.first()

    assert isinstance(outcome, Succeeded)
    assert outcome.state.codedeploy_adopted
    assert len(cloud.codedeploy) == 1


def test_deployment_limit_exceeded_by_someone_elses_deployment_fails_and_leaves_it_alone(
    runner: Runner, cloud: FakeCloud
) -> None:
    other = cloud.add_codedeploy("another-green-value-xx", "[GreenIdentifier=another-green-value-xx] another run")
    cloud.deploy_seconds = 5000.0

    outcome = runner.first()

    assert isinstance(outcome, Failed)
    assert "DeploymentLimitExceededException" in outcome.message
    assert len(cloud.called("codedeploy.find_deployment_for_green")) == 1 + 3  # its look, then three for a twin
    assert cloud.called("codedeploy.stop_deployment") == []
    assert cloud.codedeploy_status(other.deployment_id) == "InProgress"
    assert cloud.spot_running() == []  # this run's own Spot deployment is cleaned up


def test_a_resumed_run_finding_its_own_codedeploy_deployment_follows_it_as_its_own(
    runner: Runner, cloud: FakeCloud
) -> None:
    cloud.deploy_seconds = 2000.0
    handed = runner.first()
    assert isinstance(handed, InProgress)
    assert handed.state.phase == "WAIT_DEPLOY"
    lost_answer = replace(handed.state, phase="DEPLOY", codedeploy_deployment_id=None)  # the create's reply was lost
    cloud.codedeploy_outcome = "Failed"
    cloud.deploy_seconds = 0.0

    outcome = runner.resume(InProgress(lost_answer, "", 50))

    assert isinstance(outcome, Succeeded)
    assert outcome.state.codedeploy_deployment_id == handed.state.codedeploy_deployment_id
    assert not outcome.state.codedeploy_adopted
    assert len(cloud.called("codedeploy.create_deployment")) == 1


# ---- ownership --------------------------------------------------------------------------------


def test_a_token_naming_another_applications_codedeploy_deployment_is_neither_followed_nor_stopped(
    runner: Runner, cloud: FakeCloud
) -> None:
    ours = cloud.add_spot_deployment(((GREEN_TAG_KEY, GREEN),))
    foreign = cloud.add_codedeploy(GREEN, f"[{GREEN_TAG_KEY}={GREEN}] theirs", application="billing")
    cloud.deploy_seconds = 5000.0
    state = resumed(
        runner,
        cloud,
        phase="WAIT_DEPLOY",
        spot_deployment_id=ours.deployment_id,
        codedeploy_deployment_id=foreign.deployment_id,
    )

    outcome = runner.deployment().run(state)

    assert isinstance(outcome, Failed)
    assert outcome.failure_type == "ConfigurationError"
    assert f"CodeDeploy deployment {foreign.deployment_id} is not this run's: it deploys billing/" in outcome.message
    assert cloud.called("codedeploy.stop_deployment") == []
    assert not cloud.codedeploy[foreign.deployment_id].stopped
    assert f"Not stopped, because not this run's: CodeDeploy deployment {foreign.deployment_id}" in outcome.message


def test_someone_elses_succeeded_codedeploy_deployment_is_never_reported_as_success(
    runner: Runner, cloud: FakeCloud
) -> None:
    ours = cloud.add_spot_deployment(((GREEN_TAG_KEY, GREEN),))
    foreign = cloud.add_codedeploy("another-green-value-xx", "[GreenIdentifier=another-green-value-xx] theirs")
    cloud.deploy_seconds = 0.0
    state = resumed(
        runner,
        cloud,
        phase="WAIT_DEPLOY",
        spot_deployment_id=ours.deployment_id,
        codedeploy_deployment_id=foreign.deployment_id,
    )

    outcome = runner.deployment().run(state)

    assert isinstance(outcome, Failed)
    assert outcome.failure_type == "ConfigurationError"
    assert "it targets no instances tagged GreenIdentifier=" in outcome.message


def test_a_run_resumed_in_the_bake_checks_whose_deployment_it_bakes_before_success(
    runner: Runner, cloud: FakeCloud
) -> None:
    runner.params = replace(runner.params, bake_seconds=60)
    ours = cloud.add_spot_deployment(((GREEN_TAG_KEY, GREEN),))
    foreign = cloud.add_codedeploy(GREEN, f"[{GREEN_TAG_KEY}={GREEN}] theirs", group="payments-bluegreen")
    cloud.deploy_seconds = 0.0
    state = resumed(
        runner,
        cloud,
        phase="BAKE",
        spot_deployment_id=ours.deployment_id,
        codedeploy_deployment_id=foreign.deployment_id,
        bake_started_at=int(cloud.clock.now()) - 120,
    )

    outcome = runner.deployment().run(state)

    assert isinstance(outcome, Failed)
    assert outcome.failure_type == "ConfigurationError"
    assert "payments-bluegreen" in outcome.message


def test_a_run_resumed_in_the_bake_of_its_own_deployment_succeeds(runner: Runner, cloud: FakeCloud) -> None:
    runner.params = replace(runner.params, bake_seconds=60)
    ours = cloud.add_spot_deployment(((GREEN_TAG_KEY, GREEN),))
    mine = cloud.add_codedeploy(GREEN, f"[{GREEN_TAG_KEY}={GREEN}] mine")
    cloud.deploy_seconds = 0.0
    state = resumed(
        runner,
        cloud,
        phase="BAKE",
        spot_deployment_id=ours.deployment_id,
        codedeploy_deployment_id=mine.deployment_id,
        bake_started_at=int(cloud.clock.now()) - 120,
    )

    assert isinstance(runner.deployment().run(state), Succeeded)


def test_a_token_naming_a_spot_deployment_without_this_runs_tag_never_gets_it_stopped(
    runner: Runner, cloud: FakeCloud
) -> None:
    foreign = cloud.add_spot_deployment(((GREEN_TAG_KEY, "another-green-value-xx"),))
    runner.params = replace(runner.params, timeout_seconds=300)
    state = resumed(runner, cloud, phase="WAIT_GREEN", spot_deployment_id=foreign.deployment_id)

    outcome = runner.deployment().run(state)

    assert isinstance(outcome, Failed)
    assert outcome.failure_type == "ConfigurationError"
    assert cloud.called("spot.stop_deployment") == []
    assert foreign.state == "IN_PROGRESS"
    assert f"Spot deployment {foreign.deployment_id} (it does not carry the tag {GREEN_TAG_KEY}={GREEN})" in (
        outcome.message
    )


def test_a_token_naming_a_spot_deployment_the_group_does_not_list_never_gets_it_stopped(
    runner: Runner, cloud: FakeCloud
) -> None:
    runner.params = replace(runner.params, timeout_seconds=300)
    state = resumed(runner, cloud, phase="WAIT_GREEN", spot_deployment_id="cdbg-99999999")

    outcome = runner.deployment().run(state)

    assert isinstance(outcome, Failed)
    assert outcome.failure_type == "ConfigurationError"
    assert cloud.called("spot.stop_deployment") == []
    assert f"Elastigroup {runner.params.group_id} lists no deployment cdbg-99999999" in outcome.message
