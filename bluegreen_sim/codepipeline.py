"""CodePipeline's side of a Lambda invoke action: the one model the simulator and the tests both run.

`JobStore` owns CodePipeline's record: the pipeline executions, their action executions and the jobs of each
(a continuation job is a new job of the same action execution), what the function reported and whether it was
taken. It answers PutJobSuccessResult / PutJobFailureResult (with the checks the real service makes: unknown job,
job no longer in progress, length limits, enums, output variables only on a final success), GetJobDetails,
GetPipelineExecution and ListActionExecutions, with the reply shapes of botocore's model
(`codepipeline/2015-07-09/service-2.json`), and a person's or CodePipeline's acts on a run: stop (and abandon),
supersede, a Retry (a new action execution), the action timing out; and the EventBridge state-change events.
The simulator serves it through `bluegreen_sim.gateway`; the tests through `tests/fakes/codepipeline.py`, which
adds only fault injection. Nothing here knows about the product.

The rest of the module is the simulator's driver: the Lambda context whose remaining time follows the simulated
clock, and the driver that invokes the handler with a real-shaped `CodePipeline.job` event, re-invokes with the
continuation token under a NEW job id, retries a raised invocation as Lambda's async retry does, and can
deliver the first event twice.
"""

from __future__ import annotations

import datetime
import json
import random
import re
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import botocore.session
from botocore.model import StringShape

from bluegreen_sim.clock import SimClock
from bluegreen_sim.loopback import AwsFault as AwsError

LAMBDA_SECONDS = 900.0
ACTION_REPLY_TIMEOUT = 1200.0  # CodePipeline fails a Lambda invoke action that sends no result for 20 minutes
EVENT_DELAY = 5.0  # EventBridge's delivery of a state-change event to the function (assumed; undocumented)


def _failure_types() -> frozenset[str]:
    """CodePipeline's own enum, from botocore's service model (the wire contract), not from bluegreen's code."""
    shape = botocore.session.get_session().get_service_model("codepipeline").shape_for("FailureType")
    if not isinstance(shape, StringShape):  # pragma: no cover - a changed model should fail loudly
        raise TypeError(f"unexpected FailureType shape {shape!r}")
    return frozenset(shape.enum)


FAILURE_TYPES = _failure_types()
_VAR_KEY = re.compile(r"^[A-Za-z0-9@\-_]+$")
ACCOUNT = "123456789012"
REGION = "us-east-1"
REPORTS = ("PutJobSuccessResult", "PutJobFailureResult")
LAMBDA_ACTION_TYPE = {"category": "Invoke", "owner": "AWS", "provider": "Lambda", "version": "1"}
# The artifact store's temporary credentials a job carries when nobody gave it its own (a stand-in, never real).
STAND_IN_CREDENTIALS = {
    "accessKeyId": "ASIASIMULATEDKEY0001",
    "secretAccessKey": "sim-artifact-secret",
    "sessionToken": "sim-session-token",
}
# EventBridge's `detail.state` for each status (CodePipeline user guide, "Monitoring CodePipeline events": the
# action states STARTED | SUCCEEDED | FAILED | ABANDONED | CANCELED, the pipeline execution states STARTED |
# STOPPING | STOPPED | SUCCEEDED | FAILED | SUPERSEDED | CANCELED | RESUMED).
_ACTION_STATE = {"InProgress": "STARTED", "Abandoned": "ABANDONED", "Succeeded": "SUCCEEDED", "Failed": "FAILED"}
_EXECUTION_STATE = {
    "InProgress": "STARTED",
    "Stopping": "STOPPING",
    "Stopped": "STOPPED",
    "Succeeded": "SUCCEEDED",
    "Failed": "FAILED",
    "Superseded": "SUPERSEDED",
    "Cancelled": "CANCELED",
}

Handler = Callable[[dict[str, Any], Any], Any]


class Clock(Protocol):
    """What the model reads of time: SimClock in the simulator, FakeClock in the tests."""

    def now(self) -> float: ...

    @property
    def elapsed(self) -> float: ...


