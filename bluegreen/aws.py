"""The AWS gateway: every boto3 call the function makes, under names that say what it is for.

Owns the conversation with EC2, CodeDeploy, CloudWatch, S3, Secrets Manager/SSM (through the handler) and
CodePipeline,
and turns botocore's errors into `bluegreen.errors` exactly once, here. Returns small typed values, never raw
dicts. Must not import `requests` or know about Spot; must not create clients (the handler injects them).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Final, ParamSpec, TypeVar

from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectionClosedError,
    CredentialRetrievalError,
    EndpointConnectionError,
    HTTPClientError,
    NoAuthTokenError,
    NoCredentialsError,
    NoRegionError,
    ParamValidationError,
    PartialCredentialsError,
    ProfileNotFound,
    ReadTimeoutError,
    SSOError,
    TokenRetrievalError,
)
from botocore.exceptions import ConnectionError as BotoConnectionError
from botocore.parsers import ResponseParserError

from bluegreen.domain import GREEN_TAG_KEY, GitHubRevision, Revision, S3Revision
from bluegreen.errors import (
    AccessDeniedError,
    AwsApiError,
    BlueGreenError,
    ConfigurationError,
    DeploymentLimitExceededError,
    FailureType,
    JobAlreadyReportedError,
    RevisionUnavailableError,
    ServiceUnavailableError,
)
from bluegreen.state import ACTION_EXECUTION_ID_RE, PIPELINE_EXECUTION_ID_RE, PIPELINE_NAME_RE

if TYPE_CHECKING:
    from mypy_boto3_cloudwatch import CloudWatchClient
    from mypy_boto3_cloudwatch.type_defs import CompositeAlarmTypeDef, MetricAlarmTypeDef
    from mypy_boto3_codedeploy import CodeDeployClient
    from mypy_boto3_codedeploy.type_defs import (
        DeploymentTargetTypeDef,
        ListDeploymentsInputTypeDef,
        RevisionLocationTypeDef,
        S3LocationTypeDef,
    )
    from mypy_boto3_codepipeline import CodePipelineClient
    from mypy_boto3_codepipeline.type_defs import ExecutionDetailsTypeDef, FailureDetailsTypeDef
    from mypy_boto3_ec2 import EC2Client
    from mypy_boto3_ec2.type_defs import FilterTypeDef
    from mypy_boto3_s3 import S3Client

logger = logging.getLogger(__name__)


# Ids as AWS prints them (CodeDeploy `d-` + 9 upper-case letters and digits; EC2 `i-` + 8 or 17 hex digits),
# with room to grow: an id of another shape never reaches a message, a token or an output variable.
_DEPLOYMENT_ID: Final = re.compile(r"d-[0-9A-Z]{1,32}")
# ListDeployments of one group, for a run's own deployment: how far before the run's `started_at` to look, and how
# many pages to read at most. `started_at` is the state's: the first invocation's clock for a run carried by its
# token, but "now" for a re-delivered first event or a reclaim (which knows no start), so the window covers a whole
# CodePipeline job's life (24 h: the action's longest wait) plus an hour of clock skew between Lambda and
# CodeDeploy. The page bound keeps a runaway list from eating the invocation.
LOOKBACK: Final = 25 * 3600
MAX_DEPLOYMENT_PAGES: Final = 10
DEPLOYMENT_BATCH: Final = 25  # BatchGetDeployments' limit (botocore: DeploymentsList for BatchGetDeploymentsInput)
_INSTANCE_ID: Final = re.compile(r"i-[0-9a-f]{1,32}")

TERMINAL_STATUSES: Final[frozenset[str]] = frozenset({"Succeeded", "Failed", "Stopped"})

_ACCESS_DENIED: Final = frozenset(
    {"AccessDenied", "AccessDeniedException", "UnauthorizedOperation", "UnauthorizedException"}
)
_UNAVAILABLE: Final = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "RequestLimitExceeded",
        "TooManyRequestsException",
        "ServiceUnavailable",
        "ServiceUnavailableException",
        "InternalError",
        "InternalFailure",
        "InternalServerError",
        "RequestTimeout",
        "RequestTimeoutException",
    }
)
# The credentials were found but AWS does not accept them (expired, revoked, another partition's, a wrong clock).
_BAD_CREDENTIALS: Final = frozenset(
    {
        "ExpiredToken",
        "ExpiredTokenException",
        "RequestExpired",
        "InvalidClientTokenId",
        "UnrecognizedClientException",
        "AuthFailure",
        "InvalidSignatureException",
        "SignatureDoesNotMatch",
        "InvalidAccessKeyId",
    }
)
CREDENTIALS_HINT: Final = (
    "set AWS_PROFILE to a profile with credentials, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (on Lambda they "
    "come from the function's role)"
)
REGION_HINT: Final = "set AWS_REGION or AWS_DEFAULT_REGION (on Lambda it is the function's region)"
_NETWORK_HINT: Final = (
    "re-run the stage; if the function runs in a VPC, it needs a route to AWS's endpoints (a NAT gateway or VPC "
    "endpoints)"
)
_CONFIGURATION: Final = frozenset(
    {
        "ApplicationDoesNotExistException",
        "DeploymentGroupDoesNotExistException",
        "DeploymentConfigDoesNotExistException",
        "InvalidDeploymentGroupNameException",
        "InvalidApplicationNameException",
        "InvalidTargetInstancesException",
        "InvalidTagFilterException",
        "InvalidRoleException",
        "ResourceNotFoundException",
        "ParameterNotFound",
        "NoSuchBucket",
    }
)
_REVISION: Final = frozenset(
    {
        "RevisionDoesNotExistException",
        "InvalidRevisionException",
        "InvalidGitHubAccountTokenException",
        "GitHubAccountTokenDoesNotExistException",
        "NoSuchKey",
    }
)


@dataclass(frozen=True)
class InstanceHealth:
    instance_id: str
    state: str
    status_checks_ok: bool
    detail: str = ""

    @property
    def alive(self) -> bool:
        return self.state in ("pending", "running")


@dataclass(frozen=True)
class DeploymentProgress:
    deployment_id: str
    status: str
    error_code: str | None = None
    error_message: str | None = None
    succeeded: int = 0
    total: int = 0
    # Whose deployment it is (botocore's DeploymentInfo: applicationName, deploymentGroupName, description,
    # targetInstances.tagFilters), so the function never follows, stops or reports one that is not its own.
    application: str | None = None
    deployment_group: str | None = None
    description: str = ""
    green_tag_values: tuple[str, ...] = ()

    @property
    def finished(self) -> bool:
        return self.status in TERMINAL_STATUSES

    def not_owned_by(self, application: str, deployment_group: str, green: str) -> str | None:
        """Why this deployment is not the one of the run (application, group, green marker), or None."""
        if self.application != application or self.deployment_group != deployment_group:
            return f"it deploys {self.application}/{self.deployment_group}, not {application}/{deployment_group}"
        if _description_marker(green) not in self.description and green not in self.green_tag_values:
            return f"it targets no instances tagged {GREEN_TAG_KEY}={green}"
        return None


@dataclass(frozen=True)
class TargetFailure:
    instance_id: str
    lifecycle_event: str
    error_code: str
    message: str
    log_tail: str


@dataclass(frozen=True)
class AlarmState:
    """One CloudWatch alarm's state, as DescribeAlarms reports it (metric or composite alarm)."""

    name: str
    state: str  # OK, ALARM or INSUFFICIENT_DATA (botocore's StateValue enum); kept open
    reason: str
    changed_at: datetime | None  # when StateValue last changed (StateTransitionedTimestamp)

    @property
    def firing(self) -> bool:
        return self.state == "ALARM"

    def describe(self) -> str:
        when = self.changed_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ") if self.changed_at else "an unknown time"
        return f"CloudWatch alarm {self.name!r} is in {self.state} since {when}: {self.reason or 'no reason given'}"


