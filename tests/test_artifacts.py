"""The build the pipeline made: input artifacts as the revision, pinned S3 versions, and the credentials' secrecy."""

from __future__ import annotations

import json
import os
from typing import Any

import boto3
import pytest

from bluegreen.handler import create_handler
from tests.conftest import (
    ARTIFACT_BUCKET,
    ARTIFACT_CREDENTIALS,
    BUILD_ARTIFACT_KEY,
    Cloud,
    artifact_parameters,
    input_artifact,
)
from tests.event_files import CODEPIPELINE_ARTIFACT, load_event, user_parameters

SOURCE_COMMIT = "9f8e7d6c5b4a39281706f5e4d3c2b1a098765432"


def _deployment_body(cloud: Cloud) -> dict[str, Any]:
    deployments = list(cloud.codedeploy.deployments.values())
    assert len(deployments) == 1
    return deployments[0].request


def _signing_keys(session: boto3.session.Session, operation: str) -> list[str]:
    """The access key ids that signed each `operation` request the handler's clients send."""
    keys: list[str] = []

    def capture(request: Any, **_: Any) -> None:
        authorization = request.headers.get("Authorization", b"")
        text = authorization.decode() if isinstance(authorization, bytes) else authorization
        keys.append(text.split("Credential=", 1)[1].split("/", 1)[0])

    session.events.register(f"before-send.{operation}", capture)
    return keys


def test_a_single_input_artifact_is_deployed_as_a_zip_bundle_when_the_parameters_name_no_revision(
    cloud: Cloud,
) -> None:
    report = cloud.run_pipeline(artifact_parameters(), artifacts=[input_artifact(revision=SOURCE_COMMIT)])

    assert report.kind == "success"
    body = _deployment_body(cloud)
    assert body["revision"] == {
        "revisionType": "S3",
        "s3Location": {"bucket": ARTIFACT_BUCKET, "key": BUILD_ARTIFACT_KEY, "bundleType": "zip"},
    }
    assert report.body["outputVariables"]["DeployedRevision"] == f"s3://{ARTIFACT_BUCKET}/{BUILD_ARTIFACT_KEY}"
    assert report.body["outputVariables"]["SourceRevision"] == SOURCE_COMMIT
    assert "BuildArtifact" in body["description"]
    assert SOURCE_COMMIT in body["description"]
    summary = report.body["executionDetails"]["summary"]
    assert f"input artifact BuildArtifact s3://{ARTIFACT_BUCKET}/{BUILD_ARTIFACT_KEY}" in summary
    assert SOURCE_COMMIT in summary


def test_the_artifact_is_checked_with_the_pipelines_artifact_credentials_not_the_functions_role(
    cloud: Cloud,
) -> None:
    session = boto3.session.Session()
    head_keys = _signing_keys(session, "s3.HeadObject")
    codedeploy_keys = _signing_keys(session, "codedeploy.CreateDeployment")
    handler = create_handler(
        clock=cloud.clock, environ=cloud.environ, log_stream=cloud.log_stream, boto3_session=session
    )

    report = cloud.run_pipeline(artifact_parameters(), artifacts=[input_artifact()], handler=handler)

    assert report.kind == "success"
    assert head_keys == [ARTIFACT_CREDENTIALS["accessKeyId"]]
    assert codedeploy_keys == [os.environ["AWS_ACCESS_KEY_ID"]]  # everything else goes with the function's role


def test_a_fixed_s3_revision_is_still_checked_with_the_functions_role(cloud: Cloud) -> None:
    session = boto3.session.Session()
    head_keys = _signing_keys(session, "s3.HeadObject")
    handler = create_handler(
        clock=cloud.clock, environ=cloud.environ, log_stream=cloud.log_stream, boto3_session=session
    )

    report = cloud.run_pipeline(cloud.params(), artifacts=[input_artifact()], handler=handler)

    assert report.kind == "success"
    assert head_keys == [os.environ["AWS_ACCESS_KEY_ID"]]
    assert head_keys != [ARTIFACT_CREDENTIALS["accessKeyId"]]
    assert _deployment_body(cloud)["revision"]["s3Location"]["bucket"] == "revisions"


def test_with_several_artifacts_revision_artifact_names_the_one_deployed(cloud: Cloud) -> None:
    cloud.s3.put_object(Bucket=ARTIFACT_BUCKET, Key="storefront/ConfigArti/Pq2Rs3T", Body=b"PK-config")
    artifacts = [input_artifact(), input_artifact("ConfigArtifact", "storefront/ConfigArti/Pq2Rs3T")]

    report = cloud.run_pipeline(artifact_parameters(REVISION_ARTIFACT="ConfigArtifact"), artifacts=artifacts)

    assert report.kind == "success"
    assert _deployment_body(cloud)["revision"]["s3Location"]["key"] == "storefront/ConfigArti/Pq2Rs3T"


