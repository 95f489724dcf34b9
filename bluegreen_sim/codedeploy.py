"""The one CodeDeploy model, served over the AWS JSON protocol: the simulator's and the unit tests'.

Owns CodeDeploy's state and rules: applications and deployment groups (blue/green or in-place, the green fleet's
provisioning option, the deployment config), deployments (one active per group, targets found from the tag
filter, the fields DeploymentInfo echoes), their progress through Created -> InProgress -> Succeeded / Failed /
Stopped in the clock's time, one instance after another, with per-instance lifecycle events, diagnostics,
errorInformation and deploymentOverview, and the calls the function makes. `handle(operation, request)` answers one
call; the simulator's gateway serves it (after its ledger), the unit tests through
bluegreen_sim.loopback.AwsJsonServer (tests/fakes/codedeploy.py adds only fault injection and fast settings). The
clock is the simulator's SimClock or the tests' FakeClock (`now()`, `call_at()`). moto plays no part in CodeDeploy.

Sources: the operations, their inputs, replies and error codes are botocore's codedeploy service model
(botocore/data/codedeploy/2014-10-06/service-2.json, cited below as "botocore"); the rest cites the CodeDeploy
user guide or says "assumption".
"""

from __future__ import annotations

import random
import re
import threading
import uuid
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from bluegreen_sim.behaviour import DeployBehaviour
from bluegreen_sim.ec2fleet import ACCOUNT, REGION
from bluegreen_sim.elastigroup import GREEN_TAG
from bluegreen_sim.loopback import AwsFault

# botocore: DeploymentStatus; the final ones are those a deployment never leaves.
FINAL = frozenset({"Succeeded", "Failed", "Stopped"})
# botocore: DeploymentOverview's members, the counts of a deployment's targets by status.
_OVERVIEW = ("Pending", "InProgress", "Succeeded", "Failed", "Skipped", "Ready")
# Ids as AWS prints them, `d-` and 9 upper-case letters and digits (assumption, as bluegreen/aws.py's _DEPLOYMENT_ID;
# botocore's DeploymentId shape has no pattern).
_DEPLOYMENT_ID = re.compile(r"d-[A-Z0-9]{9}")
_BATCH_LIMIT = 25  # botocore: BatchGetDeployments and BatchGetDeploymentTargets, "The maximum ... is 25"
# The predefined EC2/On-Premises configurations (CodeDeploy user guide, "Working with deployment configurations").
CONFIGS = {
    "CodeDeployDefault.OneAtATime": ("HOST_COUNT", 1),
    "CodeDeployDefault.HalfAtATime": ("FLEET_PERCENT", 50),
    "CodeDeployDefault.AllAtOnce": ("FLEET_PERCENT", 0),
}
STOPPED_BY_USER = {
    "errorCode": "UnknownError",
    "scriptName": "",
    "message": "The deployment was stopped by a user.",
    "logTail": "",
}


class Clock(Protocol):
    def now(self) -> float: ...

    def call_at(self, at: float, action: Callable[[], None]) -> None: ...


