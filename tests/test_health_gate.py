"""The health gate (issue 14): CloudWatch ALARMS watched from DEPLOY to the end of BAKE_TIME, through the real
handler on the fake cloud of conftest.py. Alarms live in moto (PutMetricAlarm, SetAlarmState, DescribeAlarms);
tests/fakes/cloudwatch.py fires them at a simulated time and injects DescribeAlarms faults on the wire.
"""

from __future__ import annotations

import datetime as dt
import json

import boto3
from botocore.stub import Stubber

from bluegreen.aws import AwsGateway
from bluegreen.flow import MAX_POLL_FAILURES
from bluegreen.state import TokenKey, decode_token
from tests.conftest import CANARY_TOKEN, TOKEN_KEY, Cloud
from tests.fakes.cloudwatch import CloudWatchFaults, fire_at, put_alarm
from tests.fakes.codedeploy import Script

ALARMS = ["web-5xx", "web-latency"]


def _deployment_created_at(cloud: Cloud) -> float | None:
    deployments = list(cloud.codedeploy.deployments.values())
    return deployments[0].created_at if deployments else None


def _deployment_ends_at(cloud: Cloud) -> float | None:
    created = _deployment_created_at(cloud)
    return None if created is None else created + cloud.codedeploy.script.duration


def _gated(cloud: Cloud, **overrides: object) -> dict[str, object]:
    for name in ALARMS:
        put_alarm(cloud.cloudwatch, name)
    return cloud.params(ALARMS=ALARMS, **overrides)


def test_an_alarm_firing_while_codedeploy_deploys_stops_the_deployment_with_rollback_and_fails_the_job(
    cloud: Cloud,
) -> None:
    cloud.codedeploy.script = Script(duration=400)
    created = lambda: _deployment_created_at(cloud)  # noqa: E731
    cloud.clock.on_advance.append(
        fire_at(cloud.cloudwatch, lambda: (c + 60) if (c := created()) else None, "web-5xx", "Threshold Crossed: 42")
    )

    report = cloud.run_pipeline(_gated(cloud))

    assert report.kind == "failure"
    failure = report.body["failureDetails"]
    assert failure["type"] == "JobFailed"
    message = failure["message"]
    assert message.startswith("WAIT_DEPLOY: health gate: CloudWatch alarm 'web-5xx' is in ALARM since 20")
    assert "Threshold Crossed: 42" in message
    assert "web-latency" not in message  # only the firing alarm is named
    deployment = next(iter(cloud.codedeploy.deployments.values()))
    assert deployment.stopped
    assert "StopDeployment" in cloud.codedeploy.calls
    assert f"stopped CodeDeploy deployment {deployment.deployment_id} (with rollback)" in message
    assert "stopped Spot deployment cdbg-00000001" in message
    assert cloud.spot.calls_to("PUT", "stop") == 1
    assert cloud.green_instances() == []
    assert not any(r.kind == "success" for r in cloud.codepipeline.reports)


def test_an_alarm_already_in_alarm_when_the_greens_are_ready_fails_before_codedeploy_starts(cloud: Cloud) -> None:
    params = _gated(cloud)
    cloud.cloudwatch.set_alarm_state(AlarmName="web-latency", StateValue="ALARM", StateReason="p99 above 2 s")

    report = cloud.run_pipeline(params)

    assert report.kind == "failure"
    failure = report.body["failureDetails"]
    assert failure["type"] == "JobFailed"
    assert failure["message"].startswith("DEPLOY: health gate: CloudWatch alarm 'web-latency' is in ALARM since ")
    assert "CreateDeployment" not in cloud.codedeploy.calls
    assert "stopped Spot deployment cdbg-00000001" in failure["message"]
    assert cloud.green_instances() == []


