"""The words of a run: every line a person reads about it in a report, an error or the cleanup's account.

Owns the wording of the in-progress summary and its percentage, the success summary, the failure and timeout
messages, the cleanup's account and the steps left to do by hand. Pure functions of values: they never call Spot
or AWS, never read the clock (the time is an argument) and never log; the flow (bluegreen/flow.py) decides what
happened and asks here how to say it. The README's Troubleshooting rows and the tests quote these words exactly.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Final

from bluegreen.aws import AlarmState, DeploymentProgress, TargetFailure
from bluegreen.domain import DELIVERY_TAG_KEY, GREEN_TAG_KEY
from bluegreen.errors import BlueGreenError
from bluegreen.observation import Observation
from bluegreen.params import DeploymentParams
from bluegreen.preflight import Preflight
from bluegreen.spot import SpotDeployment
from bluegreen.state import RunState

LOG_TAIL_LINES: Final = 5  # lines of a failed instance's lifecycle-event log shown
MAX_NOT_READY_SHOWN: Final = 10  # greens named in a WAIT_GREEN timeout

# ---- in progress and success ----------------------------------------------------------------------------------


def progress_summary(params: DeploymentParams, state: RunState, seen: Observation, *, now: float) -> tuple[str, int]:
    """A line a person can read, and a percentage, for the in-progress report."""
    expected = state.expected_greens or 0
    if state.phase == "START":
        return "Starting the Spot blue/green deployment", 2
    if state.phase == "WAIT_GREEN":
        running = len(seen.running)
        ready = len(seen.ready)
        percent = 5 + (45 * min(ready, expected) // expected if expected else 0)
        return (
            f"Waiting for green instances: {running}/{expected} running, {ready}/{expected} passed "
            f"status checks (Spot {state.spot_deployment_id})",
            percent,
        )
    if state.phase == "DEPLOY":
        return "Creating the CodeDeploy deployment on the green instances", 50
    gate = f", {alarm_summary(params.alarms, seen.alarms)}" if params.alarms else ""
    if state.phase == "BAKE":
        bake = params.bake_seconds
        baked = max(0, min(bake, int(now) - (state.bake_started_at or 0)))
        return (
            f"Baking: {baked}/{bake} s, {alarm_summary(params.alarms, seen.alarms)} (CodeDeploy "
            f"{state.codedeploy_deployment_id} succeeded)",
            90 + 9 * baked // max(bake, 1),
        )
    share = 40 if params.bake_seconds else 50  # a bake takes the last tenth of the bar
    progress = seen.codedeploy
    if progress is None or not progress.total:
        status = progress.status if progress else "started"
        return f"CodeDeploy {state.codedeploy_deployment_id}: {status}{gate}", 50
    done = progress.succeeded
    return (
        f"CodeDeploy {state.codedeploy_deployment_id} {progress.status}: {done}/{progress.total} instance(s) "
        f"deployed{gate}",
        50 + share * done // progress.total - (1 if done == progress.total else 0),
    )


def resuming_after_hang(summary: str) -> str:
    """The in-progress summary of an invocation given up while a call hung."""
    return f"{summary} (a call to Spot or AWS did not answer in time; resuming in the next invocation)"


def alarm_summary(names: Sequence[str], alarms: Mapping[str, AlarmState]) -> str:
    """The health gate's alarms counted by their last state read: `2 alarms OK, 1 alarm INSUFFICIENT_DATA`."""
    if not names:
        return "no alarms"
    if not alarms:
        return f"{len(names)} alarm(s) not read yet"
    counts: dict[str, int] = {}
    for name in names:
        alarm = alarms.get(name)
        counts[alarm.state if alarm else "missing"] = counts.get(alarm.state if alarm else "missing", 0) + 1
    return ", ".join(f"{n} alarm{'s' if n != 1 else ''} {state}" for state, n in sorted(counts.items()))