@dataclass(frozen=True)
class GreenDeployment:
    """A CodeDeploy deployment created for a green fleet, with the description that says by which delivery."""

    deployment_id: str
    description: str

    def marked(self, key: str, value: str) -> bool:
        return f"[{key}={value}]" in self.description


@dataclass(frozen=True)
class ActionRun:
    """The pipeline action execution a CodePipeline job belongs to (GetJobDetails' `pipelineContext`).

    The action execution id is the same for every continuation job and every duplicate delivery of one run of
    the action, and new when a person retries the action: it is the run's identity.
    """

    pipeline_name: str
    pipeline_execution_id: str
    action_execution_id: str
    stage_name: str | None = None
    action_name: str | None = None
    job: JobRecord | None = field(default=None, repr=False, compare=False)


@dataclass(frozen=True)
class JobRecord:
    """What CodePipeline itself holds for a job (GetJobDetails' JobData), to hold a job event against: anyone
    allowed to invoke the function can send a made-up event that names a real job. Never logged (UserParameters
    may carry a plain API_TOKEN).
    """

    user_parameters: str | None = field(repr=False)
    continuation_token: str | None = field(repr=False)
    input_artifacts: tuple[tuple[str, str, str], ...] = field(repr=False)  # (name, bucket, key)


def _job_record(data: Any) -> JobRecord:
    """JobData's actionConfiguration.configuration.UserParameters, continuationToken and inputArtifacts
    (botocore's codepipeline model: JobData, ActionConfiguration, Artifact {name, location {s3Location
    {bucketName, objectKey}}}); whatever is missing or mistyped reads as absent."""
    data = data if isinstance(data, dict) else {}
    configuration = (data.get("actionConfiguration") or {}).get("configuration") or {}
    user_parameters = configuration.get("UserParameters") if isinstance(configuration, dict) else None
    continuation = data.get("continuationToken")
    artifacts: list[tuple[str, str, str]] = []
    for artifact in data.get("inputArtifacts") or []:
        if isinstance(artifact, dict):
            s3 = (artifact.get("location") or {}).get("s3Location") or {}
            name, bucket, key = artifact.get("name", ""), s3.get("bucketName", ""), s3.get("objectKey", "")
            artifacts.append((str(name), str(bucket), str(key)))
    return JobRecord(
        user_parameters=user_parameters if isinstance(user_parameters, str) else None,
        continuation_token=continuation if isinstance(continuation, str) and continuation else None,
        input_artifacts=tuple(artifacts),
    )


@dataclass(frozen=True)
class ActionExecutionInfo:
    """One action execution of a pipeline execution (ListActionExecutions' ActionExecutionDetail).

    `configuration` is the resolved configuration when CodePipeline gives it (variables replaced), else the
    configured one. It may hold a plain API_TOKEN in UserParameters: never log it.
    """

    action_execution_id: str
    status: str  # ActionExecutionStatus: InProgress | Abandoned | Succeeded | Failed
    stage_name: str
    action_name: str
    provider: str  # actionTypeId: "AWS/Invoke/Lambda" for a Lambda invoke action
    configuration: dict[str, str]
    # ActionExecutionInput.inputArtifacts (botocore's codepipeline model: ArtifactDetail name + s3location bucket,
    # key): (name, bucket, key) of each, so UserParameters that deploy the input artifact can be read again.
    input_artifacts: tuple[tuple[str, str, str], ...] = ()

    def invokes(self, function_name: str) -> bool:
        """Whether this is a Lambda invoke action of `function_name` (a name, a partial or a full ARN)."""
        if self.provider != "AWS/Invoke/Lambda":
            return False
        configured = self.configuration.get("FunctionName", "")
        return bool(configured) and _function_name(configured) == _function_name(function_name)


