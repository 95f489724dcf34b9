"""Errors a person can act on: every botocore failure is classified by what it is, and a machine without AWS
credentials or region is told so once, naming the environment variables, before anything is called."""

from __future__ import annotations

import pytest
from botocore.exceptions import (
    ClientError,
    ConnectionClosedError,
    ConnectTimeoutError,
    CredentialRetrievalError,
    EndpointConnectionError,
    NoCredentialsError,
    NoRegionError,
    ParamValidationError,
    PartialCredentialsError,
    ProfileNotFound,
    ProxyConnectionError,
    ReadTimeoutError,
    SSLError,
)
from botocore.parsers import ResponseParserError

from bluegreen.aws import wrap_aws_error
from bluegreen.handler import create_handler
from tests.conftest import user_parameters
from tests.fakes.clock import FakeClock, FakeLambdaContext

EC2 = "https://ec2.us-east-1.amazonaws.com/"


@pytest.mark.parametrize(
    ("exc", "failure_type", "advice"),
    [
        (NoCredentialsError(), "ConfigurationError", "set AWS_PROFILE"),
        (PartialCredentialsError(provider="env", cred_var="AWS_SECRET_KEY"), "ConfigurationError", "AWS_PROFILE"),
        (CredentialRetrievalError(provider="sso", error_msg="token expired"), "ConfigurationError", "AWS_PROFILE"),
        (ProfileNotFound(profile="staging"), "ConfigurationError", "AWS_PROFILE"),
        (NoRegionError(), "ConfigurationError", "set AWS_REGION or AWS_DEFAULT_REGION"),
        (ParamValidationError(report="Invalid length for parameter applicationName"), "ConfigurationError", "fix"),
        (EndpointConnectionError(endpoint_url=EC2), "SystemUnavailable", "VPC"),
        (ConnectTimeoutError(endpoint_url=EC2), "SystemUnavailable", "VPC"),
        (ProxyConnectionError(proxy_url="http://proxy:3128", error="refused"), "SystemUnavailable", "VPC"),
        (SSLError(endpoint_url=EC2, error="certificate verify failed"), "SystemUnavailable", "VPC"),
        (ConnectionClosedError(endpoint_url=EC2), "SystemUnavailable", "VPC"),
        (ReadTimeoutError(endpoint_url=EC2), "SystemUnavailable", "did not answer in time"),
        (ResponseParserError("Unable to parse response (not well-formed)"), "SystemUnavailable", "could not be read"),
    ],
    ids=lambda value: type(value).__name__ if isinstance(value, Exception) else None,
)
def test_a_botocore_failure_is_classified_by_what_it_is(exc, failure_type, advice):
    error = wrap_aws_error("ec2:DescribeInstances", exc)

    assert error.failure_type == failure_type
    assert str(error).startswith(f"AWS ec2:DescribeInstances failed: {type(exc).__name__}")
    assert advice in str(error)


@pytest.mark.parametrize("code", ["ExpiredToken", "InvalidClientTokenId", "UnrecognizedClientException", "AuthFailure"])
def test_credentials_aws_does_not_accept_are_a_configuration_error_naming_aws_profile(code):
    exc = ClientError({"Error": {"Code": code, "Message": "The security token is invalid"}}, "DescribeInstances")

    error = wrap_aws_error("ec2:DescribeInstances", exc)

    assert error.failure_type == "ConfigurationError"
    assert "AWS_PROFILE" in str(error)


def console_test(environ: dict[str, str] | None = None) -> dict:
    # The token key secret is named so the settings check passes and the AWS set-up is what is checked.
    environ = {"BLUEGREEN_TOKEN_KEY_SECRET": "bluegreen-token-key", **(environ or {})}
    handler = create_handler(clock=FakeClock(), environ=environ, log_stream=None)
    return handler({**user_parameters(), "DRY_RUN": True}, FakeLambdaContext(FakeClock()))


@pytest.mark.usefixtures("no_aws_setup")
def test_without_credentials_or_region_the_run_is_one_configuration_error_naming_the_variables():
    result = console_test()

    assert result["status"] == "Failed"
    assert result["failureType"] == "ConfigurationError"
    assert result["summary"].startswith("AWS region: none is configured; set AWS_REGION or AWS_DEFAULT_REGION")
    assert "AWS credentials: none found; set AWS_PROFILE" in result["summary"]
    assert "Spot" not in result["summary"]


@pytest.mark.usefixtures("no_aws_setup")
def test_a_profile_that_does_not_exist_is_named(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("AWS_PROFILE", "staging")

    result = console_test()

    assert result["failureType"] == "ConfigurationError"
    assert "ProfileNotFound: The config profile (staging) could not be found" in result["summary"]


def test_aws_region_is_enough_even_though_boto3_reads_only_aws_default_region(cloud, monkeypatch):
    monkeypatch.delenv("AWS_DEFAULT_REGION")
    monkeypatch.delenv("AWS_REGION")
    handler = create_handler(clock=cloud.clock, environ={**cloud.environ, "AWS_REGION": "us-east-1"})

    result = cloud.invoke({**cloud.params(), "DRY_RUN": True}, handler=handler)

    assert result is not None
    assert result["status"] == "Succeeded", result["summary"]
