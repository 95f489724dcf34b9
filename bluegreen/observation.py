"""What the run's last look at the world saw: one value, replaced at each read, never edited.

Owns the reading of those facts that more than one rule needs: which greens are running and which passed their
status checks, whether CodeDeploy's deployment is over or live, the health gate's alarms at their last read, and
whether Spot's deployment was seen running. It makes no call: the flow (bluegreen/flow.py) reads the world
through its ports and records here what it saw; bluegreen/messages.py words it. Kept in memory only, never in
the continuation token: a new invocation starts with nothing seen.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from bluegreen.aws import AlarmState, DeploymentProgress, InstanceHealth


@dataclass(frozen=True)
class Observation:
    """What this invocation last saw of its run."""

    spot_running: bool = False  # this invocation started, or attached to, a running Spot deployment
    greens: tuple[InstanceHealth, ...] = ()  # the live green instances at the last look at the fleet
    codedeploy: DeploymentProgress | None = None  # the run's CodeDeploy deployment at its last read
    alarms: Mapping[str, AlarmState] = field(default_factory=dict)  # the health gate's alarms at their last read

    @property
    def running(self) -> tuple[InstanceHealth, ...]:
        """The live greens EC2 describes as running."""
        return tuple(i for i in self.greens if i.state == "running")

    @property
    def ready(self) -> tuple[InstanceHealth, ...]:
        """The live greens that passed both status checks."""
        return tuple(i for i in self.greens if i.status_checks_ok)

    @property
    def not_ready(self) -> tuple[InstanceHealth, ...]:
        """The live greens that have not passed both status checks yet."""
        return tuple(i for i in self.greens if not i.status_checks_ok)

    @property
    def green_ids(self) -> list[str]:
        return [i.instance_id for i in self.greens]

    @property
    def deployed(self) -> bool:
        """CodeDeploy was seen to succeed: the release is live, and Elastigroup may be retiring the blues."""
        return self.codedeploy is not None and self.codedeploy.status == "Succeeded"

    @property
    def codedeploy_over(self) -> bool:
        """CodeDeploy's deployment was seen in a final status (nothing of it left to stop)."""
        return self.codedeploy is not None and self.codedeploy.finished