def _function_name(name_or_arn: str) -> str:
    # arn:aws:lambda:region:account:function:NAME[:QUALIFIER], account:function:NAME, or NAME
    parts = name_or_arn.split(":")
    if "function" in parts:
        return parts[parts.index("function") + 1]
    return parts[0] if len(parts) == 1 else parts[-1]


@dataclass(frozen=True)
class DeploymentGroupInfo:
    blue_green: bool
    deployment_config: str | None
    green_provisioning: str | None


AwsCodeRule = Callable[[str], BlueGreenError]
"""What one AWS error code means for one call, given the code: the caller's words for a case it knows better."""


def wrap_aws_error(operation: str, exc: Exception, *, codes: Mapping[str, AwsCodeRule] | None = None) -> BlueGreenError:
    """Our error for a failed AWS call: the one place botocore's errors are classified.

    `codes` are the call's own readings of some error codes (S3's bare `404` for a revision, a secret that does
    not exist); they come first. Every AWS call of the package, the token sources' included, comes through here.
    """
    if not isinstance(exc, ClientError):
        return _wrap_local_error(operation, exc)
    error = exc.response.get("Error", {})
    code = str(error.get("Code", "Unknown"))
    message = str(error.get("Message", "")) or code
    metadata = exc.response.get("ResponseMetadata", {})
    status = int(metadata.get("HTTPStatusCode", 0) or 0)
    request_id = metadata.get("RequestId")
    text = f"AWS {operation} failed: {code}: {message}"
    if codes and code in codes:
        return codes[code](code)
    if code in _BAD_CREDENTIALS:
        return ConfigurationError(f"{text}: AWS does not accept these credentials; {CREDENTIALS_HINT}")
    if code in _ACCESS_DENIED or status in (401, 403):
        return AccessDeniedError(text + " (grant it to the function's role: see LambdaPolicyDefinition.json)")
    if code in _UNAVAILABLE or status == 429 or status >= 500:
        return ServiceUnavailableError(text)
    if code in _REVISION:
        return RevisionUnavailableError(text)
    if code in _CONFIGURATION:
        return ConfigurationError(text)
    if code == "DeploymentLimitExceededException":
        return DeploymentLimitExceededError(
            f"{text}: another deployment is already running on this deployment group; wait for it to finish"
        )
    if code in ("InvalidJobStateException", "JobNotFoundException"):
        return JobAlreadyReportedError(text)
    return AwsApiError(operation, code, message, request_id=request_id)


def _wrap_local_error(operation: str, exc: Exception) -> BlueGreenError:
    """A failure on our side of the wire (botocore's own exceptions, sorted by what a person does about them)."""
    text = f"AWS {operation} failed: {type(exc).__name__}: {exc}"
    if isinstance(
        exc,
        NoCredentialsError
        | PartialCredentialsError
        | CredentialRetrievalError
        | ProfileNotFound
        | NoAuthTokenError
        | TokenRetrievalError
        | SSOError,
    ):
        return ConfigurationError(f"{text}; {CREDENTIALS_HINT}")
    if isinstance(exc, NoRegionError):
        return ConfigurationError(f"{text}; {REGION_HINT}")
    if isinstance(exc, ParamValidationError):
        # botocore checked the request against the service model before sending it: a value out of AWS's bounds.
        return ConfigurationError(f"{text}; fix the parameter named there")
    if isinstance(exc, ReadTimeoutError):
        return ServiceUnavailableError(f"{text} (AWS did not answer in time); re-run the stage")
    if isinstance(exc, EndpointConnectionError | BotoConnectionError | ConnectionClosedError):
        # Connect timeouts, refused or reset connections, DNS, TLS and proxy failures.
        return ServiceUnavailableError(f"{text} (AWS's endpoint cannot be reached); {_NETWORK_HINT}")
    if isinstance(exc, HTTPClientError):
        return ServiceUnavailableError(f"{text} (the connection to AWS failed); re-run the stage")
    # An answer botocore could not read (a proxy's HTML page, a bare status), or another botocore failure.
    return ServiceUnavailableError(f"{text} (AWS's reply could not be read); re-run the stage")


# CreateDeployment is sent at most this many times; between two, the deployment is looked for by its marker.
CREATE_DEPLOYMENT_ATTEMPTS: Final = 3  # as many as botocore's own attempts (the handler's Config)


def _maybe_carried_out(exc: BaseException | None) -> bool:
    """Whether a failed attempt may have been carried out: it was sent and its answer was lost (read timeout, the
    connection closed before a reply) or was a 5xx. A connect failure or a refusal (4xx, throttling) was not.
    """
    if isinstance(exc, ReadTimeoutError | ConnectionClosedError):
        return True
    if isinstance(exc, ClientError):
        return int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) or 0) >= 500
    return False


def _no_blind_resend(
    response: tuple[Any, Any] | None = None, caught_exception: BaseException | None = None, **_: Any
) -> bool | None:
    """botocore's needs-retry hook for CreateDeployment: False (no retry) when the attempt may have been carried out.

    botocore's standard mode re-sends on read timeouts, closed connections and 5xx (botocore/retries/standard.py);
    CreateDeployment has no idempotency token, and AWS refuses a second deployment of the group only while the first
    still runs (DeploymentLimitExceededException). One that ended meanwhile (a fast failure) would let a re-sent
    call make a second deployment on the same greens: AwsGateway.create_deployment looks for the first instead.
    The most specific handler is asked first (botocore/hooks.py), so this answer stands over the standard one.
    """
    if caught_exception is not None:
        return False if _maybe_carried_out(caught_exception) else None
    if response is not None and int(getattr(response[0], "status_code", 0) or 0) >= 500:
        return False
    return None


