"""The exception tree of `bluegreen` and the one mapping from an exception to a CodePipeline failure type.

Every error the package raises derives from `BlueGreenError` and carries the data a person needs to act:
the offending field, Spot's request id, CodeDeploy's error information. Foreign exceptions (requests,
botocore) are wrapped once, at the boundary that sees them; nothing downstream inspects them.
"""

from __future__ import annotations

from typing import Final, Literal

FailureType = Literal[
    "JobFailed",
    "ConfigurationError",
    "PermissionError",
    "RevisionOutOfSync",
    "RevisionUnavailable",
    "SystemUnavailable",
]


class BlueGreenError(Exception):
    """Root of every error `bluegreen` raises on purpose."""

    failure_type: FailureType = "JobFailed"


class ConfigurationError(BlueGreenError):
    """The user's parameters, the continuation token or the AWS/Spot setup are not usable as given."""

    failure_type: FailureType = "ConfigurationError"

    def __init__(self, problems: list[str] | str) -> None:
        self.problems = [problems] if isinstance(problems, str) else list(problems)
        super().__init__("; ".join(self.problems))


class NotOwnedError(ConfigurationError):
    """A deployment the run names is not this run's own (another application, group or green fleet): the
    function neither follows it, nor stops it, nor reports its success."""


class AccessDeniedError(BlueGreenError):
    """Spot rejected the token (401/403) or AWS denied an action to the function's role."""

    failure_type: FailureType = "PermissionError"


class RevisionUnavailableError(BlueGreenError):
    """The application revision (S3 object or GitHub commit) cannot be read."""

    failure_type: FailureType = "RevisionUnavailable"


class ServiceUnavailableError(BlueGreenError):
    """Spot or AWS stayed unreachable, throttled or broken after bounded retries."""

    failure_type: FailureType = "SystemUnavailable"


class SpotApiError(BlueGreenError):
    """Spot answered with an error. Carries everything Spot support asks for."""

    def __init__(
        self,
        operation: str,
        status: int | None,
        message: str,
        *,
        code: str | None = None,
        request_id: str | None = None,
    ) -> None:
        self.operation = operation
        self.status = status
        self.code = code
        self.spot_message = message
        self.request_id = request_id
        parts = [f"Spot {operation} failed"]
        if status is not None:
            parts.append(f"HTTP {status}")
        if code:
            parts.append(code)
        text = ", ".join(parts) + f": {message}"
        if request_id:
            text += f" (Spot request id {request_id})"
        super().__init__(text)

    @property
    def failure_type(self) -> FailureType:  # type: ignore[override]
        if self.status in (401, 403):
            return "PermissionError"
        if self.status is None or self.status == 429 or self.status >= 500 or 200 <= self.status < 300:
            # No answer, throttled, broken, or an OK reply we cannot read: Spot is not usable right now.
            return "SystemUnavailable"
        return "ConfigurationError"


class AwsApiError(BlueGreenError):
    """An AWS call failed for a reason that is not one of the more specific errors above."""

    def __init__(self, operation: str, code: str, message: str, *, request_id: str | None = None) -> None:
        self.operation = operation
        self.code = code
        self.aws_message = message
        self.request_id = request_id
        text = f"AWS {operation} failed: {code}: {message}"
        if request_id:
            text += f" (AWS request id {request_id})"
        super().__init__(text)

    failure_type: FailureType = "JobFailed"


class DeploymentFailedError(BlueGreenError):
    """The CodeDeploy or Spot deployment ended in failure (or was stopped by someone else)."""

    failure_type: FailureType = "JobFailed"


class AlarmFiredError(DeploymentFailedError):
    """A CloudWatch alarm of the health gate (ALARMS) was in ALARM while deploying or baking."""


class DeploymentTimedOutError(BlueGreenError):
    """The run's TIMEOUT passed before the deployment reached a final state."""

    failure_type: FailureType = "JobFailed"


class ReportFailedError(BlueGreenError):
    """CodePipeline did not accept our result; the handler re-raises so Lambda retries the report."""

    failure_type: FailureType = "SystemUnavailable"


class DeploymentLimitExceededError(DeploymentFailedError):
    """CodeDeploy refused a deployment because another one is active on the deployment group."""


class SpotStartUnknownError(SpotApiError):
    """A Spot start whose outcome is unknown: a deployment tagged with our green value may be running."""


class AuthorityLostError(BlueGreenError):
    """A thread was about to change something after its invocation gave the run up; nothing was sent."""


class OutOfInvocationTimeError(BlueGreenError):
    """The invocation has no time left for another call: the run is handed over, not failed."""

    failure_type: FailureType = "SystemUnavailable"


class ReclaimFailedError(BlueGreenError):
    """A run CodePipeline no longer waits for could not be read or stopped; the handler re-raises so Lambda
    retries the EventBridge event (reclaim is idempotent)."""

    failure_type: FailureType = "SystemUnavailable"


class JobAlreadyReportedError(BlueGreenError):
    """CodePipeline says the job is no longer in progress: another delivery of this event has reported it."""


INTERNAL_ERROR_TYPE: Final[FailureType] = "JobFailed"


def failure_type_of(exc: BaseException) -> FailureType:
    """The CodePipeline failure type for an exception: the single place this mapping lives."""
    if isinstance(exc, BlueGreenError):
        return exc.failure_type
    return INTERNAL_ERROR_TYPE
