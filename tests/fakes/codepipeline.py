"""A fake CodePipeline (JSON protocol on loopback): the jobs of one Lambda invoke action, and every report.

It knows which action execution each job belongs to (GetJobDetails' `pipelineContext`), the status of the
pipeline executions and their action executions (GetPipelineExecution, ListActionExecutions), and refuses a
report for a job that is not in progress. The reply shapes follow botocore's service model for CodePipeline
(`botocore/data/codepipeline/2015-07-09/service-2.json`: GetJobDetailsOutput, GetPipelineExecutionOutput,
ListActionExecutionsOutput); the refusal codes follow the API reference (InvalidJobStateException for a job no
longer in progress, JobNotFoundException for an unknown one).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from bluegreen_sim.codepipeline import action_execution_detail
from tests.fakes.awsjson import AwsFault

REPORTS = ("PutJobSuccessResult", "PutJobFailureResult")


@dataclass
class Report:
    operation: str
    job_id: str
    body: dict[str, Any]

    @property
    def kind(self) -> str:
        if self.operation == "PutJobFailureResult":
            return "failure"
        return "in_progress" if "continuationToken" in self.body else "success"


@dataclass
class ActionExecution:
    """One run of the Lambda invoke action: every continuation job and every duplicate delivery share it."""

    pipeline_name: str
    pipeline_execution_id: str
    action_execution_id: str
    user_parameters: str = ""
    stage_name: str = "Deploy"
    action_name: str = "BlueGreen"
    function_name: str = "bluegreen"
    status: str = "InProgress"  # ActionExecutionStatus: InProgress | Abandoned | Succeeded | Failed
    # The job event's inputArtifacts, as ListActionExecutions records them (botocore's codepipeline model:
    # ActionExecutionInput.inputArtifacts, ArtifactDetail {name, s3location {bucket, key}}).
    input_artifacts: list[dict[str, Any]] = field(default_factory=list)

    def wire(self) -> dict[str, Any]:
        """An ActionExecutionDetail as ListActionExecutions returns it (the simulator's shape, one definition)."""
        return action_execution_detail(
            self,
            function_name=self.function_name,
            started=1_767_225_600.0,
            updated=1_767_225_600.0,
            input_artifacts=self.input_artifacts,
        )


def _uuid(n: int) -> str:
    return f"00000000-0000-4000-8000-{n:012d}"


@dataclass
class FakeCodePipeline:
    reports: list[Report] = field(default_factory=list)
    closed_jobs: set[str] = field(default_factory=set)
    faults: list[AwsFault] = field(default_factory=list)  # for the next reports (PutJob*Result)
    other_faults: dict[str, list[AwsFault]] = field(default_factory=dict)  # per other operation
    jobs: dict[str, ActionExecution] = field(default_factory=dict)
    executions: dict[str, str] = field(default_factory=dict)  # pipeline execution id -> PipelineExecutionStatus
    calls: list[str] = field(default_factory=list)
    pipeline_name: str = "storefront"
    on_report: Callable[[Report], None] | None = None  # lets a test act at the moment a report arrives
    continuations: dict[str, str] = field(default_factory=dict)  # job id -> the continuationToken its JobData has
    _counter: int = 0

    # ---- the pipeline's side --------------------------------------------------------------------------------

    def start_action(self, user_parameters: str = "", *, execution_id: str | None = None) -> ActionExecution:
        """A new action execution: a new pipeline execution, or a person's Retry when `execution_id` is given."""
        self._counter += 1
        if execution_id is None:
            execution_id = _uuid(self._counter)
            self.executions[execution_id] = "InProgress"
        return ActionExecution(self.pipeline_name, execution_id, _uuid(10_000 + self._counter), user_parameters)

    def add_job(self, job_id: str, action: ActionExecution, continuation: str | None = None) -> None:
        """A job of `action`; a continuation job carries the token of the previous job's in-progress report."""
        self.jobs[job_id] = action
        if continuation is not None:
            self.continuations[job_id] = continuation

    def stop(self, action: ActionExecution, *, abandon: bool = True) -> None:
        """A person's "Stop execution" (with "Stop and abandon" when `abandon`)."""
        self.executions[action.pipeline_execution_id] = "Stopped"
        if abandon and action.status == "InProgress":
            action.status = "Abandoned"
        for job_id, owner in self.jobs.items():
            if owner is action and abandon:
                self.closed_jobs.add(job_id)

    def time_out(self, action: ActionExecution) -> None:
        """CodePipeline gives up on an action whose function sent no result for 20 minutes: Failed, and so is
        the pipeline execution (CodePipeline user guide, Lambda invoke action limits)."""
        action.status = "Failed"
        self.executions[action.pipeline_execution_id] = "Failed"
        for job_id, owner in self.jobs.items():
            if owner is action:
                self.closed_jobs.add(job_id)

    def event(self, action: ActionExecution, *, execution_state: str | None = None) -> dict[str, Any]:
        """The EventBridge event CodePipeline emits for the action's state (or, given `execution_state`, for its
        pipeline execution's), as the user guide's "Monitoring CodePipeline events" shows it."""
        detail: dict[str, Any] = {
            "pipeline": action.pipeline_name,
            "version": 1,
            "execution-id": action.pipeline_execution_id,
        }
        if execution_state is not None:
            detail_type = "CodePipeline Pipeline Execution State Change"
            detail["state"] = execution_state
        else:
            detail_type = "CodePipeline Action Execution State Change"
            detail.update(
                stage=action.stage_name,
                action=action.action_name,
                state={"Abandoned": "ABANDONED", "Failed": "FAILED", "Succeeded": "SUCCEEDED"}.get(
                    action.status, "STARTED"
                ),
                type={"owner": "AWS", "category": "Invoke", "provider": "Lambda", "version": "1"},
            )
        return {
            "version": "0",
            "id": "6a7e8feb-b491-4cf7-a9f1-bf3703467718",
            "detail-type": detail_type,
            "source": "aws.codepipeline",
            "account": "123456789012",
            "time": "2026-12-01T20:00:00Z",
            "region": "us-east-1",
            "resources": [f"arn:aws:codepipeline:us-east-1:123456789012:{action.pipeline_name}"],
            "detail": detail,
        }

    def fail_next(self, operation: str, *faults: AwsFault) -> None:
        self.other_faults.setdefault(operation, []).extend(faults)

    # ---- the wire -------------------------------------------------------------------------------------------

    def handle(self, operation: str, body: dict[str, Any]) -> dict[str, Any]:
        self.calls.append(operation)
        if operation in REPORTS:
            return self._report(operation, body)
        pending = self.other_faults.get(operation)
        if pending:
            raise pending.pop(0)
        if operation == "GetJobDetails":
            return self._job_details(body)
        if operation == "GetPipelineExecution":
            return self._pipeline_execution(body)
        if operation == "ListActionExecutions":
            return self._action_executions(body)
        raise AwsFault("UnknownOperationException", f"the fake does not implement {operation}")

    def _report(self, operation: str, body: dict[str, Any]) -> dict[str, Any]:
        if self.faults:
            raise self.faults.pop(0)
        job_id = body["jobId"]
        if job_id in self.closed_jobs:
            raise AwsFault("InvalidJobStateException", f"Job {job_id} is not in progress")
        self.closed_jobs.add(job_id)
        report = Report(operation, job_id, body)
        self.reports.append(report)
        action = self.jobs.get(job_id)
        if action is not None and report.kind != "in_progress":
            action.status = "Failed" if report.kind == "failure" else "Succeeded"
            if self.executions.get(action.pipeline_execution_id) == "InProgress":
                self.executions[action.pipeline_execution_id] = action.status
        if self.on_report is not None:
            self.on_report(report)
        return {}

    def _job_details(self, body: dict[str, Any]) -> dict[str, Any]:
        job_id = body["jobId"]
        action = self.jobs.get(job_id)
        if action is None:
            raise AwsFault("JobNotFoundException", f"Job {job_id} not found")
        return {
            "jobDetails": {
                "id": job_id,
                "accountId": "123456789012",
                "data": {
                    "actionTypeId": {"category": "Invoke", "owner": "AWS", "provider": "Lambda", "version": "1"},
                    "actionConfiguration": {
                        "configuration": {
                            "FunctionName": action.function_name,
                            "UserParameters": action.user_parameters,
                        }
                    },
                    "pipelineContext": {
                        "pipelineName": action.pipeline_name,
                        "stage": {"name": action.stage_name},
                        "action": {"name": action.action_name, "actionExecutionId": action.action_execution_id},
                        "pipelineArn": f"arn:aws:codepipeline:us-east-1:123456789012:{action.pipeline_name}",
                        "pipelineExecutionId": action.pipeline_execution_id,
                    },
                    # The job's JobData, the same the Lambda event carries (botocore's model: GetJobDetailsOutput
                    # .jobDetails.data is a JobData, with inputArtifacts and continuationToken).
                    "inputArtifacts": [dict(a) for a in action.input_artifacts],
                    **({"continuationToken": self.continuations[job_id]} if job_id in self.continuations else {}),
                    "outputArtifacts": [],
                    "artifactCredentials": {
                        "accessKeyId": "ASIAFAKEJOBDETAILS01",
                        "secretAccessKey": "JOB-DETAILS-SECRET-CREDS",
                        "sessionToken": "JOB-DETAILS-SESSION",
                    },
                },
            }
        }

    def _pipeline_execution(self, body: dict[str, Any]) -> dict[str, Any]:
        execution_id = body["pipelineExecutionId"]
        status = self.executions.get(execution_id)
        if body["pipelineName"] != self.pipeline_name or status is None:
            raise AwsFault("PipelineExecutionNotFoundException", f"Execution {execution_id} not found")
        return {
            "pipelineExecution": {
                "pipelineName": self.pipeline_name,
                "pipelineVersion": 1,
                "pipelineExecutionId": execution_id,
                "status": status,
                "artifactRevisions": [],
            }
        }

    def _action_executions(self, body: dict[str, Any]) -> dict[str, Any]:
        if body["pipelineName"] != self.pipeline_name:
            raise AwsFault("PipelineNotFoundException", f"Pipeline {body['pipelineName']} not found")
        wanted = (body.get("filter") or {}).get("pipelineExecutionId")
        seen: list[ActionExecution] = []
        for action in self.jobs.values():
            if action not in seen and (wanted is None or action.pipeline_execution_id == wanted):
                seen.append(action)
        return {"actionExecutionDetails": [a.wire() for a in reversed(seen)]}
