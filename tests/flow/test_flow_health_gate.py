"""The health gate's rules: ALARMS are watched from DEPLOY to the end of the bake; an alarm while deploying stops
CodeDeploy (with rollback) and Spot; an alarm while baking fails the job and leaves the released greens running.
"""

from __future__ import annotations

from bluegreen.errors import ServiceUnavailableError
from bluegreen.flow import Failed, Succeeded
from tests.flow.fake_ports import FakeCloud
from tests.flow.harness import POLL, Runner, make_params

ALARM = "web-5xx"


def gated(cloud: FakeCloud, bake: int = 0) -> Runner:
    cloud.set_alarm(ALARM, "OK")
    return Runner(cloud, make_params(alarms=(ALARM,), bake_seconds=bake))


def test_an_alarm_already_firing_when_the_greens_are_ready_fails_before_codedeploy_starts(cloud: FakeCloud) -> None:
    runner = gated(cloud)
    cloud.at(cloud.clock.now() + 30, lambda: cloud.set_alarm(ALARM, "ALARM", "5xx above 1%"))

    outcome = runner.first()

    assert isinstance(outcome, Failed)
    assert outcome.failure_type == "JobFailed"
    assert f"health gate: CloudWatch alarm '{ALARM}' is in ALARM since an unknown time: 5xx above 1%" in (
        outcome.message
    )
    assert cloud.called("codedeploy.create_deployment") == []
    assert cloud.spot_running() == []


def test_an_alarm_firing_while_codedeploy_deploys_stops_it_with_rollback_and_stops_spot(cloud: FakeCloud) -> None:
    runner = gated(cloud)
    cloud.deploy_seconds = 600.0
    cloud.at(cloud.clock.now() + 200, lambda: cloud.set_alarm(ALARM, "ALARM"))

    outcome = runner.first()

    assert isinstance(outcome, Failed)
    assert outcome.state is not None
    assert outcome.state.phase == "WAIT_DEPLOY"
    assert [cloud.codedeploy_status(d) for d in cloud.codedeploy] == ["Stopped"]
    assert cloud.spot_running() == []
    assert cloud.live_greens(outcome.state.green) == []
    assert "(with rollback)" in outcome.message
    (stop,) = cloud.called("codedeploy.stop_deployment")
    assert 200 <= stop.at - cloud.called("spot.start_deployment")[0].at < 200 + POLL  # at the next poll


def test_an_alarm_firing_as_codedeploy_succeeds_is_never_reported_as_success(cloud: FakeCloud) -> None:
    runner = gated(cloud)
    started = cloud.clock.now()
    # CodeDeploy is created when the greens are ready (60 s) and takes 90 s: the alarm fires at the same moment.
    cloud.at(started + 150, lambda: cloud.set_alarm(ALARM, "ALARM"))

    outcome = runner.first()

    assert isinstance(outcome, Failed)
    assert "health gate" in outcome.message


def test_an_alarm_firing_during_the_bake_fails_the_job_and_leaves_the_released_greens_running(
    cloud: FakeCloud,
) -> None:
    runner = gated(cloud, bake=600)
    cloud.at(cloud.clock.now() + 400, lambda: cloud.set_alarm(ALARM, "ALARM"))

    outcome = runner.first()

    assert isinstance(outcome, Failed)
    assert outcome.state is not None
    assert outcome.state.phase == "BAKE"
    assert "health gate" in outcome.message
    assert cloud.called("spot.stop_deployment") == []
    assert cloud.called("codedeploy.stop_deployment") == []
    assert len(cloud.live_greens(outcome.state.green)) == 2
    assert "To roll back, redeploy the previous revision" in outcome.message


def test_alarms_that_stay_ok_give_success_only_after_the_bake(cloud: FakeCloud) -> None:
    runner = gated(cloud, bake=300)

    outcome = runner.first()

    assert isinstance(outcome, Succeeded)
    assert outcome.state.bake_started_at is not None
    assert cloud.clock.now() >= outcome.state.bake_started_at + 300
    assert "1 alarm OK after a 300 s bake" in outcome.summary
    polls = [c.at for c in cloud.called("cloudwatch.alarm_states") if c.at >= outcome.state.bake_started_at]
    assert len(polls) >= 300 // POLL  # watched all through the bake


def test_an_alarm_in_insufficient_data_does_not_fail_the_gate(cloud: FakeCloud) -> None:
    runner = gated(cloud)
    cloud.set_alarm(ALARM, "INSUFFICIENT_DATA")

    assert isinstance(runner.first(), Succeeded)


def test_alarms_unreadable_before_deploying_do_not_hold_the_deployment(cloud: FakeCloud) -> None:
    runner = gated(cloud)
    cloud.at(
        cloud.clock.now() + 1,
        lambda: cloud.fail("cloudwatch.alarm_states", ServiceUnavailableError("AWS cloudwatch:DescribeAlarms failed")),
    )

    outcome = runner.first()

    assert isinstance(outcome, Succeeded)
    assert len(cloud.called("codedeploy.create_deployment")) == 1


def test_alarms_unreadable_on_every_poll_fail_the_run_without_success(cloud: FakeCloud) -> None:
    runner = gated(cloud)
    cloud.deploy_seconds = 600.0
    unreadable = ServiceUnavailableError("AWS cloudwatch:DescribeAlarms failed: ThrottlingException")
    cloud.at(cloud.clock.now() + 100, lambda: cloud.fail("cloudwatch.alarm_states", *[unreadable] * 10))

    outcome = runner.first()

    assert isinstance(outcome, Failed)
    assert outcome.failure_type == "SystemUnavailable"
    assert [cloud.codedeploy_status(d) for d in cloud.codedeploy] == ["Stopped"]


def test_an_alarm_deleted_during_the_run_fails_it_once_it_stays_missing(cloud: FakeCloud) -> None:
    runner = gated(cloud)
    cloud.deploy_seconds = 600.0
    cloud.at(cloud.clock.now() + 100, cloud.alarms.clear)

    outcome = runner.first()

    assert isinstance(outcome, Failed)
    assert outcome.failure_type == "SystemUnavailable"
    assert f"did not return alarm(s) '{ALARM}'" in outcome.message


def test_an_unknown_alarm_name_fails_preflight_and_launches_nothing(cloud: FakeCloud) -> None:
    runner = Runner(cloud, make_params(alarms=("web-typo",)))

    outcome = runner.first()

    assert isinstance(outcome, Failed)
    assert outcome.failure_type == "ConfigurationError"
    assert "ALARMS: no CloudWatch alarm (metric or composite) named 'web-typo'" in outcome.message
    assert cloud.called("spot.start_deployment") == []


def test_without_alarms_cloudwatch_is_never_asked(runner: Runner, cloud: FakeCloud) -> None:
    assert isinstance(runner.first(), Succeeded)
    assert cloud.called("cloudwatch.alarm_states") == []


def test_the_in_progress_summary_counts_the_alarms_by_state(cloud: FakeCloud) -> None:
    cloud.set_alarm("web-p99", "INSUFFICIENT_DATA")
    runner = gated(cloud, bake=1200)
    runner.params = make_params(alarms=(ALARM, "web-p99"), bake_seconds=1200)

    outcome = runner.first(budget=400)

    assert not isinstance(outcome, Failed)
    assert "1 alarm INSUFFICIENT_DATA, 1 alarm OK" in outcome.summary  # type: ignore[union-attr]