@dataclass
class Report:
    """One PutJob*Result call the job store received, taken or refused."""

    job_id: str
    operation: str
    request: dict[str, Any]
    elapsed: float
    accepted: bool
    error: str | None = None

    @property
    def body(self) -> dict[str, Any]:
        """The request as the function sent it (the tests' name for it)."""
        return self.request

    @property
    def kind(self) -> str:
        """failure | in_progress (a success with a continuation token) | success."""
        if self.operation == "PutJobFailureResult":
            return "failure"
        return "in_progress" if self.request.get("continuationToken") else "success"

    @property
    def final(self) -> bool:
        return self.accepted and self.kind != "in_progress"

    def wire(self) -> dict[str, Any]:
        return {
            "jobId": self.job_id,
            "operation": self.operation,
            "elapsed": round(self.elapsed, 3),
            "accepted": self.accepted,
            "error": self.error,
            "request": self.request,
        }


@dataclass
class ActionExecution:
    """One run of the Lambda invoke action: its continuation jobs and duplicate deliveries share it; a person's
    Retry is a new one (CodePipeline API reference, ActionContext.actionExecutionId)."""

    pipeline_name: str
    pipeline_execution_id: str
    action_execution_id: str
    user_parameters: str
    started: float
    stage_name: str = "Deploy"
    action_name: str = "BlueGreen"
    function_name: str = "bluegreen"
    status: str = "InProgress"  # ActionExecutionStatus: InProgress | Abandoned | Succeeded | Failed
    updated: float = 0.0
    # The job event's inputArtifacts ({name, revision, location.s3Location{bucketName, objectKey}}): every job of
    # the action carries them (JobData.inputArtifacts), and ListActionExecutions records them.
    input_artifacts: list[dict[str, Any]] = field(default_factory=list)

    def wire(self) -> dict[str, Any]:
        """ListActionExecutions' ActionExecutionDetail of a Lambda invoke action (botocore's codepipeline model;
        the input artifacts as ActionExecutionInput.inputArtifacts: ArtifactDetail {name, s3location {bucket,
        key}})."""
        configuration = {"FunctionName": self.function_name, "UserParameters": self.user_parameters}
        return {
            "pipelineExecutionId": self.pipeline_execution_id,
            "actionExecutionId": self.action_execution_id,
            "pipelineVersion": 1,
            "stageName": self.stage_name,
            "actionName": self.action_name,
            "startTime": self.started,
            "lastUpdateTime": self.updated or self.started,
            "status": self.status,
            "input": {
                "actionTypeId": dict(LAMBDA_ACTION_TYPE),
                "configuration": dict(configuration),
                "resolvedConfiguration": dict(configuration),
                "region": REGION,
                "inputArtifacts": [
                    {
                        "name": a["name"],
                        "s3location": {
                            "bucket": a["location"]["s3Location"]["bucketName"],
                            "key": a["location"]["s3Location"]["objectKey"],
                        },
                    }
                    for a in self.input_artifacts
                ],
            },
            "output": {"outputArtifacts": [], "executionResult": {}, "outputVariables": {}},
        }


@dataclass
class PipelineExecution:
    pipeline_name: str
    pipeline_execution_id: str
    # PipelineExecutionStatus: Cancelled | InProgress | Stopped | Stopping | Succeeded | Superseded | Failed
    status: str = "InProgress"


@dataclass
class Job:
    id: str
    status: str = "InProgress"
    action: ActionExecution | None = None
    continuation: str | None = None  # the continuationToken its JobData carries (a continuation job)
    artifact_credentials: dict[str, str] | None = None  # JobData.artifactCredentials


