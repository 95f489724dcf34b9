"""Preflight checks and the dry run: a misconfiguration fails before any instance is launched."""

from __future__ import annotations

import json

import pytest

from bluegreen_sim.loopback import AwsFault
from tests.conftest import CANARY_TOKEN, Cloud
from tests.fakes.spot import SpotDeploymentRecord

WRITE_CALLS = ("CreateDeployment", "StopDeployment")


def _assert_nothing_launched(cloud: Cloud) -> None:
    assert cloud.spot.calls_to("POST", "deployments") == 0
    assert cloud.spot.calls_to("PUT", "stop") == 0
    assert not any(call in WRITE_CALLS for call in cloud.codedeploy.calls)
    assert cloud.green_instances() == []


def test_dry_run_reports_what_a_real_run_would_do_and_changes_nothing(cloud: Cloud) -> None:
    report = cloud.run_pipeline(cloud.params(DRY_RUN=True))

    assert report.kind == "success"
    summary = report.body["executionDetails"]["summary"]
    assert summary.startswith("Dry run: all checks passed; nothing was created or changed.")
    for fact in ("sig-1234abcd", "2 green instance(s)", "s3://revisions/app/v2.zip", "App/DG", "TIMEOUT 1800 s"):
        assert fact in summary
    _assert_nothing_launched(cloud)


def test_dry_run_still_fails_on_a_bad_setup(cloud: Cloud) -> None:
    cloud.codedeploy.blue_green = False

    report = cloud.run_pipeline(cloud.params(DRY_RUN=True))

    assert report.body["failureDetails"]["type"] == "ConfigurationError"


def test_a_deployment_group_missing_from_the_elastigroup_integration_is_named(cloud: Cloud) -> None:
    cloud.spot.codedeploy_groups = [("Other", "Group")]

    report = cloud.run_pipeline(cloud.params())

    message = report.body["failureDetails"]["message"]
    assert report.body["failureDetails"]["type"] == "ConfigurationError"
    assert "App/DG is not in Elastigroup sig-1234abcd's CodeDeploy integration (configured: Other/Group)" in message
    _assert_nothing_launched(cloud)


def test_an_in_place_deployment_group_is_rejected(cloud: Cloud) -> None:
    cloud.codedeploy.blue_green = False

    report = cloud.run_pipeline(cloud.params())

    assert "is an in-place deployment group" in report.body["failureDetails"]["message"]
    _assert_nothing_launched(cloud)


def test_a_deployment_group_that_copies_an_auto_scaling_group_is_rejected(cloud: Cloud) -> None:
    cloud.codedeploy.green_provisioning = "COPY_AUTO_SCALING_GROUP"

    report = cloud.run_pipeline(cloud.params())

    assert "DISCOVER_EXISTING" in report.body["failureDetails"]["message"]
    _assert_nothing_launched(cloud)


def test_a_missing_codedeploy_application_is_a_configuration_error(cloud: Cloud) -> None:
    cloud.codedeploy.fail_next(
        "GetDeploymentGroup", AwsFault("ApplicationDoesNotExistException", "No application found for name: App")
    )

    report = cloud.run_pipeline(cloud.params())

    assert report.body["failureDetails"]["type"] == "ConfigurationError"
    assert "ApplicationDoesNotExistException" in report.body["failureDetails"]["message"]
    _assert_nothing_launched(cloud)


def test_another_running_blue_green_deployment_is_named_and_left_alone(cloud: Cloud) -> None:
    cloud.spot.deployments.append(SpotDeploymentRecord("cdbg-0000beef", "someone-else", launch_at=1e12))

    report = cloud.run_pipeline(cloud.params())

    message = report.body["failureDetails"]["message"]
    assert "already runs a blue/green deployment: cdbg-0000beef (STARTING/INITIALIZING)" in message
    _assert_nothing_launched(cloud)


def test_several_problems_are_reported_together(cloud: Cloud) -> None:
    cloud.codedeploy.blue_green = False
    cloud.spot.codedeploy_groups = []
    cloud.s3.delete_object(Bucket="revisions", Key="app/v2.zip")

    report = cloud.run_pipeline(cloud.params())

    message = report.body["failureDetails"]["message"]
    assert "preflight found 3 problems" in message
    assert "in-place" in message
    assert "CodeDeploy integration" in message
    assert "s3://revisions/app/v2.zip" in message


