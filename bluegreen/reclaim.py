"""Whether CodePipeline still waits for a run, read from CodePipeline's own records.

Owns the judgement made when CodePipeline refuses a report (InvalidJobStateException / JobNotFoundException):
the exception alone cannot tell "this run was stopped or abandoned" from "a twin delivery already answered this
job", so the pipeline execution and the action execution are read (GetPipelineExecution, ListActionExecutions)
before anything is stopped. Stateless: CodePipeline, Spot and CodeDeploy are the records. Never stops anything
itself; the flow's cleanup does (`Deployment.reclaim`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Final, Literal

from bluegreen.aws import ActionExecutionInfo, AwsGateway
from bluegreen.errors import BlueGreenError
from bluegreen.state import RunState

logger = logging.getLogger(__name__)

# PipelineExecutionStatus values after which nothing will take this run's outcome (botocore's model lists
# Cancelled | InProgress | Stopped | Stopping | Succeeded | Superseded | Failed). "Stopping" is not among them:
# a plain Stop lets in-progress actions finish; "Stop and abandon" marks them Abandoned, which is read below.
ENDED_EXECUTIONS: Final = frozenset({"Stopped", "Cancelled", "Superseded", "Failed", "Succeeded"})
# A failed execution may still wait for this action: when one action of a stage fails, "all actions that are
# still in progress continue working" (CodePipeline user guide, "Retry a failed action in a stage"). CodePipeline
# marks the action itself Failed (it timed out) or Abandoned (a stop) when it gives it up; that is what counts.
ACTIONS_GO_ON: Final = frozenset({"Failed"})
# ActionExecutionStatus values (InProgress | Abandoned | Succeeded | Failed) of an action run nobody waits for.
ENDED_ACTIONS: Final = frozenset({"Abandoned", "Failed"})

Verdict = Literal["ended", "answered", "unknown"]


@dataclass(frozen=True)
class Judgement:
    """What CodePipeline's records say about a run whose report was refused, and why."""

    verdict: Verdict  # ended: nobody waits, reclaim it; answered: a twin carries it; unknown: cannot tell
    reason: str


def judge(aws: AwsGateway, state: RunState) -> Judgement:
    """Whether the run's action execution has ended (stopped, abandoned, cancelled, superseded or failed), is
    carried on by another delivery (still in progress, or succeeded), or cannot be told. Never raises.
    """
    if not (state.pipeline_name and state.pipeline_execution_id and state.action_execution_id):
        return Judgement(
            "unknown",
            "the run's pipeline execution is not known (codepipeline:GetJobDetails was not allowed or failed)",
        )
    try:
        execution = aws.pipeline_execution_status(state.pipeline_name, state.pipeline_execution_id)
        actions = aws.action_executions(state.pipeline_name, state.pipeline_execution_id)
    except BlueGreenError as exc:
        return Judgement("unknown", f"CodePipeline could not be asked ({exc})")
    mine = next((a for a in actions if a.action_execution_id == state.action_execution_id), None)
    where = f"pipeline execution {state.pipeline_execution_id} of {state.pipeline_name} is {execution}"
    if mine is None:
        if execution in ENDED_EXECUTIONS:
            return Judgement("ended", f"{where} and no longer lists action execution {state.action_execution_id}")
        return Judgement("unknown", f"{where} and does not list action execution {state.action_execution_id}")
    return judge_action(state.pipeline_name, state.pipeline_execution_id, execution, mine)


def judge_action(pipeline: str, pipeline_execution_id: str, execution: str, mine: ActionExecutionInfo) -> Judgement:
    """The verdict on one action execution, given its pipeline execution's status."""
    where = f"pipeline execution {pipeline_execution_id} of {pipeline} is {execution}"
    where += f", action execution {mine.action_execution_id} is {mine.status}"
    if mine.status in ENDED_ACTIONS:
        return Judgement("ended", where)
    if mine.status == "Succeeded":
        return Judgement("answered", where)
    if mine.status == "InProgress":
        if execution in ENDED_EXECUTIONS - ACTIONS_GO_ON:
            return Judgement("ended", where)
        return Judgement("answered", where)
    return Judgement("unknown", f"{where} (a status this function does not know)")


def by_hand(state: RunState, group_id: str) -> str:
    """What a person has to stop when the function cannot tell whether it should."""
    items = []
    if state.codedeploy_deployment_id:
        items.append(f"CodeDeploy deployment {state.codedeploy_deployment_id} (stop it with rollback)")
    if state.spot_deployment_id:
        items.append(f"Spot blue/green deployment {state.spot_deployment_id} of Elastigroup {group_id}")
    items.append(f"any instance tagged GreenIdentifier={state.green}")
    return "; ".join(items)