class JobStore:
    """The jobs CodePipeline has handed to the function, the runs they belong to, and what it was told.

    Assumptions (no source says otherwise; the product is safe under either reading):
    - The action is the pipeline's last, so a final report ends its pipeline execution with the action's status.
    - A job id is checked against the jobs issued (JobNotFoundException), not against botocore's JobId pattern:
      CodePipeline issues the ids and the function only echoes them, so the tests may name their jobs `job-0001`.
    - A job created without its action execution (`create(job_id)`) has no pipeline context to give:
      GetJobDetails answers JobNotFoundException, as for a job CodePipeline does not know; reports are taken.
    """

    def __init__(self, clock: Clock, rng: random.Random | None = None) -> None:
        self._clock = clock
        self._rng = rng or random.Random(0)  # noqa: S311 - ids of a simulated world
        self._lock = threading.Lock()
        self.jobs: dict[str, Job] = {}
        self.reports: list[Report] = []  # every PutJob*Result received, taken or refused, in order
        self.executions: dict[str, PipelineExecution] = {}
        self.actions: dict[str, ActionExecution] = {}
        # The simulator's scenarios (the tests inject faults in tests/fakes/codepipeline.py instead):
        self.lose_final_reports = 0  # the next N final report attempts fail with a 500 (lost on the way)
        self.dead_jobs: set[str] = set()  # jobs whose invocation was killed: nothing it sends gets through

    # -- the pipeline's side: what CodePipeline and the people using it do --------------------------------------
    def create(
        self,
        job_id: str,
        action: ActionExecution | None = None,
        continuation: str | None = None,
        artifact_credentials: dict[str, str] | None = None,
    ) -> Job:
        """A job of `action`; a continuation job carries the token of the previous job's in-progress report.

        A job is issued once: issuing a known id again (a test delivering the same job's event twice) updates
        its record, never its state, so an answered job stays answered.
        """
        with self._lock:
            job = self.jobs.get(job_id) or Job(job_id)
            job.action, job.continuation = action, continuation
            job.artifact_credentials = dict(artifact_credentials or STAND_IN_CREDENTIALS)
            self.jobs[job_id] = job
            return job

    def start_action(
        self,
        pipeline_name: str,
        user_parameters: str = "",
        rng: random.Random | None = None,
        *,
        execution_id: str | None = None,
    ) -> ActionExecution:
        """A new action execution: of a new pipeline execution, or, given `execution_id`, a person's Retry of the
        stage, which runs the action again under a new action execution id and resumes the pipeline execution
        (user guide, "Retry a failed action in a stage"; the statuses are botocore's PipelineExecutionStatus).
        """
        ids = rng or self._rng

        def new_id() -> str:
            return str(uuid.UUID(int=ids.getrandbits(128), version=4))

        with self._lock:
            if execution_id is None:
                execution_id = new_id()
                self.executions[execution_id] = PipelineExecution(pipeline_name, execution_id)
            else:
                self.executions[execution_id].status = "InProgress"
            action = ActionExecution(pipeline_name, execution_id, new_id(), user_parameters, self._clock.now())
            self.actions[action.action_execution_id] = action
            return action

    def stop(self, execution_id: str, *, abandon: bool) -> None:
        """A person's "Stop execution" (StopPipelineExecution). "Stop and abandon" ends the in-progress actions as
        Abandoned and the execution is Stopped; their jobs are no longer in progress, so a report for one is
        refused. "Stop and wait" leaves the execution Stopping until its in-progress actions complete, then
        Stopped (botocore's model, StopPipelineExecution; user guide, "How pipeline executions are stopped")."""
        with self._lock:
            execution = self.executions[execution_id]
            running = [a for a in self._actions_of(execution_id) if a.status == "InProgress"]
            execution.status = "Stopped" if abandon or not running else "Stopping"
            if not abandon:
                return
            for action in running:
                action.status, action.updated = "Abandoned", self._clock.now()
            for job in self.jobs.values():
                if job.action in running and job.status == "InProgress":
                    job.status = "Abandoned"

    def supersede(self, execution_id: str) -> None:
        """A newer execution overtook this one while it waited at a stage transition (user guide, "CodePipeline
        concepts", transitions; SUPERSEDED mode). It waits between stages, so none of its actions is touched."""
        with self._lock:
            self.executions[execution_id].status = "Superseded"

    def fail_action(self, action: ActionExecution, reason: str) -> None:
        """CodePipeline gives up on an action (no result for 20 minutes, or the function died): Failed, and so
        the pipeline execution; its jobs are no longer in progress. `reason` is for the reader only."""
        with self._lock:
            action.status, action.updated = "Failed", self._clock.now()
            self.executions[action.pipeline_execution_id].status = "Failed"
            for job in self.jobs.values():
                if job.action is action and job.status == "InProgress":
                    job.status = "TimedOut"

    def state_change_event(
        self, action: ActionExecution, *, execution_level: bool, state: str | None = None
    ) -> dict[str, Any]:
        """The EventBridge event CodePipeline emits for the action's (or its pipeline execution's) state, with the
        fields of the user guide's "Monitoring CodePipeline events" (detail.pipeline, execution-id, state, and for
        an action stage, action, type). `state` names the state the event reports when it is not the current one
        (an event delivered late, after a Retry resumed the execution)."""
        with self._lock:
            execution = self.executions[action.pipeline_execution_id]
            detail: dict[str, Any] = {"pipeline": action.pipeline_name, "version": 1}
            detail["execution-id"] = action.pipeline_execution_id
            if execution_level:
                detail_type = "CodePipeline Pipeline Execution State Change"
                detail["state"] = state or _EXECUTION_STATE.get(execution.status, execution.status.upper())
            else:
                detail_type = "CodePipeline Action Execution State Change"
                detail.update(
                    stage=action.stage_name,
                    action=action.action_name,
                    state=state or _ACTION_STATE.get(action.status, action.status.upper()),
                    type=dict(LAMBDA_ACTION_TYPE),
                )
            when = datetime.datetime.fromtimestamp(self._clock.now(), datetime.UTC)
            return {
                "version": "0",
                "id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"{action.action_execution_id}/{detail['state']}")),
                "detail-type": detail_type,
                "source": "aws.codepipeline",
                "account": ACCOUNT,
                "time": when.strftime("%Y-%m-%dT%H:%M:%SZ"),
                "region": REGION,
                "resources": [f"arn:aws:codepipeline:{REGION}:{ACCOUNT}:{action.pipeline_name}"],
                "detail": detail,
            }

    # -- the CodePipeline API the function calls ------------------------------------------------------------------
    def job_details(self, request: dict[str, Any]) -> dict[str, Any]:
        """GetJobDetails: the job's JobData, the same the Lambda event carries (botocore's model: GetJobDetailsOutput
        .jobDetails.data is a JobData: inputArtifacts, a continuation job's continuationToken, and the artifact
        store's temporary credentials, which the API reference says this call returns). Raises AwsError."""
        job_id = str(request.get("jobId"))
        with self._lock:
            job = self.jobs.get(job_id)
            if job is None or job.action is None:
                raise AwsError("JobNotFoundException", f"Job {job_id} not found")
            action = job.action
            data: dict[str, Any] = {
                "actionTypeId": dict(LAMBDA_ACTION_TYPE),
                "actionConfiguration": {
                    "configuration": {"FunctionName": action.function_name, "UserParameters": action.user_parameters}
                },
                "pipelineContext": {
                    "pipelineName": action.pipeline_name,
                    "stage": {"name": action.stage_name},
                    "action": {"name": action.action_name, "actionExecutionId": action.action_execution_id},
                    "pipelineArn": f"arn:aws:codepipeline:{REGION}:{ACCOUNT}:{action.pipeline_name}",
                    "pipelineExecutionId": action.pipeline_execution_id,
                },
                "inputArtifacts": json.loads(json.dumps(action.input_artifacts)),
                **({"continuationToken": job.continuation} if job.continuation else {}),
                "outputArtifacts": [],
                "artifactCredentials": dict(job.artifact_credentials or STAND_IN_CREDENTIALS),
            }
            return {"jobDetails": {"id": job_id, "accountId": ACCOUNT, "data": data}}

    def pipeline_execution(self, request: dict[str, Any]) -> dict[str, Any]:
        """GetPipelineExecution. Raises AwsError."""
        name, execution_id = request.get("pipelineName"), request.get("pipelineExecutionId")
        with self._lock:
            execution = self.executions.get(str(execution_id))
            if execution is None or execution.pipeline_name != name:
                raise AwsError("PipelineExecutionNotFoundException", f"Execution {execution_id} not found")
            return {
                "pipelineExecution": {
                    "pipelineName": execution.pipeline_name,
                    "pipelineVersion": 1,
                    "pipelineExecutionId": execution.pipeline_execution_id,
                    "status": execution.status,
                    "artifactRevisions": [],
                }
            }

    def action_executions(self, request: dict[str, Any]) -> dict[str, Any]:
        """ListActionExecutions (newest first; one page: a simulated pipeline has fewer than the default 100)."""
        name = request.get("pipelineName")
        wanted = (request.get("filter") or {}).get("pipelineExecutionId")
        with self._lock:
            if not any(e.pipeline_name == name for e in self.executions.values()):
                raise AwsError("PipelineNotFoundException", f"Pipeline {name} not found")
            found = [
                a.wire()
                for a in self.actions.values()
                if a.pipeline_name == name and (wanted is None or a.pipeline_execution_id == wanted)
            ]
            return {"actionExecutionDetails": list(reversed(found))}

    def receive(self, operation: str, request: dict[str, Any]) -> Report:
        """Take or refuse a job result (PutJobSuccessResult / PutJobFailureResult). A job takes one report: after
        it (an in-progress one included: the next job continues the action) it is no longer in progress, and the
        next is refused with InvalidJobStateException; an unknown job is JobNotFoundException (botocore's model
        lists both for these operations; the API reference says what each means). Returns the taken report.

        Raises:
            AwsError: the report is refused (or, in a simulator scenario, lost).
        """
        job_id = request.get("jobId")
        report = Report(str(job_id), operation, request, self._clock.elapsed, accepted=False)
        try:
            with self._lock:
                _validate(operation, request)
                final = report.kind != "in_progress"
                if str(job_id) in self.dead_jobs:
                    raise AwsError("ServiceUnavailableException", "the invocation that sent this was killed", 503)
                if final and self.lose_final_reports > 0:
                    self.lose_final_reports -= 1
                    raise AwsError("InternalFailure", "the report was lost", 500)
                job = self.jobs.get(str(job_id))
                if job is None:
                    raise AwsError("JobNotFoundException", f"Job {job_id} not found")
                if job.status != "InProgress":
                    raise AwsError("InvalidJobStateException", f"Job {job_id} is in state {job.status}, not InProgress")
                job.status = "Failed" if operation == "PutJobFailureResult" else "Succeeded"
                report.accepted = True
                if job.action is not None and final and job.action.status == "InProgress":
                    self._end_action(job.action, job.status)
        except AwsError as fault:
            report.error = f"{fault.code}: {fault.message}"
            raise
        finally:
            with self._lock:
                self.reports.append(report)
        return report

    def _end_action(self, action: ActionExecution, status: str) -> None:
        action.status, action.updated = status, self._clock.now()
        execution = self.executions[action.pipeline_execution_id]
        if execution.status == "InProgress":
            execution.status = status
        elif execution.status == "Stopping" and not any(
            a.status == "InProgress" for a in self._actions_of(execution.pipeline_execution_id)
        ):
            execution.status = "Stopped"  # "Stop and wait": the last in-progress action completed

    def _actions_of(self, execution_id: str) -> list[ActionExecution]:
        return [a for a in self.actions.values() if a.pipeline_execution_id == execution_id]

    def accepted(self, job_id: str) -> Report | None:
        """The accepted report for a job."""
        with self._lock:
            return next((r for r in self.reports if r.job_id == job_id and r.accepted), None)


