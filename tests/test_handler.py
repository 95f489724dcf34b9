"""The whole flow through the real handler, against fakes at every boundary (see conftest.py)."""

from __future__ import annotations

import json
import re

import pytest
import requests

from bluegreen.state import TokenKey, decode_token
from bluegreen_sim.loopback import AwsFault
from tests.conftest import CANARY_TOKEN, TOKEN_KEY, Cloud
from tests.fakes.codedeploy import Script
from tests.fakes.spot import Fault

GITHUB_SHA = "0123456789abcdef0123456789abcdef01234567"


def _assert_no_canary(cloud: Cloud) -> None:
    assert CANARY_TOKEN not in cloud.logs
    for report in cloud.codepipeline.reports:
        assert CANARY_TOKEN not in json.dumps(report.body)
    for result in cloud.results:
        assert CANARY_TOKEN not in json.dumps(result)


def test_happy_path_with_s3_revision_reports_success_after_codedeploy_succeeds(cloud: Cloud) -> None:
    report = cloud.run_pipeline(cloud.params())

    assert report.kind == "success"
    deployment = next(iter(cloud.codedeploy.deployments.values()))
    assert deployment.request["revision"] == {
        "revisionType": "S3",
        "s3Location": {"bucket": "revisions", "key": "app/v2.zip", "bundleType": "zip"},
    }
    green = cloud.spot.deployments[0].green
    assert deployment.request["targetInstances"] == {
        "tagFilters": [{"Key": "GreenIdentifier", "Value": green, "Type": "KEY_AND_VALUE"}]
    }
    assert green in deployment.request["description"]
    assert report.body["outputVariables"] == {
        "GreenIdentifier": green,
        "SpotDeploymentId": "cdbg-00000001",
        "CodeDeployDeploymentId": deployment.deployment_id,
        "DeployedRevision": "s3://revisions/app/v2.zip",
    }
    assert report.body["executionDetails"]["externalExecutionId"] == deployment.deployment_id
    assert cloud.clock.now() >= deployment.created_at + deployment.behaviour.duration


def test_spot_receives_the_tag_timeout_and_deployment_group(cloud: Cloud) -> None:
    cloud.run_pipeline(cloud.params(TIMEOUT="900"))

    body = cloud.spot.last_start_body["deployment"]
    assert body["timeout"] == 900
    green, delivery = body["tags"]
    assert green == {"tagKey": "GreenIdentifier", "tagValue": cloud.spot.deployments[0].green}
    assert delivery["tagKey"] == "BlueGreenDelivery"
    assert re.fullmatch(r"[0-9a-f]{8}", delivery["tagValue"])
    assert body["deploymentGroups"] == [{"applicationName": "App", "deploymentGroupName": "DG"}]


def test_happy_path_with_github_revision_sends_the_github_location(cloud: Cloud) -> None:
    params = cloud.params(S3_BUCKET=None, S3_KEY=None, S3_BUNDLE=None, GITHUB_REPO="acme/web", COMMIT_ID=GITHUB_SHA)

    report = cloud.run_pipeline(params)

    assert report.kind == "success"
    deployment = next(iter(cloud.codedeploy.deployments.values()))
    assert deployment.request["revision"] == {
        "revisionType": "GitHub",
        "gitHubLocation": {"repository": "acme/web", "commitId": GITHUB_SHA},
    }


def test_a_long_launch_is_carried_over_two_continuations(cloud: Cloud) -> None:
    cloud.spot.launch_delay = 250  # greens take longer than two 120 s invocations

    report = cloud.run_pipeline(cloud.params(), budget=120)

    kinds = [r.kind for r in cloud.codepipeline.reports]
    assert kinds[:2] == ["in_progress", "in_progress"]
    assert kinds[-1] == "success"
    assert report.kind == "success"
    assert len(cloud.spot.deployments) == 1
    first = cloud.codepipeline.reports[0].body
    assert "Waiting for green instances" in first["executionDetails"]["summary"]
    assert len(first["continuationToken"]) <= 2048
    assert "outputVariables" not in first


