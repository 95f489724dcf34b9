"""What the flow needs from Spot and AWS, as small Protocols (ports).

Owns the list of calls `Deployment` (flow.py) and the preflight checks make, with their types; nothing else.
`SpotClient` (spot.py) and `AwsGateway` (aws.py) satisfy these structurally, without naming them: the handler, the
composition root, passes the real ones, and mypy --strict checks it (`_real_clients_satisfy_the_ports` below says
so explicitly). Unit tests of the state machine pass small in-memory fakes of the same ports (tests/flow/). A new
call the flow makes is added here first, then to the client that serves it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Protocol

from bluegreen.aws import (
    AlarmState,
    DeploymentGroupInfo,
    DeploymentProgress,
    GreenDeployment,
    InstanceHealth,
    TargetFailure,
)
from bluegreen.domain import Revision, S3Revision
from bluegreen.spot import SpotDeployment, SpotGroup

if TYPE_CHECKING:
    from bluegreen.aws import AwsGateway
    from bluegreen.spot import SpotClient


class SpotReads(Protocol):
    """The Spot reads preflight makes (it changes nothing)."""

    def get_group(self, group_id: str) -> SpotGroup:
        """The Elastigroup's name, capacity and CodeDeploy integration."""
        ...

    def list_deployments(self, group_id: str) -> list[SpotDeployment]:
        """The group's blue/green deployments, in Spot's order."""
        ...

    def count_group_instances(self, group_id: str) -> int:
        """How many instances the group runs now (the green count of a weighted group)."""
        ...


class SpotPort(SpotReads, Protocol):
    """Everything `Deployment` asks of Spot: the reads, and starting and stopping a blue/green deployment."""

    def find_deployment_by_tag(self, group_id: str, key: str, value: str) -> SpotDeployment | None:
        """The first listed deployment started with the tag `key=value`."""
        ...

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
        """Start a blue/green deployment tagged `tag_key=tag_value` (and `extra_tags`)."""
        ...

    def stop_deployment(self, group_id: str, deployment_id: str) -> bool:
        """Stop a deployment; False when it had already ended."""
        ...


class AwsChecks(Protocol):
    """The AWS reads preflight makes (it changes nothing)."""

    def describe_deployment_group(self, application: str, deployment_group: str) -> DeploymentGroupInfo:
        """The CodeDeploy deployment group's type and green provisioning."""
        ...

    def check_revision_exists(self, revision: S3Revision) -> None:
        """Raises unless the S3 revision exists and may be read."""
        ...

    def alarm_states(self, names: Sequence[str]) -> dict[str, AlarmState]:
        """The states of the named CloudWatch alarms (a name missing from the result does not exist)."""
        ...


class AwsPort(AwsChecks, Protocol):
    """Everything `Deployment` asks of AWS: EC2 for the greens, CodeDeploy, CloudWatch alarms."""

    def find_green_instances(self, green: str) -> list[InstanceHealth]:
        """The live instances tagged GreenIdentifier=`green`, with their status checks."""
        ...

    def instance_health(self, instance_ids: list[str]) -> list[InstanceHealth]:
        """The state and status checks of known instances (one that went away is listed as not alive)."""
        ...

    def find_deployment_for_green(
        self, application: str, deployment_group: str, green: str, *, created_since: int
    ) -> GreenDeployment | None:
        """A CodeDeploy deployment already created for this green fleet, if any."""
        ...

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
        """Create a CodeDeploy deployment onto the instances tagged GreenIdentifier=`green`; its id."""
        ...

    def deployment_progress(self, deployment_id: str) -> DeploymentProgress:
        """The deployment's status, instance counts and owner fields."""
        ...

    def stop_deployment(self, deployment_id: str) -> bool:
        """Stop a deployment with rollback; False when it had already ended."""
        ...

    def failed_targets(self, deployment_id: str, *, limit: int = 3) -> list[TargetFailure]:
        """The first failed instances' lifecycle events, for the failure message."""
        ...


if TYPE_CHECKING:

    def _real_clients_satisfy_the_ports(spot: SpotClient, aws: AwsGateway) -> tuple[SpotPort, AwsPort]:
        return spot, aws  # mypy --strict fails here the day a real client stops serving a port