def test_an_alarm_firing_during_the_bake_fails_the_job_and_leaves_the_spot_deployment_running(cloud: Cloud) -> None:
    ends = lambda: _deployment_ends_at(cloud)  # noqa: E731
    cloud.clock.on_advance.append(
        fire_at(cloud.cloudwatch, lambda: (e + 100) if (e := ends()) else None, "web-latency", "p99 above 2 s")
    )

    report = cloud.run_pipeline(_gated(cloud, BAKE_TIME=300))

    assert report.kind == "failure"
    assert not any(r.kind == "success" for r in cloud.codepipeline.reports)
    failure = report.body["failureDetails"]
    assert failure["type"] == "JobFailed"
    message = failure["message"]
    assert message.startswith("BAKE: health gate: CloudWatch alarm 'web-latency' is in ALARM since ")
    assert "p99 above 2 s" in message
    # CodeDeploy had succeeded and Elastigroup may be retiring the blues: nothing is stopped, the docs' recovery
    # (stage rollback) is named.
    assert "StopDeployment" not in cloud.codedeploy.calls
    assert cloud.spot.calls_to("PUT", "stop") == 0
    assert "left running" in message
    assert "onFailure: ROLLBACK" in message
    assert cloud.green_instances()  # the greens keep serving


def test_alarms_staying_ok_give_success_only_after_the_bake_across_a_hand_over(cloud: Cloud) -> None:
    report = cloud.run_pipeline(_gated(cloud, BAKE_TIME=600), budget=300)

    assert report.kind == "success"
    assert cloud.clock.now() >= (_deployment_ends_at(cloud) or 0) + 600
    baking = [
        r.body
        for r in cloud.codepipeline.reports
        if r.kind == "in_progress" and r.body["executionDetails"]["summary"].startswith("Baking: ")
    ]
    assert baking, "at least one hand-over happens during the bake"
    assert "2 alarms OK" in baking[0]["executionDetails"]["summary"]
    state = decode_token(
        str(baking[0]["continuationToken"]),
        key=TokenKey(TOKEN_KEY),
        fingerprint=decode_token_fingerprint(baking[0]),
        timeout_seconds=86_400,
        now=cloud.clock.now(),
        action_execution_id=cloud.action.action_execution_id,
    )
    assert state.phase == "BAKE"
    assert state.bake_started_at is not None
    assert state.bake_started_at >= (_deployment_ends_at(cloud) or 0)
    assert "2 alarms OK after a 600 s bake" in report.body["executionDetails"]["summary"]


def decode_token_fingerprint(body: dict[str, object]) -> str:
    return str(json.loads(str(body["continuationToken"]))["f"])


def test_an_unknown_alarm_name_fails_preflight_with_a_configuration_error_and_launches_nothing(cloud: Cloud) -> None:
    put_alarm(cloud.cloudwatch, "web-5xx")

    report = cloud.run_pipeline(cloud.params(ALARMS="web-5xx, web-typo, other-typo"))

    assert report.kind == "failure"
    failure = report.body["failureDetails"]
    assert failure["type"] == "ConfigurationError"
    assert "ALARMS: no CloudWatch alarm (metric or composite) named 'web-typo', 'other-typo'" in failure["message"]
    assert "'web-5xx'" not in failure["message"]
    assert cloud.spot.deployments == []
    assert cloud.green_instances() == []


def test_describe_alarms_throttled_for_one_poll_does_not_fail_the_run(cloud: Cloud) -> None:
    faults = CloudWatchFaults()
    cloud.boto3_session = faults.session
    ends = lambda: _deployment_ends_at(cloud)  # noqa: E731
    throttled = False

    def throttle_once_deploying(now: float) -> None:
        nonlocal throttled
        created = _deployment_created_at(cloud)
        if not throttled and created is not None and now > created:
            throttled = True
            faults.fail_next("Throttling")  # every attempt of the next poll's call, boto3's retries included

    cloud.clock.on_advance.append(throttle_once_deploying)

    report = cloud.run_pipeline(_gated(cloud, BAKE_TIME=60))

    assert report.kind == "success"
    assert throttled
    assert faults.answered == 4
    assert "Poll failed (1 in a row)" in cloud.logs
    assert "Throttling" in cloud.logs
    assert ends() is not None


def test_describe_alarms_unreadable_on_every_poll_fails_the_run_without_success(cloud: Cloud) -> None:
    faults = CloudWatchFaults()
    cloud.boto3_session = faults.session

    def garble_while_deploying(now: float) -> None:
        if _deployment_created_at(cloud) is not None and not faults.pending:
            faults.garble_next(times=MAX_POLL_FAILURES * 4)

    cloud.clock.on_advance.append(garble_while_deploying)

    report = cloud.run_pipeline(_gated(cloud, BAKE_TIME=60))

    assert report.kind == "failure"
    assert not any(r.kind == "success" for r in cloud.codepipeline.reports)
    failure = report.body["failureDetails"]
    assert failure["type"] == "SystemUnavailable"
    assert "cloudwatch:DescribeAlarms returned a reply of an unexpected shape" in failure["message"]
    assert f"Poll failed ({MAX_POLL_FAILURES - 1} in a row)" in cloud.logs


