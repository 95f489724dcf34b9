"""The exception tree of `bluegreen` and the one mapping from an exception to a CodePipeline failure type.

Every error the package raises derives from `BlueGreenError` and carries the data a person needs to act:
the offending field, Spot's request id, CodeDeploy's error information. Foreign exceptions (requests,
botocore) are wrapped once, at the boundary that sees them; nothing downstream inspects them.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
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

    def __init_subclass__(cls, **kwargs: object) -> None:
        super().__init_subclass__(**kwargs)
        if "failure_type" in cls.__dict__:
            # One table says which failure type an error is; a subclass that says it too would be ignored.
            raise TypeError(f"{cls.__name__}: give its failure type a row in bluegreen.errors.FAILURE_TYPES")

    @property
    def failure_type(self) -> FailureType:
        """The CodePipeline failure type this error is reported as (see `failure_type_of`)."""
        return failure_type_of(self)


class ConfigurationError(BlueGreenError):
    """The user's parameters, the continuation token or the AWS/Spot setup are not usable as given."""

    def __init__(self, problems: list[str] | str) -> None:
        self.problems = [problems] if isinstance(problems, str) else list(problems)
        super().__init__("; ".join(self.problems))


class NotOwnedError(ConfigurationError):
    """A deployment the run names is not this run's own (another application, group or green fleet): the
    function neither follows it, nor stops it, nor reports its success."""


class AccessDeniedError(BlueGreenError):
    """Spot rejected the token (401/403) or AWS denied an action to the function's role."""


class RevisionUnavailableError(BlueGreenError):
    """The application revision (S3 object or GitHub commit) cannot be read."""


class ServiceUnavailableError(BlueGreenError):
    """Spot or AWS stayed unreachable, throttled or broken after bounded retries."""


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


class DeploymentFailedError(BlueGreenError):
    """The CodeDeploy or Spot deployment ended in failure (or was stopped by someone else)."""


class AlarmFiredError(DeploymentFailedError):
    """A CloudWatch alarm of the health gate (ALARMS) was in ALARM while deploying or baking."""


class DeploymentTimedOutError(BlueGreenError):
    """The run's TIMEOUT passed before the deployment reached a final state."""


class ReportFailedError(BlueGreenError):
    """CodePipeline did not accept our result; the handler re-raises so Lambda retries the report."""


class DeploymentLimitExceededError(DeploymentFailedError):
    """CodeDeploy refused a deployment because another one is active on the deployment group."""


class SpotStartUnknownError(SpotApiError):
    """A Spot start whose outcome is unknown: a deployment tagged with our green value may be running."""


class AuthorityLostError(BlueGreenError):
    """A thread was about to change something after its invocation gave the run up; nothing was sent."""


class OutOfInvocationTimeError(BlueGreenError):
    """The invocation has no time left for another call: the run is handed over, not failed."""


class ReclaimFailedError(BlueGreenError):
    """A run CodePipeline no longer waits for could not be read or stopped; the handler re-raises so Lambda
    retries the EventBridge event (reclaim is idempotent)."""


class JobAlreadyReportedError(BlueGreenError):
    """CodePipeline says the job is no longer in progress: another delivery of this event has reported it."""


class PreflightError(BlueGreenError):
    """Several preflight checks failed; reported as the first (most important) of them."""

    def __init__(self, errors: list[BlueGreenError]) -> None:
        super().__init__(f"preflight found {len(errors)} problems: " + "; ".join(str(e) for e in errors))
        self.errors = errors


INTERNAL_ERROR_TYPE: Final[FailureType] = "JobFailed"

# The one table from an error to the CodePipeline failure type it is reported as. An error takes the row of its
# nearest class in the table (AlarmFiredError: DeploymentFailedError's); an exception that is no BlueGreenError is a
# bug of ours, reported as INTERNAL_ERROR_TYPE. Two errors are typed by what they carry, below the table.
FAILURE_TYPES: Final[Mapping[type[BlueGreenError], FailureType]] = MappingProxyType(
    {
        BlueGreenError: "JobFailed",
        ConfigurationError: "ConfigurationError",
        AccessDeniedError: "PermissionError",
        RevisionUnavailableError: "RevisionUnavailable",
        ServiceUnavailableError: "SystemUnavailable",
        AwsApiError: "JobFailed",
        DeploymentFailedError: "JobFailed",
        DeploymentTimedOutError: "JobFailed",
        ReportFailedError: "SystemUnavailable",
        OutOfInvocationTimeError: "SystemUnavailable",
        ReclaimFailedError: "SystemUnavailable",
    }
)


def _spot_failure_type(status: int | None) -> FailureType:
    """A Spot error by its HTTP status."""
    if status in (401, 403):
        return "PermissionError"
    if status is None or status == 429 or status >= 500 or 200 <= status < 300:
        # No answer, throttled, broken, or an OK reply we cannot read: Spot is not usable right now.
        return "SystemUnavailable"
    return "ConfigurationError"


def failure_type_of(exc: BaseException) -> FailureType:
    """The CodePipeline failure type for an exception: the single place this mapping lives."""
    if isinstance(exc, PreflightError):  # the checks' errors come sorted, the most important first
        return failure_type_of(exc.errors[0]) if exc.errors else FAILURE_TYPES[BlueGreenError]
    if isinstance(exc, SpotApiError):
        return _spot_failure_type(exc.status)
    if isinstance(exc, BlueGreenError):
        return next(FAILURE_TYPES[cls] for cls in type(exc).__mro__ if cls in FAILURE_TYPES)
    return INTERNAL_ERROR_TYPE
