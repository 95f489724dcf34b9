"""CodeDeploy deployment progress, which moto does not simulate.

Owns each deployment's per-instance targets and lifecycle events, its errorInformation and the
Created -> InProgress -> Succeeded/Failed/Stopped progression (one instance at a time, as
CodeDeployDefault.OneAtATime does). It writes status, times and deploymentOverview onto moto's in-process
`DeploymentInfo` so `get_deployment` served by moto agrees; the gateway serves targets and patches
errorInformation (moto's responses always send `{}`) from here.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from moto.codedeploy.models import codedeploy_backends

from bluegreen_sim.behaviour import DeployBehaviour
from bluegreen_sim.clock import SimClock
from bluegreen_sim.ec2fleet import ACCOUNT, REGION

TERMINAL = frozenset({"Succeeded", "Failed", "Stopped"})
FAILED_LOG_TAIL = (
    "[stdout]Running database migrations...\n"
    '[stderr]ERROR: relation "orders" already exists\n'
    "[stderr]scripts/after_install.sh: line 14: migration step exited with status 1\n"
)


@dataclass
class LifecycleEvent:
    name: str
    status: str = "Pending"
    start: float | None = None
    end: float | None = None
    diagnostics: dict[str, str] | None = None

    def wire(self) -> dict[str, Any]:
        out: dict[str, Any] = {"lifecycleEventName": self.name, "status": self.status}
        if self.start is not None:
            out["startTime"] = self.start
        if self.end is not None:
            out["endTime"] = self.end
        if self.diagnostics is not None:
            out["diagnostics"] = self.diagnostics
        return out


@dataclass
class Target:
    instance_id: str
    events: list[LifecycleEvent]
    status: str = "Pending"
    updated: float = 0.0


@dataclass
class DeploymentRun:
    """One CodeDeploy deployment driven by the simulation."""

    deployment_id: str
    application: str
    group: str
    tag_filters: list[dict[str, str]]
    targets: dict[str, Target]
    behaviour: DeployBehaviour
    status: str = "Created"
    error_information: dict[str, str] = field(default_factory=dict)
    rollback_requested: bool = False

    @property
    def done(self) -> bool:
        return self.status in TERMINAL


def _utc(epoch: float) -> dt.datetime:
    # moto stores naive UTC datetimes
    return dt.datetime.fromtimestamp(epoch, dt.UTC).replace(tzinfo=None)


class CodeDeploySim:
    """Progresses deployments over simulated time and answers the calls moto lacks."""

    def __init__(self, clock: SimClock, on_done: Callable[[DeploymentRun], None]) -> None:
        self._clock = clock
        self._on_done = on_done
        self.runs: dict[str, DeploymentRun] = {}

    @staticmethod
    def _moto(deployment_id: str) -> Any:
        return codedeploy_backends[ACCOUNT][REGION].deployments.get(deployment_id)

    def start(
        self,
        deployment_id: str,
        application: str,
        group: str,
        tag_filters: list[dict[str, str]],
        instance_ids: list[str],
        behaviour: DeployBehaviour,
    ) -> DeploymentRun:
        """Track a deployment moto has just created and schedule its progress."""
        now = self._clock.now()
        targets = {
            i: Target(i, [LifecycleEvent(name) for name, _ in behaviour.lifecycle], updated=now) for i in instance_ids
        }
        run = DeploymentRun(deployment_id, application, group, tag_filters, targets, behaviour)
        self.runs[deployment_id] = run
        info = self._moto(deployment_id)
        if info is not None:
            info.create_time = _utc(now)
        self._sync(run)
        self._clock.call_later(behaviour.start_delay, lambda: self._begin(run))
        return run

    def active_in_group(self, application: str, group: str) -> DeploymentRun | None:
        """The deployment still running on this deployment group, if any."""
        for run in self.runs.values():
            if run.application == application and run.group == group and not run.done:
                return run
        return None

    def stop(self, deployment_id: str, auto_rollback: bool) -> None:
        """Stop a deployment that is not finished (the caller checked)."""
        run = self.runs[deployment_id]
        run.rollback_requested = auto_rollback
        now = self._clock.now()
        for target in run.targets.values():
            for event in target.events:
                if event.status == "InProgress":
                    event.status, event.end = "Failed", now
                    event.diagnostics = {
                        "errorCode": "UnknownError",
                        "scriptName": "",
                        "message": "The deployment was stopped by a user.",
                        "logTail": "",
                    }
                elif event.status == "Pending":
                    event.status = "Skipped"
            if target.status in ("Pending", "InProgress"):
                target.status, target.updated = ("Failed" if target.status == "InProgress" else "Skipped"), now
        self._finish(run, "Stopped", {})

    # -- progression ----------------------------------------------------------------------------------
    def _begin(self, run: DeploymentRun) -> None:
        if run.done:
            return
        run.status = "InProgress"
        info = self._moto(run.deployment_id)
        if info is not None:
            info.start_time = _utc(self._clock.now())
        self._sync(run)
        self._next_target(run, 0)

    def _next_target(self, run: DeploymentRun, index: int) -> None:
        if run.done:
            return
        order = list(run.targets.values())
        if index >= len(order):
            self._finish(run, "Succeeded", {})
            return
        target = order[index]
        target.status, target.updated = "InProgress", self._clock.now()
        self._sync(run)
        self._next_event(run, index, 0)

    def _next_event(self, run: DeploymentRun, index: int, event_index: int) -> None:
        if run.done:
            return
        target = list(run.targets.values())[index]
        if event_index >= len(target.events):
            target.status, target.updated = "Succeeded", self._clock.now()
            self._sync(run)
            self._next_target(run, index + 1)
            return
        event = target.events[event_index]
        duration = run.behaviour.lifecycle[event_index][1]
        event.status, event.start = "InProgress", self._clock.now()

        def complete() -> None:
            if run.done:
                return
            now = self._clock.now()
            event.end = now
            fails = run.behaviour.fail_instance == index and run.behaviour.fail_event == event.name
            if not fails:
                event.status = "Succeeded"
                event.diagnostics = {"errorCode": "Success", "scriptName": "", "message": "Succeeded", "logTail": ""}
                self._next_event(run, index, event_index + 1)
                return
            event.status = "Failed"
            script = "scripts/" + re.sub(r"(?<!^)(?=[A-Z])", "_", event.name).lower() + ".sh"
            event.diagnostics = {
                "errorCode": "ScriptFailed",
                "scriptName": script,
                "message": f"Script at specified location: {script} run as user root failed with exit code 1",
                "logTail": FAILED_LOG_TAIL,
            }
            target.status, target.updated = "Failed", now
            for other in list(run.targets.values())[index + 1 :]:
                other.status, other.updated = "Skipped", now
                for ev in other.events:
                    ev.status = "Skipped"
            for ev in target.events[event_index + 1 :]:
                ev.status = "Skipped"
            self._finish(
                run,
                "Failed",
                {
                    "code": "HEALTH_CONSTRAINTS",
                    "message": (
                        "The overall deployment failed because too many individual instances failed deployment, "
                        "too few healthy instances are available for deployment, or some instances in your "
                        "deployment group are experiencing problems."
                    ),
                },
            )

        self._clock.call_later(duration, complete)

    def _finish(self, run: DeploymentRun, status: str, error: dict[str, str]) -> None:
        run.status = status
        run.error_information = error
        info = self._moto(run.deployment_id)
        if info is not None:
            info.complete_time = _utc(self._clock.now())
        self._sync(run)
        self._on_done(run)

    def _sync(self, run: DeploymentRun) -> None:
        info = self._moto(run.deployment_id)
        if info is None:
            return
        info.status = run.status
        overview = dict.fromkeys(("Pending", "InProgress", "Succeeded", "Failed", "Skipped", "Ready"), 0)
        for target in run.targets.values():
            overview[target.status] = overview.get(target.status, 0) + 1
        info.deployment_overview = overview

    # -- wire views -----------------------------------------------------------------------------------
    def target_wire(self, run: DeploymentRun, target: Target) -> dict[str, Any]:
        """One `deploymentTargets[]` item of batch_get_deployment_targets."""
        return {
            "deploymentTargetType": "InstanceTarget",
            "instanceTarget": {
                "deploymentId": run.deployment_id,
                "targetId": target.instance_id,
                "targetArn": f"arn:aws:ec2:{REGION}:{ACCOUNT}:instance/{target.instance_id}",
                "status": target.status,
                "lastUpdatedAt": target.updated,
                "lifecycleEvents": [e.wire() for e in target.events],
                "instanceLabel": "Green",
            },
        }
