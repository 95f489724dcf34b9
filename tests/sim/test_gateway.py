"""The AWS gateway answers real boto3 clients in AWS's wire formats, for the calls moto lacks too."""

from __future__ import annotations

import uuid

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from bluegreen_sim.behaviour import DeployBehaviour
from bluegreen_sim.cloud import BUCKET, KEY, Cloud, Pipeline
from bluegreen_sim.elastigroup import GREEN_TAG

S3_REVISION = {"revisionType": "S3", "s3Location": {"bucket": BUCKET, "key": KEY, "bundleType": "zip"}}


def client(cloud: Cloud, service: str):
    return boto3.session.Session().client(
        service,
        endpoint_url=cloud.gateway.url,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=Config(retries={"max_attempts": 1}),
    )


def error_code(exc: pytest.ExceptionInfo[ClientError]) -> str:
    return exc.value.response["Error"]["Code"]


@pytest.fixture(scope="module")
def failing(cloud: Cloud) -> Pipeline:
    return cloud.add_pipeline(instances=2, deploy=DeployBehaviour(fail_instance=0, fail_event="Install"))


@pytest.fixture(scope="module")
def passing(cloud: Cloud) -> Pipeline:
    return cloud.add_pipeline(instances=2)


def deploy(cloud: Cloud, pipeline: Pipeline, value: str, *, greens: int = 2) -> str:
    if greens:
        cloud.fleet.launch(greens, {GREEN_TAG: value}, running=True)
    return client(cloud, "codedeploy").create_deployment(
        applicationName=pipeline.app_name,
        deploymentGroupName=pipeline.deployment_group,
        revision=S3_REVISION,
        targetInstances={"tagFilters": [{"Key": GREEN_TAG, "Value": value, "Type": "KEY_AND_VALUE"}]},
    )["deploymentId"]


def test_create_deployment_without_matching_instances_is_refused(cloud, passing):
    with pytest.raises(ClientError) as exc:
        deploy(cloud, passing, "nobody-has-this", greens=0)
    assert error_code(exc) == "InvalidTargetInstancesException"


def test_deployment_lifecycle_targets_and_stop(cloud, passing):
    cd = client(cloud, "codedeploy")
    deployment_id = deploy(cloud, passing, "gw-stop")
    assert deployment_id.startswith("d-")
    assert len(deployment_id) == 11
    assert cd.get_deployment(deploymentId=deployment_id)["deploymentInfo"]["status"] == "Created"
    with pytest.raises(ClientError) as exc:
        cd.list_deployment_targets(deploymentId=deployment_id)
    assert error_code(exc) == "DeploymentNotStartedException"
    with pytest.raises(ClientError) as exc:
        deploy(cloud, passing, "gw-second")
    assert error_code(exc) == "DeploymentLimitExceededException"

    cloud.clock.sleep(20)
    info = cd.get_deployment(deploymentId=deployment_id)["deploymentInfo"]
    assert info["status"] == "InProgress"
    assert info["deploymentOverview"]["InProgress"] == 1
    assert "errorInformation" not in info
    target_ids = cd.list_deployment_targets(deploymentId=deployment_id)["targetIds"]
    assert len(target_ids) == 2
    targets = cd.batch_get_deployment_targets(deploymentId=deployment_id, targetIds=target_ids)["deploymentTargets"]
    first = targets[0]["instanceTarget"]
    assert targets[0]["deploymentTargetType"] == "InstanceTarget"
    assert first["instanceLabel"] == "Green"
    assert [e["lifecycleEventName"] for e in first["lifecycleEvents"]][:2] == ["ApplicationStop", "DownloadBundle"]
    assert first["lifecycleEvents"][0]["status"] == "Succeeded"

    assert cd.stop_deployment(deploymentId=deployment_id, autoRollbackEnabled=True)["status"] == "Succeeded"
    assert cd.get_deployment(deploymentId=deployment_id)["deploymentInfo"]["status"] == "Stopped"
    with pytest.raises(ClientError) as exc:
        cd.stop_deployment(deploymentId=deployment_id)
    assert error_code(exc) == "DeploymentAlreadyCompletedException"


