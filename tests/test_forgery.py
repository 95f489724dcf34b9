"""A forged continuation token can do nothing: each forgery of issue 12, sent as the attacker would send it.

The attacker can read the pipeline (so every token it carries) and may invoke the function (so send any event,
with their own API_TOKEN). Each test sends a hand-made token and checks the function refused it: one
ConfigurationError, no success, and nothing stopped in CodeDeploy or Spot. docs/security.md has the model.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from bluegreen.params import validate_parameters
from bluegreen.state import RunState, TokenKey, encode_token
from tests.conftest import TOKEN_KEY, Cloud

GREEN = "Sb9f13HI56cDXk0ALtPAhA"
ATTACKER_KEY = TokenKey("the-attackers-own-key-0123456789abcdef")


def fingerprint(cloud: Cloud, **overrides: Any) -> str:
    return validate_parameters(cloud.params(**overrides)).fingerprint()


def foreign_deployment(cloud: Cloud, deployment_id: str = "d-OTHERAPP1", *, running: bool = False) -> None:
    """Another application's deployment in the same account: succeeded, or still running."""
    body = {
        "applicationName": "OtherApp",
        "deploymentGroupName": "OtherGroup",
        "description": "[GreenIdentifier=someone-elses-green-01] their release",
        "targetInstances": {"tagFilters": [{"Key": "GreenIdentifier", "Value": "someone-elses-green-01"}]},
    }
    status = "InProgress" if running else "Succeeded"
    cloud.codedeploy.record(deployment_id, body, status=status, created_at=0.0, targets=["i-0ther"])


def state(cloud: Cloud, **changes: Any) -> RunState:
    now = int(cloud.clock.now())
    base = RunState(
        phase="WAIT_DEPLOY",
        green=GREEN,
        fingerprint=fingerprint(cloud),
        started_at=now - 60,
        deadline=now - 60 + 1800,
        expected_greens=2,
        spot_deployment_id="cdbg-0ther001",
        codedeploy_deployment_id="d-OTHERAPP1",
        invocation=2,
        # The action execution of the job it is sent in: anyone who can read the pipeline can read it.
        action_execution_id=cloud.action.action_execution_id,
    )
    return base.advance(**changes)


def unkeyed_format_1_token(fields: RunState) -> str:
    """The token as issue 12 forged it: format 1's checksum is a sha256 anyone can compute."""
    short = {
        "phase": "p",
        "green": "g",
        "fingerprint": "f",
        "started_at": "s",
        "deadline": "d",
        "expected_greens": "n",
        "spot_deployment_id": "sd",
        "codedeploy_deployment_id": "cd",
        "invocation": "i",
    }
    body = {"v": 1, **{s: getattr(fields, n) for n, s in short.items() if getattr(fields, n) is not None}}
    payload = json.dumps(body, separators=(",", ":"), sort_keys=True)
    return json.dumps({**body, "c": hashlib.sha256(payload.encode()).hexdigest()[:12]})


def assert_refused(cloud: Cloud, result: dict[str, Any] | None, match: str = "continuationToken") -> None:
    reports = cloud.codepipeline.reports
    if reports:  # a CodePipeline job: exactly one failure report
        assert [r.kind for r in reports] == ["failure"]
        assert reports[0].body["failureDetails"]["type"] == "ConfigurationError"
        assert match in reports[0].body["failureDetails"]["message"]
    assert result is not None
    assert result["status"] == "Failed"
    assert result["failureType"] == "ConfigurationError"
    assert match in result["summary"]
    assert "StopDeployment" not in cloud.codedeploy.calls
    assert cloud.spot.calls_to("PUT", "stop") == 0
    assert all(not d.stopped for d in cloud.codedeploy.deployments.values())


def test_a_false_success_naming_another_applications_deployment_is_refused(cloud: Cloud) -> None:
    foreign_deployment(cloud)
    token = unkeyed_format_1_token(state(cloud))

    result = cloud.invoke(cloud.job_event(cloud.params(), "job-x", token))

    assert_refused(cloud, result)
    assert cloud.spot.calls == []
    assert "GetDeployment" not in cloud.codedeploy.calls


def test_a_console_test_cannot_make_the_function_stop_someone_elses_deployments(cloud: Cloud) -> None:
    foreign_deployment(cloud, running=True)
    past = state(cloud, started_at=int(cloud.clock.now()) - 4000, deadline=int(cloud.clock.now()) - 2200)
    event = {**cloud.params(), "continuationToken": encode_token(past, ATTACKER_KEY)}

    result = cloud.invoke(event)

    assert_refused(cloud, result, "signature does not verify")


def test_a_far_deadline_is_refused(cloud: Cloud) -> None:
    far = state(cloud, phase="WAIT_GREEN", codedeploy_deployment_id=None, deadline=int(cloud.clock.now()) + 10**8)

    result = cloud.invoke(cloud.job_event(cloud.params(), "job-x", unkeyed_format_1_token(far)))

    assert_refused(cloud, result)