def test_in_progress_report_names_the_codedeploy_deployment_once_known(cloud: Cloud) -> None:
    cloud.codedeploy.script = Script(duration=400)

    cloud.run_pipeline(cloud.params(), budget=150)

    in_progress = [r.body for r in cloud.codepipeline.reports if r.kind == "in_progress"]
    deploying = [b for b in in_progress if "CodeDeploy" in b["executionDetails"]["summary"]]
    assert deploying
    assert deploying[0]["executionDetails"]["externalExecutionId"].startswith("d-FAKE")


def test_failed_deployment_stops_the_greens_and_reports_codedeploy_error_information(cloud: Cloud) -> None:
    cloud.codedeploy.script = Script(outcome="Failed")

    report = cloud.run_pipeline(cloud.params())

    assert report.kind == "failure"
    failure = report.body["failureDetails"]
    assert failure["type"] == "JobFailed"
    assert "HEALTH_CONSTRAINTS" in failure["message"]
    assert "AfterInstall" in failure["message"]
    assert "systemctl: command failed" in failure["message"]
    assert "stopped Spot deployment cdbg-00000001" in failure["message"]
    assert cloud.spot.calls_to("PUT", "stop") == 1
    assert "StopDeployment" not in cloud.codedeploy.calls  # it had already failed: nothing to stop
    assert cloud.green_instances() == []


def test_deadline_passing_while_waiting_for_greens_fails_and_cleans_up(cloud: Cloud) -> None:
    cloud.spot.launch_delay = 10_000  # the greens never come

    report = cloud.run_pipeline(cloud.params(TIMEOUT=300))

    failure = report.body["failureDetails"]
    assert failure["type"] == "JobFailed"
    assert "Timed out" in failure["message"]
    assert "WAIT_GREEN" in failure["message"]
    assert "expected 2 green instance(s)" in failure["message"]
    assert cloud.spot.deployments[0].stopped
    assert cloud.codedeploy.deployments == {}


def test_deadline_passing_while_deploying_stops_both_deployments(cloud: Cloud) -> None:
    cloud.codedeploy.script = Script(duration=10_000)

    report = cloud.run_pipeline(cloud.params(TIMEOUT=600))

    failure = report.body["failureDetails"]
    assert "Timed out" in failure["message"]
    assert "WAIT_DEPLOY" in failure["message"]
    deployment = next(iter(cloud.codedeploy.deployments.values()))
    assert deployment.stopped
    assert cloud.spot.deployments[0].stopped
    assert failure["externalExecutionId"] == deployment.deployment_id


def test_an_interrupted_green_is_not_counted_and_its_replacement_is_awaited(cloud: Cloud) -> None:
    original_tick = cloud.spot.tick
    interrupted: list[str] = []

    def tick(now: float) -> None:
        original_tick(now)
        greens = cloud.green_instances(("running",))
        if greens and not interrupted:
            # A spot interruption reclaims one green; Elastigroup launches a replacement later.
            interrupted.append(greens[0])
            cloud.ec2.terminate_instances(InstanceIds=[greens[0]])
            record = cloud.spot.deployments[0]
            record.launched = False
            record.launch_at = now + 120
            cloud.spot.capacity = 1

    cloud.clock.on_advance[0] = tick

    report = cloud.run_pipeline(cloud.params())

    assert report.kind == "success"
    deployment = next(iter(cloud.codedeploy.deployments.values()))
    assert interrupted[0] not in deployment.targets
    assert len(deployment.targets) == 2


def test_spot_rate_limit_is_waited_out_and_the_run_succeeds(cloud: Cloud) -> None:
    cloud.spot.fail_next(
        "POST", "deployments", Fault(429, {"response": {"data": "Rate limit exceeded"}}, {"X-RateLimit-Reset": "7"})
    )

    report = cloud.run_pipeline(cloud.params())

    assert report.kind == "success"
    assert 7 in cloud.clock.sleeps
    assert len(cloud.spot.deployments) == 1


