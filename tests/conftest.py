"""Shared fixtures: a fake cloud at every boundary the function talks to.

- Spot: bluegreen_sim's Spot emulator through `responses` (tests/fakes/spot.py), its Elastigroup launching greens
  into moto's EC2.
- EC2, S3, CloudWatch, Secrets Manager, SSM: moto, in-process.
- CodeDeploy: bluegreen_sim's one CodeDeploy model (tests/fakes/codedeploy.py: a Script per deployment, faults),
  finding its targets in moto's EC2.
- CodePipeline: bluegreen_sim's one model (`bluegreen_sim.codepipeline.JobStore`: jobs, reports and their refusal,
  the pipeline and action executions, the events) behind tests/fakes/codepipeline.py, which adds only fault
  injection; `Cloud.job_event` makes each job in it, as CodePipeline would, before the event is delivered.
  Both are served on 127.0.0.1 by bluegreen_sim.loopback.AwsJsonServer (moto lacks the calls we need) and reached
  through the standard AWS_ENDPOINT_URL_* variables.
Time is a FakeClock: the handler's sleeps advance it and move the fake world.
"""

from __future__ import annotations

import io
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import pytest
import responses
from moto import mock_aws
from moto.core.base_backend import AccountSpecificBackend
from moto.ec2.models.subnets import Subnet

from bluegreen.handler import create_handler
from bluegreen_sim.loopback import AwsJsonServer
from tests.fakes.clock import FakeClock, FakeLambdaContext
from tests.fakes.codedeploy import FakeCodeDeploy
from tests.fakes.codepipeline import ActionExecution, FakeCodePipeline, Report
from tests.fakes.spot import FakeSpot

CANARY_TOKEN = "canary-TOKEN-5f1e2d3c"
TOKEN_KEY_SECRET = "bluegreen/token-key"
TOKEN_KEY = "canary-token-signing-key-0123456789abcdef0123"
HANDLER_ENVIRONMENT = {
    "BLUEGREEN_POLL_INTERVAL": "15",
    "BLUEGREEN_SAFETY_MARGIN": "30",
    "BLUEGREEN_TOKEN_KEY_SECRET": TOKEN_KEY_SECRET,
}


def create_token_key(secretsmanager: Any) -> None:
    """The function's signing key, in the fake world's Secrets Manager."""
    secretsmanager.create_secret(Name=TOKEN_KEY_SECRET, SecretString=TOKEN_KEY)


ACCOUNT_ID = "act-1234abcd"
GROUP_ID = "sig-1234abcd"
ARTIFACT_BUCKET = "codepipeline-us-east-1-123456789012"
BUILD_ARTIFACT_KEY = "storefront/BuildArtif/Xk3Lq9Z"
# The pipeline's temporary credentials for its artifact store: canaries, searched for in every output.
ARTIFACT_CREDENTIALS = {
    "accessKeyId": "ASIACANARYARTIFACTKEY",
    "secretAccessKey": "canary-ARTIFACT-SECRET-7a6b5c4d",
    "sessionToken": "canary-ARTIFACT-SESSION-9e8f7a6b",
}
# The temporary credentials GetJobDetails returns with a job's JobData: canaries too.
JOB_DETAILS_CREDENTIALS = {
    "accessKeyId": "ASIAFAKEJOBDETAILS01",
    "secretAccessKey": "JOB-DETAILS-SECRET-CREDS",
    "sessionToken": "JOB-DETAILS-SESSION",
}


def input_artifact(
    name: str = "BuildArtifact", key: str = BUILD_ARTIFACT_KEY, revision: str | None = None
) -> dict[str, Any]:
    """One `data.inputArtifacts[]` entry as CodePipeline sends it."""
    return {
        "name": name,
        "revision": revision,
        "location": {"type": "S3", "s3Location": {"bucketName": ARTIFACT_BUCKET, "objectKey": key}},
    }


def artifact_parameters(**overrides: Any) -> dict[str, Any]:
    """UserParameters that name no revision: the action's input artifact is deployed."""
    return user_parameters(**{"S3_BUCKET": None, "S3_KEY": None, "S3_BUNDLE": None, **overrides})