def _validate(operation: str, request: dict[str, Any]) -> None:
    def bad(message: str) -> AwsError:
        return AwsError("ValidationException", message)

    if not isinstance(request.get("jobId"), str) or not request["jobId"]:
        raise bad("jobId: required")
    if operation == "PutJobFailureResult":
        details = request.get("failureDetails")
        if not isinstance(details, dict):
            raise bad("failureDetails is required")
        if details.get("type") not in FAILURE_TYPES:
            raise bad(f"failureDetails.type: {details.get('type')!r} is not one of {sorted(FAILURE_TYPES)}")
        message = details.get("message")
        if not isinstance(message, str) or not 1 <= len(message) <= 5000:
            raise bad("failureDetails.message: length must be 1..5000")
        _check_len(details.get("externalExecutionId"), 1500, "failureDetails.externalExecutionId")
        return
    token = request.get("continuationToken")
    if token is not None and (not isinstance(token, str) or not 1 <= len(token) <= 2048):
        raise bad("continuationToken: length must be 1..2048")
    details = request.get("executionDetails")
    if details is not None:
        _check_len(details.get("summary"), 2048, "executionDetails.summary")
        _check_len(details.get("externalExecutionId"), 1500, "executionDetails.externalExecutionId")
        percent = details.get("percentComplete")
        if percent is not None and (not isinstance(percent, int) or not 0 <= percent <= 100):
            raise bad("executionDetails.percentComplete: must be 0..100")
    variables = request.get("outputVariables")
    if variables:
        if token:
            raise bad("outputVariables cannot be specified together with continuationToken")
        for key in variables:
            if not _VAR_KEY.match(key):
                raise bad(f"outputVariables: invalid key {key!r}")