def test_the_same_event_delivered_twice_starts_only_one_spot_deployment(cloud: Cloud) -> None:
    event = cloud.job_event(cloud.params(), "job-dup")
    handler = cloud.handler()

    first = cloud.invoke(event, handler=handler)
    second = cloud.invoke(event, handler=cloud.handler())

    assert first is not None
    assert first["status"] == "Succeeded"
    assert second is not None
    assert second["greenIdentifier"] == first["greenIdentifier"]
    assert cloud.spot.calls_to("POST", "deployments") == 1
    assert len(cloud.codedeploy.deployments) == 1
    assert len(cloud.codepipeline.reports) == 1
    assert "another delivery answered it" in cloud.logs


def test_console_test_runs_the_flow_and_returns_the_result_without_calling_codepipeline(cloud: Cloud) -> None:
    result = cloud.invoke(cloud.params())

    assert result is not None
    assert result["status"] == "Succeeded"
    assert result["phase"] == "WAIT_DEPLOY"
    assert result["spotDeploymentId"] == "cdbg-00000001"
    assert result["codeDeployDeploymentId"].startswith("d-FAKE")
    assert cloud.codepipeline.reports == []


def test_console_test_resumes_from_its_continuation_token(cloud: Cloud) -> None:
    cloud.spot.launch_delay = 300
    first = cloud.invoke(cloud.params(), budget=100)
    assert first is not None
    assert first["status"] == "InProgress"

    second = cloud.invoke({**cloud.params(), "continuationToken": first["continuationToken"]})

    assert second is not None
    assert second["status"] == "Succeeded"
    assert second["greenIdentifier"] == first["greenIdentifier"]
    assert len(cloud.spot.deployments) == 1


@pytest.mark.parametrize(
    ("setup", "failure_type", "in_message"),
    [
        pytest.param(lambda c: None, "ConfigurationError", "GROUP_ID", id="bad-parameters"),
        pytest.param(
            lambda c: c.spot.fail_next("GET", "group", Fault(401)), "PermissionError", "HTTP 401", id="spot-401"
        ),
        pytest.param(
            lambda c: c.s3.delete_object(Bucket="revisions", Key="app/v2.zip"),
            "RevisionUnavailable",
            "s3://revisions/app/v2.zip",
            id="missing-revision",
        ),
        pytest.param(
            lambda c: c.spot.fail_next("GET", "group", *[Fault(503)] * 4),
            "SystemUnavailable",
            "HTTP 503",
            id="spot-unavailable",
        ),
        pytest.param(
            lambda c: c.codedeploy.fail_next("CreateDeployment", AwsFault("AccessDeniedException", "not allowed")),
            "PermissionError",
            "codedeploy:CreateDeployment",
            id="aws-access-denied",
        ),
        pytest.param(
            lambda c: setattr(c.codedeploy, "script", Script(outcome="Stopped")),
            "JobFailed",
            "Stopped",
            id="deployment-stopped",
        ),
    ],
)
def test_each_failure_is_reported_once_with_its_type(cloud: Cloud, setup, failure_type: str, in_message: str) -> None:
    setup(cloud)
    params = cloud.params(GROUP_ID="abc") if failure_type == "ConfigurationError" else cloud.params()

    report = cloud.run_pipeline(params)

    assert report.kind == "failure"
    assert report.body["failureDetails"]["type"] == failure_type
    assert in_message in report.body["failureDetails"]["message"]
    assert len(cloud.codepipeline.reports) == 1
    _assert_no_canary(cloud)


def test_failure_after_the_spot_deployment_started_stops_it(cloud: Cloud) -> None:
    cloud.codedeploy.fail_next("CreateDeployment", AwsFault("AccessDeniedException", "not allowed"))

    report = cloud.run_pipeline(cloud.params())

    assert "stopped Spot deployment cdbg-00000001" in report.body["failureDetails"]["message"]
    assert cloud.spot.deployments[0].stopped