@dataclass
class DeploymentGroup:
    application: str
    name: str
    deployment_type: str = "BLUE_GREEN"  # botocore: DeploymentType, IN_PLACE | BLUE_GREEN
    green_provisioning: str = "DISCOVER_EXISTING"  # botocore: GreenFleetProvisioningAction
    config_name: str = "CodeDeployDefault.OneAtATime"
    ec2_tag_filters: list[dict[str, str]] = field(default_factory=list)
    service_role_arn: str = f"arn:aws:iam::{ACCOUNT}:role/CodeDeployServiceRole"

    def wire(self) -> dict[str, Any]:
        """botocore: DeploymentGroupInfo."""
        info: dict[str, Any] = {
            "applicationName": self.application,
            "deploymentGroupId": str(uuid.uuid5(uuid.NAMESPACE_URL, f"{self.application}/{self.name}")),
            "deploymentGroupName": self.name,
            "deploymentConfigName": self.config_name,
            "ec2TagFilters": list(self.ec2_tag_filters),
            "serviceRoleArn": self.service_role_arn,
            "deploymentStyle": {"deploymentType": self.deployment_type, "deploymentOption": "WITHOUT_TRAFFIC_CONTROL"},
            "computePlatform": "Server",
        }
        # Assumption: only a blue/green group has a blueGreenDeploymentConfiguration (its members describe the
        # replacement environment, which an in-place group has none of).
        if self.deployment_type == "BLUE_GREEN":
            info["blueGreenDeploymentConfiguration"] = {
                "terminateBlueInstancesOnDeploymentSuccess": {"action": "KEEP_ALIVE"},
                "deploymentReadyOption": {"actionOnTimeout": "CONTINUE_DEPLOYMENT"},
                "greenFleetProvisioningOption": {"action": self.green_provisioning},
            }
        return info


@dataclass
class LifecycleEvent:
    name: str
    status: str = "Pending"  # botocore: LifecycleEventStatus
    start: float | None = None
    end: float | None = None
    diagnostics: dict[str, str] | None = None

    def wire(self) -> dict[str, Any]:
        """botocore: LifecycleEvent."""
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
    status: str = "Pending"  # botocore: TargetStatus
    updated: float = 0.0


@dataclass
class Deployment:
    """One deployment: what CreateDeployment asked for, and where it has got to."""

    deployment_id: str
    application: str
    group: str
    request: dict[str, Any]  # the CreateDeployment request, whose fields DeploymentInfo echoes
    created_at: float
    behaviour: DeployBehaviour
    targets: dict[str, Target]
    status: str = "Created"
    error_information: dict[str, str] = field(default_factory=dict)
    started_at: float | None = None
    completed_at: float | None = None
    stopped: bool = False  # StopDeployment stopped it
    rollback_requested: bool = False
    progresses: bool = True  # False: a deployment `record`ed in its status, which it keeps

    @property
    def done(self) -> bool:
        return self.status in FINAL

    @property
    def tag_filters(self) -> list[dict[str, str]]:
        return list((self.request.get("targetInstances") or {}).get("tagFilters") or [])

    def overview(self) -> dict[str, int]:
        counts = dict.fromkeys(_OVERVIEW, 0)
        for target in self.targets.values():
            counts[target.status] = counts.get(target.status, 0) + 1
        return counts

    def wire(self) -> dict[str, Any]:
        """botocore: DeploymentInfo. errorInformation only once there is an error (assumption: AWS omits it)."""
        info: dict[str, Any] = {
            "applicationName": self.application,
            "deploymentGroupName": self.group,
            "deploymentConfigName": self.request.get("deploymentConfigName") or "CodeDeployDefault.OneAtATime",
            "deploymentId": self.deployment_id,
            "status": self.status,
            "createTime": self.created_at,
            "deploymentOverview": self.overview(),
            "description": self.request.get("description", ""),
            "creator": "user",
            "computePlatform": "Server",
        }
        for key in ("revision", "targetInstances", "fileExistsBehavior"):
            if key in self.request:
                info[key] = self.request[key]
        if self.error_information:
            info["errorInformation"] = dict(self.error_information)
        if self.started_at is not None:
            info["startTime"] = self.started_at
        if self.completed_at is not None:
            info["completeTime"] = self.completed_at
        return info

    def target_wire(self, target: Target) -> dict[str, Any]:
        """botocore: one DeploymentTarget of an EC2 deployment (deploymentTargetType InstanceTarget)."""
        return {
            "deploymentTargetType": "InstanceTarget",
            "instanceTarget": {
                "deploymentId": self.deployment_id,
                "targetId": target.instance_id,
                "targetArn": f"arn:aws:ec2:{REGION}:{ACCOUNT}:instance/{target.instance_id}",
                "status": target.status,
                "lastUpdatedAt": target.updated,
                "lifecycleEvents": [e.wire() for e in target.events],
                "instanceLabel": "Green",  # botocore: TargetLabel; these are the replacement (green) instances
            },
        }