def _check_len(value: Any, limit: int, name: str) -> None:
    if value is not None and (not isinstance(value, str) or not 1 <= len(value) <= limit):
        raise AwsError("ValidationException", f"{name}: length must be 1..{limit}")


class SimLambdaContext:
    """A Lambda context whose remaining time follows the simulated clock."""

    def __init__(
        self, clock: SimClock, request_id: str, name: str = "bluegreen", seconds: float = LAMBDA_SECONDS
    ) -> None:
        self._clock = clock
        self._deadline = clock.now() + seconds
        self.function_name = name
        self.function_version = "$LATEST"
        self.invoked_function_arn = f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:{name}"
        self.memory_limit_in_mb = 256
        self.aws_request_id = request_id
        self.log_group_name = f"/aws/lambda/{name}"
        self.log_stream_name = f"2026/01/01/[$LATEST]{request_id.replace('-', '')}"

    @property
    def deadline(self) -> float:
        return self._deadline

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - self._clock.now()) * 1000))

    def kill(self) -> None:
        """The invocation dies: no time left from now on."""
        self._deadline = self._clock.now()


@dataclass
class Invocation:
    """One call of the handler."""

    job_id: str
    name: str
    started: float
    ended: float = 0.0
    raised: str | None = None
    overran: bool = False
    returned: Any = None