def test_cleanup_that_fails_says_what_to_clean_by_hand(cloud: Cloud) -> None:
    cloud.codedeploy.script = Script(outcome="Failed")
    cloud.spot.fail_next("PUT", "stop", Fault(403))

    report = cloud.run_pipeline(cloud.params())

    message = report.body["failureDetails"]["message"]
    assert "Cleanup FAILED, do this by hand" in message
    assert "cdbg-00000001" in message


def test_invalid_user_parameters_json_names_the_position(cloud: Cloud) -> None:
    report = cloud.run_pipeline('{"API_TOKEN": "x",')

    assert report.body["failureDetails"]["type"] == "ConfigurationError"
    assert "invalid JSON at line 1" in report.body["failureDetails"]["message"]
    assert cloud.spot.calls == []


def test_a_plain_http_spot_api_url_to_a_remote_host_fails_the_job_naming_the_variable_before_any_call(
    cloud: Cloud,
) -> None:
    cloud.environ["SPOT_API_URL"] = "http://spot.example"

    report = cloud.run_pipeline(cloud.params())

    assert report.body["failureDetails"]["type"] == "ConfigurationError"
    assert report.body["failureDetails"]["message"].startswith(
        "environment variable SPOT_API_URL: expected an https:// URL (http only for loopback), got 'http://spot.example'"
    )
    assert cloud.spot.calls == []
    assert len(cloud.codepipeline.reports) == 1


def test_a_tampered_continuation_token_is_a_configuration_error(cloud: Cloud) -> None:
    event = cloud.job_event(cloud.params(), "job-7", continuation='{"v":1,"p":"WAIT_GREEN","c":"000"}')

    cloud.invoke(event)

    report = cloud.codepipeline.reports[-1]
    assert report.body["failureDetails"]["type"] == "ConfigurationError"
    assert "continuationToken" in report.body["failureDetails"]["message"]


def test_report_failure_is_logged_and_raised_so_lambda_retries(cloud: Cloud) -> None:
    cloud.codepipeline.faults.extend([AwsFault("InternalError", "boom", status=500)] * 4)  # outlasts retries

    with pytest.raises(Exception, match="reporting to CodePipeline failed"):
        cloud.invoke(cloud.job_event(cloud.params(GROUP_ID="bad"), "job-9"))

    assert "Could not report the result to CodePipeline" in cloud.logs


def test_an_event_without_a_job_id_is_ignored_without_raising(cloud: Cloud) -> None:
    result = cloud.invoke({"CodePipeline.job": {"data": {}}})

    assert result is None
    assert cloud.codepipeline.reports == []


@pytest.mark.parametrize(("event", "kind"), [([], "an array"), ("run it", "a string"), (3, "a number"), (None, "null")])
def test_an_event_of_no_kind_the_function_serves_is_refused_naming_the_kinds_it_expects(
    cloud: Cloud, event: object, kind: str
) -> None:
    result = cloud.invoke(event)

    assert result is not None
    assert result["status"] == "Failed"
    assert result["failureType"] == "ConfigurationError"
    assert result["summary"] == (
        'event: expected a CodePipeline job event ({"CodePipeline.job": ...}), an aws.codepipeline EventBridge '
        f"event or a console test event (a JSON object with the UserParameters keys), got {kind}"
    )
    assert cloud.codepipeline.reports == []
    assert cloud.spot.calls == []


def test_the_canary_token_appears_in_no_log_record_and_no_result(cloud: Cloud) -> None:
    cloud.codedeploy.script = Script(outcome="Failed", log_tail=f"echo {CANARY_TOKEN}\n")
    cloud.spot.fail_next("GET", "group", Fault(500, f"<html>proxy error {CANARY_TOKEN}</html>"))

    cloud.run_pipeline(cloud.params())
    cloud.invoke(cloud.params(TIMEOUT="x"))

    assert cloud.codepipeline.reports
    _assert_no_canary(cloud)


