"""A fake CodeDeploy (JSON protocol on loopback) whose deployments follow a script in simulated time.

One active deployment per deployment group: CreateDeployment while another deployment of the group is not in a
final state fails with DeploymentLimitExceededException (botocore's codedeploy service model: "The number of
allowed deployments was exceeded"; AWS's CodeDeploy user guide: one deployment at a time per deployment group).
`before_create` runs at the start of each CreateDeployment: a test forces a race with it (a twin's create).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from bluegreen_sim.loopback import AwsFault, Stall


@dataclass
class Script:
    """How the next deployment behaves: seconds until it ends, and how it ends."""

    duration: float = 120.0
    outcome: str = "Succeeded"
    error_code: str = "HEALTH_CONSTRAINTS"
    error_message: str = "The overall deployment failed because too many individual instances failed deployment"
    failed_event: str = "AfterInstall"
    log_tail: str = "[stdout]installing\n[stderr]./after_install.sh: line 7: systemctl: command failed\n"


@dataclass
class FakeDeployment:
    deployment_id: str
    body: dict[str, Any]
    created_at: float
    script: Script
    targets: list[str]
    stopped: bool = False

    def status(self, now: float) -> str:
        if self.stopped:
            return "Stopped"
        if now >= self.created_at + self.script.duration:
            return self.script.outcome
        return "InProgress" if now > self.created_at else "Created"


@dataclass
class FakeCodeDeploy:
    now: Callable[[], float]
    tagged_instances: Callable[[str], list[str]]
    blue_green: bool = True
    green_provisioning: str = "DISCOVER_EXISTING"
    script: Script = field(default_factory=Script)
    deployments: dict[str, FakeDeployment] = field(default_factory=dict)
    calls: list[str] = field(default_factory=list)
    faults: dict[str, list[AwsFault | Stall]] = field(default_factory=dict)
    before_create: list[Callable[[], None]] = field(default_factory=list)

    def fail_next(self, operation: str, *faults: AwsFault | Stall) -> None:
        self.faults.setdefault(operation, []).extend(faults)

    def handle(self, operation: str, body: dict[str, Any]) -> dict[str, Any]:
        self.calls.append(operation)
        queued = self.faults.get(operation, [])
        if queued:
            raise queued.pop(0)
        return getattr(self, f"_{operation}")(body)  # type: ignore[no-any-return]

    def _GetDeploymentGroup(self, body: dict[str, Any]) -> dict[str, Any]:
        style = "BLUE_GREEN" if self.blue_green else "IN_PLACE"
        return {
            "deploymentGroupInfo": {
                "applicationName": body["applicationName"],
                "deploymentGroupName": body["deploymentGroupName"],
                "deploymentConfigName": "CodeDeployDefault.OneAtATime",
                "deploymentStyle": {"deploymentType": style, "deploymentOption": "WITHOUT_TRAFFIC_CONTROL"},
                "blueGreenDeploymentConfiguration": {
                    "greenFleetProvisioningOption": {"action": self.green_provisioning}
                },
            }
        }

    def _ListDeployments(self, body: dict[str, Any]) -> dict[str, Any]:
        return {"deployments": list(reversed(self.deployments))}

    def _BatchGetDeployments(self, body: dict[str, Any]) -> dict[str, Any]:
        return {"deploymentsInfo": [self._info(self.deployments[i]) for i in body["deploymentIds"]]}

    def _CreateDeployment(self, body: dict[str, Any]) -> dict[str, Any]:
        while self.before_create:
            self.before_create.pop(0)()
        active = [
            d for d in self.deployments.values() if d.status(self.now()) not in ("Succeeded", "Failed", "Stopped")
        ]
        if any(d.body.get("deploymentGroupName") == body.get("deploymentGroupName") for d in active):
            raise AwsFault("DeploymentLimitExceededException", "The number of allowed deployments was exceeded")
        tag = body["targetInstances"]["tagFilters"][0]
        targets = self.tagged_instances(tag["Value"])
        if not targets:
            raise AwsFault("InvalidTargetInstancesException", "No instances found for the tag filters")
        deployment_id = f"d-FAKE{len(self.deployments) + 1:05d}"
        self.deployments[deployment_id] = FakeDeployment(deployment_id, body, self.now(), self.script, targets)
        return {"deploymentId": deployment_id}

    def _GetDeployment(self, body: dict[str, Any]) -> dict[str, Any]:
        deployment = self.deployments.get(body["deploymentId"])
        if deployment is None:
            raise AwsFault("DeploymentDoesNotExistException", "no such deployment")
        return {"deploymentInfo": self._info(deployment)}

    def _StopDeployment(self, body: dict[str, Any]) -> dict[str, Any]:
        deployment = self.deployments[body["deploymentId"]]
        if deployment.status(self.now()) in ("Succeeded", "Failed", "Stopped"):
            raise AwsFault("DeploymentAlreadyCompletedException", "already completed")
        deployment.stopped = True
        return {"status": "Pending", "statusMessage": "stopping"}

    def _ListDeploymentTargets(self, body: dict[str, Any]) -> dict[str, Any]:
        deployment = self.deployments[body["deploymentId"]]
        failed = deployment.status(self.now()) == "Failed"
        return {"targetIds": deployment.targets[:1] if failed else []}

    def _BatchGetDeploymentTargets(self, body: dict[str, Any]) -> dict[str, Any]:
        deployment = self.deployments[body["deploymentId"]]
        script = deployment.script
        return {
            "deploymentTargets": [
                {
                    "deploymentTargetType": "InstanceTarget",
                    "instanceTarget": {
                        "targetId": target,
                        "status": "Failed",
                        "lifecycleEvents": [
                            {"lifecycleEventName": "BeforeInstall", "status": "Succeeded"},
                            {
                                "lifecycleEventName": script.failed_event,
                                "status": "Failed",
                                "diagnostics": {
                                    "errorCode": "ScriptFailed",
                                    "scriptName": "after_install.sh",
                                    "message": "Script at specified location: after_install.sh run as user root "
                                    "failed with exit code 1",
                                    "logTail": script.log_tail,
                                },
                            },
                        ],
                    },
                }
                for target in body["targetIds"]
            ]
        }

    def _info(self, deployment: FakeDeployment) -> dict[str, Any]:
        status = deployment.status(self.now())
        n = len(deployment.targets)
        info: dict[str, Any] = {
            "deploymentId": deployment.deployment_id,
            "status": status,
            # botocore's DeploymentInfo echoes these from CreateDeployment.
            "applicationName": deployment.body.get("applicationName"),
            "deploymentGroupName": deployment.body.get("deploymentGroupName"),
            "targetInstances": deployment.body.get("targetInstances", {}),
            "description": deployment.body.get("description", ""),
            "deploymentOverview": {
                "Pending": 0 if status != "Created" else n,
                "InProgress": n if status == "InProgress" else 0,
                "Succeeded": n if status == "Succeeded" else 0,
                "Failed": 1 if status == "Failed" else 0,
                "Skipped": 0,
                "Ready": 0,
            },
        }
        if status == "Failed":
            info["errorInformation"] = {"code": self.script.error_code, "message": self.script.error_message}
        return info