def test_a_far_deadline_is_refused_even_correctly_signed(cloud: Cloud) -> None:
    far = state(cloud, phase="WAIT_GREEN", codedeploy_deployment_id=None, deadline=int(cloud.clock.now()) + 10**8)

    result = cloud.invoke(cloud.job_event(cloud.params(), "job-x", encode_token(far, TokenKey(TOKEN_KEY))))

    assert_refused(cloud, result, "deadline is not within TIMEOUT")


def test_a_negative_green_count_is_refused_even_correctly_signed(cloud: Cloud) -> None:
    negative = state(cloud, phase="WAIT_GREEN", codedeploy_deployment_id=None, expected_greens=-5)

    result = cloud.invoke(cloud.job_event(cloud.params(), "job-x", encode_token(negative, TokenKey(TOKEN_KEY))))

    assert_refused(cloud, result, "green instance count -5")


def test_a_wrong_key_token_is_refused(cloud: Cloud) -> None:
    result = cloud.invoke(cloud.job_event(cloud.params(), "job-x", encode_token(state(cloud), ATTACKER_KEY)))

    assert_refused(cloud, result, "signature does not verify")
    assert cloud.spot.calls == []


def test_a_token_of_another_job_does_not_resume_in_this_one(cloud: Cloud) -> None:
    """Job X deploys revision v1 of the group; its genuine token, replayed into job Y (v2), is refused."""
    cloud.spot.launch_delay = 300
    cloud.s3.put_object(Bucket="revisions", Key="app/v1.zip", Body=b"PK-fake-bundle")
    first = cloud.invoke(cloud.job_event(cloud.params(S3_KEY="app/v1.zip"), "job-x"), budget=100)
    assert first is not None
    assert first["status"] == "InProgress"
    genuine_of_x = cloud.codepipeline.reports[-1].body["continuationToken"]
    cloud.codepipeline.reports.clear()
    stops_before = cloud.spot.calls_to("PUT", "stop")

    result = cloud.invoke(cloud.job_event(cloud.params(), "job-y", genuine_of_x))

    assert result is not None
    assert result["status"] == "Failed"
    assert "different parameters" in result["summary"]
    assert [r.kind for r in cloud.codepipeline.reports] == ["failure"]
    assert cloud.spot.calls_to("PUT", "stop") == stops_before


def test_a_token_of_another_run_of_the_action_with_the_same_parameters_does_not_resume_in_this_one(
    cloud: Cloud,
) -> None:
    """The fingerprint cannot tell two runs with identical parameters apart: the action execution id does."""
    cloud.spot.launch_delay = 300
    first = cloud.invoke(cloud.job_event(cloud.params(), "job-x"), budget=100)
    assert first is not None
    assert first["status"] == "InProgress"
    genuine_of_x = cloud.codepipeline.reports[-1].body["continuationToken"]
    cloud.codepipeline.reports.clear()
    other_run = cloud.codepipeline.start_action()  # the next pipeline execution, same UserParameters
    stops_before = cloud.spot.calls_to("PUT", "stop")

    result = cloud.invoke(cloud.job_event(cloud.params(), "job-y", genuine_of_x, action=other_run))

    assert result is not None
    assert result["status"] == "Failed"
    assert result["failureType"] == "ConfigurationError"
    assert f"this job's is {other_run.action_execution_id}" in result["summary"]
    assert [r.kind for r in cloud.codepipeline.reports] == ["failure"]
    assert cloud.spot.calls_to("PUT", "stop") == stops_before
    assert len(cloud.spot.deployments) == 1  # nothing started for the replay either


def test_a_pipeline_runs_token_is_refused_by_a_console_test(cloud: Cloud) -> None:
    """A console test (no action execution) cannot resume, and so cannot clean up, a pipeline's run."""
    cloud.spot.launch_delay = 300
    first = cloud.invoke(cloud.job_event(cloud.params(), "job-x"), budget=100)
    assert first is not None
    genuine = cloud.codepipeline.reports[-1].body["continuationToken"]
    cloud.codepipeline.reports.clear()

    result = cloud.invoke({**cloud.params(), "continuationToken": genuine})

    assert result is not None
    assert result["status"] == "Failed"
    assert "belongs to action execution" in result["summary"]
    assert cloud.codepipeline.reports == []
    assert cloud.spot.calls_to("PUT", "stop") == 0


# ---- a correctly keyed token (a leaked key, or a bug) still cannot act on someone else's deployments ---------


def signed(fields: RunState) -> str:
    return encode_token(fields, TokenKey(TOKEN_KEY))


