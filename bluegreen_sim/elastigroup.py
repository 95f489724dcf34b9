"""Elastigroups and their CodeDeploy blue/green deployments: the behaviour behind the Spot emulator.

Owns groups (capacity, CodeDeploy integration, blue and green instances) and Spot blue/green
deployments: launching greens after a delay, replacing reclaimed spot instances, following the CodeDeploy
deployment that targets the greens (success: retire the blues, state FINISHED; failure or stop: terminate
the greens), and Spot's own timeout. It knows nothing about HTTP: `spot.py` translates requests into these
calls and `SpotError`s into Spot's error envelope.

This is the one Spot model: the simulator drives it on a `SimClock` with a `GroupBehaviour` of minutes, the unit
tests (tests/fakes/spot.py) on their `FakeClock` with every delay at zero. The clock only needs `now()`,
`call_later()` and `elapsed`. Launches are due at `BlueGreen.launch_at` and made by `launch_due`, which the
simulator schedules and the tests also call on every tick (a test may move `launch_at` to model a replacement).

Sources of the modelled behaviour: shared/reference/spot-api.md (endpoints, envelope, the group's CodeDeploy
integration, "Spot itself refuses a concurrent start", launches mirror the running group), Spot's OpenAPI
elastigroupCreate.yaml (capacity.unit "weight"). Written assumptions where Spot publishes nothing: the refusal's
status and code (400 DEPLOYMENT_ALREADY_IN_PROGRESS, the reference's example code; the product treats any 4xx
refusal alike); a stop of a deployment that is not running is refused with 400 DEPLOYMENT_NOT_IN_PROGRESS (the
product confirms a refused stop from the list, so it is safe under either reading); the list may lag just behind
a create (`hidden_for_lists`, undocumented per spot-api.md); the created item echoes the request's deployment
object in `config` (spot-api.md's example item).
"""

from __future__ import annotations

import random
import threading
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from functools import partial
from typing import TYPE_CHECKING, Any, Protocol

from bluegreen_sim.behaviour import GroupBehaviour
from bluegreen_sim.ec2fleet import Fleet

if TYPE_CHECKING:
    from bluegreen_sim.codedeploy import Deployment

GROUP_TAG = "spotinst:aws:ec2:group:id"
GREEN_TAG = "GreenIdentifier"
RUNNING_WORDS = ("STARTING", "INITIALIZING", "IN_PROGRESS")  # words of a deployment Spot is still working on


class WorldClock(Protocol):
    """What the Spot model needs from time: the simulator's SimClock or the tests' FakeClock."""

    def now(self) -> float: ...

    def call_later(self, delay: float, action: Callable[[], None]) -> None: ...

    @property
    def elapsed(self) -> float: ...

    @property
    def running(self) -> str | None: ...  # the simulator's participant that is calling, for the Spot ledger


