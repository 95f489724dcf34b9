"""CodePipeline for unit tests: bluegreen_sim's one CodePipeline model (`bluegreen_sim.codepipeline.JobStore`),
served on loopback by `bluegreen_sim.loopback.AwsJsonServer`, with the test's control of the boundary.

This file models nothing about CodePipeline itself: the jobs and their JobData, continuation jobs, which reports
are taken and which refused (InvalidJobStateException, JobNotFoundException), GetJobDetails, GetPipelineExecution,
ListActionExecutions, stop and abandon, a Retry, the action timing out and the state-change events live in the
model and are cited there. What is here: faults queued for the next reports (`faults`, which answer before the
model, so the report is lost on the way and the job stays open) or for another operation (`fail_next`), the
operations called (`calls`), the reports the model took (`reports`, which a test may clear), and names for what
a test does to the pipeline (`stop`, `time_out`, `event`, `answered_by_twin`).
"""

from __future__ import annotations

from typing import Any

from bluegreen_sim.codepipeline import REPORTS, ActionExecution, Job, JobStore, PipelineExecution, Report
from bluegreen_sim.loopback import AwsFault
from tests.fakes.clock import FakeClock

__all__ = ["REPORTS", "ActionExecution", "FakeCodePipeline", "Report"]


class FakeCodePipeline:
    """The CodePipeline model of one pipeline (`pipeline_name`), as a `bluegreen_sim.loopback.JsonService`."""

    def __init__(self, clock: FakeClock | None = None, pipeline_name: str = "storefront") -> None:
        self.model = JobStore(clock or FakeClock())
        self.pipeline_name = pipeline_name
        self.reports: list[Report] = []  # the reports the model took, in order
        self.faults: list[AwsFault] = []  # for the next reports (PutJob*Result)
        self.other_faults: dict[str, list[AwsFault]] = {}  # per other operation
        self.calls: list[str] = []

    @property
    def jobs(self) -> dict[str, Job]:
        return self.model.jobs

    @property
    def executions(self) -> dict[str, PipelineExecution]:
        return self.model.executions

    # ---- the pipeline's side --------------------------------------------------------------------------------

    def start_action(self, user_parameters: str = "", *, execution_id: str | None = None) -> ActionExecution:
        """A new action execution: a new pipeline execution, or a person's Retry when `execution_id` is given."""
        return self.model.start_action(self.pipeline_name, user_parameters, execution_id=execution_id)

    def add_job(
        self,
        job_id: str,
        action: ActionExecution | None = None,
        continuation: str | None = None,
        artifact_credentials: dict[str, str] | None = None,
    ) -> None:
        """A job of `action`; a continuation job carries the token of the previous job's in-progress report."""
        self.model.create(job_id, action, continuation, artifact_credentials)

    def stop(self, action: ActionExecution, *, abandon: bool = True) -> None:
        """A person's "Stop execution" of the action's pipeline execution ("Stop and abandon" when `abandon`)."""
        self.model.stop(action.pipeline_execution_id, abandon=abandon)

    def time_out(self, action: ActionExecution) -> None:
        """CodePipeline gives up on an action whose function sent no result for 20 minutes."""
        self.model.fail_action(action, "no result from the function for 20 minutes")

    def answered_by_twin(self, job_id: str) -> None:
        """A twin delivery of the job's event answered it (in progress, with its own continuation) first."""
        self.model.receive("PutJobSuccessResult", {"jobId": job_id, "continuationToken": "the twin's own"})

    def event(self, action: ActionExecution, *, execution_state: str | None = None) -> dict[str, Any]:
        """The EventBridge event for the action's state, or, given `execution_state`, its pipeline execution's."""
        if execution_state is not None:
            return self.model.state_change_event(action, execution_level=True, state=execution_state)
        return self.model.state_change_event(action, execution_level=False)

    def fail_next(self, operation: str, *faults: AwsFault) -> None:
        self.other_faults.setdefault(operation, []).extend(faults)

    # ---- the wire -------------------------------------------------------------------------------------------

    def handle(self, operation: str, body: dict[str, Any]) -> dict[str, Any]:
        self.calls.append(operation)
        pending = self.faults if operation in REPORTS else self.other_faults.get(operation)
        if pending:
            raise pending.pop(0)
        # The model raises bluegreen_sim.loopback.AwsFault, which the loopback server answers as AWS's error reply.
        if operation in REPORTS:
            self.reports.append(self.model.receive(operation, body))
            return {}
        if operation == "GetJobDetails":
            return self.model.job_details(body)
        if operation == "GetPipelineExecution":
            return self.model.pipeline_execution(body)
        if operation == "ListActionExecutions":
            return self.model.action_executions(body)
        raise AwsFault("UnknownOperationException", f"the fake does not implement {operation}")