def success_summary(params: DeploymentParams, state: RunState, alarms: Mapping[str, AlarmState]) -> str:
    """What was deployed where, with the health gate's last reading."""
    p = params
    summary = (
        f"Deployed {p.revision.describe()} to {state.expected_greens} green instance(s) of "
        f"{p.group_id} (CodeDeploy {state.codedeploy_deployment_id}, Spot "
        f"{state.spot_deployment_id}, GreenIdentifier={state.green})"
    )
    if p.alarms or p.bake_seconds:
        summary += f"; {alarm_summary(p.alarms, alarms) if p.alarms else 'no alarms'} after a {p.bake_seconds} s bake"
    return summary + "; Elastigroup now retires the blue instances"


def dry_run_summary(params: DeploymentParams, state: RunState, checked: Preflight) -> str:
    """What a real run would do, after a dry run's checks all passed."""
    group = checked.group
    return (
        f"Dry run: all checks passed; nothing was created or changed. A real run would start a Spot blue/green "
        f"deployment on Elastigroup {group.group_id} ({group.name or 'unnamed'}), wait for "
        f"{checked.expected_greens} green instance(s) tagged {GREEN_TAG_KEY}={state.green}, then deploy "
        f"{params.revision.describe()} with CodeDeploy {params.application}/{params.deployment_group} (deployment "
        f"config {checked.deployment_group.deployment_config or 'the group default'})"
        + (f", gated on {len(params.alarms)} CloudWatch alarm(s)" if params.alarms else "")
        + (f", then bake for {params.bake_seconds} s" if params.bake_seconds else "")
        + f", within TIMEOUT {params.timeout_seconds} s."
    )


def deployment_description(params: DeploymentParams, state: RunState) -> str:
    """The CodeDeploy deployment's description: this delivery's marker (how a later invocation knows the
    deployment as its own), what is deployed where, and the pipeline execution it was made for, so a release in
    CodeDeploy's history traces back to it.
    """
    marker = f"[{DELIVERY_TAG_KEY}={state.delivery}] " if state.delivery else ""
    pipeline = (
        f"; pipeline {state.pipeline_name} execution {state.pipeline_execution_id}"
        if state.pipeline_name is not None and state.pipeline_execution_id is not None
        else ""
    )
    return (
        f"{marker}bluegreen: {params.revision.describe()} onto Elastigroup {params.group_id} "
        f"(Spot deployment {state.spot_deployment_id}{pipeline})"
    )


# ---- failures -------------------------------------------------------------------------------------------------


def failure(phase: str, exc: Exception) -> str:
    """The report of a run that failed in `phase`: our errors say what happened, anything else is a bug."""
    if isinstance(exc, BlueGreenError):
        return f"{phase}: {exc}"
    return f"{phase}: internal error {type(exc).__name__}: {exc}"


def timeout(params: DeploymentParams, state: RunState, seen: Observation, *, now: float) -> str:
    """The run's TIMEOUT passed: how long it ran, and where each phase stood at the last look."""
    elapsed = int(now) - state.started_at
    head = f"Timed out after {elapsed} s (TIMEOUT {params.timeout_seconds} s) in phase {state.phase}"
    if state.phase == "WAIT_GREEN":
        expected = state.expected_greens or 0
        not_ready = [f"{i.instance_id} ({i.detail or i.state})" for i in seen.not_ready]
        text = (
            f"{head}: expected {expected} green instance(s) tagged {GREEN_TAG_KEY}={state.green}, "
            f"{len(seen.running)} running, {len(seen.ready)} passed status checks"
        )
        if not_ready:
            text += "; not ready: " + ", ".join(not_ready[:MAX_NOT_READY_SHOWN])
        return text
    if state.phase == "BAKE":
        baked = int(now) - (state.bake_started_at or 0)
        return (
            f"{head}: CodeDeploy {state.codedeploy_deployment_id} succeeded, but only {baked} of BAKE_TIME "
            f"{params.bake_seconds} s had been baked"
        )
    progress = seen.codedeploy
    if state.phase == "WAIT_DEPLOY" and progress is not None:
        return (
            f"{head}: CodeDeploy {progress.deployment_id} was still {progress.status} "
            f"({progress.succeeded}/{progress.total} instance(s) deployed)"
        )
    return head


