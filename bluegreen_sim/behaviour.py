"""How the simulated Elastigroup and CodeDeploy agent behave: plain data, no simulator machinery.

Owns the behaviour records the scenarios are made of. Imports nothing beyond the standard library, so the
`bluegreen` command can list the scenarios (and `--help` stays fast) without loading moto.
"""

from __future__ import annotations

from dataclasses import dataclass

LIFECYCLE: tuple[tuple[str, float], ...] = (
    ("ApplicationStop", 5.0),
    ("DownloadBundle", 10.0),
    ("BeforeInstall", 10.0),
    ("Install", 20.0),
    ("AfterInstall", 15.0),
    ("ApplicationStart", 10.0),
    ("ValidateService", 20.0),
)


@dataclass(frozen=True)
class GroupBehaviour:
    """How Elastigroup provisions greens for one group (seconds of simulated time)."""

    launch_delay: float = 120.0
    boot_delay: float = 30.0
    checks_delay: float = 90.0
    never_ready: bool = False
    interrupt_after_boot: float | None = None
    replace_delay: float = 10.0
    finalize_delay: float = 30.0
    cleanup_delay: float = 10.0
    timeout_unit_seconds: float = 60.0  # Spot's docs disagree (minutes/seconds); minutes is the lenient reading
    # capacity.unit "weight" (Spot's OpenAPI elastigroupCreate.yaml): the wire's target is then the sum of the
    # instances' weights, here every instance weighing `instance_weight`; launches still mirror the instances.
    capacity_unit: str = "instance"
    instance_weight: int = 1
    # Past blue/green deployments on the group, as (state, status) words. Spot publishes no terminal word, so
    # these are words seen elsewhere in Spot's APIs or none at all; they have ended (assumption: the GET lists
    # history, which spot-api.md calls undocumented).
    history: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class DeployBehaviour:
    """How the simulated CodeDeploy agent behaves on the green instances."""

    start_delay: float = 5.0
    lifecycle: tuple[tuple[str, float], ...] = LIFECYCLE
    fail_instance: int | None = None
    fail_event: str = "AfterInstall"
    # The race of two deliveries of one job, forced: the first CreateDeployment for a green fleet is preceded,
    # a moment earlier, by the identical call of the twin delivery, so it meets DeploymentLimitExceeded.
    twin_race: bool = False
