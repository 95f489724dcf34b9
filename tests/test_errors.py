"""The one table from an error to the CodePipeline failure type it is reported as, written out here by hand."""

from __future__ import annotations

import pytest

from bluegreen.errors import (
    AccessDeniedError,
    AlarmFiredError,
    AuthorityLostError,
    AwsApiError,
    BlueGreenError,
    ConfigurationError,
    DeploymentFailedError,
    DeploymentLimitExceededError,
    DeploymentTimedOutError,
    JobAlreadyReportedError,
    NotOwnedError,
    OutOfInvocationTimeError,
    PreflightError,
    ReclaimFailedError,
    ReportFailedError,
    RevisionUnavailableError,
    ServiceUnavailableError,
    SpotApiError,
    SpotStartUnknownError,
    failure_type_of,
)


@pytest.mark.parametrize(
    ("error", "failure_type"),
    [
        (BlueGreenError("x"), "JobFailed"),
        (ConfigurationError("x"), "ConfigurationError"),
        (NotOwnedError("x"), "ConfigurationError"),
        (AccessDeniedError("x"), "PermissionError"),
        (RevisionUnavailableError("x"), "RevisionUnavailable"),
        (ServiceUnavailableError("x"), "SystemUnavailable"),
        (AwsApiError("ec2:DescribeInstances", "Weird", "x"), "JobFailed"),
        (DeploymentFailedError("x"), "JobFailed"),
        (AlarmFiredError("x"), "JobFailed"),
        (DeploymentLimitExceededError("x"), "JobFailed"),
        (DeploymentTimedOutError("x"), "JobFailed"),
        (ReportFailedError("x"), "SystemUnavailable"),
        (AuthorityLostError("x"), "JobFailed"),
        (OutOfInvocationTimeError("x"), "SystemUnavailable"),
        (ReclaimFailedError("x"), "SystemUnavailable"),
        (JobAlreadyReportedError("x"), "JobFailed"),
        (SpotApiError("getGroup", 401, "x"), "PermissionError"),
        (SpotApiError("getGroup", 403, "x"), "PermissionError"),
        (SpotApiError("getGroup", 400, "x"), "ConfigurationError"),
        (SpotApiError("getGroup", 404, "x"), "ConfigurationError"),
        (SpotApiError("getGroup", 429, "x"), "SystemUnavailable"),
        (SpotApiError("getGroup", 503, "x"), "SystemUnavailable"),
        (SpotApiError("getGroup", 200, "unreadable"), "SystemUnavailable"),
        (SpotApiError("getGroup", None, "no reply"), "SystemUnavailable"),
        (SpotStartUnknownError("startDeployment", None, "no reply"), "SystemUnavailable"),
        (PreflightError([AccessDeniedError("a"), ConfigurationError("b")]), "PermissionError"),
        (PreflightError([ConfigurationError("a"), ServiceUnavailableError("b")]), "ConfigurationError"),
        (KeyError("a bug of ours"), "JobFailed"),
        (TypeError("a bug of ours"), "JobFailed"),
    ],
    ids=lambda value: type(value).__name__ if isinstance(value, BaseException) else None,
)
def test_each_error_is_reported_with_the_failure_type_of_its_row(error: BaseException, failure_type: str) -> None:
    assert failure_type_of(error) == failure_type
    if isinstance(error, BlueGreenError):
        assert error.failure_type == failure_type


def test_an_error_class_that_names_its_own_failure_type_is_refused_at_definition() -> None:
    with pytest.raises(TypeError, match="FAILURE_TYPES"):

        class _Rogue(BlueGreenError):
            failure_type = "SystemUnavailable"  # type: ignore[assignment]
