"""Checks made before anything is launched, so a misconfiguration fails in seconds, not after a fleet started.

Owns what "ready to deploy" means: the Spot token, account and group work; the Elastigroup's CodeDeploy integration
names our application and deployment group; that deployment group exists and is a blue/green group that takes
tagged instances; the revision exists; every CloudWatch alarm of the health gate exists; no other blue/green
deployment runs on the group. The Spot calls run one after the other in one thread (the Spot client's
`requests.Session` is never used by two threads at once), beside the AWS calls, each check in a thread the clock
starts (so a simulated clock schedules its waits with the run's); every helper thread carries the run's context,
so its log records keep the run's keys. Changes nothing.
"""

from __future__ import annotations

import contextvars
import logging
import threading
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass
from typing import TypeVar

from bluegreen.aws import AlarmState, DeploymentGroupInfo
from bluegreen.clock import Clock
from bluegreen.domain import GREEN_TAG_KEY, S3Revision
from bluegreen.errors import BlueGreenError, ConfigurationError, PreflightError
from bluegreen.params import DeploymentParams, ParameterToken, SecretToken
from bluegreen.ports import AwsChecks, SpotReads
from bluegreen.spot import SpotDeployment, SpotGroup

logger = logging.getLogger(__name__)

_T = TypeVar("_T")


@dataclass(frozen=True)
class _SpotView:
    group: SpotGroup | None
    existing: SpotDeployment | None
    others_running: list[SpotDeployment] | None
    errors: list[BlueGreenError]


@dataclass(frozen=True)
class Preflight:
    """What the checks found: enough to start, or to describe a dry run."""

    group: SpotGroup
    expected_greens: int
    deployment_group: DeploymentGroupInfo
    existing: SpotDeployment | None
    alarms: tuple[AlarmState, ...] = ()


def run_preflight(params: DeploymentParams, green: str, *, spot: SpotReads, aws: AwsChecks, clock: Clock) -> Preflight:
    """Check everything a deployment needs, in parallel where the checks are independent (at most 4 threads,
    started with `clock`).

    Raises:
        BlueGreenError: the single failed check, or PreflightError listing all of them.
    """
    threads: list[threading.Thread] = []

    def submit(call: Callable[..., _T], *args: object) -> Future[_T]:
        future: Future[_T] = Future()
        context = contextvars.copy_context()

        def run() -> None:
            try:
                future.set_result(context.run(call, *args))
            except BaseException as exc:  # noqa: BLE001 - handed to the reader of the future, as an executor does
                future.set_exception(exc)

        threads.append(clock.start_thread(run, name=f"preflight_{len(threads)}"))
        return future

    spot_f = submit(_read_spot, spot, params.group_id, green)
    codedeploy_f = submit(aws.describe_deployment_group, params.application, params.deployment_group)
    revision_f = submit(aws.check_revision_exists, params.revision) if isinstance(params.revision, S3Revision) else None
    alarms_f = submit(aws.alarm_states, params.alarms) if params.alarms else None
    for thread in threads:
        thread.join()
    view = spot_f.result()
    group, errors = view.group, list(view.errors)
    deployment_group = _result(codedeploy_f, errors)
    if revision_f is not None:
        _result(revision_f, errors)
    alarms = _result(alarms_f, errors) if alarms_f is not None else {}
    if alarms is not None:
        _check_alarms_exist(params, alarms, errors)

    if group is not None:
        _check_integration(params, group, errors)
    if deployment_group is not None:
        _check_deployment_group(params, deployment_group, errors)
    existing = view.existing
    if view.others_running is not None:
        _check_no_other_deployment(params, view.others_running, errors)
    expected = 0
    if group is not None and not errors:
        expected = _expected_greens(params, group, spot, errors)
    if errors or group is None or deployment_group is None:
        # Access problems first: they explain the rest.
        errors.sort(key=lambda e: e.failure_type != "PermissionError")
        raise errors[0] if len(errors) == 1 else PreflightError(errors)
    found = tuple(alarms[name] for name in params.alarms) if alarms else ()
    return Preflight(group, expected, deployment_group, existing, found)


def checked_items(params: DeploymentParams, checked: Preflight) -> list[str]:
    """What the preflight checked and found, one line each: the list a dry run shows a person."""
    source = params.token_source
    if isinstance(source, SecretToken):
        where = f"read from Secrets Manager secret {source.secret_id!r}"
    elif isinstance(source, ParameterToken):
        where = f"read from SSM parameter {source.name!r}"
    else:
        where = "given as API_TOKEN (readable by anyone who can read the pipeline: prefer API_TOKEN_SECRET)"
    group, info = checked.group, checked.deployment_group
    pair = f"{params.application}/{params.deployment_group}"
    items = [
        f"Spot token {where}",
        f"Spot accepts the token for account {params.account_id}; Elastigroup {group.group_id} "
        f"({group.name or 'unnamed'}) exists",
        f"{pair} is in the Elastigroup's CodeDeploy integration",
        f"CodeDeploy deployment group {pair} exists and is blue/green, green instances found by tag "
        f"({info.green_provisioning or 'DISCOVER_EXISTING'}), deployment config "
        f"{info.deployment_config or 'the group default'}",
    ]
    if isinstance(params.revision, S3Revision):
        reader = "the pipeline's artifact credentials" if params.revision.artifact else "the function"
        items.append(f"revision {params.revision.describe()} exists and {reader} may read it")
    if checked.alarms:
        states = ", ".join(f"{a.name} ({a.state})" for a in checked.alarms)
        bake = f", then for a {params.bake_seconds} s bake" if params.bake_seconds else ""
        items.append(f"CloudWatch alarms exist, watched while deploying{bake}: {states}")
    items.append(
        "no other blue/green deployment runs on the Elastigroup"
        if checked.existing is None
        else f"Spot deployment {checked.existing.deployment_id} already carries this run's tag: a real run attaches "
        "to it"
    )
    items.append(f"{checked.expected_greens} green instance(s) to launch, from the Elastigroup's capacity")
    return items