def _random_ids(rng: random.Random) -> Callable[[], str]:
    return lambda: "d-" + uuid.UUID(int=rng.getrandbits(128)).hex[:9].upper()


class CodeDeploy:
    """CodeDeploy's applications, deployment groups and deployments in one account and region."""

    def __init__(
        self,
        clock: Clock,
        find_targets: Callable[[list[dict[str, str]]], list[str]],
        *,
        behaviour: Callable[[str, str, Mapping[str, Any]], DeployBehaviour] | None = None,
        new_id: Callable[[], str] | None = None,
        lock: threading.RLock | None = None,
        on_created: Callable[[Deployment], None] | None = None,
        on_done: Callable[[Deployment], None] | None = None,
    ) -> None:
        """`find_targets(tag_filters)`: the running instances CodeDeploy would find (EC2's side);
        `behaviour(application, group, revision)`: how the agent behaves for the next deployment; `on_created` and
        `on_done`: who else hears of a deployment (the simulator's Elastigroup integration)."""
        self.clock = clock
        self.find_targets = find_targets
        self.behaviour = behaviour or (lambda _app, _group, _revision: DeployBehaviour())
        self.new_id = new_id or _random_ids(random.Random(0))  # noqa: S311 - ids of a simulated world
        self.lock = lock or threading.RLock()
        self.on_created = on_created
        self.on_done = on_done
        self.groups: dict[tuple[str, str], DeploymentGroup] = {}
        self.deployments: dict[str, Deployment] = {}  # in creation order
        # Run at the start of the next CreateDeployment, before its checks: a test forces a race with it.
        self.before_create: list[Callable[[], None]] = []
        self._raced: set[str] = set()  # green fleets whose twin's CreateDeployment was played first
        self._due: deque[Callable[[], None]] = deque()  # steps due now, run in order (always under self.lock)
        self._draining = False
        # ListDeployments' order and page size, which AWS does not document (see `_list_deployments`): a test sets
        # them to check the function depends on neither.
        self.list_newest_first = True
        self.list_page_size: int | None = None

    # -- set-up and test controls (no API call) -----------------------------------------------------------------
    def add_group(self, application: str, name: str, **settings: Any) -> DeploymentGroup:
        """An application's deployment group, as CreateApplication + CreateDeploymentGroup would leave it."""
        group = DeploymentGroup(application, name, **settings)
        self.groups[(application, name)] = group
        return group

    def record(
        self,
        deployment_id: str,
        request: dict[str, Any],
        *,
        status: str,
        created_at: float | None = None,
        targets: Sequence[str] = (),
    ) -> Deployment:
        """A deployment made without this endpoint's CreateDeployment (another application's, an old one), in
        `status`, which it keeps."""
        with self.lock:
            deployment = Deployment(
                deployment_id,
                request.get("applicationName", ""),
                request.get("deploymentGroupName", ""),
                dict(request),
                self.clock.now() if created_at is None else created_at,
                DeployBehaviour(),
                {i: Target(i, [], status="Succeeded" if status == "Succeeded" else "InProgress") for i in targets},
                status=status,
                progresses=False,
            )
            self.deployments[deployment_id] = deployment
            return deployment

    def active_in_group(self, application: str, group: str) -> Deployment | None:
        """The deployment not yet final on this deployment group, if any."""
        return next(
            (d for d in self.deployments.values() if (d.application, d.group) == (application, group) and not d.done),
            None,
        )

    # -- the wire -----------------------------------------------------------------------------------------------
    def handle(self, operation: str, request: dict[str, Any]) -> dict[str, Any]:
        """Answer one CodeDeploy call; raises AwsFault as CodeDeploy would."""
        call = self._operations.get(operation)
        if call is None:
            raise AwsFault("UnknownOperationException", f"The simulated CodeDeploy does not implement {operation}")
        with self.lock:
            return call(self, request)

    def _group(self, request: Mapping[str, Any]) -> DeploymentGroup:
        application, name = request.get("applicationName") or "", request.get("deploymentGroupName") or ""
        if not application:
            raise AwsFault("ApplicationNameRequiredException", "The minimum number of required application names is 1")
        if not name:
            raise AwsFault("DeploymentGroupNameRequiredException", "The deployment group name was not specified.")
        if not any(app == application for app, _ in self.groups):
            raise AwsFault("ApplicationDoesNotExistException", f"No application found for name: {application}")
        group = self.groups.get((application, name))
        if group is None:
            raise AwsFault(
                "DeploymentGroupDoesNotExistException",
                f"No Deployment Group found for name: {name}",
            )
        return group

    def _deployment(self, deployment_id: str) -> Deployment:
        if not deployment_id:
            raise AwsFault("DeploymentIdRequiredException", "At least one deployment ID must be specified.")
        if not _DEPLOYMENT_ID.fullmatch(deployment_id):
            raise AwsFault(
                "InvalidDeploymentIdException", f"Specified DeploymentId is not in the valid format: {deployment_id}"
            )
        deployment = self.deployments.get(deployment_id)
        if deployment is None:
            raise AwsFault("DeploymentDoesNotExistException", f"The deployment {deployment_id} could not be found.")
        return deployment

    def _get_deployment_group(self, request: dict[str, Any]) -> dict[str, Any]:
        return {"deploymentGroupInfo": self._group(request).wire()}

    def _get_deployment_config(self, request: dict[str, Any]) -> dict[str, Any]:
        name = request.get("deploymentConfigName", "")
        if name not in CONFIGS:
            raise AwsFault(
                "DeploymentConfigDoesNotExistException", f"No deployment configuration found for name: {name}"
            )
        kind, value = CONFIGS[name]
        return {
            "deploymentConfigInfo": {
                "deploymentConfigId": str(uuid.uuid5(uuid.NAMESPACE_DNS, name)),
                "deploymentConfigName": name,
                "minimumHealthyHosts": {"type": kind, "value": value},
                "createTime": 1_420_070_400.0,
                "computePlatform": "Server",
            }
        }

    def _list_deployments(self, request: dict[str, Any]) -> dict[str, Any]:
        """botocore: ListDeployments lists "the deployments in a deployment group", filtered by
        includeOnlyStatuses and by createTimeRange (a TimeRange whose `start` and `end` may each be left open;
        botocore's JSON protocol sends timestamps as epoch seconds), with a `nextToken` "if a large amount of
        information is returned". AWS documents neither an order nor a page size: assumption, newest first in one
        page (what the CLI shows), unless a test sets `list_newest_first` / `list_page_size` otherwise. The
        nextToken here is the offset of the next page (assumption: opaque to the caller in any case)."""
        group = self._group(request)
        statuses = set(request.get("includeOnlyStatuses") or ())
        window = request.get("createTimeRange") or {}
        start, end = window.get("start"), window.get("end")
        ordered = list(self.deployments.values())
        if self.list_newest_first:
            ordered.reverse()
        listed = [
            d.deployment_id
            for d in ordered
            if (d.application, d.group) == (group.application, group.name)
            and (not statuses or d.status in statuses)
            and (start is None or d.created_at >= float(start))
            and (end is None or d.created_at <= float(end))
        ]
        offset = int(request.get("nextToken") or 0)
        size = self.list_page_size or len(listed) or 1
        page: dict[str, Any] = {"deployments": listed[offset : offset + size]}
        if offset + size < len(listed):
            page["nextToken"] = str(offset + size)
        return page

    def _batch_get_deployments(self, request: dict[str, Any]) -> dict[str, Any]:
        ids = list(request.get("deploymentIds") or [])
        if not ids:
            raise AwsFault("DeploymentIdRequiredException", "At least one deployment ID must be specified.")
        if len(ids) > _BATCH_LIMIT:
            raise AwsFault("BatchLimitExceededException", "The maximum number of deployment IDs is 25.")
        for deployment_id in ids:
            if not _DEPLOYMENT_ID.fullmatch(str(deployment_id)):
                raise AwsFault(
                    "InvalidDeploymentIdException",
                    f"Specified DeploymentId is not in the valid format: {deployment_id}",
                )
        # Assumption: an id CodeDeploy does not know is left out of deploymentsInfo (botocore lists no error for it).
        return {"deploymentsInfo": [self.deployments[i].wire() for i in ids if i in self.deployments]}

    def _get_deployment(self, request: dict[str, Any]) -> dict[str, Any]:
        return {"deploymentInfo": self._deployment(request.get("deploymentId", "")).wire()}

    def _create_deployment(self, request: dict[str, Any]) -> dict[str, Any]:
        while self.before_create:
            self.before_create.pop(0)()
        group = self._group(request)
        revision = request.get("revision") or {}
        behaviour = self.behaviour(group.application, group.name, revision)
        filters = (request.get("targetInstances") or {}).get("tagFilters") or []
        green = next((f.get("Value", "") for f in filters if f.get("Key") == GREEN_TAG), "")
        if behaviour.twin_race and green and green not in self._raced:
            self._raced.add(green)
            self._create_deployment(request)  # the twin's identical call, a moment earlier
        active = self.active_in_group(group.application, group.name)
        if active is not None:
            # botocore: DeploymentLimitExceededException, "The number of allowed deployments was exceeded"; the
            # user guide (quotas): one deployment at a time per deployment group.
            raise AwsFault(
                "DeploymentLimitExceededException",
                f"The Deployment Group '{group.name}' already has an active Deployment '{active.deployment_id}'",
            )
        if filters and group.deployment_type != "BLUE_GREEN":
            # botocore: CreateDeploymentInput.targetInstances are "the instances that belong to the replacement
            # environment in a blue/green deployment"; an in-place group has none (shared/aws-contract.md §3).
            raise AwsFault(
                "InvalidTargetInstancesException", "targetInstances can only be given for a blue/green deployment"
            )
        targets = self.find_targets(filters or group.ec2_tag_filters)
        if not targets:
            # botocore: InvalidTargetInstancesException, "The target instance configuration is invalid".
            raise AwsFault(
                "InvalidTargetInstancesException", "No running EC2 instances match the targetInstances tag filters"
            )
        return {"deploymentId": self._start(group, dict(request), targets, behaviour).deployment_id}

    def _stop_deployment(self, request: dict[str, Any]) -> dict[str, Any]:
        deployment = self._deployment(request.get("deploymentId", ""))
        if deployment.done:
            raise AwsFault(
                "DeploymentAlreadyCompletedException",
                f"The deployment {deployment.deployment_id} has already completed.",
            )
        self._stop(deployment, bool(request.get("autoRollbackEnabled", False)))
        deployment.stopped = True
        # botocore: StopStatus, Pending | Succeeded; this model stops at once.
        return {"status": "Succeeded", "statusMessage": "Deployment stopped"}

    def _list_deployment_targets(self, request: dict[str, Any]) -> dict[str, Any]:
        deployment = self._deployment(request.get("deploymentId", ""))
        if deployment.status == "Created":  # botocore: DeploymentNotStartedException
            raise AwsFault(
                "DeploymentNotStartedException", f"The deployment {deployment.deployment_id} has not started yet."
            )
        # botocore: ListDeploymentTargetsInput.targetFilters, "TargetStatus - A TargetStatus filter string".
        statuses = set((request.get("targetFilters") or {}).get("TargetStatus") or ())
        return {"targetIds": [i for i, t in deployment.targets.items() if not statuses or t.status in statuses]}

    def _batch_get_deployment_targets(self, request: dict[str, Any]) -> dict[str, Any]:
        deployment = self._deployment(request.get("deploymentId", ""))
        ids = request.get("targetIds") or []
        if not ids:
            raise AwsFault("DeploymentTargetIdRequiredException", "A deployment target ID was not provided.")
        if len(ids) > _BATCH_LIMIT:
            raise AwsFault(
                "DeploymentTargetListSizeExceededException",
                "The maximum number of targets that can be requested is 25.",
            )
        out = []
        for target_id in ids:
            target = deployment.targets.get(target_id)
            if target is None:
                raise AwsFault(
                    "DeploymentTargetDoesNotExistException",
                    f"The target {target_id} does not exist for deployment {deployment.deployment_id}.",
                )
            out.append(deployment.target_wire(target))
        return {"deploymentTargets": out}

    _operations: dict[str, Callable[[CodeDeploy, dict[str, Any]], dict[str, Any]]] = {  # noqa: RUF012
        "GetDeploymentGroup": _get_deployment_group,
        "GetDeploymentConfig": _get_deployment_config,
        "ListDeployments": _list_deployments,
        "BatchGetDeployments": _batch_get_deployments,
        "GetDeployment": _get_deployment,
        "CreateDeployment": _create_deployment,
        "StopDeployment": _stop_deployment,
        "ListDeploymentTargets": _list_deployment_targets,
        "BatchGetDeploymentTargets": _batch_get_deployment_targets,
    }

    # -- progress -----------------------------------------------------------------------------------------------
    def _start(
        self, group: DeploymentGroup, request: dict[str, Any], instance_ids: list[str], behaviour: DeployBehaviour
    ) -> Deployment:
        now = self.clock.now()
        targets = {
            i: Target(i, [LifecycleEvent(name) for name, _ in behaviour.lifecycle], updated=now) for i in instance_ids
        }
        deployment = Deployment(self.new_id(), group.application, group.name, request, now, behaviour, targets)
        self.deployments[deployment.deployment_id] = deployment
        if self.on_created is not None:
            self.on_created(deployment)
        plan = _Plan(deployment)
        self._at(deployment, plan.due(behaviour.start_delay), lambda: self._begin(deployment, plan))
        return deployment

    def _at(self, deployment: Deployment, at: float, step: Callable[[], None]) -> None:
        """Run `step` at `at` unless the deployment has ended by then. Steps already due run here, one after
        another (not one inside the other: a zero-length deployment of many instances is thousands of steps)."""

        def run() -> None:
            with self.lock:
                if not deployment.done:
                    step()

        if at > self.clock.now():
            self.clock.call_at(at, run)
            return
        self._due.append(run)
        if self._draining:
            return
        self._draining = True
        try:
            while self._due:
                self._due.popleft()()
        finally:
            self._draining = False

    def _begin(self, deployment: Deployment, plan: _Plan) -> None:
        deployment.status, deployment.started_at = "InProgress", self.clock.now()
        self._next_target(deployment, plan, 0)

    def _next_target(self, deployment: Deployment, plan: _Plan, index: int) -> None:
        order = list(deployment.targets.values())
        if index >= len(order):
            if deployment.behaviour.stopped_by_someone:
                self._stop(deployment, auto_rollback=False)
            else:
                self._finish(deployment, "Succeeded", {})
            return
        target = order[index]
        target.status, target.updated = "InProgress", self.clock.now()
        self._next_event(deployment, plan, index, 0)

    def _next_event(self, deployment: Deployment, plan: _Plan, index: int, event_index: int) -> None:
        target = list(deployment.targets.values())[index]
        if event_index >= len(target.events):
            target.status, target.updated = "Succeeded", self.clock.now()
            self._next_target(deployment, plan, index + 1)
            return
        event = target.events[event_index]
        event.status, event.start = "InProgress", self.clock.now()
        due = plan.due(deployment.behaviour.lifecycle[event_index][1])
        self._at(deployment, due, lambda: self._complete(deployment, plan, index, event_index))

    def _complete(self, deployment: Deployment, plan: _Plan, index: int, event_index: int) -> None:
        behaviour = deployment.behaviour
        order = list(deployment.targets.values())
        target = order[index]
        event = target.events[event_index]
        now = self.clock.now()
        event.end = now
        if not (behaviour.fail_instance == index and behaviour.fail_event == event.name):
            event.status = "Succeeded"
            event.diagnostics = {"errorCode": "Success", "scriptName": "", "message": "Succeeded", "logTail": ""}
            self._next_event(deployment, plan, index, event_index + 1)
            return
        # botocore: Diagnostics (errorCode a LifecycleErrorCode, scriptName, message, logTail: "The last portion of
        # the diagnostic log").
        event.status = "Failed"
        script = "scripts/" + re.sub(r"(?<!^)(?=[A-Z])", "_", event.name).lower() + ".sh"
        event.diagnostics = {
            "errorCode": "ScriptFailed",
            "scriptName": script,
            "message": f"Script at specified location: {script} run as user root failed with exit code 1",
            "logTail": behaviour.log_tail,
        }
        target.status, target.updated = "Failed", now
        for later in target.events[event_index + 1 :]:
            later.status = "Skipped"
        for other in order[index + 1 :]:
            other.status, other.updated = "Skipped", now
            for later in other.events:
                later.status = "Skipped"
        self._finish(deployment, "Failed", {"code": behaviour.error_code, "message": behaviour.error_message})

    def _stop(self, deployment: Deployment, auto_rollback: bool) -> None:
        """Stop a deployment that is not final: the running event fails, what had not begun is skipped."""
        deployment.rollback_requested = auto_rollback
        now = self.clock.now()
        for target in deployment.targets.values():
            for event in target.events:
                if event.status == "InProgress":
                    event.status, event.end, event.diagnostics = "Failed", now, dict(STOPPED_BY_USER)
                elif event.status == "Pending":
                    event.status = "Skipped"
            if target.status in ("Pending", "InProgress"):
                target.status, target.updated = ("Failed" if target.status == "InProgress" else "Skipped"), now
        self._finish(deployment, "Stopped", {})

    def _finish(self, deployment: Deployment, status: str, error: dict[str, str]) -> None:
        deployment.status, deployment.error_information = status, error
        deployment.completed_at = self.clock.now()
        if self.on_done is not None:
            self.on_done(deployment)


