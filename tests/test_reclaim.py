"""A run is an action execution, not a job: its identity, and reclaiming it when CodePipeline stops waiting."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import boto3
import pytest

from bluegreen.errors import ReclaimFailedError, ReportFailedError
from bluegreen.flow import green_identifier
from bluegreen.params import validate_parameters
from bluegreen.state import TokenKey, decode_token
from bluegreen_sim.loopback import AwsFault
from tests.conftest import CANARY_TOKEN, GROUP_ID, TOKEN_KEY, Cloud, artifact_parameters, input_artifact
from tests.fakes.codedeploy import Script
from tests.fakes.spot import Fault


def _fingerprint(cloud: Cloud) -> str:
    return validate_parameters(cloud.params(), default_secret=None).fingerprint()


# ---- the run's identity ---------------------------------------------------------------------------------------


def test_the_green_identifier_comes_from_the_action_execution_and_survives_continuations(cloud: Cloud) -> None:
    cloud.spot.launch_delay = 250  # several invocations, each a new job of the same action execution

    report = cloud.run_pipeline(cloud.params(), budget=120)

    assert report.kind == "success"
    assert len({r.job_id for r in cloud.codepipeline.reports}) >= 3
    assert [d.green for d in cloud.spot.deployments] == [green_identifier(cloud.action.action_execution_id)]
    # Each invocation reads it once: a continuation checks that its token was written by this action execution.
    assert cloud.codepipeline.calls.count("GetJobDetails") == cloud.invocations


def test_the_codedeploy_deployment_names_the_pipeline_execution_it_was_made_for(cloud: Cloud) -> None:
    report = cloud.run_pipeline(cloud.params())

    assert report.kind == "success"
    (deployment,) = cloud.codedeploy.deployments.values()
    action = cloud.action
    assert (
        f"pipeline {action.pipeline_name} execution {action.pipeline_execution_id}" in deployment.request["description"]
    )


def test_the_continuation_token_carries_the_pipeline_run(cloud: Cloud) -> None:
    cloud.spot.launch_delay = 250

    cloud.run_pipeline(cloud.params(), budget=120)

    token = cloud.codepipeline.reports[0].body["continuationToken"]
    state = decode_token(
        token,
        key=TokenKey(TOKEN_KEY),
        fingerprint=_fingerprint(cloud),
        timeout_seconds=1800,
        now=cloud.clock.now(),
        action_execution_id=cloud.action.action_execution_id,
    )
    assert state.pipeline_name == cloud.action.pipeline_name
    assert state.pipeline_execution_id == cloud.action.pipeline_execution_id
    assert state.action_execution_id == cloud.action.action_execution_id
    assert len(token) <= 2048


def test_a_retry_of_the_action_gets_a_new_green_identifier(cloud: Cloud) -> None:
    cloud.codedeploy.script.outcome = "Failed"
    first = cloud.run_pipeline(cloud.params())
    assert first.kind == "failure"
    cloud.codedeploy.script.outcome = "Succeeded"
    cloud.action = cloud.codepipeline.start_action(execution_id=cloud.action.pipeline_execution_id)  # "Retry"

    handler = cloud.handler()
    cloud.invoke(cloud.job_event(cloud.params(), "job-retry"), handler=handler)

    greens = [d.green for d in cloud.spot.deployments]
    assert len(greens) == 2
    assert greens[1] == green_identifier(cloud.action.action_execution_id)
    assert greens[0] != greens[1]


def test_without_get_job_details_the_green_comes_from_the_job_id_and_a_warning_says_reclaim_cannot_find_it(
    cloud: Cloud,
) -> None:
    cloud.codepipeline.fail_next("GetJobDetails", AwsFault("AccessDeniedException", "not authorized", status=400))

    report = cloud.run_pipeline(cloud.params())

    assert report.kind == "success"
    assert [d.green for d in cloud.spot.deployments] == [green_identifier("job-0001")]
    warnings = [json.loads(line) for line in cloud.logs.splitlines() if "reclaim cannot find this run" in line]
    assert warnings
    assert warnings[0]["level"] == "WARNING"
    assert "codepipeline:GetJobDetails" in warnings[0]["message"]


def test_the_job_details_credentials_appear_in_no_log_and_no_result(cloud: Cloud) -> None:
    cloud.run_pipeline(cloud.params())

    assert "GetJobDetails" in cloud.codepipeline.calls
    for text in (cloud.logs, json.dumps(cloud.results), json.dumps([r.body for r in cloud.codepipeline.reports])):
        assert "JOB-DETAILS-SECRET-CREDS" not in text
        assert "JOB-DETAILS-SESSION" not in text


def test_a_console_test_needs_no_pipeline(cloud: Cloud) -> None:
    result = cloud.invoke(cloud.params())

    assert result is not None
    assert result["status"] == "Succeeded"
    assert cloud.codepipeline.calls == []


# ---- in band: a report CodePipeline refuses ---------------------------------------------------------------------


def assert_nothing_of_the_run_outlives_it(cloud: Cloud) -> None:
    """The four promises after a run CodePipeline stopped waiting for."""
    assert cloud.green_instances() == [], "a green instance of the run is still running"
    assert all(d.stopped for d in cloud.spot.deployments), "a Spot deployment of the run is still in progress"
    assert all(d.status in ("Succeeded", "Failed", "Stopped") for d in cloud.codedeploy.deployments.values()), (
        "a CodeDeploy deployment of the run is still in progress"
    )
    assert not any(r.kind == "success" for r in cloud.codepipeline.reports), "success reported for a stopped run"
    assert len(cloud.codedeploy.deployments) <= 1, "the run made more than one CodeDeploy deployment"


def _when(cloud: Cloud, condition: Callable[[], bool], action: Callable[[], None]) -> None:
    """Run `action` once, the first time the fake clock moves with `condition` true."""
    done: list[bool] = []

    def hook(now: float) -> None:
        if not done and condition():
            done.append(True)
            action()

    cloud.clock.on_advance.append(hook)


def _log_records(cloud: Cloud, words: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in cloud.logs.splitlines() if words in line]


def test_a_stop_and_abandon_while_greens_launch_reclaims_the_run_when_the_hand_over_is_refused(cloud: Cloud) -> None:
    cloud.spot.launch_delay = 10_000  # still launching when the person stops the execution
    started = cloud.clock.now()
    _when(cloud, lambda: cloud.clock.now() >= started + 30, lambda: cloud.codepipeline.stop(cloud.action))

    cloud.invoke(cloud.job_event(cloud.params(), "job-0001"), budget=120)

    assert cloud.codepipeline.reports == []  # the hand-over was refused
    assert cloud.spot.deployments[0].stopped
    (record,) = _log_records(cloud, "reclaimed the run")
    assert record["level"] == "WARNING"
    assert "Abandoned" in record["message"]
    assert "stopped Spot deployment cdbg-00000001" in record["message"]
    assert_nothing_of_the_run_outlives_it(cloud)


def test_a_stop_and_abandon_while_codedeploy_deploys_stops_both_deployments(cloud: Cloud) -> None:
    cloud.codedeploy.script = Script(duration=10_000)
    _when(
        cloud,
        lambda: any(cloud.clock.now() > d.created_at + 30 for d in cloud.codedeploy.deployments.values()),
        lambda: cloud.codepipeline.stop(cloud.action),
    )

    cloud.invoke(cloud.job_event(cloud.params(), "job-0001"), budget=300)

    deployment = next(iter(cloud.codedeploy.deployments.values()))
    assert deployment.stopped
    assert cloud.spot.deployments[0].stopped
    (record,) = _log_records(cloud, "reclaimed the run")
    assert f"stopped CodeDeploy deployment {deployment.deployment_id} (with rollback)" in record["message"]
    assert_nothing_of_the_run_outlives_it(cloud)


def test_a_twin_whose_report_is_refused_leaves_the_run_to_the_delivery_that_answered(cloud: Cloud) -> None:
    cloud.spot.launch_delay = 250
    started = cloud.clock.now()
    # The twin delivery answered the job (in progress, with its own continuation) while this one still ran.
    _when(cloud, lambda: cloud.clock.now() >= started + 30, lambda: cloud.codepipeline.answered_by_twin("job-0001"))

    cloud.invoke(cloud.job_event(cloud.params(), "job-0001"), budget=120)

    assert cloud.codepipeline.reports == []
    assert not cloud.spot.deployments[0].stopped
    assert cloud.spot.calls_to("PUT", "stop") == 0
    assert "StopDeployment" not in cloud.codedeploy.calls
    (record,) = _log_records(cloud, "another delivery answered it")
    assert "InProgress" in record["message"]
    cloud.clock.advance(300)
    assert len(cloud.green_instances()) == 2  # the twin's run carries on untouched


def test_a_refused_report_whose_reason_cannot_be_read_names_what_to_stop_by_hand(cloud: Cloud) -> None:
    cloud.spot.launch_delay = 10_000
    started = cloud.clock.now()
    _when(cloud, lambda: cloud.clock.now() >= started + 30, lambda: cloud.codepipeline.stop(cloud.action))
    cloud.codepipeline.fail_next("GetPipelineExecution", AwsFault("AccessDeniedException", "not authorized"))

    cloud.invoke(cloud.job_event(cloud.params(), "job-0001"), budget=120)

    assert not cloud.spot.deployments[0].stopped
    (record,) = _log_records(cloud, "why cannot be told")
    assert record["level"] == "ERROR"
    green = green_identifier(cloud.action.action_execution_id)
    assert "cdbg-00000001" in record["message"]
    assert GROUP_ID in record["message"]
    assert f"GreenIdentifier={green}" in record["message"]


# ---- re-delivery: a lost report, and Lambda's retry of the same event --------------------------------------------


def _lose_the_next_report(cloud: Cloud) -> None:
    cloud.codepipeline.faults.extend([AwsFault("InternalError", "boom", status=500)] * 4)  # outlasts boto3's retries


def _retry_after_a_lost_report(cloud: Cloud, event: dict[str, Any]) -> None:
    """The invocation raised (its report was lost): Lambda delivers the same event again about a minute later."""
    with pytest.raises(ReportFailedError):
        cloud.invoke(event)
    assert cloud.codepipeline.reports == []
    cloud.clock.advance(60)
    cloud.invoke(event)


def test_a_lost_failure_report_is_reported_again_with_the_original_cause_and_nothing_restarts(cloud: Cloud) -> None:
    cloud.codedeploy.script = Script(outcome="Failed")
    _lose_the_next_report(cloud)
    event = cloud.job_event(cloud.params(), "job-0001")

    _retry_after_a_lost_report(cloud, event)
    retried_at = cloud.clock.now()

    (report,) = cloud.codepipeline.reports
    assert report.kind == "failure"
    message = report.body["failureDetails"]["message"]
    assert "HEALTH_CONSTRAINTS" in message
    assert "systemctl: command failed" in message
    assert "Spot deployment ended" not in message
    assert len(cloud.spot.deployments) == 1
    assert cloud.clock.now() - retried_at < 60  # it did not attach to the stopped deployment and wait
    assert_nothing_of_the_run_outlives_it(cloud)


def test_a_lost_failure_report_of_a_continuation_is_reported_again_with_the_original_cause(cloud: Cloud) -> None:
    cloud.codedeploy.script = Script(duration=400, outcome="Failed")
    handler = cloud.handler()
    first = cloud.job_event(cloud.params(), "job-0001")
    cloud.invoke(first, budget=200, handler=handler)
    (hand_over,) = cloud.codepipeline.reports
    cloud.clock.advance(10)
    _lose_the_next_report(cloud)
    event = cloud.job_event(cloud.params(), "job-0002", hand_over.body["continuationToken"])

    with pytest.raises(ReportFailedError):
        cloud.invoke(event, budget=900)
    cloud.clock.advance(60)
    cloud.invoke(event, budget=900)

    report = cloud.codepipeline.reports[-1]
    assert report.kind == "failure"
    assert "HEALTH_CONSTRAINTS" in report.body["failureDetails"]["message"]
    assert len(cloud.spot.deployments) == 1
    assert_nothing_of_the_run_outlives_it(cloud)


def test_a_lost_success_report_is_reported_again_as_success_without_a_second_deployment(cloud: Cloud) -> None:
    _lose_the_next_report(cloud)
    event = cloud.job_event(cloud.params(), "job-0001")

    _retry_after_a_lost_report(cloud, event)

    (report,) = cloud.codepipeline.reports
    assert report.kind == "success"
    assert len(cloud.spot.deployments) == 1
    assert not cloud.spot.deployments[0].stopped
    assert len(cloud.codedeploy.deployments) == 1
    deployment = next(iter(cloud.codedeploy.deployments.values()))
    assert report.body["outputVariables"]["CodeDeployDeploymentId"] == deployment.deployment_id


def test_a_re_delivery_after_the_spot_deployment_was_stopped_creates_no_codedeploy_deployment(cloud: Cloud) -> None:
    cloud.spot.launch_delay = 250
    handler = cloud.handler()
    cloud.invoke(cloud.job_event(cloud.params(), "job-0001"), budget=120, handler=handler)
    (hand_over,) = cloud.codepipeline.reports
    record = cloud.spot.deployments[0]
    record.stopped, record.state = True, "STOPPED"  # stopped meanwhile; its greens come up all the same
    cloud.spot.launch_anyway(record)

    cloud.clock.advance(10)
    cloud.invoke(cloud.job_event(cloud.params(), "job-0002", hand_over.body["continuationToken"]), handler=handler)

    report = cloud.codepipeline.reports[-1]
    assert report.kind == "failure"
    assert "before the CodeDeploy deployment was made" in report.body["failureDetails"]["message"]
    assert cloud.codedeploy.deployments == {}


# ---- out of band: CodePipeline's EventBridge events --------------------------------------------------------------


def _hand_over_once(cloud: Cloud) -> None:
    """One invocation that hands over while the greens launch; CodePipeline accepted the in-progress report."""
    cloud.spot.launch_delay = 250
    cloud.invoke(cloud.job_event(cloud.params(), "job-0001"), budget=120)
    assert [r.kind for r in cloud.codepipeline.reports] == ["in_progress"]


def test_a_stop_between_two_invocations_is_reclaimed_by_the_pipeline_event(cloud: Cloud) -> None:
    _hand_over_once(cloud)
    cloud.codepipeline.stop(cloud.action)  # nobody will invoke the function for this run again

    result = cloud.invoke(cloud.codepipeline.event(cloud.action, execution_state="STOPPED"))

    assert result is not None
    assert result["status"] == "Reclaimed"
    (reclaimed,) = result["reclaimed"]
    assert reclaimed["greenIdentifier"] == green_identifier(cloud.action.action_execution_id)
    assert "stopped Spot deployment cdbg-00000001" in reclaimed["done"]
    cloud.clock.advance(600)  # the launch time passes: a stopped deployment launches nothing
    assert_nothing_of_the_run_outlives_it(cloud)


@pytest.mark.parametrize("recorded", [True, False], ids=["artifacts-recorded", "artifacts-not-recorded"])
def test_a_run_deploying_its_input_artifact_is_reclaimed_by_the_pipeline_event(cloud: Cloud, recorded: bool) -> None:
    cloud.spot.launch_delay = 250
    cloud.invoke(cloud.job_event(artifact_parameters(), "job-0001", artifacts=[input_artifact()]), budget=120)
    assert [r.kind for r in cloud.codepipeline.reports] == ["in_progress"]
    if not recorded:  # a ListActionExecutions record without inputArtifacts: UserParameters must still parse
        cloud.action.input_artifacts = []
    cloud.codepipeline.stop(cloud.action)

    result = cloud.invoke(cloud.codepipeline.event(cloud.action, execution_state="STOPPED"))

    assert result is not None
    assert result["status"] == "Reclaimed"
    (reclaimed,) = result["reclaimed"]
    assert "stopped Spot deployment cdbg-00000001" in reclaimed["done"]
    cloud.clock.advance(600)
    assert_nothing_of_the_run_outlives_it(cloud)


def test_an_invocation_that_dies_after_the_start_is_reclaimed_when_codepipeline_fails_the_action(cloud: Cloud) -> None:
    # The invocation dies after Spot started the deployment: it never reports (modelled as a lost hand-over
    # that Lambda does not retry), and after 20 minutes without a result CodePipeline fails the action.
    cloud.spot.launch_delay = 60
    cloud.codedeploy.script = Script(duration=10_000)
    _lose_the_next_report(cloud)
    with pytest.raises(ReportFailedError):
        cloud.invoke(cloud.job_event(cloud.params(), "job-0001"), budget=300)
    cloud.clock.advance(1200)
    cloud.codepipeline.time_out(cloud.action)

    result = cloud.invoke(cloud.codepipeline.event(cloud.action))

    assert result is not None
    (reclaimed,) = result["reclaimed"]
    assert "stopped CodeDeploy deployment" in reclaimed["done"]
    assert "stopped Spot deployment" in reclaimed["done"]
    assert_nothing_of_the_run_outlives_it(cloud)


def test_the_pipeline_event_is_idempotent(cloud: Cloud) -> None:
    _hand_over_once(cloud)
    cloud.codepipeline.stop(cloud.action)
    event = cloud.codepipeline.event(cloud.action)

    cloud.invoke(event)
    stops = cloud.spot.calls_to("PUT", "stop")
    again = cloud.invoke(event)

    assert again is not None
    assert cloud.spot.calls_to("PUT", "stop") == stops == 1
    assert again["reclaimed"][0]["done"] == "nothing of this run was still running"


def test_the_pipeline_event_leaves_a_run_still_in_progress_and_other_functions_alone(cloud: Cloud) -> None:
    _hand_over_once(cloud)
    other = cloud.codepipeline.start_action(execution_id=cloud.action.pipeline_execution_id)
    other.function_name, other.status = "someone-elses-function", "Failed"
    cloud.codepipeline.add_job("job-other", other)

    result = cloud.invoke(cloud.codepipeline.event(other))

    assert result == {"status": "NothingToReclaim", "reclaimed": []}
    assert cloud.spot.calls_to("PUT", "stop") == 0
    assert not cloud.spot.deployments[0].stopped


def test_a_pipeline_event_that_cannot_be_read_is_raised_so_lambda_retries_it(cloud: Cloud) -> None:
    _hand_over_once(cloud)
    cloud.codepipeline.stop(cloud.action)
    cloud.codepipeline.fail_next("ListActionExecutions", AwsFault("AccessDeniedException", "not authorized"))

    with pytest.raises(ReclaimFailedError, match="ListActionExecutions"):
        cloud.invoke(cloud.codepipeline.event(cloud.action))

    assert not cloud.spot.deployments[0].stopped
    assert _log_records(cloud, "to reclaim its runs")[0]["level"] == "ERROR"


def test_a_sibling_actions_failure_leaves_a_run_still_in_progress_in_the_same_stage_alone(cloud: Cloud) -> None:
    # Two bluegreen actions run in parallel in one stage. When one fails, "all actions that are still in progress
    # continue working" (CodePipeline user guide, "Retry a failed action in a stage"), so CodePipeline still waits
    # for the other, whatever status the pipeline execution shows meanwhile (here: Failed).
    _hand_over_once(cloud)
    sibling = cloud.codepipeline.start_action(execution_id=cloud.action.pipeline_execution_id)
    sibling.action_name, sibling.status = "BlueGreenEU", "Failed"
    sibling.user_parameters = json.dumps(cloud.params())
    cloud.codepipeline.add_job("job-sibling", sibling)
    cloud.codepipeline.executions[cloud.action.pipeline_execution_id].status = "Failed"

    result = cloud.invoke(cloud.codepipeline.event(sibling))

    assert result is not None
    assert [r["actionExecutionId"] for r in result["reclaimed"]] == [sibling.action_execution_id]
    assert cloud.spot.calls_to("PUT", "stop") == 0
    assert not cloud.spot.deployments[0].stopped
    cloud.clock.advance(300)
    assert len(cloud.green_instances()) == 2  # the run still in progress carries on


def test_a_get_job_details_outage_in_the_first_invocation_only_lets_the_run_finish_and_clean_up(cloud: Cloud) -> None:
    cloud.spot.launch_delay = 250
    cloud.codedeploy.script = Script(outcome="Failed")
    cloud.codepipeline.fail_next("GetJobDetails", *[AwsFault("InternalError", "boom", status=500)] * 4)

    report = cloud.run_pipeline(cloud.params(), budget=120)

    # Not "not this run's token": the run resumed (its token is CodePipeline's record of the job) and failed with
    # CodeDeploy's cause, cleaning up after itself.
    assert report.kind == "failure"
    assert "HEALTH_CONSTRAINTS" in report.body["failureDetails"]["message"]
    assert "Cleanup: stopped" in report.body["failureDetails"]["message"]
    assert _log_records(cloud, "started without knowing its action execution")
    assert_nothing_of_the_run_outlives_it(cloud)


def test_a_token_without_an_action_execution_that_is_not_the_jobs_record_still_resumes_nothing(cloud: Cloud) -> None:
    cloud.spot.launch_delay = 250
    cloud.codepipeline.fail_next("GetJobDetails", *[AwsFault("InternalError", "boom", status=500)] * 4)
    cloud.invoke(cloud.job_event(cloud.params(), "job-0001"), budget=120)
    (hand_over,) = cloud.codepipeline.reports
    event = cloud.job_event(cloud.params(), "job-0002", hand_over.body["continuationToken"])
    cloud.codepipeline.jobs["job-0002"].continuation = None  # a record without the token: nothing proves it is ours

    cloud.invoke(event)

    report = cloud.codepipeline.reports[-1]
    assert report.kind == "failure"
    assert "not this run's token" in report.body["failureDetails"]["message"]


@pytest.mark.parametrize("source", ["API_TOKEN", "API_TOKEN_SECRET", "SPOT_API_TOKEN_SECRET"])
def test_the_spot_token_read_for_a_reclaim_reaches_no_log_result_or_error_even_when_spot_echoes_it(
    cloud: Cloud, source: str
) -> None:
    boto3.client("secretsmanager", region_name="us-east-1").create_secret(Name="spot/token", SecretString=CANARY_TOKEN)
    params = cloud.params() if source == "API_TOKEN" else cloud.params(API_TOKEN=None)
    if source == "API_TOKEN_SECRET":
        params["API_TOKEN_SECRET"] = "spot/token"
    if source == "SPOT_API_TOKEN_SECRET":
        cloud.environ["SPOT_API_TOKEN_SECRET"] = "spot/token"  # the function's default secret
    cloud.spot.launch_delay = 250
    cloud.invoke(cloud.job_event(params, "job-0001"), budget=120)
    cloud.codepipeline.stop(cloud.action)
    echo = {
        "request": {"headers": {"Authorization": f"Bearer {CANARY_TOKEN}"}},
        "response": {"errors": [{"code": "INVALID", "message": f"bad token {CANARY_TOKEN}"}]},
    }
    cloud.spot.fail_next("PUT", "stop", *[Fault(400, echo)] * 5)

    with pytest.raises(ReclaimFailedError) as raised:
        cloud.invoke(cloud.codepipeline.event(cloud.action, execution_state="STOPPED"))

    assert "Cleanup FAILED" in str(raised.value)
    for text in (str(raised.value), cloud.logs, json.dumps(cloud.results)):
        assert CANARY_TOKEN not in text


def test_a_stop_during_the_bake_leaves_the_live_release_running_and_says_so_in_an_error(cloud: Cloud) -> None:
    # By design (README, "Reclaim when CodePipeline stops waiting"): once CodeDeploy succeeded the greens serve and
    # Elastigroup may be retiring the blues, so nothing is stopped; a person decides whether to roll back.
    handler = cloud.handler()
    event = cloud.job_event(cloud.params(BAKE_TIME=1200), "job-0001")
    for n in range(2, 6):  # hand over until the run bakes
        cloud.invoke(event, budget=200, handler=handler)
        token = cloud.codepipeline.reports[-1].body["continuationToken"]
        if json.loads(token)["p"] == "BAKE":
            break
        cloud.clock.advance(10)
        event = cloud.job_event(cloud.params(BAKE_TIME=1200), f"job-{n:04d}", token)
    assert json.loads(token)["p"] == "BAKE"
    cloud.codepipeline.stop(cloud.action)

    result = cloud.invoke(cloud.codepipeline.event(cloud.action, execution_state="STOPPED"))

    assert result is not None
    (reclaimed,) = result["reclaimed"]
    assert "the release is live and nothing was stopped" in reclaimed["done"]
    assert cloud.spot.calls_to("PUT", "stop") == 0
    assert "StopDeployment" not in cloud.codedeploy.calls
    (record,) = _log_records(cloud, "Reclaimed run")
    assert record["level"] == "ERROR"


def test_a_retry_before_the_stop_event_adopts_nothing_and_the_late_event_reclaims_only_the_stopped_run(
    cloud: Cloud,
) -> None:
    _hand_over_once(cloud)
    stopped = cloud.action
    cloud.codepipeline.stop(stopped)
    # The person retries the stage before the stop's event was handled: a new action execution of the same
    # pipeline execution, with a GreenIdentifier of its own.
    retry = cloud.codepipeline.start_action(execution_id=stopped.pipeline_execution_id)
    cloud.codepipeline.executions[stopped.pipeline_execution_id].status = "InProgress"
    cloud.invoke(cloud.job_event(cloud.params(), "job-retry", action=retry), budget=120)

    # The stopped run's Spot deployment still holds the group: the retry fails before it starts anything, and
    # neither adopts nor stops what is not its own.
    report = cloud.codepipeline.reports[-1]
    assert report.kind == "failure"
    assert "already runs a blue/green deployment: cdbg-00000001" in report.body["failureDetails"]["message"]
    (first,) = cloud.spot.deployments
    assert not first.stopped

    # The stop's event arrives only now: the stopped run is reclaimed, the retry (failed, nothing started) is not
    # touched.
    result = cloud.invoke(cloud.codepipeline.event(stopped, execution_state="STOPPED"))

    assert result is not None
    done = {r["actionExecutionId"]: r["done"] for r in result["reclaimed"]}
    assert "stopped Spot deployment cdbg-00000001" in done[stopped.action_execution_id]
    assert done.get(retry.action_execution_id, "nothing of this run was still running") == (
        "nothing of this run was still running"
    )
    cloud.clock.advance(600)
    assert_nothing_of_the_run_outlives_it(cloud)