@dataclass
class DriverResult:
    """How a pipeline action ended and what it took."""

    outcome: str
    invocations: list[Invocation] = field(default_factory=list)
    job_ids: list[str] = field(default_factory=list)


class PipelineDriver:
    """Runs one Lambda invoke action of one pipeline execution to its end."""

    def __init__(
        self,
        clock: SimClock,
        jobs: JobStore,
        handler: Handler,
        user_parameters: str,
        *,
        name: str = "pipeline",
        rng: random.Random | None = None,
        duplicate_first: bool = False,
        duplicate_delay: float = 3.0,
        continuation_delay: float = 10.0,
        max_invocations: int = 40,
        artifact_credentials: dict[str, str] | None = None,
        input_artifacts: list[dict[str, Any]] | None = None,
        lambda_seconds: float = LAMBDA_SECONDS,
        stop: str | None = None,
        stop_delay: float = 30.0,
        kill_after_start: bool = False,
    ) -> None:
        self._clock = clock
        self._jobs = jobs
        self._handler = handler
        self._params = user_parameters
        self._name = name
        self._rng = rng or random.Random(0)  # noqa: S311 - determinism, not secrecy
        self._duplicate_first = duplicate_first
        self._duplicate_delay = duplicate_delay
        self._continuation_delay = continuation_delay
        self._max = max_invocations
        self._artifact_credentials = dict(artifact_credentials or STAND_IN_CREDENTIALS)
        self._input_artifacts = list(input_artifacts or [])
        self._lambda_seconds = lambda_seconds
        self.action: ActionExecution | None = None
        self._stop = (
            stop  # "WAIT_GREEN" / "WAIT_DEPLOY": a person stops and abandons then; "between": after a hand-over
        )
        self._stop_delay = stop_delay
        self._kill_after_start = kill_after_start
        self._context: SimLambdaContext | None = None
        self._job_id: str | None = None
        self._events: list[dict[str, Any]] = []
        self.stopped_at: float | None = None
        self.killed_at: float | None = None

    def phase_changed(self, phase: str) -> None:
        """The handler entered `phase` (from the log capture): where a person stops, or the invocation dies."""
        if self._stop == phase and self.stopped_at is None:
            self.stopped_at = -1.0
            self._clock.call_later(self._stop_delay, self._stop_and_abandon)
        if self._kill_after_start and phase == "WAIT_GREEN" and self.killed_at is None:
            # The invocation dies right after Spot started the deployment: nothing it does reaches CodePipeline
            # any more, and its remaining time is gone (so it stops doing anything at once).
            self.killed_at = self._clock.elapsed
            if self._job_id is not None:
                self._jobs.dead_jobs.add(self._job_id)
            if self._context is not None:
                self._context.kill()

    def _stop_and_abandon(self) -> None:
        assert self.action is not None  # noqa: S101 - set before the first invocation
        self.stopped_at = self._clock.elapsed
        self._jobs.stop(self.action.pipeline_execution_id, abandon=True)
        self._events.append(self._jobs.state_change_event(self.action, execution_level=True))

    def _uuid(self) -> str:
        return str(uuid.UUID(int=self._rng.getrandbits(128), version=4))

    def event(self, job_id: str, continuation: str | None) -> dict[str, Any]:
        """A `CodePipeline.job` event as the invoke action sends it.

        Every job of the action carries the same input artifacts and the artifact credentials, continuation jobs
        included: each is a job of its own whose JobData (CodePipeline API reference, JobData: inputArtifacts,
        artifactCredentials, continuationToken) describes the same action execution.
        """
        data: dict[str, Any] = {
            "actionConfiguration": {"configuration": {"FunctionName": "bluegreen", "UserParameters": self._params}},
            "inputArtifacts": json.loads(json.dumps(self._input_artifacts)),
            "outputArtifacts": [],
            "artifactCredentials": dict(self._artifact_credentials),
        }
        if continuation is not None:
            data["continuationToken"] = continuation
        return {"CodePipeline.job": {"id": job_id, "accountId": ACCOUNT, "data": data}}

    def run(self, registered: threading.Event | None = None) -> DriverResult:
        """Invoke until CodePipeline has a final result (or the action would time out).

        The calling thread is a clock participant for the whole run, so pauses between invocations
        happen in simulated time, deterministically, even with other pipelines running alongside.
        """
        with self._clock.participant(self._name, registered):
            return self._run()

    def _run(self) -> DriverResult:
        result = DriverResult(outcome="NoReport")
        continuation: str | None = None
        attempt = 0
        self.action = self._jobs.start_action(self._name, self._params, self._rng)
        self.action.input_artifacts = json.loads(json.dumps(self._input_artifacts))
        job_id = self._uuid()
        self._jobs.create(job_id, self.action, artifact_credentials=self._artifact_credentials)
        result.job_ids.append(job_id)
        first = True
        while len(result.invocations) < self._max:
            self._job_id = job_id
            event = self.event(job_id, continuation)
            if first and self._duplicate_first:
                batch = self._invoke_with_duplicate(event, job_id, result)
            else:
                batch = [self._invoke(event, job_id, f"{self._name}#{len(result.invocations) + 1}", result)]
            first = False
            report = self._jobs.accepted(job_id)
            if self.killed_at is not None:
                return self._killed(result)
            if report is None:
                if any(inv.raised for inv in batch) and attempt < 2:
                    self._jobs.lose_final_reports = 0  # only the first delivery's report is lost
                    attempt += 1  # Lambda's async retry of the same event, ~1 then ~2 minutes later
                    self._clock.sleep(60.0 * attempt)
                    continue
                result.outcome = "NoReport"
                if self.stopped_at is not None:
                    result.outcome = "Abandoned"
                    self._deliver_events(result)
                return result
            attempt = 0
            if report.operation == "PutJobFailureResult":
                result.outcome = f"Failed:{report.request['failureDetails']['type']}"
                return result
            continuation = report.request.get("continuationToken")
            if not continuation:
                result.outcome = "Succeeded"
                return result
            if self._stop == "between" and self.stopped_at is None:
                self._clock.sleep(self._stop_delay)  # CodePipeline has not called again yet
                self._stop_and_abandon()
                result.outcome = "Abandoned"
                self._deliver_events(result)
                return result
            self._clock.sleep(self._continuation_delay)
            job_id = self._uuid()
            self._jobs.create(job_id, self.action, continuation, self._artifact_credentials)
            result.job_ids.append(job_id)
        result.outcome = "TooManyInvocations"
        return result

    def _killed(self, result: DriverResult) -> DriverResult:
        """No result for 20 minutes: CodePipeline fails the action, and emits the state-change events."""
        assert self.action is not None  # noqa: S101
        self._clock.sleep(max(0.0, (self.killed_at or 0.0) + ACTION_REPLY_TIMEOUT - self._clock.elapsed))
        self._jobs.fail_action(self.action, "no result from the function for 20 minutes")
        self._events.append(self._jobs.state_change_event(self.action, execution_level=False))
        result.outcome = "ActionTimedOut"
        self._deliver_events(result)
        return result

    def _deliver_events(self, result: DriverResult) -> None:
        """EventBridge invokes the function with each state-change event, a few seconds later."""
        while self._events:
            event = self._events.pop(0)
            self._clock.sleep(EVENT_DELAY)
            self._invoke(event, "-", f"{self._name}#event", result)

    def _invoke(self, event: dict[str, Any], job_id: str, name: str, result: DriverResult) -> Invocation:
        inv = Invocation(job_id, name, self._clock.elapsed)
        result.invocations.append(inv)
        context = SimLambdaContext(self._clock, self._uuid(), seconds=self._lambda_seconds)
        self._context = context
        try:
            inv.returned = self._handler(event, context)
        except Exception as exc:  # noqa: BLE001 - Lambda records any escaping error and retries
            inv.raised = f"{type(exc).__name__}: {exc}"
        inv.ended = self._clock.elapsed
        inv.overran = self._clock.now() > context.deadline
        return inv

    def _invoke_with_duplicate(self, event: dict[str, Any], job_id: str, result: DriverResult) -> list[Invocation]:
        """Deliver `event` twice: a second container receives it `duplicate_delay` seconds later."""
        done: list[Invocation] = []
        registered = threading.Event()
        finished = threading.Event()
        copy = json.loads(json.dumps(event))
        name = f"{self._name}#1-dup"

        def duplicate() -> None:
            try:
                with self._clock.participant(name, registered):
                    self._clock.sleep(self._duplicate_delay)
                    done.append(self._invoke(copy, job_id, name, result))
            finally:
                finished.set()

        threading.Thread(target=duplicate, name=name, daemon=True).start()
        registered.wait()
        done.insert(0, self._invoke(event, job_id, f"{self._name}#1", result))
        while not finished.is_set():
            self._clock.sleep(1.0)  # wait in simulated time, so the duplicate can run
        return done


def run_concurrently(clock: SimClock, drivers: list[PipelineDriver]) -> list[DriverResult]:
    """Run several pipeline actions at once on one simulated cloud; results in the drivers' order.

    Every driver becomes a clock participant before simulated time moves, so the interleaving (and so
    every figure) is the same on every run.
    """
    results: list[DriverResult | None] = [None] * len(drivers)
    errors: list[BaseException] = []
    threads = []
    with clock.participant("starter"):
        for n, driver in enumerate(drivers):
            registered = threading.Event()

            def work(n: int = n, driver: PipelineDriver = driver, registered: threading.Event = registered) -> None:
                try:
                    results[n] = driver.run(registered)
                except BaseException as exc:  # noqa: BLE001 - handed to the caller below
                    errors.append(exc)
                    registered.set()

            thread = threading.Thread(target=work, name=f"pipeline-{n}", daemon=True)
            thread.start()
            registered.wait()
            threads.append(thread)
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]
    return [r for r in results if r is not None]
