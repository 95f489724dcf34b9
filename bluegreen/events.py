"""The events the function is invoked with: told apart, and read once, at the edge.

Three kinds, each with its typed shape: a CodePipeline job (Powertools' `CodePipelineJobEvent`), CodePipeline's
EventBridge state-change event (`PipelineStateChange`) and a console test (`ConsoleTest`, the UserParameters keys
themselves). Anything else is `NOT_AN_EVENT`. Reading never crashes: a mangled event reads as far as it goes, and
what it lacks is reported by whoever needs it (UserParameters by `params.decode_user_parameters`, the
continuation token by `state.decode_token`, the input artifacts here).

Owns reading a job's input artifacts and artifact credentials (through Powertools' data classes; the credentials
are registered for redaction as they are read). Must not call anything or log: the handler decides what each event
leads to.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final, TypeVar

from bluegreen import logs
from bluegreen.errors import ConfigurationError
from bluegreen.params import MAX_INPUT_ARTIFACTS, InputArtifact

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.data_classes import CodePipelineJobEvent

_T = TypeVar("_T")

JOB_KEY: Final = "CodePipeline.job"
# CodePipeline's EventBridge events (CodePipeline user guide, "Monitoring CodePipeline events"): the execution's
# `detail` carries `pipeline`, `execution-id` and `state`; an action's also `stage`, `action` and `type`.
PIPELINE_EVENT_SOURCE: Final = "aws.codepipeline"
PIPELINE_EVENT_TYPES: Final = frozenset(
    {"CodePipeline Pipeline Execution State Change", "CodePipeline Action Execution State Change"}
)
NOT_AN_EVENT: Final = (
    'event: expected a CodePipeline job event ({"CodePipeline.job": ...}), an aws.codepipeline EventBridge event '
    "or a console test event (a JSON object with the UserParameters keys)"
)


@dataclass(frozen=True)
class ConsoleTest:
    """A console test event (the Lambda console's Test tab, `bluegreen invoke`): the UserParameters keys, and the
    continuation token of the run it resumes, if any (as given: `state.decode_token` checks it)."""

    parameters: Mapping[str, Any] = field(repr=False)  # may hold a plain API_TOKEN
    continuation: object = field(default=None, repr=False)


# Not Powertools' EventBridgeEvent: it would import every Powertools data class (~25 ms) on a path that otherwise
# never loads them, to read three fields.
@dataclass(frozen=True)
class PipelineStateChange:
    """CodePipeline's EventBridge event: a pipeline execution or an action execution changed state.

    `pipeline` and `execution_id` are None when the event does not name them (non-empty strings); such an event,
    or one of another detail type, names nothing to reclaim.
    """

    detail_type: object
    pipeline: str | None
    execution_id: str | None

    @property
    def names_an_execution(self) -> bool:
        return self.detail_type in PIPELINE_EVENT_TYPES and bool(self.pipeline and self.execution_id)


def classify(event: object) -> CodePipelineJobEvent | PipelineStateChange | ConsoleTest | None:
    """Which kind of event `event` is; None when it is none of them (say `NOT_AN_EVENT`)."""
    if not isinstance(event, dict):
        return None
    if event.get(JOB_KEY) is not None:
        # Deferred: only a job event pays for Powertools' data classes.
        from aws_lambda_powertools.utilities.data_classes import CodePipelineJobEvent  # noqa: PLC0415

        return CodePipelineJobEvent(event)
    if event.get("source") == PIPELINE_EVENT_SOURCE:
        detail = event.get("detail")
        detail = detail if isinstance(detail, dict) else {}
        return PipelineStateChange(
            detail_type=event.get("detail-type"),
            pipeline=_text(detail.get("pipeline")),
            execution_id=_text(detail.get("execution-id")),
        )
    return ConsoleTest({k: v for k, v in event.items() if k != "continuationToken"}, event.get("continuationToken"))


def job_id(job: CodePipelineJobEvent) -> str | None:
    """The job's id: None without one (then nobody can be reported to)."""
    return _text(_read(lambda: job.get_id))


def user_parameters(job: CodePipelineJobEvent) -> object:
    """The action's UserParameters, as the event gives it (`params.decode_user_parameters` checks it)."""
    return _read(lambda: job.data.action_configuration.configuration.user_parameters)


def continuation_token(job: CodePipelineJobEvent) -> object:
    """The continuation token of a continuation job, as the event gives it (`state.decode_token` checks it)."""
    return _read(lambda: job.data.continuation_token)


def raw_artifact_credentials(job: CodePipelineJobEvent) -> object:
    """The event's artifactCredentials object as it is: for the redaction of its secret parts only."""
    return _read(lambda: job.data["artifactCredentials"])


@dataclass(frozen=True)
class ArtifactCredentials:
    """The pipeline's temporary credentials for its artifact store. Used for one S3 client, never logged or kept."""

    access_key_id: str = field(repr=False)
    secret_access_key: str = field(repr=False)
    session_token: str = field(repr=False)


def artifact_credentials(job: CodePipelineJobEvent) -> ArtifactCredentials | None:
    """The job's artifact credentials (Powertools' data class), registered for redaction at once, every value, even
    of an object that turns out unusable: they must never reach a log line or a result. None when there are none
    usable.
    """
    raw = raw_artifact_credentials(job)
    if not isinstance(raw, dict):
        return None
    for value in raw.values():
        if isinstance(value, str) and len(value) >= logs.MIN_SECRET_LENGTH:
            logs.register_secret(value)
    given = job.data.artifact_credentials
    values = _read(lambda: (given.access_key_id, given.secret_access_key, given.session_token))
    if not isinstance(values, tuple) or not all(isinstance(v, str) and v for v in values):
        return None
    return ArtifactCredentials(*values)


def input_artifacts(job: CodePipelineJobEvent) -> list[InputArtifact]:
    """The job's input artifacts.

    Raises:
        ConfigurationError: the event's inputArtifacts are not what CodePipeline sends.
    """
    raw = _read(lambda: job.data.get("inputArtifacts"))
    if raw is None:
        return []
    if not isinstance(raw, list) or len(raw) > MAX_INPUT_ARTIFACTS:
        raise ConfigurationError(f"inputArtifacts: expected a list of at most {MAX_INPUT_ARTIFACTS} artifacts")
    artifacts: list[InputArtifact] = []
    for n, artifact in enumerate(job.data.input_artifacts):
        try:
            location = artifact.location
            kind = location.get_type
            if kind != "S3":
                raise ConfigurationError(
                    f"inputArtifacts[{n}]: location type {kind!r} is not S3; only S3 artifact stores are supported"
                )
            s3 = location.s3_location
            name, bucket, key, revision = artifact.name, s3.bucket_name, s3.key, artifact.revision
        except (KeyError, TypeError, AttributeError):
            raise ConfigurationError(
                f"inputArtifacts[{n}]: expected {{name, location: {{type: S3, s3Location: {{bucketName, "
                "objectKey}}}}}}"
            ) from None
        if not all(isinstance(v, str) and v for v in (name, bucket, key)) or not isinstance(revision, str | None):
            raise ConfigurationError(f"inputArtifacts[{n}]: name, bucketName and objectKey must be non-empty strings")
        artifacts.append(InputArtifact(name, bucket, key, revision or None))
    return artifacts


def _read(read: Callable[[], _T]) -> _T | None:
    """What `read` finds in the event, or None where the event lacks it or has another shape there."""
    try:
        return read()
    except (KeyError, TypeError, AttributeError):
        return None


def _text(value: object) -> str | None:
    return value if isinstance(value, str) and value else None