def test_a_correctly_signed_token_naming_another_applications_success_reports_no_success(cloud: Cloud) -> None:
    foreign_deployment(cloud)

    result = cloud.invoke(cloud.job_event(cloud.params(), "job-x", signed(state(cloud))))

    assert_refused(cloud, result, "CodeDeploy deployment d-OTHERAPP1 is not this run's")
    assert "OtherApp/OtherGroup" in result["summary"]


def test_a_correctly_signed_token_past_its_deadline_stops_nothing_that_is_not_the_runs(cloud: Cloud) -> None:
    foreign_deployment(cloud, running=True)
    now = int(cloud.clock.now())
    past = state(cloud, started_at=now - 4000, deadline=now - 2200, action_execution_id=None)  # a console run's

    result = cloud.invoke({**cloud.params(), "continuationToken": signed(past)})

    assert_refused(cloud, result, "not this run's")
    assert "Spot deployment cdbg-0ther001" in result["summary"]


def test_a_correctly_signed_token_naming_a_foreign_spot_deployment_leaves_it_running(cloud: Cloud) -> None:
    now = int(cloud.clock.now())
    expired = state(
        cloud, phase="WAIT_GREEN", codedeploy_deployment_id=None, started_at=now - 4000, deadline=now - 2200
    )

    result = cloud.invoke(cloud.job_event(cloud.params(), "job-x", signed(expired)))

    assert_refused(cloud, result, "Spot deployment cdbg-0ther001 (Elastigroup sig-1234abcd lists no deployment")


def test_a_correctly_signed_token_in_the_bake_naming_another_applications_deployment_reports_no_success(
    cloud: Cloud,
) -> None:
    foreign_deployment(cloud)
    baked = state(cloud, phase="BAKE", bake_started_at=int(cloud.clock.now()) - 30)

    result = cloud.invoke(cloud.job_event(cloud.params(), "job-x", signed(baked)))

    assert_refused(cloud, result, "CodeDeploy deployment d-OTHERAPP1 is not this run's")


# ---- a made-up CodePipeline.job event naming a real job --------------------------------------------------------


def _made_up_event(cloud: Cloud, job_id: str, **data: Any) -> dict[str, Any]:
    """A `CodePipeline.job` event sent by someone with lambda:InvokeFunction, naming a job CodePipeline waits on
    (job ids are in every log line of the function)."""
    return {"CodePipeline.job": {"id": job_id, "accountId": "123456789012", "data": data}}


def test_a_made_up_job_event_with_other_user_parameters_reports_nothing_to_the_real_job(cloud: Cloud) -> None:
    cloud.spot.launch_delay = 250
    cloud.invoke(cloud.job_event(cloud.params(), "job-0001"), budget=120)
    (hand_over,) = cloud.codepipeline.reports
    cloud.job_event(cloud.params(), "job-0002", hand_over.body["continuationToken"])  # CodePipeline's next job
    # The attacker's UserParameters: a dry run of the same group, which checks and "succeeds" at once.
    forged = json.dumps(cloud.params(DRY_RUN=True))

    result = cloud.invoke(
        _made_up_event(cloud, "job-0002", actionConfiguration={"configuration": {"UserParameters": forged}})
    )

    assert [r.kind for r in cloud.codepipeline.reports] == ["in_progress"]  # nothing reported to the real job
    assert result is not None
    assert result["status"] == "Failed"
    assert result["failureType"] == "ConfigurationError"
    assert "job-0002" in result["summary"]
    assert "UserParameters" in result["summary"]
    assert not cloud.spot.deployments[0].stopped


def test_a_made_up_job_event_with_another_continuation_token_reports_nothing_to_the_real_job(cloud: Cloud) -> None:
    cloud.spot.launch_delay = 250
    cloud.invoke(cloud.job_event(cloud.params(), "job-0001"), budget=120)
    (hand_over,) = cloud.codepipeline.reports
    real = cloud.job_event(cloud.params(), "job-0002", hand_over.body["continuationToken"])
    data = dict(real["CodePipeline.job"]["data"])
    del data["continuationToken"]  # as if the job were a first delivery: preflight, a new start

    cloud.invoke(_made_up_event(cloud, "job-0002", **data))

    assert [r.kind for r in cloud.codepipeline.reports] == ["in_progress"]
    assert len(cloud.spot.deployments) == 1
    assert not cloud.spot.deployments[0].stopped


def test_a_job_whose_recorded_user_parameters_keep_an_unresolved_variable_still_runs(cloud: Cloud) -> None:
    # Safe under both readings of GetJobDetails: should it return UserParameters with `#{...}` unresolved, the
    # event's resolved value still matches it.
    event = cloud.job_event(cloud.params(), "job-0001")
    cloud.action.user_parameters = json.dumps(cloud.params(S3_KEY="app/#{Build.Version}.zip"))

    cloud.invoke(event)

    (report,) = cloud.codepipeline.reports
    assert report.kind == "success"