@pytest.mark.parametrize(
    ("secret", "works"),
    [
        (CANARY_TOKEN, True),
        (json.dumps({"token": CANARY_TOKEN}), True),
        ("", False),
        (json.dumps({"user": "x"}), False),
        (CANARY_TOKEN[:6] + " " + CANARY_TOKEN[6:], False),  # no header value: checked here, once, never sent
        (json.dumps({"token": CANARY_TOKEN + "\u0007"}), False),
    ],
)
def test_token_from_secrets_manager(cloud: Cloud, secret: str, works: bool) -> None:
    import boto3

    client = boto3.client("secretsmanager", region_name="us-east-1")
    if secret:
        client.create_secret(Name="spot/token", SecretString=secret)
    else:
        client.create_secret(Name="spot/token", SecretBinary=b" ")

    report = cloud.run_pipeline(cloud.params(API_TOKEN=None, API_TOKEN_SECRET="spot/token"))

    if works:
        assert report.kind == "success"
        assert "Spot token is given as API_TOKEN" not in cloud.logs
    else:
        assert report.body["failureDetails"]["type"] == "ConfigurationError"
        assert "API_TOKEN_SECRET: secret 'spot/token'" in report.body["failureDetails"]["message"]
    assert CANARY_TOKEN not in cloud.logs


def test_a_missing_secret_is_named(cloud: Cloud) -> None:
    report = cloud.run_pipeline(cloud.params(API_TOKEN=None, API_TOKEN_SECRET="spot/absent"))

    assert report.body["failureDetails"]["type"] == "ConfigurationError"
    assert "API_TOKEN_SECRET: 'spot/absent' does not exist" in report.body["failureDetails"]["message"]


def test_token_from_an_ssm_securestring(cloud: Cloud) -> None:
    import boto3

    boto3.client("ssm", region_name="us-east-1").put_parameter(
        Name="/spot/token", Value=CANARY_TOKEN, Type="SecureString"
    )

    report = cloud.run_pipeline(cloud.params(API_TOKEN=None, API_TOKEN_PARAMETER="/spot/token"))

    assert report.kind == "success"
    assert CANARY_TOKEN not in cloud.logs


def test_an_ssm_parameter_that_holds_no_usable_token_is_named_without_showing_it(cloud: Cloud) -> None:
    import boto3

    boto3.client("ssm", region_name="us-east-1").put_parameter(
        Name="/spot/token", Value=CANARY_TOKEN + " trailing words", Type="SecureString"
    )

    report = cloud.run_pipeline(cloud.params(API_TOKEN=None, API_TOKEN_PARAMETER="/spot/token"))

    message = report.body["failureDetails"]["message"]
    assert report.body["failureDetails"]["type"] == "ConfigurationError"
    assert "API_TOKEN_PARAMETER: parameter '/spot/token' holds no usable Spot token" in message
    assert CANARY_TOKEN not in message
    assert cloud.spot.calls == []


def test_a_missing_ssm_parameter_is_named(cloud: Cloud) -> None:
    report = cloud.run_pipeline(cloud.params(API_TOKEN=None, API_TOKEN_PARAMETER="/spot/absent"))

    assert report.body["failureDetails"]["type"] == "ConfigurationError"
    assert "API_TOKEN_PARAMETER: '/spot/absent' does not exist" in report.body["failureDetails"]["message"]


def test_the_functions_default_secret_is_used_when_parameters_name_none(cloud: Cloud) -> None:
    import boto3

    boto3.client("secretsmanager", region_name="us-east-1").create_secret(Name="team/spot", SecretString=CANARY_TOKEN)
    cloud.environ["SPOT_API_TOKEN_SECRET"] = "team/spot"

    report = cloud.run_pipeline(cloud.params(API_TOKEN=None))

    assert report.kind == "success"


def test_a_plain_token_logs_a_warning_recommending_a_secret(cloud: Cloud) -> None:
    cloud.run_pipeline(cloud.params(DRY_RUN=True))

    assert "store it in Secrets Manager and pass API_TOKEN_SECRET" in cloud.logs