def user_parameters(**overrides: Any) -> dict[str, Any]:
    """UserParameters for the fake cloud's group, application and revision; an override of None drops a key."""
    params: dict[str, Any] = {
        "API_TOKEN": CANARY_TOKEN,
        "ACCOUNT_ID": ACCOUNT_ID,
        "GROUP_ID": GROUP_ID,
        "APP_NAME": "App",
        "DEPLOYMENT_GROUP": "DG",
        "TIMEOUT": 1800,
        "S3_BUCKET": "revisions",
        "S3_KEY": "app/v2.zip",
        "S3_BUNDLE": "zip",
    }
    params.update(overrides)
    return {k: v for k, v in params.items() if v is not None}


@pytest.fixture(autouse=True)
def _release_moto_backends() -> Iterator[None]:
    """After each test, drop what keeps its moto backends alive: two caches on moto's classes, keyed by instance
    (`functools.cache` on `Subnet._base_avail_ip_iterator`, `lru_cache(128)` on
    `AccountSpecificBackend._generate_regions`; moto 5.2.5). Without this every test's EC2 world (moto's 1300
    default AMIs, the VPC, the instances) stays in memory: a worker grew by tens of MB per test, and the garbage
    collector's full passes slowed every later test."""
    yield
    Subnet._base_avail_ip_iterator.cache_clear()
    AccountSpecificBackend._generate_regions.cache_clear()


@pytest.fixture(scope="session")
def codedeploy_server() -> Iterator[AwsJsonServer]:
    server = AwsJsonServer(FakeCodeDeploy(FakeClock()))
    yield server
    server.close()


@pytest.fixture(scope="session")
def codepipeline_server() -> Iterator[AwsJsonServer]:
    server = AwsJsonServer(FakeCodePipeline())
    yield server
    server.close()


FAKE_AWS_ENVIRONMENT = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_REGION": "us-east-1",
}


@pytest.fixture
def aws_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in FAKE_AWS_ENVIRONMENT.items():
        monkeypatch.setenv(name, value)