def timeout_during_call(timeout_message: str, phase: str) -> str:
    """The run's TIMEOUT passed while a call hung and the invocation was given up."""
    return f"{phase}: {timeout_message} (a call to Spot or AWS was still waiting for an answer)"


def codedeploy_failure(progress: DeploymentProgress, targets: Sequence[TargetFailure] | BlueGreenError) -> str:
    """CodeDeploy's own cause of a failed or stopped deployment, with the failed instances' lifecycle events (or
    why they could not be read).
    """
    text = f"CodeDeploy deployment {progress.deployment_id} {progress.status}"
    if progress.error_code or progress.error_message:
        text += f": {progress.error_code or 'error'}: {progress.error_message or ''}".rstrip()
    if isinstance(targets, BlueGreenError):
        return f"{text}\n(the failed instances' lifecycle events could not be read: {targets})"
    for target in targets:
        text += "\n" + target_failure(target)
    return text


def target_failure(failure: TargetFailure) -> str:
    """One failed instance: its lifecycle event, error, and the last lines of the event's log, indented."""
    lines = [line for line in failure.log_tail.splitlines() if line.strip()]
    tail = "\n    ".join(lines[-LOG_TAIL_LINES:])
    text = f"- {failure.instance_id}: {failure.lifecycle_event} {failure.error_code}: {failure.message}".rstrip(": ")
    if tail:
        text += f"\n    {tail}"
    return text


def spot_ended(deployment: SpotDeployment, before: str) -> str:
    """Spot gave up its deployment before `before` happened."""
    return (
        f"Spot deployment {deployment.deployment_id} ended ({deployment.state}/{deployment.status}) before "
        f"{before}; see the Elastigroup's log in the Spot console"
    )


def ended_before_codedeploy(spot: SpotDeployment, green: str) -> str:
    """A re-delivered event whose run's Spot deployment ended before any CodeDeploy deployment was made."""
    return (
        f"Spot deployment {spot.deployment_id} of this run (GreenIdentifier={green}) had already "
        f"ended ({spot.state}/{spot.status}) before any CodeDeploy deployment was made: an earlier delivery "
        "of this event failed, or someone stopped it; nothing was started again. The first failure's cause "
        "is in the function's log for this GreenIdentifier"
    )


def ended_while_deploying(spot: SpotDeployment, codedeploy_deployment_id: str, codedeploy_status: str) -> str:
    """A re-delivered event whose run's Spot deployment ended while its CodeDeploy deployment had not finished."""
    return (
        f"Spot deployment {spot.deployment_id} of this run had already ended ({spot.state}/{spot.status}) while "
        f"CodeDeploy deployment {codedeploy_deployment_id} was {codedeploy_status}: its green instances are gone, "
        "so the release is not live"
    )


def codedeploy_not_ours(deployment_id: str, problem: str) -> str:
    """A CodeDeploy deployment named to the run that is not the run's own."""
    return (
        f"CodeDeploy deployment {deployment_id} is not this run's: {problem}; it is neither "
        "followed nor stopped (a continuation token naming it is not this run's)"
    )


def alarms_unread(missing: Sequence[str]) -> str:
    """CloudWatch's reply left out alarms of the health gate."""
    return (
        "health gate: CloudWatch cloudwatch:DescribeAlarms did not return alarm(s) "
        + ", ".join(repr(n) for n in missing)
        + " (deleted since the run started, or an unreadable reply); the gate cannot be checked"
    )


def alarms_firing(firing: Sequence[AlarmState]) -> str:
    """The health gate's alarms in ALARM, each with CloudWatch's reason."""
    return "health gate: " + "; ".join(a.describe() for a in firing)


# ---- cleanup --------------------------------------------------------------------------------------------------


def cleanup(*, done: Sequence[str], by_hand: Sequence[str], left: Sequence[str], not_ours: Sequence[str]) -> list[str]:
    """The cleanup's account, one sentence per kind: not ours, stopped, left to a twin, left to a person."""
    parts = []
    if not_ours:
        parts.append("Not stopped, because not this run's: " + "; ".join(not_ours) + ".")
    if done:
        parts.append("Cleanup: " + "; ".join(done) + ".")
    if left:
        parts.append("Left to the twin delivery of this job that started it: " + "; ".join(left) + ".")
    if by_hand:
        parts.append("Cleanup FAILED, do this by hand: " + "; ".join(by_hand) + ".")
    return parts


