"""What the run's last look at the world saw (bluegreen/observation.py): the readings the flow's rules share."""

from __future__ import annotations

import pytest

from bluegreen.aws import DeploymentProgress, InstanceHealth
from bluegreen.observation import Observation


def test_running_ready_and_not_ready_are_read_apart() -> None:
    seen = Observation(
        greens=(
            InstanceHealth("i-1", "running", status_checks_ok=True),
            InstanceHealth("i-2", "running", status_checks_ok=False, detail="initializing"),
            InstanceHealth("i-3", "pending", status_checks_ok=False),
        )
    )

    assert [i.instance_id for i in seen.running] == ["i-1", "i-2"]
    assert [i.instance_id for i in seen.ready] == ["i-1"]
    assert [i.instance_id for i in seen.not_ready] == ["i-2", "i-3"]
    assert seen.green_ids == ["i-1", "i-2", "i-3"]


@pytest.mark.parametrize(
    ("status", "deployed", "over"),
    [
        (None, False, False),
        ("InProgress", False, False),
        ("Succeeded", True, True),
        ("Failed", False, True),
        ("Stopped", False, True),
    ],
)
def test_only_a_codedeploy_success_seen_means_the_release_is_live(
    status: str | None, deployed: bool, over: bool
) -> None:
    seen = Observation(codedeploy=DeploymentProgress("d-1", status) if status else None)

    assert (seen.deployed, seen.codedeploy_over) == (deployed, over)


def test_nothing_is_seen_before_the_first_look() -> None:
    seen = Observation()

    assert (seen.spot_running, seen.greens, seen.codedeploy, dict(seen.alarms)) == (False, (), None, {})