_P = ParamSpec("_P")
_R = TypeVar("_R")
_T = TypeVar("_T")
_C = TypeVar("_C")


def _call(
    operation: str, method: Callable[_P, _R], *, codes: Mapping[str, AwsCodeRule] | None = None
) -> Callable[_P, _R]:
    """`method`, a boto3 client method (or a thunk reading every page of a paginator), with its failures wrapped
    into our errors: the one `try` around every AWS call. Only the call is inside, botocore's parsing of the reply
    included; reading the reply's fields is `_reading`'s.
    """

    def call(*args: _P.args, **kwargs: _P.kwargs) -> _R:
        try:
            return method(*args, **kwargs)
        except (ClientError, BotoCoreError, ResponseParserError) as exc:
            raise wrap_aws_error(operation, exc, codes=codes) from exc
        except (KeyError, TypeError, AttributeError, ValueError, RecursionError) as exc:
            # botocore's parsers raise these on a body that does not fit the service model (parsers.py
            # `_handle_structure` calls `value.get` on whatever the JSON holds; json.loads recurses): the reply is
            # unreadable, the call failed.
            raise _unexpected_shape(operation, f"{type(exc).__name__}: {str(exc)[:200]}") from exc

    return call


def _client(operation: str, factory: Callable[[], _C]) -> _C:
    """The client `operation` is called on. Building it fails, as the call would, without a region or credentials
    (botocore's NoRegionError, ProfileNotFound): an AWS set-up problem, wrapped as the call's. Anything else a
    factory raises is a bug of ours, raised as itself."""
    try:
        return factory()
    except BotoCoreError as exc:
        raise wrap_aws_error(operation, exc) from exc


class _UnexpectedReplyError(Exception):
    """A reply botocore read that lacks what AWS documents. Raised by the readers below, caught by `_reading` only."""


@contextmanager
def _reading(operation: str) -> Iterator[None]:
    """Reads the fields of a reply: one that lacks what AWS documents is a failed call (SystemUnavailable).

    Only `_UnexpectedReplyError` is caught: a KeyError or TypeError of our own code is a bug, raised as one (the handler
    reports it once, as an internal error), never taken for an AWS outage that a poll would retry.
    """
    try:
        yield
    except _UnexpectedReplyError as exc:
        raise _unexpected_shape(operation, str(exc)) from exc


def _unexpected_shape(operation: str, detail: str) -> ServiceUnavailableError:
    return ServiceUnavailableError(f"AWS {operation} returned a reply of an unexpected shape ({detail})")


def _present(value: _T | None, what: str) -> _T:
    """`value`, a field AWS documents as always there; else `_UnexpectedReplyError`."""
    if value is None:
        raise _UnexpectedReplyError(f"no {what}")
    return value