def test_continuation_token_is_bound_to_the_parameters(cloud: Cloud) -> None:
    cloud.spot.launch_delay = 300
    first = cloud.invoke(cloud.params(), budget=100)
    assert first is not None

    result = cloud.invoke({**cloud.params(APP_NAME="Other"), "continuationToken": first["continuationToken"]})

    assert result is not None
    assert result["failureType"] == "ConfigurationError"
    assert "different parameters" in result["summary"]


def test_spot_connection_errors_end_as_system_unavailable(cloud: Cloud) -> None:
    cloud.spot.fail_next("GET", "group", *[Fault(0, exception=requests.ConnectionError("refused"))] * 4)

    report = cloud.run_pipeline(cloud.params())

    assert report.body["failureDetails"]["type"] == "SystemUnavailable"


def test_group_with_no_capacity_fails_before_launching_anything(cloud: Cloud) -> None:
    cloud.spot.capacity = 0
    cloud.spot.status_instances = 0

    report = cloud.run_pipeline(cloud.params())

    assert report.body["failureDetails"]["type"] == "ConfigurationError"
    assert "capacity target of 0" in report.body["failureDetails"]["message"]
    assert cloud.spot.calls_to("POST", "deployments") == 0


def test_token_state_records_the_phase_and_ids(cloud: Cloud) -> None:
    cloud.spot.launch_delay = 300
    result = cloud.invoke(cloud.params(), budget=100)
    assert result is not None

    state = decode_token(
        result["continuationToken"],
        key=TokenKey(TOKEN_KEY),
        fingerprint=_fingerprint(cloud),
        timeout_seconds=1800,
        now=cloud.clock.now(),
    )

    assert state.phase == "WAIT_GREEN"
    assert state.spot_deployment_id == "cdbg-00000001"
    assert state.expected_greens == 2


def _fingerprint(cloud: Cloud) -> str:
    from bluegreen.params import validate_parameters

    return validate_parameters(cloud.params()).fingerprint()


def test_a_spot_deployment_that_fails_while_greens_are_awaited_is_noticed_before_the_timeout(cloud: Cloud) -> None:
    cloud.spot.launch_delay = 10_000
    original_tick = cloud.spot.tick

    def tick(now: float) -> None:
        original_tick(now)
        if cloud.spot.deployments and now - cloud.spot.deployments[0].launch_at > -9_800:
            cloud.spot.deployments[0].state = "FAILED"  # Elastigroup could not get the capacity

    cloud.clock.on_advance[0] = tick

    report = cloud.run_pipeline(cloud.params(TIMEOUT=3600))

    failure = report.body["failureDetails"]
    assert failure["type"] == "JobFailed"
    assert "Spot deployment cdbg-00000001 ended (FAILED/INITIALIZING)" in failure["message"]
    assert cloud.clock.now() - 1_800_000_000 < 900


def test_spot_is_not_polled_while_codedeploy_deploys(cloud: Cloud) -> None:
    cloud.codedeploy.script = Script(duration=3000)

    cloud.run_pipeline(cloud.params(TIMEOUT=7200))

    spot_calls = len(cloud.spot.calls)
    assert spot_calls == 3  # group, list (preflight), start


def test_a_resumed_run_waits_out_the_poll_interval_begun_before_the_hand_over(cloud: Cloud) -> None:
    cloud.spot.launch_delay = 300
    first = cloud.invoke(cloud.params(), budget=100)
    assert first is not None
    assert first["status"] == "InProgress"
    cloud.clock.advance(4)  # CodePipeline calls again quickly
    sleeps_before = len(cloud.clock.sleeps)

    cloud.invoke({**cloud.params(), "continuationToken": first["continuationToken"]})

    assert cloud.clock.sleeps[sleeps_before] == pytest.approx(11, abs=1)