@pytest.fixture
def no_aws_setup(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """A machine with no AWS credentials, region or config files (and no instance metadata to ask)."""
    for name in list(os.environ):
        if name.startswith("AWS_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")


@dataclass
class Cloud:
    clock: FakeClock
    spot: FakeSpot
    codedeploy: FakeCodeDeploy
    codepipeline: FakeCodePipeline
    ec2: Any
    s3: Any
    log_stream: io.StringIO
    environ: dict[str, str]
    action: ActionExecution
    cloudwatch: Any = None
    boto3_session: Any = None  # a session whose botocore events a test hooks (tests/fakes/cloudwatch.py)
    results: list[dict[str, Any] | None] = field(default_factory=list)
    invocations: int = 0

    def params(self, **overrides: Any) -> dict[str, Any]:
        return user_parameters(**overrides)

    def handler(self) -> Any:
        return create_handler(
            clock=self.clock, environ=self.environ, log_stream=self.log_stream, boto3_session=self.boto3_session
        )

    def job_event(
        self,
        params: dict[str, Any] | str,
        job_id: str,
        continuation: str | None = None,
        artifacts: list[dict[str, Any]] | None = None,
        *,
        action: ActionExecution | None = None,
    ) -> dict[str, Any]:
        """The event of a job of `action` (the cloud's current action execution by default), known to CodePipeline."""
        user_parameters = params if isinstance(params, str) else json.dumps(params)
        action = action or self.action
        action.user_parameters = user_parameters
        action.input_artifacts = list(artifacts or [])
        self.codepipeline.add_job(job_id, action, continuation, JOB_DETAILS_CREDENTIALS)
        data: dict[str, Any] = {
            "actionConfiguration": {"configuration": {"FunctionName": "bluegreen", "UserParameters": user_parameters}},
            "inputArtifacts": artifacts or [],
            "outputArtifacts": [],
            "artifactCredentials": dict(ARTIFACT_CREDENTIALS),
        }
        if continuation is not None:
            data["continuationToken"] = continuation
        return {"CodePipeline.job": {"id": job_id, "accountId": "123456789012", "data": data}}

    def invoke(
        self, event: Any, *, budget: float = 900.0, handler: Any = None, context: FakeLambdaContext | None = None
    ) -> dict[str, Any] | None:
        self.invocations += 1
        context = context or FakeLambdaContext(self.clock, budget, request_id=f"req-{self.invocations}")
        result = (handler or self.handler())(event, context)
        self.results.append(result)
        return result

    def run_pipeline(
        self,
        params: dict[str, Any] | str,
        *,
        budget: float = 900.0,
        max_invocations: int = 20,
        artifacts: list[dict[str, Any]] | None = None,
        handler: Any = None,
    ) -> Report:
        """Invoke like CodePipeline does: again with the continuation token (new job id) until a final report.

        Every job of the run carries the same input artifacts (and fresh artifact credentials), as CodePipeline's
        JobData does for each job of an action, continuations included.
        """
        handler = handler or self.handler()
        event = self.job_event(params, "job-0001", artifacts=artifacts)
        for n in range(1, max_invocations + 1):
            before = len(self.codepipeline.reports)
            self.invoke(event, budget=budget, handler=handler)
            assert len(self.codepipeline.reports) == before + 1, "each invocation reports exactly once"
            report = self.codepipeline.reports[-1]
            if report.kind != "in_progress":
                return report
            self.clock.advance(10)  # CodePipeline's delay before it calls again
            event = self.job_event(params, f"job-{n + 1:04d}", report.body["continuationToken"], artifacts)
        raise AssertionError(f"no final report after {max_invocations} invocations")

    def green_instances(self, states: tuple[str, ...] = ("pending", "running")) -> list[str]:
        reply = self.ec2.describe_instances(
            Filters=[
                {"Name": "tag-key", "Values": ["GreenIdentifier"]},
                {"Name": "instance-state-name", "Values": list(states)},
            ]
        )
        return [i["InstanceId"] for r in reply["Reservations"] for i in r["Instances"]]

    @property
    def logs(self) -> str:
        return self.log_stream.getvalue()


@pytest.fixture
def cloud(
    aws_environment: None,
    monkeypatch: pytest.MonkeyPatch,
    codedeploy_server: AwsJsonServer,
    codepipeline_server: AwsJsonServer,
) -> Iterator[Cloud]:
    monkeypatch.setenv("AWS_ENDPOINT_URL_CODEDEPLOY", codedeploy_server.url)
    monkeypatch.setenv("AWS_ENDPOINT_URL_CODEPIPELINE", codepipeline_server.url)
    clock = FakeClock()
    with mock_aws(), responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        rsps.add_passthru("http://127.0.0.1")  # loopback endpoints that tests start themselves
        ec2 = boto3.client("ec2", region_name="us-east-1")
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket="revisions")
        s3.put_object(Bucket="revisions", Key="app/v2.zip", Body=b"PK-fake-bundle")
        s3.create_bucket(Bucket=ARTIFACT_BUCKET)
        s3.put_object(Bucket=ARTIFACT_BUCKET, Key=BUILD_ARTIFACT_KEY, Body=b"PK-fake-build-artifact")
        create_token_key(boto3.client("secretsmanager", region_name="us-east-1"))

        spot = FakeSpot(rsps, token=CANARY_TOKEN, account_id=ACCOUNT_ID, group_id=GROUP_ID, clock=clock, ec2=ec2)
        clock.on_advance.append(spot.tick)
        codedeploy = FakeCodeDeploy(clock, ec2)
        codepipeline = FakeCodePipeline(clock)
        codedeploy_server.service = codedeploy
        codepipeline_server.service = codepipeline
        yield Cloud(
            clock=clock,
            spot=spot,
            codedeploy=codedeploy,
            codepipeline=codepipeline,
            action=codepipeline.start_action(),
            ec2=ec2,
            s3=s3,
            cloudwatch=boto3.client("cloudwatch", region_name="us-east-1"),
            log_stream=io.StringIO(),
            environ=dict(HANDLER_ENVIRONMENT),
        )