class SpotError(Exception):
    """A Spot API error: HTTP status, Spot error code and message."""

    def __init__(self, status: int, code: str, message: str, field_name: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.field_name = field_name


@dataclass
class Interruption:
    """A green spot instance reclaimed while its deployment ran, and the replacement Elastigroup launched."""

    elapsed: float  # simulated seconds since the run began
    group_id: str
    reclaimed: str
    replacement: str | None = None
    replaced_at: float | None = None


@dataclass
class BlueGreen:
    """One Spot blue/green deployment."""

    id: str
    group_id: str
    tags: list[dict[str, str]]
    timeout: int
    deployment_groups: list[dict[str, str]]
    config: dict[str, Any]
    created_at: float
    state: str = "STARTING"
    status: str = "INITIALIZING"
    green_ids: list[str] = field(default_factory=list)
    codedeploy_id: str | None = None
    stopped_by_user: bool = False
    ended: bool = False  # a past deployment whose words say nothing we know
    launch_at: float = 0.0  # when Elastigroup launches the greens
    launched: bool = False
    hidden_for_lists: int = 0  # how many more list calls do not show it yet (a list lagging behind the create)

    @property
    def deployment_id(self) -> str:
        return self.id

    @property
    def green(self) -> str | None:
        return self.green_value

    @property
    def stopped(self) -> bool:
        return self.stopped_by_user

    @stopped.setter
    def stopped(self, value: bool) -> None:
        self.stopped_by_user = value

    @property
    def green_value(self) -> str | None:
        for tag in self.tags:
            if tag.get("tagKey") == GREEN_TAG:
                return tag.get("tagValue")
        return None

    @property
    def open(self) -> bool:
        return not self.ended and self.state not in ("FINISHED", "FAILED", "STOPPED")

    def wire(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "groupId": self.group_id,
            "state": self.state,
            "status": self.status,
            "config": self.config,
        }


@dataclass
class Group:
    """One Elastigroup."""

    id: str
    account_id: str
    name: str
    target: int
    app_name: str
    deployment_group: str
    behaviour: GroupBehaviour
    created_at: float
    blue_ids: list[str] = field(default_factory=list)
    deployments: list[BlueGreen] = field(default_factory=list)
    all_instances: list[str] = field(default_factory=list)
    capacity_target: int | None = None  # the wire's capacity.target when set apart from the instances' weights
    extra_deployment_groups: list[tuple[str, str]] | None = None  # the integration's list, when not the one group

    @property
    def deployment_groups(self) -> list[tuple[str, str]]:
        """(application, deployment group) pairs of the group's CodeDeploy integration."""
        if self.extra_deployment_groups is not None:
            return self.extra_deployment_groups
        return [(self.app_name, self.deployment_group)]

    @property
    def wire_target(self) -> int:
        if self.capacity_target is not None:
            return self.capacity_target
        weight = self.behaviour.instance_weight if self.behaviour.capacity_unit == "weight" else 1
        return self.target * weight

    def _capacity(self) -> dict[str, Any]:
        target = self.wire_target
        return {"minimum": 0, "maximum": max(target * 2, 1), "target": target, "unit": self.behaviour.capacity_unit}

    def wire(self, iso: str) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "description": "bluegreen simulated Elastigroup",
            "region": "us-east-1",
            "capacity": self._capacity(),
            "strategy": {"risk": 100, "availabilityVsCost": "balanced", "fallbackToOd": True},
            "compute": {
                "product": "Linux/UNIX",
                "instanceTypes": {"ondemand": "m5.large", "spot": ["m5.large", "m5a.large"]},
            },
            "thirdPartiesIntegration": {
                "codeDeploy": {
                    "cleanUpOnFailure": True,
                    "terminateInstanceOnFailure": True,
                    "deploymentGroups": [
                        {"applicationName": a, "deploymentGroupName": g} for a, g in self.deployment_groups
                    ],
                }
            },
            "createdAt": iso,
            "updatedAt": iso,
        }


