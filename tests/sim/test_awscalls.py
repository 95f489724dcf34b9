"""The AWS call recorder counts what a session's clients send, under IAM prefixes, split by the signing credentials."""

from __future__ import annotations

from collections.abc import Iterator

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from bluegreen_sim.awscalls import AwsCallRecorder

REGION = "us-east-1"


@pytest.fixture
def aws(aws_environment: None) -> Iterator[None]:
    with mock_aws():
        setup = boto3.session.Session(region_name=REGION)
        setup.client("s3").create_bucket(Bucket="revisions")
        setup.client("s3").put_object(Bucket="revisions", Key="app.zip", Body=b"PK")
        setup.client("secretsmanager").create_secret(Name="token", SecretString="t")
        yield


def test_each_request_is_recorded_as_its_iam_prefix_and_botocore_operation(aws: None) -> None:
    recorder = AwsCallRecorder()
    session = recorder.session()

    session.client("s3", region_name=REGION).head_object(Bucket="revisions", Key="app.zip")
    session.client("s3", region_name=REGION).head_object(Bucket="revisions", Key="app.zip")
    session.client("cloudwatch", region_name=REGION).describe_alarms(AlarmNames=["web-5xx"])
    session.client("secretsmanager", region_name=REGION).get_secret_value(SecretId="token")

    # CloudWatch signs as "monitoring" and Secrets Manager's service id is "secrets-manager": both appear under the
    # prefixes IAM's actions use.
    assert recorder.calls == {"s3:HeadObject": 2, "cloudwatch:DescribeAlarms": 1, "secretsmanager:GetSecretValue": 1}
    assert recorder.operations == {"s3:HeadObject", "cloudwatch:DescribeAlarms", "secretsmanager:GetSecretValue"}
    assert recorder.other_credentials == {}


def test_a_call_that_fails_is_recorded_too(aws: None) -> None:
    recorder = AwsCallRecorder()
    s3 = recorder.session().client("s3", region_name=REGION)

    with pytest.raises(ClientError):
        s3.head_object(Bucket="revisions", Key="missing.zip")

    assert recorder.calls == {"s3:HeadObject": 1}


def test_requests_signed_with_credentials_given_to_one_client_are_kept_apart(aws: None) -> None:
    # The handler reads the input artifact with an S3 client built from the same session and the job's artifact
    # credentials: the role needs no permission for that call.
    recorder = AwsCallRecorder()
    session = recorder.session()
    artifact_s3 = session.client(
        "s3",
        region_name=REGION,
        aws_access_key_id="ASIAARTIFACTKEYEXAMPL",
        aws_secret_access_key="artifact-secret",
        aws_session_token="artifact-session",
    )

    artifact_s3.head_object(Bucket="revisions", Key="app.zip")
    session.client("s3", region_name=REGION).head_object(Bucket="revisions", Key="app.zip")

    assert recorder.other_credentials == {"s3:HeadObject": 1}
    assert recorder.calls == {"s3:HeadObject": 1}


def test_clients_of_other_sessions_are_not_recorded(aws: None) -> None:
    recorder = AwsCallRecorder()
    recorder.session()

    boto3.session.Session(region_name=REGION).client("s3").head_object(Bucket="revisions", Key="app.zip")

    assert recorder.calls == {}
    assert recorder.other_credentials == {}