def test_several_artifacts_without_revision_artifact_are_a_configuration_error_listing_them(cloud: Cloud) -> None:
    artifacts = [input_artifact(), input_artifact("ConfigArtifact", "storefront/ConfigArti/Pq2Rs3T")]

    report = cloud.run_pipeline(artifact_parameters(), artifacts=artifacts)

    assert report.kind == "failure"
    assert report.body["failureDetails"]["type"] == "ConfigurationError"
    message = report.body["failureDetails"]["message"]
    assert "REVISION_ARTIFACT: missing" in message
    assert "BuildArtifact, ConfigArtifact" in message
    assert cloud.spot.deployments == []


def test_an_unknown_revision_artifact_is_a_configuration_error_listing_the_names_available(cloud: Cloud) -> None:
    report = cloud.run_pipeline(artifact_parameters(REVISION_ARTIFACT="BuildOutput"), artifacts=[input_artifact()])

    assert report.body["failureDetails"]["type"] == "ConfigurationError"
    message = report.body["failureDetails"]["message"]
    assert "REVISION_ARTIFACT" in message
    assert "(BuildArtifact)" in message
    assert "'BuildOutput'" in message


def test_no_artifact_and_no_revision_in_the_parameters_is_a_configuration_error(cloud: Cloud) -> None:
    report = cloud.run_pipeline(artifact_parameters())

    assert report.body["failureDetails"]["type"] == "ConfigurationError"
    assert "revision: missing; the action has no input artifact" in report.body["failureDetails"]["message"]


def test_an_artifact_that_cannot_be_read_is_revision_unavailable_saying_which_credentials_were_used(
    cloud: Cloud,
) -> None:
    report = cloud.run_pipeline(artifact_parameters(), artifacts=[input_artifact(key="storefront/BuildArtif/gone")])

    assert report.body["failureDetails"]["type"] == "RevisionUnavailable"
    message = report.body["failureDetails"]["message"]
    assert f"input artifact BuildArtifact: revision s3://{ARTIFACT_BUCKET}/storefront/BuildArtif/gone" in message
    assert "with the pipeline's artifact credentials" in message
    assert cloud.spot.deployments == []


def test_an_input_artifact_that_is_not_in_s3_is_a_configuration_error(cloud: Cloud) -> None:
    artifact = input_artifact()
    artifact["location"] = {"type": "GitHub"}

    report = cloud.run_pipeline(artifact_parameters(), artifacts=[artifact])

    assert report.body["failureDetails"]["type"] == "ConfigurationError"
    assert "inputArtifacts[0]" in report.body["failureDetails"]["message"]


def test_a_continuation_whose_input_artifact_changed_is_refused(cloud: Cloud) -> None:
    cloud.spot.launch_delay = 250  # the run needs a hand-over
    handler = cloud.handler()
    first = cloud.job_event(artifact_parameters(), "job-0001", artifacts=[input_artifact()])
    cloud.invoke(first, budget=120, handler=handler)
    token = cloud.codepipeline.reports[-1].body["continuationToken"]
    cloud.s3.put_object(Bucket=ARTIFACT_BUCKET, Key="storefront/BuildArtif/Other00", Body=b"PK-other")

    other = input_artifact(key="storefront/BuildArtif/Other00")
    cloud.invoke(cloud.job_event(artifact_parameters(), "job-0002", token, [other]), handler=handler)

    report = cloud.codepipeline.reports[-1]
    assert report.body["failureDetails"]["type"] == "ConfigurationError"
    assert "different parameters" in report.body["failureDetails"]["message"]


def test_a_continuation_without_input_artifacts_deploys_the_artifact_the_run_started_with(cloud: Cloud) -> None:
    # CodePipeline's JobData is expected to repeat the input artifacts on continuation jobs; the run must not
    # depend on it: the token carries the artifact's location (never its credentials).
    cloud.spot.launch_delay = 250  # the run needs hand-overs, before and after the deployment is created
    handler = cloud.handler()
    cloud.invoke(cloud.job_event(artifact_parameters(), "job-0001", artifacts=[input_artifact()]), budget=120)
    for n in range(2, 12):
        report = cloud.codepipeline.reports[-1]
        if report.kind != "in_progress":
            break
        cloud.clock.advance(10)
        event = cloud.job_event(artifact_parameters(), f"job-{n:04d}", report.body["continuationToken"], [])
        cloud.invoke(event, budget=120, handler=handler)

    report = cloud.codepipeline.reports[-1]
    assert report.kind == "success", report.body
    assert _deployment_body(cloud)["revision"]["s3Location"] == {
        "bucket": ARTIFACT_BUCKET,
        "key": BUILD_ARTIFACT_KEY,
        "bundleType": "zip",
    }
    assert report.body["outputVariables"]["DeployedRevision"] == f"s3://{ARTIFACT_BUCKET}/{BUILD_ARTIFACT_KEY}"


