"""The named scenarios: how the simulated cloud misbehaves in each, and what outcome is expected.

Owns only data. Durations are simulated seconds; `runner.py` builds the cloud from a `Scenario`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from bluegreen_sim.behaviour import LIFECYCLE, DeployBehaviour, GroupBehaviour

DESIGN_INSTANCES = 4  # the group size each scenario's TIMEOUT is written for (the CLI's default)
POST_BG = "POST /aws/ec2/group/{groupId}/codeDeploy/blueGreenDeployment"
GET_GROUP = "GET /aws/ec2/group/{groupId}"


@dataclass(frozen=True)
class Execution:
    """One pipeline execution's run of the deploy stage, in a scenario of several."""

    name: str
    build: str  # the build it deploys: a new label is a new Source and Build run, a known one reuses its artifact
    broken: bool = False  # the build deploys, then fails on the instances
    expected: str = "Succeeded"


@dataclass(frozen=True)
class Scenario:
    """One named situation for a simulated pipeline run."""

    name: str
    description: str
    expected: str  # "Succeeded" or "Failed:<CodePipeline failure type>"
    group: GroupBehaviour = field(default_factory=GroupBehaviour)
    deploy: DeployBehaviour = field(default_factory=DeployBehaviour)
    timeout: int = 3600
    bad_token: bool = False
    duplicate_first: bool = False
    spot_budget: int = 60
    forced_429: Mapping[str, int] = field(default_factory=dict)
    min_invocations: int = 1
    deployment_type: str = "BLUE_GREEN"  # of the CodeDeploy deployment group
    alarms: int = 0  # CloudWatch alarms created for the pipeline and given as ALARMS (the health gate)
    bake_time: int = 0  # BAKE_TIME
    alarm_fires: tuple[str, float] | None = None  # ("deploying" | "baking", seconds into it): the first alarm fires
    # The run fails after CodeDeploy succeeded: the Spot deployment is left alone, the greens keep serving.
    fails_after_deploy: bool = False
    executions: tuple[Execution, ...] = ()  # several pipeline executions, in order (default: one)
    needs_artifacts: bool = False  # only meaningful when the revision is the input artifact

    def timeout_for(self, instances: int) -> int:
        """The scenario's TIMEOUT for a group of `instances`: the margin it has at DESIGN_INSTANCES, kept.

        The simulated CodeDeploy deploys one instance after another (CodeDeployDefault.OneAtATime), so each
        instance beyond the design size adds one pass through the lifecycle events. A scenario meant to time out
        still does; one meant to succeed still has the same room.
        """
        per_instance = sum(seconds for _, seconds in self.deploy.lifecycle)
        return self.timeout + math.ceil(max(0, instances - DESIGN_INSTANCES) * per_instance)

    lambda_seconds: float = 900.0  # the function's configured timeout
    stop: str | None = None  # a person stops and abandons the execution: in this phase, or "between" invocations
    lose_final_reports: int = 0  # attempts at the final report that fail, until Lambda's retry of the event
    kill_after_start: bool = False  # the invocation dies right after Spot started the deployment

    @property
    def reclaims(self) -> bool:
        """CodePipeline stops waiting for the run: the function must reclaim it."""
        return self.stop is not None or self.kill_after_start