class _Plan:
    """When each step of a deployment is due: its behaviour's delays one after another from its creation, all
    scaled so that it ends at creation + `duration` when the behaviour sets one."""

    def __init__(self, deployment: Deployment) -> None:
        behaviour = deployment.behaviour
        self._start = deployment.created_at
        self._offset = 0.0
        self._scale = 1.0
        self._natural = 0.0
        self._end: float | None = None
        if behaviour.duration is not None:
            self._natural = behaviour.start_delay + _natural_length(behaviour, len(deployment.targets))
            self._scale = behaviour.duration / self._natural if self._natural > 0 else 0.0
            self._end = deployment.created_at + behaviour.duration

    def due(self, delay: float) -> float:
        """The time of the step `delay` natural seconds after the previous one."""
        self._offset += delay
        if self._end is not None and self._offset >= self._natural * (1 - 1e-12):
            return self._end  # the last step: exactly creation + duration, whatever the rounding before it
        return self._start + self._offset * self._scale


def _natural_length(behaviour: DeployBehaviour, instances: int) -> float:
    """Seconds from InProgress to the final state without scaling: to the failing event, or through every
    instance."""
    per_instance = sum(seconds for _, seconds in behaviour.lifecycle)
    if behaviour.fail_instance is not None and behaviour.fail_instance < instances:
        names = [name for name, _ in behaviour.lifecycle]
        if behaviour.fail_event in names:
            upto = names.index(behaviour.fail_event) + 1
            return behaviour.fail_instance * per_instance + sum(s for _, s in behaviour.lifecycle[:upto])
    return instances * per_instance