def _read_spot(spot: SpotReads, group_id: str, green: str) -> _SpotView:
    """The group, then its deployments, read from one thread; a Spot that fails the first call as unavailable
    is not asked the second.
    """
    try:
        group = spot.get_group(group_id)
    except BlueGreenError as exc:
        if exc.failure_type == "SystemUnavailable":
            return _SpotView(None, None, None, [exc])
        group, first_errors = None, [exc]
    else:
        first_errors = []
    try:
        deployments = spot.list_deployments(group_id)
    except BlueGreenError as exc:
        return _SpotView(group, None, None, [*first_errors, exc])
    existing = next((d for d in deployments if d.has_tag(GREEN_TAG_KEY, green)), None)
    others = [d for d in deployments if not d.has_tag(GREEN_TAG_KEY, green) and d.another_still_running()]
    return _SpotView(group, existing, others, first_errors)


def _result(future: Future[_T], errors: list[BlueGreenError]) -> _T | None:
    try:
        return future.result()
    except BlueGreenError as exc:
        errors.append(exc)
        return None


def _check_alarms_exist(params: DeploymentParams, found: dict[str, AlarmState], errors: list[BlueGreenError]) -> None:
    missing = [name for name in params.alarms if name not in found]
    if missing:
        errors.append(
            ConfigurationError(
                "ALARMS: no CloudWatch alarm (metric or composite) named "
                + ", ".join(repr(name) for name in missing)
                + " in the function's account and region; create it, or fix the name (names are case-sensitive). A "
                'composite alarm is listed only if the role has cloudwatch:DescribeAlarms on Resource "*"'
            )
        )


def _check_integration(params: DeploymentParams, group: SpotGroup, errors: list[BlueGreenError]) -> None:
    pair = (params.application, params.deployment_group)
    if pair in group.codedeploy_groups:
        return
    configured = ", ".join(f"{a}/{g}" for a, g in group.codedeploy_groups) or "none"
    errors.append(
        ConfigurationError(
            f"APP_NAME/DEPLOYMENT_GROUP: {pair[0]}/{pair[1]} is not in Elastigroup {params.group_id}'s CodeDeploy "
            f"integration (configured: {configured}); add it under the group's Integrations > CodeDeploy, or fix "
            "the parameters"
        )
    )


def _check_deployment_group(params: DeploymentParams, info: DeploymentGroupInfo, errors: list[BlueGreenError]) -> None:
    where = f"DEPLOYMENT_GROUP: {params.application}/{params.deployment_group}"
    if not info.blue_green:
        errors.append(
            ConfigurationError(
                f"{where} is an in-place deployment group; the Elastigroup flow needs a blue/green group "
                "(deployment type BLUE_GREEN) whose replacement instances are found by tag"
            )
        )
    elif info.green_provisioning == "COPY_AUTO_SCALING_GROUP":
        errors.append(
            ConfigurationError(
                f"{where} provisions its green fleet by copying an Auto Scaling group; the Elastigroup flow needs "
                "'Manually provision instances' (greenFleetProvisioningOption DISCOVER_EXISTING)"
            )
        )


def _check_no_other_deployment(
    params: DeploymentParams, others: list[SpotDeployment], errors: list[BlueGreenError]
) -> None:
    if others:
        running = ", ".join(f"{d.deployment_id} ({d.state or '?'}/{d.status or '?'})" for d in others)
        errors.append(
            ConfigurationError(
                f"GROUP_ID: Elastigroup {params.group_id} already runs a blue/green deployment: {running}; "
                "wait for it to finish or stop it in the Spot console (bluegreen leaves it alone)"
            )
        )


def _expected_greens(params: DeploymentParams, group: SpotGroup, spot: SpotReads, errors: list[BlueGreenError]) -> int:
    if group.capacity_unit not in ("instance", "weight"):
        errors.append(
            ConfigurationError(
                f"GROUP_ID: Elastigroup {params.group_id} has capacity unit {group.capacity_unit!r}; bluegreen "
                "knows 'instance' and 'weight' only, so it cannot tell how many green instances to wait for"
            )
        )
        return 0
    if group.capacity_target and group.capacity_unit == "instance":
        return group.capacity_target
    # With unit "weight" the target is a sum of instance weights (Spot's OpenAPI elastigroupCreate.yaml), not a
    # count: the green fleet mirrors the instances the group runs now, which /status lists.
    try:
        running = spot.count_group_instances(params.group_id)
    except BlueGreenError as exc:
        errors.append(exc)
        return 0
    if not running:
        target = (
            f"a weighted capacity (target weight {group.capacity_target})"
            if group.capacity_unit == "weight"
            else "a capacity target of 0"
        )
        errors.append(
            ConfigurationError(
                f"GROUP_ID: Elastigroup {params.group_id} has {target} and no running instances, "
                "so bluegreen cannot tell how many green instances to wait for; scale the group up first"
            )
        )
    return running