def test_the_artifact_credentials_appear_in_no_log_record_result_report_or_token(cloud: Cloud) -> None:
    cloud.environ["POWERTOOLS_LOG_LEVEL"] = "DEBUG"
    cloud.spot.launch_delay = 250  # two hand-overs: the continuation tokens are searched too

    cloud.run_pipeline(artifact_parameters(), artifacts=[input_artifact(revision=SOURCE_COMMIT)], budget=120)
    gone = input_artifact(key="storefront/BuildArtif/gone")
    cloud.invoke(cloud.job_event(artifact_parameters(), "job-0100", artifacts=[gone]))

    assert len(cloud.codepipeline.reports) >= 4
    outputs = [cloud.logs, *(json.dumps(r.body) for r in cloud.codepipeline.reports), json.dumps(cloud.results)]
    for secret in ARTIFACT_CREDENTIALS.values():
        for output in outputs:
            assert secret not in output


# ---- pinned S3 revisions ------------------------------------------------------------------------------------


@pytest.fixture
def versioned(cloud: Cloud) -> dict[str, str]:
    """A versioned bucket holding two versions of one bundle: the first (pinned) and a newer one."""
    cloud.s3.create_bucket(Bucket="releases")
    cloud.s3.put_bucket_versioning(Bucket="releases", VersioningConfiguration={"Status": "Enabled"})
    first = cloud.s3.put_object(Bucket="releases", Key="app.zip", Body=b"PK-build-A")
    cloud.s3.put_object(Bucket="releases", Key="app.zip", Body=b"PK-build-B")
    return {"version": first["VersionId"], "etag": first["ETag"]}


def _pinned(versioned: dict[str, str], **overrides: Any) -> dict[str, Any]:
    pinned: dict[str, Any] = {
        "S3_BUCKET": "releases",
        "S3_KEY": "app.zip",
        "S3_BUNDLE": "zip",
        "S3_VERSION": versioned["version"],
        "S3_ETAG": versioned["etag"],
    }
    return artifact_parameters(**{**pinned, **overrides})


def test_s3_version_and_etag_reach_codedeploys_revision(cloud: Cloud, versioned: dict[str, str]) -> None:
    report = cloud.run_pipeline(_pinned(versioned))

    assert report.kind == "success"
    assert _deployment_body(cloud)["revision"] == {
        "revisionType": "S3",
        "s3Location": {
            "bucket": "releases",
            "key": "app.zip",
            "bundleType": "zip",
            "version": versioned["version"],
            "eTag": versioned["etag"].strip('"'),
        },
    }
    deployed = report.body["outputVariables"]["DeployedRevision"]
    assert deployed == f"s3://releases/app.zip?versionId={versioned['version']}"


def test_a_wrong_s3_version_is_refused_in_preflight_before_anything_is_launched(
    cloud: Cloud, versioned: dict[str, str]
) -> None:
    report = cloud.run_pipeline(_pinned(versioned, S3_VERSION="3HL4kqtJlcpXroDTDmJ-rmSpXd3dIbrHY", S3_ETAG=None))

    assert report.body["failureDetails"]["type"] == "RevisionUnavailable"
    message = report.body["failureDetails"]["message"]
    assert "S3_BUCKET/S3_KEY/S3_VERSION: revision s3://releases/app.zip version 3HL4kqtJlcpXroDTDmJ-rmSp" in message
    assert cloud.spot.deployments == []
    assert cloud.codedeploy.deployments == {}


def test_an_etag_that_does_not_match_the_version_is_refused_in_preflight(
    cloud: Cloud, versioned: dict[str, str]
) -> None:
    report = cloud.run_pipeline(_pinned(versioned, S3_ETAG="0123456789abcdef0123456789abcdef"))

    assert report.body["failureDetails"]["type"] == "RevisionUnavailable"
    assert "S3_ETAG" in report.body["failureDetails"]["message"]
    assert cloud.spot.deployments == []


def test_the_shipped_artifact_event_deploys_its_input_artifact(cloud: Cloud) -> None:
    event = load_event(CODEPIPELINE_ARTIFACT)
    artifacts = event["CodePipeline.job"]["data"]["inputArtifacts"]
    location = artifacts[0]["location"]["s3Location"]
    cloud.s3.create_bucket(Bucket=location["bucketName"])
    cloud.s3.put_object(Bucket=location["bucketName"], Key=location["objectKey"], Body=b"PK-shipped-example")
    assert not set(user_parameters(event)) & {"S3_BUCKET", "S3_KEY", "GITHUB_REPO", "REVISION_ARTIFACT"}

    report = cloud.run_pipeline(artifact_parameters(), artifacts=artifacts)

    assert report.kind == "success"
    variables = report.body["outputVariables"]
    assert variables["DeployedRevision"] == f"s3://{location['bucketName']}/{location['objectKey']}"
    assert variables["SourceRevision"] == artifacts[0]["revision"]