class Elastigroups:
    """All groups of the simulated Spot organisation, and what Elastigroup does over time."""

    def __init__(self, clock: WorldClock, fleet: Fleet, rng: random.Random) -> None:
        self.clock = clock
        self.fleet = fleet
        self.rng = rng
        self.lock = threading.RLock()
        self.groups: dict[str, Group] = {}
        self.started: int = 0
        self.stops: int = 0
        self.interruptions: int = 0
        self.interruption_log: list[Interruption] = []
        self.sequential_ids = False  # cdbg-00000001, -00000002 per group (tests that name ids) instead of random

    def _new_id(self, group: Group) -> str:
        if self.sequential_ids:
            return f"cdbg-{len(group.deployments) + 1:08x}"
        return f"cdbg-{self.rng.getrandbits(32):08x}"

    # -- setup ----------------------------------------------------------------------------------------
    def add_group(
        self,
        account_id: str,
        name: str,
        instances: int,
        app_name: str,
        deployment_group: str,
        behaviour: GroupBehaviour,
        *,
        group_id: str | None = None,
    ) -> Group:
        """Create a group with `instances` running blue instances."""
        with self.lock:
            gid = group_id or f"sig-{self.rng.getrandbits(32):08x}"
            group = Group(gid, account_id, name, instances, app_name, deployment_group, behaviour, self.clock.now())
            group.blue_ids = self.fleet.launch(instances, {GROUP_TAG: gid, "Name": name}, running=True)
            group.all_instances.extend(group.blue_ids)
            for state, status in behaviour.history:
                past = BlueGreen(
                    f"cdbg-{self.rng.getrandbits(32):08x}",
                    gid,
                    [{"tagKey": GREEN_TAG, "tagValue": f"past-{self.rng.getrandbits(32):08x}"}],
                    3600,
                    [{"applicationName": app_name, "deploymentGroupName": deployment_group}],
                    {},
                    self.clock.now(),
                    state=state,
                    status=status,
                    ended=True,
                )
                group.deployments.append(past)
            self.groups[gid] = group
            return group

    def set_blues(self, group: Group, count: int) -> None:
        """Run exactly `count` blue instances in the group (a test's or scenario's setting)."""
        with self.lock:
            alive = self.fleet.alive(group.blue_ids)
            if len(alive) > count:
                self.fleet.terminate(alive[count:])
                alive = alive[:count]
            else:
                extra = self.fleet.launch(count - len(alive), {GROUP_TAG: group.id, "Name": group.name}, running=True)
                group.all_instances.extend(extra)
                alive += extra
            group.blue_ids = alive

    def set_behaviour(self, group: Group, **changes: Any) -> None:
        """Change how the group behaves from now on (its delays, its capacity unit)."""
        with self.lock:
            group.behaviour = replace(group.behaviour, **changes)

    def record(
        self,
        group: Group,
        deployment_id: str,
        green: str,
        launch_at: float,
        *,
        state: str = "STARTING",
        status: str = "INITIALIZING",
        launched: bool = False,
        hidden_for_lists: int = 0,
    ) -> BlueGreen:
        """A deployment as Spot lists it, made without a POST (one started by someone else, or whose reply was
        lost). A word Spot is not working on marks it ended: it neither blocks a start nor accepts a stop."""
        tags = [{"tagKey": GREEN_TAG, "tagValue": green}]
        dgs = [{"applicationName": a, "deploymentGroupName": g} for a, g in group.deployment_groups]
        return BlueGreen(
            deployment_id,
            group.id,
            tags,
            3600,
            dgs,
            {"tags": tags},
            self.clock.now(),
            state=state,
            status=status,
            ended=state not in RUNNING_WORDS,
            launch_at=launch_at,
            launched=launched,
            hidden_for_lists=hidden_for_lists,
        )

    def begin(self, group: Group, green: str, *, hidden_for_lists: int = 0) -> BlueGreen:
        """Start a deployment as Spot does on a POST, without the request (a POST whose reply was lost)."""
        with self.lock:
            bg = self.record(
                group,
                self._new_id(group),
                green,
                self.clock.now() + group.behaviour.launch_delay,
                hidden_for_lists=hidden_for_lists,
            )
            self._open(group, bg)
            return bg

    def list_items(self, group: Group) -> list[dict[str, Any]]:
        """GET blueGreenDeployment: every deployment the list shows now (a lagging list hides new ones)."""
        listed = [d.wire() for d in group.deployments if d.hidden_for_lists == 0]
        for d in group.deployments:
            d.hidden_for_lists = max(0, d.hidden_for_lists - 1)
        return listed

    # -- Spot API operations ----------------------------------------------------------------------------
    def group(self, account_id: str, group_id: str) -> Group:
        """The group, if it belongs to the account. Raises SpotError."""
        group = self.groups.get(group_id)
        if group is None or group.account_id != account_id:
            raise SpotError(400, "GROUP_DOESNT_EXIST", f"Group {group_id} does not exist")
        return group

    def status_items(self, group: Group) -> list[dict[str, Any]]:
        """One item per live instance of the group, as `/status` lists them."""
        items = []
        for n, iid in enumerate(self.fleet.alive(group.all_instances)):
            items.append(
                {
                    "instanceId": iid,
                    "status": "fulfilled",
                    "lockStatus": None,
                    "availabilityZone": "us-east-1a",
                    "privateIp": f"10.0.{n // 250}.{n % 250 + 4}",
                    "lifeCycle": "SPOT",
                    "instanceType": "m5.large",
                    "product": "Linux/UNIX",
                }
            )
        return items

    def start(self, group: Group, body: Any) -> BlueGreen:
        """POST blueGreenDeployment. Raises SpotError."""
        dep = body.get("deployment") if isinstance(body, dict) else None
        if not isinstance(dep, dict):
            raise SpotError(400, "VALIDATION_ERROR", "deployment is required", "deployment")
        tags, timeout, dgs = dep.get("tags"), dep.get("timeout"), dep.get("deploymentGroups")
        if (
            not isinstance(tags, list)
            or not tags
            or not all(
                isinstance(t, dict) and isinstance(t.get("tagKey"), str) and isinstance(t.get("tagValue"), str)
                for t in tags
            )
        ):
            raise SpotError(
                400,
                "VALIDATION_ERROR",
                "deployment.tags must be a non-empty list of {tagKey, tagValue}",
                "deployment.tags",
            )
        if not isinstance(timeout, int) or isinstance(timeout, bool) or timeout <= 0:
            raise SpotError(
                400, "VALIDATION_ERROR", "deployment.timeout must be a positive integer", "deployment.timeout"
            )
        configured = [{"applicationName": a, "deploymentGroupName": g} for a, g in group.deployment_groups]
        if not isinstance(dgs, list) or not dgs or any(d not in configured for d in dgs):
            raise SpotError(
                400,
                "CODE_DEPLOY_DEPLOYMENT_GROUP_NOT_CONFIGURED",
                "deploymentGroups must be configured in the group's CodeDeploy integration",
                "deployment.deploymentGroups",
            )
        if any(d.open for d in group.deployments):
            raise SpotError(
                400,
                "DEPLOYMENT_ALREADY_IN_PROGRESS",
                f"A blue/green deployment is already in progress for group {group.id}",
            )
        bg = BlueGreen(
            self._new_id(group),
            group.id,
            [dict(t) for t in tags],
            timeout,
            [dict(d) for d in dgs],
            dict(dep),  # Spot echoes the deployment object: config.tags, config.timeout
            self.clock.now(),
            launch_at=self.clock.now() + group.behaviour.launch_delay,
        )
        self._open(group, bg)
        limit = timeout * group.behaviour.timeout_unit_seconds
        self.clock.call_later(limit, lambda: self._spot_timeout(group, bg))
        return bg

    def _open(self, group: Group, bg: BlueGreen) -> None:
        group.deployments.append(bg)
        self.started += 1
        self.clock.call_later(bg.launch_at - self.clock.now(), lambda: self.launch_due(group))

    def green_count(self, group: Group) -> int:
        """How many greens Elastigroup launches: as many as the group runs now (spot-api.md). With a weighted
        capacity (OpenAPI elastigroupCreate.yaml) the target is a weight sum, not a count, so it mirrors the
        instances the group runs; so it does when the target is 0."""
        if group.behaviour.capacity_unit == "weight" or group.wire_target == 0:
            return len(self.fleet.alive(group.blue_ids))
        return group.wire_target

    def launch_due(self, group: Group | None = None) -> None:
        """Launch the greens of every open deployment whose launch time has come."""
        with self.lock:
            for grp in [group] if group is not None else list(self.groups.values()):
                for bg in grp.deployments:
                    if not bg.launched and bg.open and self.clock.now() >= bg.launch_at:
                        bg.launched = True
                        self._launch(grp, bg, self.green_count(grp))

    def stop(self, group: Group, bg_id: str) -> BlueGreen:
        """PUT .../stop. Raises SpotError."""
        bg = next((d for d in group.deployments if d.id == bg_id), None)
        if bg is None:
            raise SpotError(404, "DEPLOYMENT_NOT_FOUND", f"Deployment {bg_id} not found")
        if not bg.open:
            raise SpotError(400, "DEPLOYMENT_NOT_IN_PROGRESS", f"Deployment {bg_id} is {bg.state}")
        self.stops += 1
        bg.stopped_by_user = True
        bg.state, bg.status = "STOPPED", "STOPPED"
        # The greens go after `cleanup_delay` (the group's cleanUpOnFailure / terminateInstanceOnFailure).
        self.clock.call_later(group.behaviour.cleanup_delay, lambda: self._terminate_greens(bg))
        return bg

    # -- following CodeDeploy -------------------------------------------------------------------------
    def find_by_green(self, value: str) -> tuple[Group, BlueGreen] | None:
        """The open deployment whose green tag is `value`."""
        for group in self.groups.values():
            for bg in group.deployments:
                if bg.green_value == value and bg.open:
                    return group, bg
        return None

    def codedeploy_started(self, value: str, deployment_id: str) -> None:
        """A CodeDeploy deployment targets the greens tagged `value`."""
        with self.lock:
            found = self.find_by_green(value)
            if found is not None:
                found[1].codedeploy_id = deployment_id
                found[1].state, found[1].status = "IN_PROGRESS", "DEPLOYING"

    def codedeploy_done(self, run: Deployment) -> None:
        """Elastigroup sees the CodeDeploy deployment end."""
        with self.lock:
            for group in self.groups.values():
                for bg in group.deployments:
                    if bg.codedeploy_id != run.deployment_id or not bg.open:
                        continue
                    if run.status == "Succeeded":
                        bg.status = "FINALIZING"
                        self.clock.call_later(group.behaviour.finalize_delay, partial(self._finish, group, bg))
                    else:
                        bg.state, bg.status = "FAILED", "CODE_DEPLOY_FAILED"
                        self.clock.call_later(group.behaviour.cleanup_delay, partial(self._terminate_greens, bg))

    # -- world events ---------------------------------------------------------------------------------
    def _launch(self, group: Group, bg: BlueGreen, count: int) -> list[str]:
        with self.lock:
            if not bg.open:
                return []
            tags = {GROUP_TAG: group.id, "Name": group.name}
            tags.update({t["tagKey"]: t["tagValue"] for t in bg.tags})
            ids = self.fleet.launch(count, tags, running=False)
            bg.green_ids.extend(ids)
            group.all_instances.extend(ids)
            if bg.state == "STARTING":
                bg.state, bg.status = "IN_PROGRESS", "LAUNCHING_INSTANCES"
            for iid in ids:
                self.clock.call_later(group.behaviour.boot_delay, partial(self._boot, group, bg, iid))
            return ids

    def _boot(self, group: Group, bg: BlueGreen, iid: str) -> None:
        with self.lock:
            if self.fleet.state(iid) != "pending":
                return
            self.fleet.boot(iid)
            b = group.behaviour
            if not b.never_ready:
                self.clock.call_later(b.checks_delay, lambda: self._ready(bg, iid))
            if b.interrupt_after_boot is not None and self.interruptions == 0 and iid == bg.green_ids[0]:
                self.clock.call_later(b.interrupt_after_boot, lambda: self._interrupt(group, bg, iid))

    def _ready(self, bg: BlueGreen, iid: str) -> None:
        with self.lock:
            if self.fleet.state(iid) == "running":
                self.fleet.set_checks(iid, "ok")
                alive = self.fleet.alive(bg.green_ids)
                if (
                    bg.open
                    and bg.codedeploy_id is None
                    and alive
                    and all(self.fleet.view(i).checks == "ok" for i in alive)
                ):
                    bg.status = "WAITING_FOR_CODE_DEPLOY"

    def _interrupt(self, group: Group, bg: BlueGreen, iid: str) -> None:
        with self.lock:
            if not bg.open or self.fleet.state(iid) != "running":
                return
            self.interruptions += 1
            self.fleet.terminate([iid])
            record = Interruption(self.clock.elapsed, group.id, iid)
            self.interruption_log.append(record)
            self.clock.call_later(group.behaviour.replace_delay, lambda: self._replace(group, bg, record))

    def _replace(self, group: Group, bg: BlueGreen, record: Interruption) -> None:
        with self.lock:
            ids = self._launch(group, bg, 1)
            if ids:
                record.replacement, record.replaced_at = ids[0], self.clock.elapsed

    def _finish(self, group: Group, bg: BlueGreen) -> None:
        with self.lock:
            if not bg.open:
                return
            self.fleet.terminate(group.blue_ids)
            group.blue_ids = self.fleet.alive(bg.green_ids)
            bg.state, bg.status = "FINISHED", "FINISHED"

    def _terminate_greens(self, bg: BlueGreen) -> None:
        with self.lock:
            self.fleet.terminate(bg.green_ids)

    def _spot_timeout(self, group: Group, bg: BlueGreen) -> None:
        with self.lock:
            if bg.open:
                bg.state, bg.status = "FAILED", "TIMED_OUT"
                self._terminate_greens(bg)
