"""CodeDeploy for unit tests: bluegreen_sim's one CodeDeploy model (bluegreen_sim/codedeploy.py), served by the
one loopback server (bluegreen_sim.loopback.AwsJsonServer), with the tests' settings and fault injection.

This file models nothing about CodeDeploy itself: deployment groups, the one active deployment per group, targets
from the tag filter, progress, lifecycle events, diagnostics, errorInformation and the calls' errors live in
bluegreen_sim/codedeploy.py and are cited there. What is here is a test's control of the boundary: a `Script` for
the next deployment (it ends `duration` seconds of fake time after its creation, as `outcome`), faults queued per
operation (`fail_next("GetDeployment", AwsFault(...) or Stall(...))`), the operations called, the settings of the
one deployment group App/DG (`blue_green`, `green_provisioning`), and deployments made elsewhere (`record`).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from bluegreen_sim.behaviour import DeployBehaviour
from bluegreen_sim.codedeploy import CodeDeploy, Deployment, DeploymentGroup
from bluegreen_sim.ec2fleet import Fleet
from bluegreen_sim.loopback import AwsFault, Stall
from tests.fakes.clock import FakeClock


@dataclass
class Script:
    """How the next deployment behaves: seconds from its creation until it ends, and how it ends ("Failed": the
    first instance's `failed_event` script fails; "Stopped": someone stops it when it would have succeeded)."""

    duration: float = 120.0
    outcome: str = "Succeeded"
    error_code: str = "HEALTH_CONSTRAINTS"
    error_message: str = "The overall deployment failed because too many individual instances failed deployment"
    failed_event: str = "AfterInstall"
    log_tail: str = "[stdout]installing\n[stderr]./after_install.sh: line 7: systemctl: command failed\n"

    def behaviour(self) -> DeployBehaviour:
        return DeployBehaviour(
            duration=self.duration,
            fail_instance=0 if self.outcome == "Failed" else None,
            fail_event=self.failed_event,
            error_code=self.error_code,
            error_message=self.error_message,
            log_tail=self.log_tail,
            stopped_by_someone=self.outcome == "Stopped",
        )


class FakeCodeDeploy:
    """The CodeDeploy model with one deployment group (App/DG, blue/green) whose greens are found in moto's EC2."""

    def __init__(self, clock: FakeClock, ec2: Any = None, *, application: str = "App", group: str = "DG") -> None:
        self.clock = clock
        self.script = Script()
        self.calls: list[str] = []
        self.faults: dict[str, list[AwsFault | Stall]] = {}
        find: Callable[[list[dict[str, str]]], list[str]] = (
            Fleet(ec2).find_running if ec2 is not None else (lambda _filters: [])
        )
        ids = itertools.count(1)
        self.model = CodeDeploy(
            clock,
            find,
            behaviour=lambda _app, _group, _revision: self.script.behaviour(),
            new_id=lambda: f"d-FAKE{next(ids):05d}",
        )
        self.group: DeploymentGroup = self.model.add_group(application, group)

    # ---- the group's settings ----
    @property
    def blue_green(self) -> bool:
        return self.group.deployment_type == "BLUE_GREEN"

    @blue_green.setter
    def blue_green(self, value: bool) -> None:
        self.group.deployment_type = "BLUE_GREEN" if value else "IN_PLACE"

    @property
    def green_provisioning(self) -> str:
        return self.group.green_provisioning

    @green_provisioning.setter
    def green_provisioning(self, action: str) -> None:
        self.group.green_provisioning = action

    # ---- what the model holds ----
    @property
    def deployments(self) -> dict[str, Deployment]:
        return self.model.deployments

    @property
    def before_create(self) -> list[Callable[[], None]]:
        """Run at the start of the next CreateDeployment (a twin's create, a moment earlier)."""
        return self.model.before_create

    def record(
        self,
        deployment_id: str,
        request: dict[str, Any],
        *,
        status: str,
        created_at: float | None = None,
        targets: Sequence[str] = (),
    ) -> Deployment:
        """A deployment made without this run's CreateDeployment (another application's, an earlier one)."""
        return self.model.record(deployment_id, request, status=status, created_at=created_at, targets=targets)

    # ---- test controls ----
    def fail_next(self, operation: str, *faults: AwsFault | Stall) -> None:
        self.faults.setdefault(operation, []).extend(faults)

    # ---- the wire ----
    def handle(self, operation: str, body: dict[str, Any]) -> dict[str, Any]:
        self.calls.append(operation)
        queued = self.faults.get(operation, [])
        if queued:
            raise queued.pop(0)
        return self.model.handle(operation, body)
