"""How the simulated Elastigroup and CodeDeploy agent behave: plain data, no simulator machinery.

The unit tests pick fast settings of the same records (tests/fakes/spot.py, tests/fakes/codedeploy.py).

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


FAILED_LOG_TAIL = (
    "[stdout]Running database migrations...\n"
    '[stderr]ERROR: relation "orders" already exists\n'
    "[stderr]scripts/after_install.sh: line 14: migration step exited with status 1\n"
)
HEALTH_CONSTRAINTS_MESSAGE = (
    "The overall deployment failed because too many individual instances failed deployment, too few healthy "
    "instances are available for deployment, or some instances in your deployment group are experiencing problems."
)


@dataclass(frozen=True)
class DeployBehaviour:
    """How the simulated CodeDeploy agent behaves on the green instances (seconds of simulated time).

    A deployment waits `start_delay` in Created, then runs `lifecycle` on one instance after another (as
    CodeDeployDefault.OneAtATime does). With `duration`, every delay is scaled so that the deployment reaches its
    final state exactly `duration` seconds after it was created (the unit tests' "ends after N seconds").
    """

    start_delay: float = 5.0
    lifecycle: tuple[tuple[str, float], ...] = LIFECYCLE
    duration: float | None = None
    # The instance (in deployment order) whose `fail_event` script fails; the deployment then fails with
    # errorInformation `error_code` / `error_message`, and the event's diagnostics carry `log_tail`.
    fail_instance: int | None = None
    fail_event: str = "AfterInstall"
    error_code: str = "HEALTH_CONSTRAINTS"
    error_message: str = HEALTH_CONSTRAINTS_MESSAGE
    log_tail: str = FAILED_LOG_TAIL
    # Someone else (a person in the console) stops the deployment when it would otherwise have succeeded.
    stopped_by_someone: bool = False
    # The race of two deliveries of one job, forced: the first CreateDeployment for a green fleet is preceded,
    # a moment earlier, by the identical call of the twin delivery, so it meets DeploymentLimitExceeded.
    twin_race: bool = False