def test_failed_deployment_has_error_information_and_script_diagnostics(cloud, failing):
    cd = client(cloud, "codedeploy")
    deployment_id = deploy(cloud, failing, "gw-fail")
    cloud.clock.sleep(120)
    info = cd.get_deployment(deploymentId=deployment_id)["deploymentInfo"]
    assert info["status"] == "Failed"
    assert info["errorInformation"]["code"] == "HEALTH_CONSTRAINTS"
    assert info["deploymentOverview"]["Failed"] == 1
    assert info["deploymentOverview"]["Skipped"] == 1
    batch = cd.batch_get_deployments(deploymentIds=[deployment_id])["deploymentsInfo"]
    assert batch[0]["errorInformation"]["code"] == "HEALTH_CONSTRAINTS"
    ids = cd.list_deployment_targets(deploymentId=deployment_id)["targetIds"]
    targets = cd.batch_get_deployment_targets(deploymentId=deployment_id, targetIds=ids)["deploymentTargets"]
    failed = [t["instanceTarget"] for t in targets if t["instanceTarget"]["status"] == "Failed"]
    event = next(e for e in failed[0]["lifecycleEvents"] if e["status"] == "Failed")
    assert event["lifecycleEventName"] == "Install"
    assert event["diagnostics"]["errorCode"] == "ScriptFailed"
    assert event["diagnostics"]["logTail"]


def test_batch_get_deployment_targets_refuses_more_than_25(cloud, failing):
    cd = client(cloud, "codedeploy")
    deployment_id = next(iter(cloud.codedeploy.deployments))
    with pytest.raises(ClientError) as exc:
        cd.batch_get_deployment_targets(deploymentId=deployment_id, targetIds=[f"i-{n:017x}" for n in range(26)])
    assert error_code(exc) == "DeploymentTargetListSizeExceededException"


def test_get_deployment_config(cloud):
    cd = client(cloud, "codedeploy")
    info = cd.get_deployment_config(deploymentConfigName="CodeDeployDefault.OneAtATime")["deploymentConfigInfo"]
    assert info["minimumHealthyHosts"] == {"type": "HOST_COUNT", "value": 1}
    with pytest.raises(ClientError) as exc:
        cd.get_deployment_config(deploymentConfigName="Nope")
    assert error_code(exc) == "DeploymentConfigDoesNotExistException"


def test_job_results_follow_codepipeline_rules(cloud):
    cp = client(cloud, "codepipeline")
    with pytest.raises(ClientError) as exc:
        cp.put_job_success_result(jobId=str(uuid.uuid4()))
    assert error_code(exc) == "JobNotFoundException"

    job_id = str(uuid.uuid4())
    cloud.jobs.create(job_id)
    with pytest.raises(ClientError) as exc:
        cp.put_job_success_result(jobId=job_id, continuationToken="t", outputVariables={"A": "b"})
    assert error_code(exc) == "ValidationException"
    with pytest.raises(ClientError) as exc:
        cp.put_job_failure_result(jobId=job_id, failureDetails={"type": "Oops", "message": "m"})
    assert error_code(exc) == "ValidationException"

    cp.put_job_success_result(
        jobId=job_id, continuationToken="state", executionDetails={"summary": "half way", "percentComplete": 50}
    )
    with pytest.raises(ClientError) as exc:
        cp.put_job_failure_result(jobId=job_id, failureDetails={"type": "JobFailed", "message": "late"})
    assert error_code(exc) == "InvalidJobStateException"
    accepted = cloud.jobs.accepted(job_id)
    assert accepted is not None
    assert accepted.request["continuationToken"] == "state"
    assert not accepted.final


def test_ec2_status_checks_follow_the_simulation(cloud):
    ec2 = client(cloud, "ec2")
    (instance_id,) = cloud.fleet.launch(1, {GREEN_TAG: "booting"}, running=False)
    cloud.fleet.boot(instance_id)
    status = ec2.describe_instance_status(InstanceIds=[instance_id], IncludeAllInstances=True)["InstanceStatuses"]
    assert status[0]["InstanceId"] == instance_id
    assert status[0]["InstanceStatus"]["Status"] == "initializing"
    cloud.fleet.set_checks(instance_id, "ok")
    status = ec2.describe_instance_status(InstanceIds=[instance_id], IncludeAllInstances=True)["InstanceStatuses"]
    assert status[0]["InstanceStatus"]["Status"] == "ok"
    found = ec2.describe_instances(Filters=[{"Name": "tag:GreenIdentifier", "Values": ["booting"]}])
    assert [i["InstanceId"] for r in found["Reservations"] for i in r["Instances"]] == [instance_id]
