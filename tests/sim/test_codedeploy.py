"""The one CodeDeploy model's rules, called directly (no moto, no sockets): what the simulator and the tests share."""

from __future__ import annotations

import pytest

from bluegreen_sim.behaviour import DeployBehaviour
from bluegreen_sim.codedeploy import CodeDeploy
from bluegreen_sim.loopback import AwsFault
from tests.fakes.clock import FakeClock

TAGS = {"tagFilters": [{"Key": "GreenIdentifier", "Value": "g1", "Type": "KEY_AND_VALUE"}]}


def model(behaviour: DeployBehaviour, instances: int = 2, **group: str) -> tuple[FakeClock, CodeDeploy]:
    clock = FakeClock()
    codedeploy = CodeDeploy(
        clock, lambda _filters: [f"i-{n:017x}" for n in range(instances)], behaviour=lambda *_: behaviour
    )
    codedeploy.add_group("App", "DG", **group)
    return clock, codedeploy


def create(codedeploy: CodeDeploy, **request: object) -> str:
    body = {"applicationName": "App", "deploymentGroupName": "DG", "targetInstances": TAGS, **request}
    return str(codedeploy.handle("CreateDeployment", body)["deploymentId"])


def status(codedeploy: CodeDeploy, deployment_id: str) -> str:
    return str(codedeploy.handle("GetDeployment", {"deploymentId": deployment_id})["deploymentInfo"]["status"])


def advance(clock: FakeClock, seconds: float) -> None:
    clock.advance(seconds)
    clock.run_due_events()


def test_a_deployment_with_a_duration_ends_exactly_that_long_after_its_creation() -> None:
    clock, codedeploy = model(DeployBehaviour(duration=400))
    deployment_id = create(codedeploy)

    assert status(codedeploy, deployment_id) == "Created"
    advance(clock, 399.9)
    assert status(codedeploy, deployment_id) == "InProgress"
    advance(clock, 0.1)
    assert status(codedeploy, deployment_id) == "Succeeded"


def test_a_failing_script_fails_the_deployment_at_its_duration_with_diagnostics_and_error_information() -> None:
    clock, codedeploy = model(DeployBehaviour(duration=30, fail_instance=0, log_tail="boom\n"), instances=3)
    deployment_id = create(codedeploy)
    advance(clock, 30)

    info = codedeploy.handle("GetDeployment", {"deploymentId": deployment_id})["deploymentInfo"]
    assert info["status"] == "Failed"
    assert info["errorInformation"]["code"] == "HEALTH_CONSTRAINTS"
    assert info["deploymentOverview"] == {
        "Pending": 0,
        "InProgress": 0,
        "Succeeded": 0,
        "Failed": 1,
        "Skipped": 2,
        "Ready": 0,
    }
    failed = codedeploy.handle(
        "ListDeploymentTargets", {"deploymentId": deployment_id, "targetFilters": {"TargetStatus": ["Failed"]}}
    )["targetIds"]
    assert len(failed) == 1
    (target,) = codedeploy.handle("BatchGetDeploymentTargets", {"deploymentId": deployment_id, "targetIds": failed})[
        "deploymentTargets"
    ]
    event = next(e for e in target["instanceTarget"]["lifecycleEvents"] if e["status"] == "Failed")
    assert event["lifecycleEventName"] == "AfterInstall"
    assert event["diagnostics"]["logTail"] == "boom\n"


def test_a_zero_length_deployment_of_many_instances_is_final_when_created() -> None:
    _, codedeploy = model(DeployBehaviour(duration=0), instances=500)

    assert status(codedeploy, create(codedeploy)) == "Succeeded"


def test_deployment_info_echoes_what_create_deployment_was_given() -> None:
    _, codedeploy = model(DeployBehaviour(duration=10))
    revision = {"revisionType": "S3", "s3Location": {"bucket": "b", "key": "k", "bundleType": "zip"}}
    deployment_id = create(codedeploy, revision=revision, description="[GreenIdentifier=g1] release")

    info = codedeploy.handle("GetDeployment", {"deploymentId": deployment_id})["deploymentInfo"]
    assert (info["applicationName"], info["deploymentGroupName"]) == ("App", "DG")
    assert info["targetInstances"] == TAGS
    assert info["description"] == "[GreenIdentifier=g1] release"
    assert info["revision"] == revision
    assert "errorInformation" not in info


def test_list_deployments_names_the_groups_deployments_newest_first() -> None:
    clock, codedeploy = model(DeployBehaviour(duration=0))
    codedeploy.add_group("App", "Other")
    codedeploy.record("d-OTHERGRP1", {"applicationName": "App", "deploymentGroupName": "Other"}, status="Succeeded")
    first = create(codedeploy)
    advance(clock, 1)
    second = create(codedeploy)

    listed = codedeploy.handle("ListDeployments", {"applicationName": "App", "deploymentGroupName": "DG"})
    assert listed["deployments"] == [second, first]


@pytest.mark.parametrize(
    ("request_", "code"),
    [
        ({"applicationName": "Nope", "deploymentGroupName": "DG"}, "ApplicationDoesNotExistException"),
        ({"applicationName": "App", "deploymentGroupName": "Nope"}, "DeploymentGroupDoesNotExistException"),
        ({"deploymentGroupName": "DG"}, "ApplicationNameRequiredException"),
    ],
)
def test_an_unknown_application_or_group_is_refused_with_codedeploys_code(request_: dict[str, str], code: str) -> None:
    _, codedeploy = model(DeployBehaviour())

    with pytest.raises(AwsFault) as exc:
        codedeploy.handle("GetDeploymentGroup", request_)
    assert exc.value.code == code


def test_targets_cannot_be_named_for_an_in_place_group() -> None:
    _, codedeploy = model(DeployBehaviour(), deployment_type="IN_PLACE")

    with pytest.raises(AwsFault) as exc:
        create(codedeploy)
    assert exc.value.code == "InvalidTargetInstancesException"
    info = codedeploy.handle("GetDeploymentGroup", {"applicationName": "App", "deploymentGroupName": "DG"})
    assert "blueGreenDeploymentConfiguration" not in info["deploymentGroupInfo"]


def test_a_deployment_someone_stops_ends_stopped_without_a_stop_call() -> None:
    clock, codedeploy = model(DeployBehaviour(duration=60, stopped_by_someone=True))
    deployment_id = create(codedeploy)
    advance(clock, 60)

    assert status(codedeploy, deployment_id) == "Stopped"
    assert not codedeploy.deployments[deployment_id].stopped
    with pytest.raises(AwsFault) as exc:
        codedeploy.handle("StopDeployment", {"deploymentId": deployment_id})
    assert exc.value.code == "DeploymentAlreadyCompletedException"