def test_an_alarm_deleted_during_the_run_fails_it_without_success_once_it_stays_missing(cloud: Cloud) -> None:
    cloud.codedeploy.script = Script(duration=600)
    deleted = False

    def delete_while_deploying(now: float) -> None:
        nonlocal deleted
        if not deleted and _deployment_created_at(cloud) is not None:
            deleted = True
            cloud.cloudwatch.delete_alarms(AlarmNames=["web-5xx"])

    cloud.clock.on_advance.append(delete_while_deploying)

    report = cloud.run_pipeline(_gated(cloud))

    assert report.kind == "failure"
    failure = report.body["failureDetails"]
    assert failure["type"] == "SystemUnavailable"
    assert "DescribeAlarms did not return alarm(s) 'web-5xx' (deleted since the run started" in failure["message"]
    assert "stopped CodeDeploy deployment" in failure["message"]  # still deploying: stopped with rollback


def test_a_bake_time_that_does_not_fit_in_timeout_is_a_configuration_error(cloud: Cloud) -> None:
    report = cloud.run_pipeline(cloud.params(TIMEOUT=900, BAKE_TIME=800))

    assert report.kind == "failure"
    failure = report.body["failureDetails"]
    assert failure["type"] == "ConfigurationError"
    assert "BAKE_TIME: 800 s does not fit in TIMEOUT 900 s" in failure["message"]
    assert cloud.spot.deployments == []


def test_without_alarms_cloudwatch_is_never_called(cloud: Cloud) -> None:
    faults = CloudWatchFaults()
    faults.fail_next("AccessDenied", times=100)  # any call would fail the run
    cloud.boto3_session = faults.session

    report = cloud.run_pipeline(cloud.params())

    assert report.kind == "success"
    assert faults.answered == 0
    assert CANARY_TOKEN not in cloud.logs


def test_composite_alarms_are_asked_for_and_read_like_metric_alarms() -> None:
    # moto has no composite alarms (PutCompositeAlarm is not implemented): botocore's Stubber answers with the
    # shapes of botocore's cloudwatch model (DescribeAlarmsOutput: MetricAlarms, CompositeAlarms).
    client = boto3.client(
        "cloudwatch", region_name="us-east-1", aws_access_key_id="testing", aws_secret_access_key="testing"
    )
    fired = dt.datetime(2026, 12, 1, 20, 15, 0, tzinfo=dt.UTC)
    with Stubber(client) as stub:
        stub.add_response(
            "describe_alarms",
            {
                "MetricAlarms": [{"AlarmName": "web-5xx", "StateValue": "OK", "StateReason": "quiet"}],
                "CompositeAlarms": [
                    {
                        "AlarmName": "web-health",
                        "StateValue": "ALARM",
                        "StateReason": "web-5xx-zone-b transitioned to ALARM",
                        "StateTransitionedTimestamp": fired,
                        "StateUpdatedTimestamp": fired + dt.timedelta(minutes=5),
                    }
                ],
            },
            {
                "AlarmNames": ["web-5xx", "web-health"],
                "AlarmTypes": ["MetricAlarm", "CompositeAlarm"],
                "MaxRecords": 100,
            },
        )
        gateway = AwsGateway(
            ec2=lambda: None,  # type: ignore[arg-type,return-value]
            codedeploy=lambda: None,  # type: ignore[arg-type,return-value]
            codepipeline=lambda: None,  # type: ignore[arg-type,return-value]
            s3=lambda: None,  # type: ignore[arg-type,return-value]
            cloudwatch=lambda: client,
        )
        states = gateway.alarm_states(["web-5xx", "web-health"])

    assert states["web-5xx"].firing is False
    composite = states["web-health"]
    assert composite.firing
    assert composite.describe() == (
        "CloudWatch alarm 'web-health' is in ALARM since 2026-12-01T20:15:00Z: web-5xx-zone-b transitioned to ALARM"
    )
