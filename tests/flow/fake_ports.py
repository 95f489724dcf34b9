"""In-memory fakes of the flow's ports (bluegreen/ports.py): no moto, no sockets, no `responses`.

One `FakeCloud` holds a tiny world (an Elastigroup, its blue/green deployments, the green instances they launch,
CodeDeploy deployments, CloudWatch alarms) on a `FakeClock`, and serves it through `cloud.spot` (a `SpotPort`)
and `cloud.aws` (an `AwsPort`). Every call is journaled with the simulated time, so a test can assert what was
changed and when. Faults are scripted per call: `cloud.fail("spot.start_deployment", SpotApiError(...))`.

What the world does is kept to the ports' documented contracts (the docstrings of SpotClient and AwsGateway) and
to what AWS documents:
- a Spot deployment launches its green instances, tagged with its tags (Spot's CodeDeploy blue/green guide);
  stopping it terminates them;
- CodeDeploy runs one deployment at a time per deployment group and refuses another with
  DeploymentLimitExceededException (botocore codedeploy CreateDeployment errors: "The number of allowed
  deployments was exceeded"; CodeDeploy quotas: one concurrent deployment per deployment group);
- StopDeployment on a finished deployment is DeploymentAlreadyCompletedException, which the gateway reads as
  False (botocore codedeploy StopDeployment errors).
Timings (how long a launch or a deployment takes) are test settings, not facts.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from bluegreen.aws import (
    AlarmState,
    DeploymentGroupInfo,
    DeploymentProgress,
    GreenDeployment,
    InstanceHealth,
    TargetFailure,
)
from bluegreen.domain import GREEN_TAG_KEY, Revision, S3Revision
from bluegreen.errors import DeploymentLimitExceededError
from bluegreen.spot import SpotDeployment, SpotGroup
from tests.fakes.clock import FakeClock

GROUP_ID = "sig-1234abcd"
APPLICATION = "web-app"
DEPLOYMENT_GROUP = "web-bluegreen"

Fault = BaseException | Callable[[], object]


@dataclass(frozen=True)
class Call:
    at: float
    name: str
    args: tuple[Any, ...]


@dataclass
class SpotRecord:
    deployment_id: str
    tags: tuple[tuple[str, str], ...]
    started_at: float
    state: str = "IN_PROGRESS"
    status: str = "IN_PROGRESS"

    def value(self, group_id: str) -> SpotDeployment:
        return SpotDeployment(self.deployment_id, group_id, self.state, self.status, self.tags)

    @property
    def green(self) -> str | None:
        return dict(self.tags).get(GREEN_TAG_KEY)


@dataclass
class Instance:
    instance_id: str
    green: str
    pending_at: float
    ready_at: float
    state: str = "pending"  # pending -> running; terminated when its deployment stops or Spot interrupts it

    def health(self, now: float) -> InstanceHealth:
        if self.state == "terminated":
            return InstanceHealth(self.instance_id, "terminated", False)
        running = now >= self.ready_at
        return InstanceHealth(
            self.instance_id, "running" if running else "pending", running, "" if running else "initializing"
        )


@dataclass
class CodeDeployRecord:
    deployment_id: str
    application: str
    deployment_group: str
    green: str
    description: str
    created_at: float
    targets: int
    outcome: str = "Succeeded"  # what it ends in once its time is up: Succeeded or Failed
    status: str = "Created"
    stopped: bool = False


@dataclass
class FakeCloud:
    clock: FakeClock
    greens: int = 2  # the group's capacity target: green instances per Spot deployment
    launch_seconds: float = 60.0  # from Spot's start until a green passes its status checks
    deploy_seconds: float = 90.0  # from CreateDeployment until CodeDeploy's final status
    group: SpotGroup = field(init=False)
    deployment_group_info: DeploymentGroupInfo = field(
        default_factory=lambda: DeploymentGroupInfo(True, None, "DISCOVER_EXISTING")
    )
    running_instances: int = 2  # what /status lists (the green count of a weighted group)
    alarms: dict[str, AlarmState] = field(default_factory=dict)
    calls: list[Call] = field(default_factory=list)
    faults: dict[str, list[Fault]] = field(default_factory=dict)
    spot_deployments: dict[str, SpotRecord] = field(default_factory=dict)
    instances: dict[str, Instance] = field(default_factory=dict)
    codedeploy: dict[str, CodeDeployRecord] = field(default_factory=dict)
    codedeploy_outcome: str = "Succeeded"  # of the deployments created from now on
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    def __post_init__(self) -> None:
        self.group = SpotGroup(GROUP_ID, "web", self.greens, ((APPLICATION, DEPLOYMENT_GROUP),))
        self.spot = FakeSpotPort(self)
        self.aws = FakeAwsPort(self)

    # ---- scripting ------------------------------------------------------------------------------

    def fail(self, name: str, *faults: Fault) -> None:
        """The next calls of `name` meet these faults, one each: an exception is raised; a callable runs first
        (it may raise, or do what the world does while the call waits, e.g. the watchdog giving the run up).
        """
        self.faults.setdefault(name, []).extend(faults)

    def at(self, moment: float, action: Callable[[], object]) -> None:
        """Run `action` once, when the clock first reaches `moment`."""
        done = False

        def tick(now: float) -> None:
            nonlocal done
            if not done and now >= moment:
                done = True
                action()

        self.clock.on_advance.append(tick)

    def set_alarm(self, name: str, state: str, reason: str = "") -> None:
        self.alarms[name] = AlarmState(name, state, reason or f"threshold crossed ({state})", None)

    def interrupt(self, instance_id: str) -> str:
        """Spot reclaims a green; Elastigroup launches a replacement with the same tags. Returns its id."""
        gone = self.instances[instance_id]
        gone.state = "terminated"
        return self._launch(gone.green, self.clock.now()).instance_id

    def add_spot_deployment(self, tags: Sequence[tuple[str, str]], state: str = "IN_PROGRESS") -> SpotRecord:
        """A deployment started by someone else (a twin delivery, another run), launching greens if tagged."""
        record = self._start_spot(tuple(tags))
        record.state = record.status = state
        return record

    def add_codedeploy(
        self, green: str, description: str, *, application: str = APPLICATION, group: str = DEPLOYMENT_GROUP
    ) -> CodeDeployRecord:
        """A CodeDeploy deployment created by someone else (a twin delivery, another application)."""
        return self._create_codedeploy(application, group, green, description)

    # ---- what happened ----------------------------------------------------------------------------

    def called(self, name: str) -> list[Call]:
        return [c for c in self.calls if c.name == name]

    def live_greens(self, green: str) -> list[Instance]:
        return [i for i in self.instances.values() if i.green == green and i.state != "terminated"]

    def spot_running(self) -> list[SpotRecord]:
        return [r for r in self.spot_deployments.values() if r.state == "IN_PROGRESS"]

    def codedeploy_status(self, deployment_id: str) -> str:
        return self._refresh(self.codedeploy[deployment_id]).status

    # ---- the world ----------------------------------------------------------------------------------

    def _call(self, name: str, *args: Any) -> None:
        self.calls.append(Call(self.clock.now(), name, args))
        pending = self.faults.get(name)
        if pending:
            fault = pending.pop(0)
            if isinstance(fault, BaseException):
                raise fault
            fault()

    def _next_id(self, prefix: str, width: int = 8) -> str:
        return f"{prefix}{next(self._ids):0{width}d}"

    def _start_spot(self, tags: tuple[tuple[str, str], ...]) -> SpotRecord:
        record = SpotRecord(self._next_id("cdbg-"), tags, self.clock.now())
        self.spot_deployments[record.deployment_id] = record
        if record.green:
            for _ in range(self.greens):
                self._launch(record.green, record.started_at)
        return record

    def _launch(self, green: str, since: float) -> Instance:
        instance = Instance(
            self._next_id("i-0abc", 9), green, since + self.launch_seconds / 2, since + self.launch_seconds
        )
        self.instances[instance.instance_id] = instance
        return instance

    def _create_codedeploy(self, application: str, group: str, green: str, description: str) -> CodeDeployRecord:
        record = CodeDeployRecord(
            self._next_id("d-A", 8),
            application,
            group,
            green,
            description,
            self.clock.now(),
            targets=len(self.live_greens(green)),
            outcome=self.codedeploy_outcome,
        )
        self.codedeploy[record.deployment_id] = record
        return record

    def _refresh(self, record: CodeDeployRecord) -> CodeDeployRecord:
        if record.stopped or record.status in ("Succeeded", "Failed"):
            return record
        elapsed = self.clock.now() - record.created_at
        if elapsed >= self.deploy_seconds:
            record.status = record.outcome
        elif elapsed > 0:
            record.status = "InProgress"
        return record


class FakeSpotPort:
    """A `SpotPort` on the fake world."""

    def __init__(self, cloud: FakeCloud) -> None:
        self._cloud = cloud

    def get_group(self, group_id: str) -> SpotGroup:
        self._cloud._call("spot.get_group", group_id)
        return self._cloud.group

    def count_group_instances(self, group_id: str) -> int:
        self._cloud._call("spot.count_group_instances", group_id)
        return self._cloud.running_instances

    def list_deployments(self, group_id: str) -> list[SpotDeployment]:
        self._cloud._call("spot.list_deployments", group_id)
        return [r.value(group_id) for r in self._cloud.spot_deployments.values()]

    def find_deployment_by_tag(self, group_id: str, key: str, value: str) -> SpotDeployment | None:
        self._cloud._call("spot.find_deployment_by_tag", group_id, key, value)
        for record in self._cloud.spot_deployments.values():
            if (key, value) in record.tags:
                return record.value(group_id)
        return None

    def start_deployment(
        self,
        group_id: str,
        *,
        tag_key: str,
        tag_value: str,
        timeout: int,
        application: str,
        deployment_group: str,
        extra_tags: tuple[tuple[str, str], ...] = (),
    ) -> SpotDeployment:
        self._cloud._call("spot.start_deployment", group_id, tag_key, tag_value, timeout, extra_tags)
        return self._cloud._start_spot(((tag_key, tag_value), *extra_tags)).value(group_id)

    def stop_deployment(self, group_id: str, deployment_id: str) -> bool:
        self._cloud._call("spot.stop_deployment", group_id, deployment_id)
        record = self._cloud.spot_deployments[deployment_id]
        if record.state != "IN_PROGRESS":
            return False
        record.state = record.status = "STOPPED"
        for instance in self._cloud.live_greens(record.green or ""):
            instance.state = "terminated"
        return True


class FakeAwsPort:
    """An `AwsPort` on the fake world."""

    def __init__(self, cloud: FakeCloud) -> None:
        self._cloud = cloud

    def describe_deployment_group(self, application: str, deployment_group: str) -> DeploymentGroupInfo:
        self._cloud._call("codedeploy.describe_deployment_group", application, deployment_group)
        return self._cloud.deployment_group_info

    def check_revision_exists(self, revision: S3Revision) -> None:
        self._cloud._call("s3.check_revision_exists", revision)

    def alarm_states(self, names: Sequence[str]) -> dict[str, AlarmState]:
        self._cloud._call("cloudwatch.alarm_states", tuple(names))
        return {n: self._cloud.alarms[n] for n in names if n in self._cloud.alarms}

    def find_green_instances(self, green: str) -> list[InstanceHealth]:
        self._cloud._call("ec2.find_green_instances", green)
        now = self._cloud.clock.now()
        return [i.health(now) for i in self._cloud.live_greens(green) if now >= i.pending_at]

    def instance_health(self, instance_ids: list[str]) -> list[InstanceHealth]:
        self._cloud._call("ec2.instance_health", tuple(instance_ids))
        now = self._cloud.clock.now()
        return [self._cloud.instances[i].health(now) for i in instance_ids]

    def find_deployment_for_green(
        self, application: str, deployment_group: str, green: str, *, created_since: int
    ) -> GreenDeployment | None:
        self._cloud._call("codedeploy.find_deployment_for_green", application, deployment_group, green)
        newest_first = reversed(list(self._cloud.codedeploy.values()))
        for record in newest_first:
            if (record.application, record.deployment_group) == (application, deployment_group) and (
                f"[{GREEN_TAG_KEY}={green}]" in record.description
            ):
                return GreenDeployment(record.deployment_id, record.description)
        return None

    def create_deployment(
        self,
        application: str,
        deployment_group: str,
        revision: Revision,
        green: str,
        *,
        description: str,
        created_since: int,
    ) -> str:
        self._cloud._call("codedeploy.create_deployment", application, deployment_group, revision, green, description)
        for record in self._cloud.codedeploy.values():
            same_group = (record.application, record.deployment_group) == (application, deployment_group)
            if same_group and self._cloud._refresh(record).status in ("Created", "InProgress"):
                raise DeploymentLimitExceededError(
                    "AWS codedeploy:CreateDeployment failed: DeploymentLimitExceededException: The number of allowed "
                    "deployments was exceeded"
                )
        # The real gateway puts the green marker first in the description (aws.py create_deployment).
        marked = f"[{GREEN_TAG_KEY}={green}] {description}"[:1000]
        return self._cloud._create_codedeploy(application, deployment_group, green, marked).deployment_id

    def deployment_progress(self, deployment_id: str) -> DeploymentProgress:
        self._cloud._call("codedeploy.deployment_progress", deployment_id)
        record = self._cloud._refresh(self._cloud.codedeploy[deployment_id])
        done = record.targets if record.status == "Succeeded" else 0
        return DeploymentProgress(
            deployment_id=deployment_id,
            status=record.status,
            error_code="HEALTH_CONSTRAINTS" if record.status == "Failed" else None,
            error_message="The overall deployment failed" if record.status == "Failed" else None,
            succeeded=done,
            total=record.targets,
            application=record.application,
            deployment_group=record.deployment_group,
            description=record.description,
            green_tag_values=(record.green,),
        )

    def stop_deployment(self, deployment_id: str) -> bool:
        self._cloud._call("codedeploy.stop_deployment", deployment_id)
        record = self._cloud._refresh(self._cloud.codedeploy[deployment_id])
        if record.status in ("Succeeded", "Failed", "Stopped"):
            return False
        record.status, record.stopped = "Stopped", True
        return True

    def failed_targets(self, deployment_id: str, *, limit: int = 3) -> list[TargetFailure]:
        self._cloud._call("codedeploy.failed_targets", deployment_id)
        record = self._cloud.codedeploy[deployment_id]
        if record.status != "Failed":
            return []
        return [
            TargetFailure(i.instance_id, "ValidateService", "ScriptFailed", "health check returned 503", "curl: 503\n")
            for i in self._cloud.live_greens(record.green)[:limit]
        ]