SCENARIOS: Mapping[str, Scenario] = MappingProxyType(
    {
        s.name: s
        for s in (
            Scenario("happy", "greens launch, CodeDeploy succeeds, Elastigroup retires the blues", "Succeeded"),
            Scenario(
                "deploy-fails",
                "one green instance fails AfterInstall (ScriptFailed, with a log tail); everything is cleaned up",
                "Failed:JobFailed",
                deploy=DeployBehaviour(fail_instance=1, fail_event="AfterInstall"),
            ),
            Scenario(
                "slow-launch",
                "greens take longer than one 900 s invocation to launch: continuation tokens carry the run",
                "Succeeded",
                group=GroupBehaviour(launch_delay=1100.0),
                min_invocations=2,
            ),
            Scenario(
                "spot-interruption",
                "a green instance is reclaimed while booting and Elastigroup launches a replacement",
                "Succeeded",
                group=GroupBehaviour(interrupt_after_boot=20.0),
            ),
            Scenario(
                "rate-limited",
                "Spot answers 429 with X-RateLimit-Reset on the first calls and enforces a small budget",
                "Succeeded",
                spot_budget=6,
                forced_429=MappingProxyType({GET_GROUP: 1, POST_BG: 2}),
            ),
            Scenario(
                "timeout",
                "greens never pass their status checks: TIMEOUT passes and everything is cleaned up",
                "Failed:JobFailed",
                group=GroupBehaviour(never_ready=True),
                timeout=600,
            ),
            Scenario(
                "deploy-timeout",
                "the CodeDeploy hooks are too slow for TIMEOUT: the deployment is stopped with rollback",
                "Failed:JobFailed",
                deploy=DeployBehaviour(lifecycle=tuple((event, 300.0) for event, _ in LIFECYCLE)),
                timeout=900,
            ),
            Scenario(
                "misconfigured",
                "the CodeDeploy deployment group is in-place: preflight fails before any instance is launched",
                "Failed:ConfigurationError",
                deployment_type="IN_PLACE",
            ),
            Scenario("bad-token", "Spot rejects the API token with 401", "Failed:PermissionError", bad_token=True),
            Scenario(
                "alarm-during-deploy",
                "a CloudWatch alarm of the health gate fires while CodeDeploy deploys: the deployment is stopped "
                "with rollback and the greens are cleaned up",
                "Failed:JobFailed",
                alarms=2,
                alarm_fires=("deploying", 120.0),
            ),
            Scenario(
                "alarm-during-bake",
                "CodeDeploy succeeds, then an alarm fires during BAKE_TIME: the job fails, the Spot deployment and "
                "the greens are left serving (the recovery is the pipeline's stage rollback)",
                "Failed:JobFailed",
                alarms=2,
                bake_time=600,
                alarm_fires=("baking", 300.0),
                fails_after_deploy=True,
            ),
            Scenario(
                "healthy-bake",
                "two alarms stay OK through a 1200 s BAKE_TIME that outlasts one invocation: success after the bake",
                "Succeeded",
                alarms=2,
                bake_time=1200,
                min_invocations=2,
            ),
            Scenario(
                "pipeline-stopped",
                "a person stops and abandons the execution while the greens launch: the hand-over is refused and "
                "the run is reclaimed in band",
                "Abandoned",
                group=GroupBehaviour(launch_delay=1100.0),
                stop="WAIT_GREEN",
            ),
            Scenario(
                "pipeline-stopped-deploying",
                "a person stops and abandons the execution while CodeDeploy deploys: both deployments are stopped",
                "Abandoned",
                deploy=DeployBehaviour(lifecycle=tuple((event, 300.0) for event, _ in LIFECYCLE)),
                stop="WAIT_DEPLOY",
            ),
            Scenario(
                "pipeline-stopped-between",
                "a person stops and abandons the execution between two invocations: CodePipeline's event reclaims it",
                "Abandoned",
                group=GroupBehaviour(launch_delay=1100.0),
                stop="between",
            ),
            Scenario(
                "report-lost",
                "the final (failure) report is lost; Lambda's retry reports the true outcome with CodeDeploy's cause",
                "Failed:JobFailed",
                deploy=DeployBehaviour(fail_instance=1, fail_event="AfterInstall"),
                lose_final_reports=1000,  # every attempt of the first delivery, whatever boto3's retries
            ),
            Scenario(
                "invocation-killed",
                "the invocation dies after the Spot start; CodePipeline fails the action, its event reclaims the run",
                "ActionTimedOut",
                kill_after_start=True,
            ),
            Scenario(
                "duplicate-delivery",
                "Lambda delivers the first event twice; only one Spot deployment may start",
                "Succeeded",
                duplicate_first=True,
            ),
            Scenario(
                "rollback",
                "execution 1 deploys build A; execution 2 deploys build B, which fails on the instances; "
                "CodePipeline's stage rollback re-runs the stage with execution 1's artifacts and redeploys A",
                "Succeeded",
                # CodePipeline V2 (onFailure: ROLLBACK, or RollbackStage) re-runs the stage with the artifacts of
                # the stage's last successful execution: the deploy action gets build A's artifact again.
                executions=(
                    Execution("execution 1", "A"),
                    Execution("execution 2", "B", broken=True, expected="Failed:JobFailed"),
                    Execution("rollback to execution 1", "A"),
                ),
                needs_artifacts=True,
            ),
            Scenario(
                "twin-delivery",
                "two deliveries of one event race: the twin creates the CodeDeploy deployment just before this one; "
                "both follow that one deployment and nothing is stopped",
                "Succeeded",
                duplicate_first=True,
                deploy=DeployBehaviour(twin_race=True),
            ),
            Scenario(
                "spot-history",
                "the group's past blue/green deployments carry words Spot never published for this route (COMPLETE, "
                "ROLLED_BACK, FINISHED_ERROR, RETIRED, none): they count as ended and the run goes ahead",
                "Succeeded",
                group=GroupBehaviour(
                    history=(
                        ("COMPLETE", ""),
                        ("ROLLED_BACK", "ROLLED_BACK"),
                        ("FINISHED_ERROR", ""),
                        ("RETIRED", "ARCHIVED"),
                        ("", ""),
                    )
                ),
            ),
            Scenario(
                "weighted-group",
                "the Elastigroup's capacity is in weight units (target 4x the instance count): greens are counted "
                "from the instances the group runs",
                "Succeeded",
                group=GroupBehaviour(capacity_unit="weight", instance_weight=4),
            ),
            Scenario(
                "short-lambda-timeout",
                "the function is configured with the console's default 3 s timeout: refused before anything starts, "
                "naming the 900 s setting",
                "Failed:ConfigurationError",
                lambda_seconds=3.0,
            ),
        )
    }
)