def _count(value: object, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise _UnexpectedReplyError(f"{what} is not a count ({type(value).__name__})")
    return value


def _checked(pattern: re.Pattern[str], value: object, what: str) -> str:
    """`value` if it is an id of the expected shape; else `_UnexpectedReplyError`."""
    if not isinstance(value, str) or not pattern.fullmatch(value):
        shown = len(value) if isinstance(value, str) else type(value).__name__
        raise _UnexpectedReplyError(f"{what} is not an id like {pattern.pattern} ({shown})")
    return value


class AwsGateway:
    """The only calls the function makes on AWS."""

    def __init__(
        self,
        *,
        ec2: Callable[[], EC2Client],
        codedeploy: Callable[[], CodeDeployClient],
        codepipeline: Callable[[], CodePipelineClient],
        s3: Callable[[], S3Client],
        cloudwatch: Callable[[], CloudWatchClient] | None = None,
        artifact_s3: Callable[[], S3Client] | None = None,
    ) -> None:
        # Factories, so a run only pays for the clients it uses (each costs ~10-30 ms to build).
        self._ec2 = ec2
        self._codedeploy = codedeploy
        self._codepipeline = codepipeline
        self._s3 = s3
        self._cloudwatch = cloudwatch
        # Signed with the pipeline's artifact credentials, for the input artifact only (None: no credentials).
        self._artifact_s3 = artifact_s3

    # ---- EC2 -------------------------------------------------------------------------------------

    def find_green_instances(self, green: str) -> list[InstanceHealth]:
        """Live (pending/running) instances tagged GreenIdentifier=`green`, without status checks.

        Raises:
            BlueGreenError: the EC2 call failed.
        """
        operation = "ec2:DescribeInstances"
        paginator = _client(operation, self._ec2).get_paginator("describe_instances")
        filters: list[FilterTypeDef] = [
            {"Name": f"tag:{GREEN_TAG_KEY}", "Values": [green]},
            {"Name": "instance-state-name", "Values": ["pending", "running"]},
        ]
        pages = _call(operation, lambda: list(paginator.paginate(Filters=filters)))()
        found: list[InstanceHealth] = []
        with _reading(operation):
            for page in pages:
                for reservation in page.get("Reservations", []):
                    for instance in reservation.get("Instances", []):
                        found.append(
                            InstanceHealth(
                                instance_id=_checked(_INSTANCE_ID, instance.get("InstanceId"), "InstanceId"),
                                state=instance.get("State", {}).get("Name", "unknown"),
                                status_checks_ok=False,
                            )
                        )
        return sorted(found, key=lambda i: i.instance_id)

    def instance_health(self, instance_ids: list[str]) -> list[InstanceHealth]:
        """State and status checks of the given instances (terminated ones included).

        Raises:
            BlueGreenError: the EC2 call failed.
        """
        if not instance_ids:
            return []
        try:
            return self._instance_health(instance_ids)
        except AwsApiError as exc:
            if exc.code != "InvalidInstanceID.NotFound":
                raise
            # EC2 is eventually consistent: an instance just launched may not be described yet. Report the fleet
            # as unknown, so the next poll lists it again.
            return [InstanceHealth(i, "unknown", False, "not visible to EC2 yet") for i in instance_ids]

    def _instance_health(self, instance_ids: list[str]) -> list[InstanceHealth]:
        operation = "ec2:DescribeInstanceStatus"
        paginator = _client(operation, self._ec2).get_paginator("describe_instance_status")
        pages = _call(operation, lambda: list(paginator.paginate(InstanceIds=instance_ids, IncludeAllInstances=True)))()
        health: dict[str, InstanceHealth] = {}
        with _reading(operation):
            for page in pages:
                for status in page.get("InstanceStatuses", []):
                    instance_check = status.get("InstanceStatus", {}).get("Status", "")
                    system_check = status.get("SystemStatus", {}).get("Status", "")
                    state = status.get("InstanceState", {}).get("Name", "unknown")
                    ok = state == "running" and instance_check == "ok" and system_check == "ok"
                    detail = "" if ok else f"instance check {instance_check or '-'}, system check {system_check or '-'}"
                    instance_id = _checked(_INSTANCE_ID, status.get("InstanceId"), "InstanceId")
                    health[instance_id] = InstanceHealth(instance_id, state, ok, detail)
        # An id EC2 no longer lists has gone away.
        return [health.get(i, InstanceHealth(i, "terminated", False, "no longer listed")) for i in instance_ids]

    # ---- CodeDeploy ------------------------------------------------------------------------------

    def describe_deployment_group(self, application: str, deployment_group: str) -> DeploymentGroupInfo:
        """Whether the group is blue/green, and its deployment config.

        Raises:
            ConfigurationError: the application or the group does not exist.
        """
        operation = "codedeploy:GetDeploymentGroup"
        reply = _call(operation, _client(operation, self._codedeploy).get_deployment_group)(
            applicationName=application, deploymentGroupName=deployment_group
        )
        with _reading(operation):
            info = _present(reply.get("deploymentGroupInfo"), "deploymentGroupInfo")
            style = info.get("deploymentStyle", {})
            provisioning = info.get("blueGreenDeploymentConfiguration", {}).get("greenFleetProvisioningOption", {})
            return DeploymentGroupInfo(
                blue_green=style.get("deploymentType") == "BLUE_GREEN",
                deployment_config=info.get("deploymentConfigName"),
                green_provisioning=provisioning.get("action"),
            )

    def find_deployment_for_green(
        self, application: str, deployment_group: str, green: str, *, created_since: int
    ) -> GreenDeployment | None:
        """The deployment already created for this green fleet (a duplicate delivery, or an earlier invocation of
        this run whose answer was lost), if any.

        AWS documents no order and no page size for ListDeployments (botocore: "A list of deployment IDs", with a
        `nextToken` "if a large amount of information is returned"), so nothing here depends on either: the list
        is bounded by `createTimeRange` to the deployments created since `LOOKBACK` before `created_since`, every
        page is read (at most `MAX_DEPLOYMENT_PAGES`), and every listed id is read in batches of 25
        (BatchGetDeployments' limit). A group runs one deployment at a time, so for most groups this is one page
        and one batch, as before.

        Raises:
            BlueGreenError: a CodeDeploy call failed.
        """
        client = _client("codedeploy:ListDeployments", self._codedeploy)
        since = datetime.fromtimestamp(max(0, created_since - LOOKBACK), UTC)
        list_deployments = _call("codedeploy:ListDeployments", client.list_deployments)
        request: ListDeploymentsInputTypeDef = {
            "applicationName": application,
            "deploymentGroupName": deployment_group,
            "createTimeRange": {"start": since},
        }
        ids: list[str] = []
        for _ in range(MAX_DEPLOYMENT_PAGES):
            listed = list_deployments(**request)
            with _reading("codedeploy:ListDeployments"):
                ids.extend(_present(listed.get("deployments"), "deployments"))
                token = listed.get("nextToken")
            if not token:
                break
            request["nextToken"] = token
        marker = _description_marker(green)
        operation = "codedeploy:BatchGetDeployments"
        for start in range(0, len(ids), DEPLOYMENT_BATCH):
            reply = _call(operation, client.batch_get_deployments)(deploymentIds=ids[start : start + DEPLOYMENT_BATCH])
            with _reading(operation):
                for info in _present(reply.get("deploymentsInfo"), "deploymentsInfo"):
                    description = info.get("description", "")
                    if marker in description:
                        return GreenDeployment(
                            _checked(_DEPLOYMENT_ID, info.get("deploymentId"), "deploymentId"), description
                        )
        return None

    def create_deployment(
        self,
        application: str,
        deployment_group: str,
        revision: Revision,
        green: str,
        description: str,
        *,
        created_since: int,
    ) -> str:
        """Start the CodeDeploy deployment onto exactly the green instances; returns its id. `created_since`: the
        run's start, to look for a deployment whose answer was lost (`find_deployment_for_green`).

        Raises:
            BlueGreenError: CodeDeploy refused (missing revision, group busy, no tagged instance, ...).
        """
        operation = "codedeploy:CreateDeployment"
        client = _client(operation, self._codedeploy)
        # CreateDeployment has no idempotency token (botocore's codedeploy model): botocore must not re-send one
        # that may have been carried out; this method looks for it first (see _no_blind_resend).
        # The stubs type handlers as returning None; botocore reads a needs-retry handler's answer (endpoint.py).
        client.meta.events.register(
            "needs-retry.codedeploy.CreateDeployment",
            _no_blind_resend,  # type: ignore[arg-type]
            unique_id="bluegreen-no-blind-resend",
        )
        for attempt in range(1, CREATE_DEPLOYMENT_ATTEMPTS + 1):
            try:
                reply = _call(operation, client.create_deployment)(
                    applicationName=application,
                    deploymentGroupName=deployment_group,
                    revision=_revision_location(revision),
                    targetInstances={"tagFilters": [{"Key": GREEN_TAG_KEY, "Value": green, "Type": "KEY_AND_VALUE"}]},
                    description=f"{_description_marker(green)} {description}"[:1000],
                )
                break
            except ServiceUnavailableError as exc:
                if attempt == CREATE_DEPLOYMENT_ATTEMPTS or not _maybe_carried_out(exc.__cause__):
                    raise
                # Sent, and no answer read: CodeDeploy may have created it. Ours carries our marker.
                found = self.find_deployment_for_green(
                    application, deployment_group, green, created_since=created_since
                )
                if found is not None:
                    logger.warning(
                        "%s: the answer was lost, but CodeDeploy created deployment %s: following it (%s)",
                        operation,
                        found.deployment_id,
                        exc,
                    )
                    return found.deployment_id
                logger.warning("%s: no answer and no deployment created, sending it again: %s", operation, exc)
        with _reading(operation):
            return _checked(_DEPLOYMENT_ID, reply.get("deploymentId"), "deploymentId")

    def deployment_progress(self, deployment_id: str) -> DeploymentProgress:
        """Status, error information and per-instance counts of a deployment.

        Raises:
            BlueGreenError: the CodeDeploy call failed.
        """
        operation = "codedeploy:GetDeployment"
        reply = _call(operation, _client(operation, self._codedeploy).get_deployment)(deploymentId=deployment_id)
        with _reading(operation):
            info = _present(reply.get("deploymentInfo"), "deploymentInfo")
            overview = {k: _count(v, f"deploymentOverview.{k}") for k, v in info.get("deploymentOverview", {}).items()}
            error = info.get("errorInformation", {})
            tag_filters = info.get("targetInstances", {}).get("tagFilters", [])
            return DeploymentProgress(
                deployment_id=deployment_id,
                status=_present(info.get("status"), "status"),
                error_code=error.get("code"),
                error_message=error.get("message"),
                succeeded=overview.get("Succeeded", 0),
                total=sum(overview.values()),
                application=info.get("applicationName"),
                deployment_group=info.get("deploymentGroupName"),
                description=str(info.get("description", "")),
                green_tag_values=tuple(str(f.get("Value", "")) for f in tag_filters if f.get("Key") == GREEN_TAG_KEY),
            )

    def stop_deployment(self, deployment_id: str) -> bool:
        """Stop a running deployment with auto-rollback; False when it had already finished.

        Raises:
            BlueGreenError: the CodeDeploy call failed otherwise.
        """
        try:
            _call("codedeploy:StopDeployment", _client("codedeploy:StopDeployment", self._codedeploy).stop_deployment)(
                deploymentId=deployment_id, autoRollbackEnabled=True
            )
        except AwsApiError as exc:
            if exc.code != "DeploymentAlreadyCompletedException":
                raise
            return False
        return True

    def failed_targets(self, deployment_id: str, *, limit: int = 3) -> list[TargetFailure]:
        """The first `limit` failed instances with the lifecycle event that failed and its script log tail.

        Raises:
            BlueGreenError: a CodeDeploy call failed.
        """
        client = _client("codedeploy:ListDeploymentTargets", self._codedeploy)
        listed = _call("codedeploy:ListDeploymentTargets", client.list_deployment_targets)(
            deploymentId=deployment_id, targetFilters={"TargetStatus": ["Failed"]}
        )
        with _reading("codedeploy:ListDeploymentTargets"):
            ids = list(_present(listed.get("targetIds"), "targetIds"))
        if not ids:
            return []
        operation = "codedeploy:BatchGetDeploymentTargets"
        reply = _call(operation, client.batch_get_deployment_targets)(deploymentId=deployment_id, targetIds=ids[:25])
        with _reading(operation):
            return _first_failures(_present(reply.get("deploymentTargets"), "deploymentTargets"), limit)

    # ---- CloudWatch ------------------------------------------------------------------------------

    def alarm_states(self, names: Sequence[str]) -> dict[str, AlarmState]:
        """The states of the named alarms, metric and composite, in ONE DescribeAlarms call; a name missing from
        the result has no alarm in this account and region.

        Without AlarmTypes, DescribeAlarms returns metric alarms only (botocore's cloudwatch model); at most 10
        names fit in one page of up to 100 records, so there is no next page to read.

        Raises:
            BlueGreenError: the CloudWatch call failed.
        """
        if not names:
            return {}
        if self._cloudwatch is None:  # pragma: no cover - the handler always injects it
            raise ConfigurationError("ALARMS: no CloudWatch client configured")
        operation = "cloudwatch:DescribeAlarms"
        reply = _call(operation, _client(operation, self._cloudwatch).describe_alarms)(
            AlarmNames=list(names), AlarmTypes=["MetricAlarm", "CompositeAlarm"], MaxRecords=100
        )
        found: dict[str, AlarmState] = {}
        with _reading(operation):
            if "MetricAlarms" not in reply and "CompositeAlarms" not in reply:
                # botocore reads a body that is no DescribeAlarms reply (a proxy's page) as {}: that is no
                # answer, not "no such alarm".
                raise _UnexpectedReplyError("no MetricAlarms nor CompositeAlarms")
            alarms: list[MetricAlarmTypeDef | CompositeAlarmTypeDef] = [
                *reply.get("MetricAlarms", []),
                *reply.get("CompositeAlarms", []),
            ]
            for alarm in alarms:
                name = str(_present(alarm.get("AlarmName"), "AlarmName"))
                changed = alarm.get("StateTransitionedTimestamp") or alarm.get("StateUpdatedTimestamp")
                found[name] = AlarmState(
                    name=name,
                    state=str(alarm.get("StateValue", "INSUFFICIENT_DATA")),
                    reason=str(alarm.get("StateReason", "")),
                    changed_at=changed if isinstance(changed, datetime) else None,
                )
        return found

    # ---- S3 --------------------------------------------------------------------------------------

    def check_revision_exists(self, revision: S3Revision) -> None:
        """Check that the S3 bundle (that exact version, and ETag, when pinned) can be read.

        An input artifact is read with the pipeline's artifact credentials, as CodePipeline hands them to the
        action; any other bundle with the function's role.

        Raises:
            RevisionUnavailableError: the object, version or bucket does not exist, the ETag differs, or access
                is denied.
        """
        with_artifact_credentials = revision.artifact is not None and self._artifact_s3 is not None
        if revision.artifact is not None:
            field = f"input artifact {revision.artifact}"
            who = (
                "the pipeline's artifact credentials (artifactCredentials of the CodePipeline event)"
                if with_artifact_credentials
                else "the function's role (the CodePipeline event carried no artifactCredentials)"
            )
            fix = "check that the artifact store still holds it and that the pipeline's role may read it"
        else:
            field = "S3_BUCKET/S3_KEY" + ("/S3_VERSION" if revision.version else "")
            who = "the function's role"
            fix = "check the bucket, the key" + (", the version id" if revision.version else "")
            fix += ", and that the function may s3:GetObject" + ("Version" if revision.version else "")
            fix += " and s3:ListBucket on it"
        where = f"s3://{revision.bucket}/{revision.key}" + (f" version {revision.version}" if revision.version else "")
        client = _client(
            "s3:HeadObject", self._artifact_s3 if with_artifact_credentials and self._artifact_s3 else self._s3
        )

        def unreadable(code: str) -> BlueGreenError:
            return RevisionUnavailableError(f"{field}: revision {where} cannot be read with {who} (HTTP {code}); {fix}")

        # HEAD replies have no body: botocore names the error by its status. 400: a malformed version id.
        readable = ["404", "NoSuchKey", "NotFound", "NoSuchBucket", "NoSuchVersion", "403", "AccessDenied"]
        if revision.version:
            readable += ["400", "InvalidArgument"]
        head = _call("s3:HeadObject", client.head_object, codes=dict.fromkeys(readable, unreadable))
        if revision.version:
            reply = head(Bucket=revision.bucket, Key=revision.key, VersionId=revision.version)
        else:
            reply = head(Bucket=revision.bucket, Key=revision.key)
        etag = str(reply.get("ETag", "")).strip('"')
        if revision.etag and etag != revision.etag:
            raise RevisionUnavailableError(
                f"S3_ETAG: revision {where} has ETag {etag or '(none)'}, not {revision.etag}; the object changed "
                "since the ETag was taken: deploy the version the pipeline built (S3_VERSION) or update S3_ETAG"
            )

    # ---- CodePipeline ----------------------------------------------------------------------------

    def action_run(self, job_id: str) -> ActionRun:
        """Which pipeline, pipeline execution and action execution the job belongs to.

        Besides `pipelineContext`, only what a job event must match is kept (`JobRecord`, never logged): the same
        reply carries the artifact store's temporary credentials, which are never read.

        Raises:
            BlueGreenError: the call failed (access denied, unknown job, ...) or the reply has no pipeline context.
        """
        operation = "codepipeline:GetJobDetails"
        reply = _call(operation, _client(operation, self._codepipeline).get_job_details)(jobId=job_id)
        with _reading(operation):
            data = _present(_present(reply.get("jobDetails"), "jobDetails").get("data"), "jobDetails.data")
            context = _present(data.get("pipelineContext"), "pipelineContext")
            action = context.get("action", {})
            return ActionRun(
                pipeline_name=_checked(PIPELINE_NAME_RE, context.get("pipelineName"), "pipelineName"),
                pipeline_execution_id=_checked(
                    PIPELINE_EXECUTION_ID_RE, context.get("pipelineExecutionId"), "pipelineExecutionId"
                ),
                action_execution_id=_checked(
                    ACTION_EXECUTION_ID_RE, action.get("actionExecutionId"), "action.actionExecutionId"
                ),
                stage_name=context.get("stage", {}).get("name"),
                action_name=action.get("name"),
                job=_job_record(data),
            )

    def pipeline_execution_status(self, pipeline_name: str, pipeline_execution_id: str) -> str:
        """The pipeline execution's status: Cancelled | InProgress | Stopped | Stopping | Succeeded | Superseded |
        Failed (an unknown word is returned as is).

        Raises:
            BlueGreenError: the call failed.
        """
        operation = "codepipeline:GetPipelineExecution"
        reply = _call(operation, _client(operation, self._codepipeline).get_pipeline_execution)(
            pipelineName=pipeline_name, pipelineExecutionId=pipeline_execution_id
        )
        with _reading(operation):
            execution = _present(reply.get("pipelineExecution"), "pipelineExecution")
            return str(_present(execution.get("status"), "pipelineExecution.status"))

    def action_executions(self, pipeline_name: str, pipeline_execution_id: str) -> list[ActionExecutionInfo]:
        """Every action execution of one pipeline execution (all pages).

        Raises:
            BlueGreenError: the call failed.
        """
        operation = "codepipeline:ListActionExecutions"
        paginator = _client(operation, self._codepipeline).get_paginator("list_action_executions")
        pages = _call(
            operation,
            lambda: list(
                paginator.paginate(pipelineName=pipeline_name, filter={"pipelineExecutionId": pipeline_execution_id})
            ),
        )()
        found: list[ActionExecutionInfo] = []
        with _reading(operation):
            for page in pages:
                for detail in page.get("actionExecutionDetails", []):
                    given = detail.get("input", {})
                    kind = given.get("actionTypeId", {})
                    found.append(
                        ActionExecutionInfo(
                            action_execution_id=_present(detail.get("actionExecutionId"), "actionExecutionId"),
                            status=str(detail.get("status", "")),
                            stage_name=detail.get("stageName", ""),
                            action_name=detail.get("actionName", ""),
                            provider=f"{kind.get('owner', '')}/{kind.get('category', '')}/{kind.get('provider', '')}",
                            configuration=dict(given.get("resolvedConfiguration") or given.get("configuration") or {}),
                            input_artifacts=tuple(
                                (str(a.get("name", "")), str(location.get("bucket", "")), str(location.get("key", "")))
                                for a in given.get("inputArtifacts") or []
                                if isinstance(a, dict) and isinstance(location := a.get("s3location") or {}, dict)
                            ),
                        )
                    )
        return found

    def report_in_progress(
        self, job_id: str, continuation_token: str, summary: str, percent: int, external_id: str | None
    ) -> None:
        """Tell CodePipeline the job goes on and to call again with `continuation_token`.

        Raises:
            JobAlreadyReportedError: the job is no longer in progress.
            BlueGreenError: CodePipeline did not accept the result.
        """
        _call(
            "codepipeline:PutJobSuccessResult",
            _client("codepipeline:PutJobSuccessResult", self._codepipeline).put_job_success_result,
        )(
            jobId=job_id,
            continuationToken=continuation_token,
            executionDetails=_execution_details(summary, percent, external_id),
        )

    def report_success(self, job_id: str, summary: str, external_id: str | None, outputs: dict[str, str]) -> None:
        """Tell CodePipeline the job succeeded, with output variables for later actions.

        Raises:
            JobAlreadyReportedError: the job is no longer in progress.
            BlueGreenError: CodePipeline did not accept the result.
        """
        _call(
            "codepipeline:PutJobSuccessResult",
            _client("codepipeline:PutJobSuccessResult", self._codepipeline).put_job_success_result,
        )(
            jobId=job_id,
            executionDetails=_execution_details(summary, 100, external_id),
            outputVariables=outputs,
        )

    def report_failure(self, job_id: str, failure_type: FailureType, message: str, external_id: str | None) -> None:
        """Tell CodePipeline the job failed.

        Raises:
            JobAlreadyReportedError: the job is no longer in progress.
            BlueGreenError: CodePipeline did not accept the result.
        """
        details: FailureDetailsTypeDef = {"type": failure_type, "message": message}
        if external_id:
            details["externalExecutionId"] = external_id
        _call(
            "codepipeline:PutJobFailureResult",
            _client("codepipeline:PutJobFailureResult", self._codepipeline).put_job_failure_result,
        )(jobId=job_id, failureDetails=details)


def _execution_details(summary: str, percent: int, external_id: str | None) -> ExecutionDetailsTypeDef:
    details: ExecutionDetailsTypeDef = {"summary": summary, "percentComplete": max(0, min(100, percent))}
    if external_id:
        details["externalExecutionId"] = external_id
    return details


def _first_failures(targets: Sequence[DeploymentTargetTypeDef], limit: int) -> list[TargetFailure]:
    failures: list[TargetFailure] = []
    for target in targets:
        instance = target.get("instanceTarget", {})
        failed = next((e for e in instance.get("lifecycleEvents", []) if e.get("status") == "Failed"), None)
        if failed is None:
            continue
        diagnostics = failed.get("diagnostics", {})
        failures.append(
            TargetFailure(
                instance_id=_shown_id(instance.get("targetId")),
                lifecycle_event=failed.get("lifecycleEventName", "?"),
                error_code=diagnostics.get("errorCode", "?"),
                message=diagnostics.get("message", ""),
                log_tail=diagnostics.get("logTail", ""),
            )
        )
        if len(failures) >= limit:
            break
    return failures


def _shown_id(value: object) -> str:
    return value if isinstance(value, str) and _INSTANCE_ID.fullmatch(value) else "?"


def _description_marker(green: str) -> str:
    return f"[{GREEN_TAG_KEY}={green}]"


def _revision_location(revision: Revision) -> RevisionLocationTypeDef:
    if isinstance(revision, GitHubRevision):
        return {
            "revisionType": "GitHub",
            "gitHubLocation": {"repository": revision.repository, "commitId": revision.commit_id},
        }
    location: S3LocationTypeDef = {"bucket": revision.bucket, "key": revision.key, "bundleType": revision.bundle_type}
    if revision.version:
        location["version"] = revision.version
    if revision.etag:
        location["eTag"] = revision.etag
    return {"revisionType": "S3", "s3Location": location}
