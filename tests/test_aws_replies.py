"""A reply of an unexpected shape is a failed AWS call; a bug of ours is a bug.

AWS's reply is read in two places: botocore parses the body against the service model, then the gateway reads the
fields it needs. A body botocore cannot fit to the model, or a reply without a field AWS documents as always there,
is an AWS call that failed (SystemUnavailable, retried by a poll). A KeyError or TypeError raised by our own code is
neither: it surfaces as itself and ends in the handler's one report of an internal error, never in a poll's retries.
Replies come from the wire (a botocore `before-send` hook on the session, as tests/fakes/cloudwatch.py does) or from
botocore's Stubber, which checks each canned reply against the service model.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.awsrequest import AWSResponse
from botocore.stub import Stubber

from bluegreen.aws import AwsGateway
from bluegreen.domain import S3Revision
from bluegreen.errors import ServiceUnavailableError
from tests.conftest import Cloud

DEPLOYMENT_ID = "d-ABCDEF123"
REVISION = S3Revision(bucket="bucket", key="app.zip", bundle_type="zip")


def _session() -> Any:
    return boto3.session.Session(region_name="us-east-1", aws_access_key_id="testing", aws_secret_access_key="x")


def _gateway(codedeploy: Any) -> AwsGateway:
    def unused() -> Any:
        raise AssertionError("not called by these tests")

    return AwsGateway(ec2=unused, codedeploy=lambda: codedeploy, codepipeline=unused, s3=unused)


class _Body:
    def __init__(self, body: bytes) -> None:
        self._body = body

    def stream(self, **_: Any) -> Iterator[bytes]:
        yield self._body


def _codedeploy_answering(reply: object) -> Any:
    """A CodeDeploy client whose every GetDeployment is answered on the wire with `reply` (HTTP 200, JSON)."""
    session = _session()

    def answer(request: Any, **_: Any) -> AWSResponse:
        body = json.dumps(reply).encode()
        return AWSResponse(request.url, 200, {"content-type": "application/x-amz-json-1.1"}, _Body(body))

    session.events.register("before-send.codedeploy.GetDeployment", answer)
    return session.client("codedeploy")


def test_a_reply_without_the_field_aws_documents_is_a_failed_call_of_an_unexpected_shape() -> None:
    client = _session().client("codedeploy")
    with Stubber(client) as stub:
        stub.add_response(
            "get_deployment", {"deploymentInfo": {"deploymentId": DEPLOYMENT_ID}}, {"deploymentId": DEPLOYMENT_ID}
        )

        with pytest.raises(ServiceUnavailableError) as caught:
            _gateway(client).deployment_progress(DEPLOYMENT_ID)

    assert caught.value.failure_type == "SystemUnavailable"
    assert str(caught.value) == "AWS codedeploy:GetDeployment returned a reply of an unexpected shape (no status)"


def test_a_created_deployment_whose_id_is_no_codedeploy_id_is_a_failed_call_of_an_unexpected_shape() -> None:
    client = _session().client("codedeploy")
    with Stubber(client) as stub:
        stub.add_response("create_deployment", {"deploymentId": "not-an-id"})

        with pytest.raises(ServiceUnavailableError, match="CreateDeployment returned a reply of an unexpected shape"):
            _gateway(client).create_deployment("app", "group", REVISION, "green-1", "deploying", created_since=0)


def test_a_body_botocore_cannot_fit_to_the_model_is_a_failed_call_of_an_unexpected_shape() -> None:
    client = _codedeploy_answering({"deploymentInfo": "a string where CodeDeploy's model says a structure"})

    with pytest.raises(ServiceUnavailableError) as caught:
        _gateway(client).deployment_progress(DEPLOYMENT_ID)

    assert "codedeploy:GetDeployment returned a reply of an unexpected shape (AttributeError" in str(caught.value)


def test_a_count_that_is_no_number_is_a_failed_call_of_an_unexpected_shape() -> None:
    client = _codedeploy_answering(
        {
            "deploymentInfo": {
                "deploymentId": DEPLOYMENT_ID,
                "status": "InProgress",
                "deploymentOverview": {"Failed": "x"},
            }
        }
    )

    with pytest.raises(ServiceUnavailableError, match=r"unexpected shape \(deploymentOverview.Failed is not a count"):
        _gateway(client).deployment_progress(DEPLOYMENT_ID)


def test_a_well_formed_reply_is_read_into_the_deployments_progress() -> None:
    client = _codedeploy_answering(
        {
            "deploymentInfo": {
                "deploymentId": DEPLOYMENT_ID,
                "status": "InProgress",
                "deploymentOverview": {"Succeeded": 2, "Failed": 1, "InProgress": 1},
            }
        }
    )

    progress = _gateway(client).deployment_progress(DEPLOYMENT_ID)

    assert (progress.status, progress.succeeded, progress.total) == ("InProgress", 2, 4)


def test_a_bug_of_ours_around_an_aws_call_is_raised_as_itself_not_as_an_outage() -> None:
    def broken_factory() -> Any:
        raise TypeError("client() got an unexpected keyword argument 'regoin'")

    gateway = AwsGateway(ec2=broken_factory, codedeploy=broken_factory, codepipeline=broken_factory, s3=broken_factory)

    with pytest.raises(TypeError, match="regoin"):
        gateway.deployment_progress(DEPLOYMENT_ID)


class _SessionThatCannotBuildCodeDeploy(boto3.session.Session):
    """The composition root's bug, as a wrong keyword to `Session.client` would raise it: for CodeDeploy only."""

    def client(self, service_name: str, *args: Any, **kwargs: Any) -> Any:  # type: ignore[override]
        if service_name == "codedeploy":
            raise TypeError("client() got an unexpected keyword argument 'regoin'")
        return super().client(service_name, *args, **kwargs)


def test_a_bug_of_ours_ends_in_one_report_of_an_internal_error_not_in_an_unavailable_aws(cloud: Cloud) -> None:
    cloud.boto3_session = _SessionThatCannotBuildCodeDeploy(region_name="us-east-1")

    report = cloud.run_pipeline(cloud.params())

    assert report.kind == "failure"
    assert [r.kind for r in cloud.codepipeline.reports] == ["failure"]
    failure = report.body["failureDetails"]
    assert failure["type"] == "JobFailed"
    assert "internal error TypeError" in failure["message"]
    assert "unexpected shape" not in failure["message"]
    assert "Poll failed" not in cloud.logs