def left_running(state: RunState) -> str:
    """CodeDeploy succeeded, so the Spot deployment and the greens were left; how to roll back."""
    return (
        f"CodeDeploy deployment {state.codedeploy_deployment_id} had already succeeded, so the Spot "
        f"deployment {state.spot_deployment_id} and the green instances were left running (Elastigroup may "
        "already be retiring the blue instances; stopping it could leave nothing serving). To roll back, "
        "redeploy the previous revision: a CodePipeline V2 stage with onFailure: ROLLBACK does it."
    )


def stop_spot_by_hand(group_id: str, state: RunState) -> str:
    """The step a person takes to remove the run's green capacity."""
    return (
        f"stop Spot deployment {state.spot_deployment_id} of {group_id} and terminate "
        f"instances tagged {GREEN_TAG_KEY}={state.green}"
    )


def look_for_spot_start(group_id: str, green: str) -> str:
    """The step a person takes after a start whose outcome stayed unknown."""
    return (
        f"look for a blue/green deployment tagged {GREEN_TAG_KEY}={green} on Elastigroup "
        f"{group_id} (Spot may have started one) and stop it"
    )


def codedeploy_left_to_twin(deployment_id: str) -> str:
    return f"CodeDeploy deployment {deployment_id} (stop it in the CodeDeploy console if no other delivery is running)"


def spot_left_to_twin(deployment_id: str) -> str:
    return f"Spot deployment {deployment_id} (stop it in the Spot console if no other delivery is running)"


def spot_stopped(state: RunState, *, stopped: bool) -> str:
    """A stop of the run's Spot deployment was answered: stopped now, or had already ended."""
    if stopped:
        return (
            f"stopped Spot deployment {state.spot_deployment_id}; Elastigroup terminates the green "
            f"instances tagged {GREEN_TAG_KEY}={state.green}"
        )
    return f"Spot deployment {state.spot_deployment_id} had already ended"


def by_hand(group_id: str, state: RunState) -> str:
    """What a person must stop when this invocation could not: the run's own deployments, not a twin's."""
    steps = []
    if state.codedeploy_deployment_id and not state.codedeploy_adopted:
        steps.append(f"stop CodeDeploy deployment {state.codedeploy_deployment_id}")
    if state.spot_deployment_id and not state.spot_adopted:
        steps.append(stop_spot_by_hand(group_id, state))
    return (" Cleanup FAILED, do this by hand: " + "; ".join(steps) + ".") if steps else ""


def cleanup_unfinished(failing: str, group_id: str, state: RunState | None) -> str:
    """A failing run given up before its cleanup ended."""
    steps = by_hand(group_id, state) if state else ""
    return (
        failing + "\nCleanup did not finish before the invocation's deadline: check that the "
        f"Spot and CodeDeploy deployments named above are stopped.{steps}"
    )


def cleanup_timed_out(message: str, group_id: str, state: RunState) -> str:
    """A run past its TIMEOUT whose last cleanup did not end in this invocation's time."""
    return f"{message}\nCleanup did not finish before the invocation's deadline.{by_hand(group_id, state)}"


def already_live(codedeploy_deployment_id: str | None) -> str:
    """Reclaim found the release live: nothing is stopped."""
    return (
        f"CodeDeploy deployment {codedeploy_deployment_id} had already succeeded, so the release is "
        "live and nothing was stopped; roll it back by hand if it must not be"
    )


def reclaim_lookups_failed(lookups: Sequence[str]) -> str:
    return " Reclaim could not " + "; ".join(lookups) + ": check by hand."


def spot_lookup(green: str, exc: BlueGreenError) -> str:
    return f"look for the Spot deployment tagged {GREEN_TAG_KEY}={green} ({exc})"


def codedeploy_lookup(green: str, exc: BlueGreenError) -> str:
    return f"look for the CodeDeploy deployment onto {GREEN_TAG_KEY}={green} ({exc})"
