"""The state machine's phases and their order, on the in-memory ports (no moto, no sockets)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from bluegreen.domain import DELIVERY_TAG_KEY, GREEN_TAG_KEY, GitHubRevision
from bluegreen.errors import ServiceUnavailableError, SpotApiError
from bluegreen.flow import Failed, InProgress, Succeeded
from tests.fakes.clock import FakeClock
from tests.flow.fake_ports import FakeCloud
from tests.flow.harness import Runner, make_params

CHANGES = (
    "spot.start_deployment",
    "spot.stop_deployment",
    "codedeploy.create_deployment",
    "codedeploy.stop_deployment",
)


def changes(cloud: FakeCloud) -> list[str]:
    return [c.name for c in cloud.calls if c.name in CHANGES]


def test_a_run_starts_spot_waits_for_the_greens_deploys_and_succeeds_in_one_invocation(
    runner: Runner, cloud: FakeCloud
) -> None:
    outcome = runner.first()

    assert isinstance(outcome, Succeeded), outcome
    assert changes(cloud) == ["spot.start_deployment", "codedeploy.create_deployment"]
    assert outcome.state.phase == "WAIT_DEPLOY"
    assert outcome.state.codedeploy_deployment_id in cloud.codedeploy
    assert outcome.revision == runner.params.revision
    assert "Elastigroup now retires the blue instances" in outcome.summary


def test_preflight_reads_everything_before_the_spot_deployment_is_started(runner: Runner, cloud: FakeCloud) -> None:
    runner.first()

    names = [c.name for c in cloud.calls]
    start = names.index("spot.start_deployment")
    assert {"spot.get_group", "spot.list_deployments", "codedeploy.describe_deployment_group"} <= set(names[:start])
    assert "s3.check_revision_exists" in names[:start]


def test_preflight_runs_its_checks_beside_each_other_in_threads_the_clock_starts(
    runner: Runner, clock: FakeClock
) -> None:
    runner.first()

    # Spot's two reads in one thread, the CodeDeploy group and the S3 revision each in another; a simulated clock
    # schedules their sleeps (a 429 back-off) as the run's only because it started them.
    assert clock.threads_started == ["preflight_0", "preflight_1", "preflight_2"]


def test_the_spot_start_carries_the_green_tag_the_delivery_marker_and_timeout_unchanged(
    runner: Runner, cloud: FakeCloud
) -> None:
    outcome = runner.first()

    (start,) = cloud.called("spot.start_deployment")
    _, tag_key, tag_value, timeout, extra_tags = start.args
    assert (tag_key, tag_value) == (GREEN_TAG_KEY, outcome.state.green)
    assert timeout == runner.params.timeout_seconds
    assert extra_tags == ((DELIVERY_TAG_KEY, outcome.state.delivery),)


def test_codedeploy_is_created_only_once_every_expected_green_passed_its_status_checks(
    runner: Runner, cloud: FakeCloud
) -> None:
    outcome = runner.first()

    (create,) = cloud.called("codedeploy.create_deployment")
    ready_at = max(i.ready_at for i in cloud.instances.values())
    assert create.at >= ready_at
    assert create.at - ready_at <= 15  # at the first poll after they are ready
    assert outcome.state.greens_ready_at == int(create.at)


def test_codedeploy_targets_the_green_tag_and_its_description_carries_the_delivery_marker(
    runner: Runner, cloud: FakeCloud
) -> None:
    outcome = runner.first()

    (create,) = cloud.called("codedeploy.create_deployment")
    application, group, revision, green, description = create.args
    assert (application, group, revision, green) == (
        runner.params.application,
        runner.params.deployment_group,
        runner.params.revision,
        outcome.state.green,
    )
    assert f"[{DELIVERY_TAG_KEY}={outcome.state.delivery}]" in description


def test_success_is_reported_only_once_codedeploy_says_succeeded(runner: Runner, cloud: FakeCloud) -> None:
    outcome = runner.first()

    assert isinstance(outcome, Succeeded)
    deployment_id = outcome.state.codedeploy_deployment_id
    assert deployment_id is not None
    record = cloud.codedeploy[deployment_id]
    assert cloud.clock.now() >= record.created_at + cloud.deploy_seconds
    assert cloud.codedeploy_status(deployment_id) == "Succeeded"


def test_the_same_job_always_gets_the_same_green_identifier_and_a_console_test_a_fresh_one(runner: Runner) -> None:
    deployment = runner.deployment()

    assert deployment.begin("job-1").green == deployment.begin("job-1").green
    assert deployment.begin("job-1").green != deployment.begin("job-2").green
    assert deployment.begin(None).green != deployment.begin(None).green


def test_each_delivery_gets_its_own_delivery_marker(runner: Runner) -> None:
    deployment = runner.deployment()

    assert deployment.begin("job-1").delivery != deployment.begin("job-1").delivery


def test_a_new_run_has_its_deadline_timeout_seconds_from_now(runner: Runner, cloud: FakeCloud) -> None:
    state = runner.deployment().begin("job-1")

    assert state.deadline - state.started_at == runner.params.timeout_seconds
    assert state.started_at == int(cloud.clock.now())


def test_a_dry_run_checks_everything_and_changes_nothing(cloud: FakeCloud) -> None:
    runner = Runner(cloud, make_params(dry_run=True))

    outcome = runner.first()

    assert isinstance(outcome, Succeeded)
    assert outcome.revision is None
    assert outcome.checks
    assert changes(cloud) == []
    assert outcome.summary.startswith("Dry run: all checks passed; nothing was created or changed")


def test_a_github_revision_is_not_looked_up_in_s3(cloud: FakeCloud) -> None:
    runner = Runner(cloud, make_params(revision=GitHubRevision("acme/web", "a" * 40)))

    assert isinstance(runner.first(), Succeeded)
    assert cloud.called("s3.check_revision_exists") == []


def test_a_failed_preflight_starts_nothing(runner: Runner, cloud: FakeCloud) -> None:
    cloud.fail("spot.get_group", SpotApiError("GET group", 401, "Unauthorized"))

    outcome = runner.first()

    assert isinstance(outcome, Failed)
    assert outcome.failure_type == "PermissionError"
    assert outcome.state is not None
    assert outcome.state.phase == "START"
    assert changes(cloud) == []


def test_a_weighted_group_waits_for_as_many_greens_as_the_group_runs_instances(cloud: FakeCloud) -> None:
    cloud.group = replace(cloud.group, capacity_target=10, capacity_unit="weight")
    cloud.running_instances = 2
    runner = Runner(cloud, make_params())

    outcome = runner.first()

    assert isinstance(outcome, Succeeded)
    assert outcome.state.expected_greens == 2


def test_a_green_that_goes_away_is_not_counted_and_the_run_waits_for_its_replacement(
    runner: Runner, cloud: FakeCloud
) -> None:
    replacement: list[str] = []
    # Just before the greens would pass their checks (launch 60 s), Spot reclaims one of them.
    cloud.at(cloud.clock.now() + 50, lambda: replacement.append(cloud.interrupt(next(iter(cloud.instances)))))

    outcome = runner.first()

    assert isinstance(outcome, Succeeded)
    (create,) = cloud.called("codedeploy.create_deployment")
    assert create.at >= cloud.instances[replacement[0]].ready_at
    assert outcome.state.greens_lost == 1


def test_once_enough_greens_are_known_each_poll_reads_only_their_status(runner: Runner, cloud: FakeCloud) -> None:
    cloud.launch_seconds = 300.0

    runner.first()

    listings = cloud.called("ec2.find_green_instances")
    statuses = cloud.called("ec2.instance_health")
    assert statuses, "the known greens' status is polled"
    assert max(c.at for c in listings) < min(c.at for c in statuses)


def test_a_fleet_that_stops_growing_asks_spot_whether_it_gave_up_and_fails_early_when_it_did(
    runner: Runner, cloud: FakeCloud
) -> None:
    cloud.group = replace(cloud.group, capacity_target=3)  # the group wants 3, Spot launches 2 and gives up
    started_at = cloud.clock.now()
    cloud.at(started_at + 200, lambda: [setattr(r, "state", "FAILED") for r in cloud.spot_deployments.values()])

    outcome = runner.to_the_end()

    assert isinstance(outcome, Failed)
    assert outcome.failure_type == "JobFailed"
    assert "ended (FAILED/IN_PROGRESS) before the green instances were ready" in outcome.message
    assert cloud.clock.now() - started_at < 600  # long before TIMEOUT (3600 s)
    assert cloud.called("codedeploy.create_deployment") == []


def test_a_fleet_that_only_grows_slowly_never_asks_spot(runner: Runner, cloud: FakeCloud) -> None:
    cloud.launch_seconds = 240.0  # slower than a poll, faster than the stall check (300 s)

    assert isinstance(runner.first(), Succeeded)
    assert len(cloud.called("spot.list_deployments")) == 1  # preflight's only


def test_one_failed_poll_is_retried_at_the_next_interval(runner: Runner, cloud: FakeCloud) -> None:
    cloud.fail("ec2.find_green_instances", ServiceUnavailableError("AWS ec2:DescribeInstances failed: throttled"))

    assert isinstance(runner.first(), Succeeded)


def test_three_failed_polls_in_a_row_fail_the_run_as_system_unavailable(runner: Runner, cloud: FakeCloud) -> None:
    blip = ServiceUnavailableError("AWS codedeploy:GetDeployment failed: ThrottlingException")
    cloud.fail("codedeploy.deployment_progress", blip, blip, blip)

    outcome = runner.first()

    assert isinstance(outcome, Failed)
    assert outcome.failure_type == "SystemUnavailable"
    assert "ThrottlingException" in outcome.message


def test_two_failed_polls_then_a_good_one_reset_the_count(runner: Runner, cloud: FakeCloud) -> None:
    blip = ServiceUnavailableError("AWS codedeploy:GetDeployment failed: ThrottlingException")
    cloud.deploy_seconds = 300.0
    cloud.fail("codedeploy.deployment_progress", blip, blip, lambda: None, blip, blip)

    assert isinstance(runner.first(), Succeeded)


def test_a_new_phase_starts_at_once_without_waiting_a_poll_interval(runner: Runner, cloud: FakeCloud) -> None:
    runner.first()

    (start,) = cloud.called("spot.start_deployment")
    first_look = cloud.called("ec2.find_green_instances")[0]
    assert first_look.at == start.at


@pytest.mark.parametrize("bake", [120, 600])
def test_with_a_bake_time_success_comes_only_after_the_bake(cloud: FakeCloud, bake: int) -> None:
    runner = Runner(cloud, make_params(bake_seconds=bake))

    outcome = runner.to_the_end()

    assert isinstance(outcome, Succeeded)
    assert outcome.state.phase == "BAKE"
    assert outcome.state.bake_started_at is not None
    assert cloud.clock.now() >= outcome.state.bake_started_at + bake
    assert cloud.clock.now() < outcome.state.bake_started_at + bake + 15
    assert f"after a {bake} s bake" in outcome.summary


def test_an_in_progress_outcome_never_ends_the_job(runner: Runner, cloud: FakeCloud) -> None:
    cloud.launch_seconds = 2000.0

    outcome = runner.first()

    assert isinstance(outcome, InProgress)
    assert outcome.state.phase == "WAIT_GREEN"
    assert "Waiting for green instances" in outcome.summary
