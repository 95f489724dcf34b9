"""The simulated cloud: composition root of the simulator.

Owns starting and stopping everything on 127.0.0.1 (moto's ThreadedMotoServer, the AWS gateway in front of it
and of the CodeDeploy model, the Spot emulator), the process environment the handler's boto3 clients read
(restored on close), and the resources of each simulated pipeline (Elastigroup with its blue instances, CodeDeploy
application and blue/green deployment group in the CodeDeploy model, S3 revision, UserParameters), and each pipeline
execution's Source and Build stages: a source zip and a build zip in the pipeline's artifact store, the build
handed to the deploy action as its input artifact. Several pipelines may share one cloud.

moto keeps its state in process-wide backends, so only one `Cloud` may be open per process at a time; it
resets moto when it starts.
"""

from __future__ import annotations

import hashlib
import http.client
import json
import logging
import os
import random
import threading
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import TracebackType
from typing import IO, Any, Literal, cast

import boto3
from moto.server import ThreadedMotoServer

from bluegreen_sim.awscalls import AwsCallRecorder
from bluegreen_sim.behaviour import DeployBehaviour
from bluegreen_sim.clock import SimClock
from bluegreen_sim.codedeploy import CodeDeploy, Deployment
from bluegreen_sim.codepipeline import LAMBDA_SECONDS, JobStore, PipelineDriver
from bluegreen_sim.ec2fleet import ACCOUNT, REGION, Fleet
from bluegreen_sim.elastigroup import GREEN_TAG, GROUP_TAG, Elastigroups, Group, GroupBehaviour
from bluegreen_sim.gateway import AwsGateway
from bluegreen_sim.logcapture import LogCapture
from bluegreen_sim.spot import RateLimiter, SpotEmulator

Revision = Literal["artifact", "s3", "github"]
REVISIONS: tuple[Revision, ...] = ("artifact", "s3", "github")
TokenSource = Literal["params", "secret", "parameter"]
SECRET_NAME = "bluegreen/spot-api-token"  # noqa: S105 - a name, not a secret
TOKEN_KEY_SECRET = "bluegreen/token-key"  # noqa: S105 - the name of the continuation tokens' signing key
PARAMETER_NAME = "/bluegreen/spot-api-token"
BUCKET = "bluegreen-sim-artifacts"
KEY = "releases/app-1.4.2.zip"
GITHUB_REPO = "example-org/storefront"
COMMIT_ID = "3f2c9a1b7d4e6f8091a2b3c4d5e6f708192a3b4c"
# The pipeline's artifact store, named as the console names it (codepipeline-<region>-<account>).
ARTIFACT_BUCKET = f"codepipeline-{REGION}-{ACCOUNT}"
BUILD_ARTIFACT = "BuildArtifact"
_KEY_CHARS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
_ENV_SERVICES = ("EC2", "CODEDEPLOY", "CODEPIPELINE", "S3", "SECRETS_MANAGER", "SSM", "CLOUDWATCH")
_lock = threading.Lock()
_open_cloud: list[Cloud] = []


@dataclass(frozen=True)
class Build:
    """One execution's Build output: a zip in the artifact store, built from one source commit."""

    label: str
    key: str
    commit: str

    def input_artifact(self) -> dict[str, Any]:
        """The deploy action's `data.inputArtifacts[]` entry, as CodePipeline sends it."""
        return {
            "name": BUILD_ARTIFACT,
            "revision": self.commit,
            "location": {"type": "S3", "s3Location": {"bucketName": ARTIFACT_BUCKET, "objectKey": self.key}},
        }

    @property
    def location(self) -> str:
        return f"s3://{ARTIFACT_BUCKET}/{self.key}"


@dataclass
class Pipeline:
    """One simulated pipeline's resources and UserParameters."""

    name: str
    group: Group
    app_name: str
    deployment_group: str
    params: dict[str, Any]
    deploy: DeployBehaviour
    log: LogCapture | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    builds: list[Build] = field(default_factory=list)
    broken_builds: set[str] = field(default_factory=set)  # artifact keys whose bundle fails on the instances

    @property
    def user_parameters(self) -> str:
        return json.dumps(self.params)


class Cloud:
    """Everything a simulated run needs, on loopback. Use as a context manager."""

    def __init__(
        self,
        *,
        speed: float | None = None,
        spot_budget: int = 60,
        forced_429: Mapping[str, int] | None = None,
        seed: int = 0,
        poll_interval: float = 15.0,
        safety_margin: float = 30.0,
        start_time: float = 1_767_225_600.0,
    ) -> None:
        self.rng = random.Random(seed)  # noqa: S311 - determinism, not secrecy
        self.clock = SimClock(start_time, speed=speed)
        self.account_id = f"act-{self.rng.getrandbits(32):08x}"
        self.token = f"sim-canary-{self.rng.getrandbits(128):032x}"
        self.artifact_secret = f"sim-artifact-secret-{self.rng.getrandbits(64):016x}"
        self.artifact_session = f"sim-artifact-session-{self.rng.getrandbits(64):016x}"
        self.artifact_key_id = f"ASIASIMARTIFACT{self.rng.getrandbits(20):05X}"
        # The function's own AWS credentials, as Lambda gives them (the session token rides in every request's
        # x-amz-security-token header). Derived, not drawn, so the simulation's other random values stay put.
        self.aws_secret_key = "sim-canary-aws-secret-" + hashlib.sha256(f"key:{self.token}".encode()).hexdigest()[:24]
        self.aws_session_token = "sim-canary-session-" + hashlib.sha256(f"st:{self.token}".encode()).hexdigest()[:24]
        self.token_key = "sim-canary-token-key-" + hashlib.sha256(f"tk:{self.token}".encode()).hexdigest()
        self._spot_budget = spot_budget
        self._forced_429 = dict(forced_429 or {})
        self._poll_interval = poll_interval
        self._safety_margin = safety_margin
        self.pipelines: list[Pipeline] = []
        self._saved_env: dict[str, str | None] = {}
        self._moto: ThreadedMotoServer | None = None
        self.jobs = JobStore(self.clock)
        # The handlers' AWS calls, recorded on the boto3 session each one is given (setup clients are not counted).
        self.recorder = AwsCallRecorder()

    # -- lifecycle ------------------------------------------------------------------------------------
    def __enter__(self) -> Cloud:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def start(self) -> Cloud:
        """Start moto, the gateway and the Spot emulator; point the process's AWS settings at them."""
        with _lock:
            if _open_cloud:
                raise RuntimeError("another simulated Cloud is open in this process (moto state is global)")
            _open_cloud.append(self)
        try:
            return self._start()
        except BaseException:
            self.close()  # a half-started cloud must not keep the process's one slot (or its servers)
            raise

    def _start(self) -> Cloud:
        logging.getLogger("werkzeug").setLevel(logging.ERROR)
        self._moto = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        self._moto.start()
        _, port = self._moto.get_host_and_port()
        self.moto_url = f"http://127.0.0.1:{port}"
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)  # a loaded machine answers slowly
        conn.request("POST", "/moto-api/reset")
        conn.getresponse().read()
        conn.close()
        self.fleet = Fleet(self.setup_client("ec2"))
        self.groups = Elastigroups(self.clock, self.fleet, self.rng)
        self.codedeploy = CodeDeploy(
            self.clock,
            self.fleet.find_running,
            behaviour=self._deploy_behaviour,
            new_id=lambda: "d-" + uuid.UUID(int=self.groups.rng.getrandbits(128)).hex[:9].upper(),
            lock=self.groups.lock,  # one lock for the world: Elastigroup hears of CodeDeploy's deployments
            on_created=self._codedeploy_created,
            on_done=self.groups.codedeploy_done,
        )
        self.gateway = AwsGateway(
            self.clock,
            port,
            self.groups,
            self.codedeploy,
            self.jobs,
            artifact_store=(ARTIFACT_BUCKET, self.artifact_key_id),
        )
        self.gateway.start()
        self.limiter = RateLimiter(self.clock, self._spot_budget, forced=self._forced_429)
        self.spot = SpotEmulator(self.clock, self.groups, {self.token: {self.account_id}}, self.limiter)
        self.spot.start()
        s3 = self.setup_client("s3")
        s3.create_bucket(Bucket=BUCKET)
        s3.put_object(Bucket=BUCKET, Key=KEY, Body=b"PK\x05\x06" + b"\x00" * 18)
        s3.create_bucket(Bucket=ARTIFACT_BUCKET)
        self.setup_client("secretsmanager").create_secret(Name=TOKEN_KEY_SECRET, SecretString=self.token_key)
        self._set_env()
        return self

    def close(self) -> None:
        """Stop the servers and restore the environment."""
        for server in (getattr(self, "spot", None), getattr(self, "gateway", None), self._moto):
            if server is not None:
                server.stop()
        for key, value in self._saved_env.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        self._saved_env.clear()
        boto3.DEFAULT_SESSION = None
        with _lock:
            if self in _open_cloud:
                _open_cloud.remove(self)

    def _set_env(self) -> None:
        values = {
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": self.aws_secret_key,
            "AWS_SESSION_TOKEN": self.aws_session_token,
            "AWS_SECURITY_TOKEN": None,
            "AWS_PROFILE": None,
            "AWS_DEFAULT_REGION": REGION,
            "AWS_REGION": REGION,
            "AWS_EC2_METADATA_DISABLED": "true",
            "AWS_CONFIG_FILE": os.devnull,
            "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
            "AWS_ENDPOINT_URL": self.gateway.url,
        }
        values.update({f"AWS_ENDPOINT_URL_{svc}": self.gateway.url for svc in _ENV_SERVICES})
        for key, value in values.items():
            self._saved_env.setdefault(key, os.environ.get(key))
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        boto3.DEFAULT_SESSION = None

    def setup_client(self, service: str) -> Any:
        """A boto3 client straight to moto (not counted as the handler's call)."""
        session: Any = boto3.session.Session()
        return session.client(
            service,
            endpoint_url=self.moto_url,
            region_name=REGION,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",  # noqa: S106 - moto's well-known test credentials
        )

    def handler_environ(self) -> dict[str, str]:
        """The Lambda function's environment variables for the handler."""
        return {
            "SPOT_API_URL": self.spot.url,
            "BLUEGREEN_POLL_INTERVAL": str(self._poll_interval),
            "BLUEGREEN_TOKEN_KEY_SECRET": TOKEN_KEY_SECRET,
            "BLUEGREEN_SAFETY_MARGIN": str(self._safety_margin),
            "POWERTOOLS_SERVICE_NAME": "bluegreen",
            "AWS_LAMBDA_FUNCTION_NAME": "bluegreen",
        }

    # -- pipelines ------------------------------------------------------------------------------------
    def add_pipeline(
        self,
        *,
        instances: int = 4,
        revision: Revision = "artifact",
        timeout: int = 3600,
        token: str | None = None,
        token_source: TokenSource = "params",  # noqa: S107 - where the token comes from
        group: GroupBehaviour | None = None,
        deploy: DeployBehaviour | None = None,
        deployment_type: str = "BLUE_GREEN",
        alarms: int = 0,
        bake_time: int = 0,
    ) -> Pipeline:
        """Create a group with `instances` blues, its CodeDeploy app and group, `alarms` CloudWatch alarms (in OK)
        and the UserParameters."""
        n = len(self.pipelines) + 1
        app, dg = f"storefront-{n}", f"storefront-{n}-bluegreen"
        grp = self.groups.add_group(self.account_id, f"storefront-{n}", instances, app, dg, group or GroupBehaviour())
        self.codedeploy.add_group(
            app,
            dg,
            deployment_type=deployment_type,
            config_name="CodeDeployDefault.OneAtATime",
            ec2_tag_filters=[{"Key": GROUP_TAG, "Value": grp.id, "Type": "KEY_AND_VALUE"}],
        )
        token = token or self.token
        token_param: dict[str, Any] = {"API_TOKEN": token}
        if token_source == "secret":  # noqa: S105
            name = f"{SECRET_NAME}-{n}"
            self.setup_client("secretsmanager").create_secret(Name=name, SecretString=json.dumps({"token": token}))
            token_param = {"API_TOKEN_SECRET": name}
        elif token_source == "parameter":  # noqa: S105
            name = f"{PARAMETER_NAME}-{n}"
            self.setup_client("ssm").put_parameter(Name=name, Value=token, Type="SecureString")
            token_param = {"API_TOKEN_PARAMETER": name}
        params: dict[str, Any] = {
            **token_param,
            "ACCOUNT_ID": self.account_id,
            "GROUP_ID": grp.id,
            "APP_NAME": app,
            "DEPLOYMENT_GROUP": dg,
            "TIMEOUT": timeout,
        }
        alarm_names = [f"{app}-{kind}" for kind in ("5xx", "p99-latency", "errors", "saturation")[:alarms]]
        if alarm_names:
            self._create_alarms(alarm_names, grp.id)
            params["ALARMS"] = alarm_names
        if bake_time:
            params["BAKE_TIME"] = bake_time
        if revision == "s3":
            params.update(S3_BUCKET=BUCKET, S3_KEY=KEY, S3_BUNDLE="zip")
        elif revision == "github":
            params.update(GITHUB_REPO=GITHUB_REPO, COMMIT_ID=COMMIT_ID)
        # "artifact": no revision key at all; the deploy action gets the Build output as its input artifact.
        pipeline = Pipeline(f"pipeline-{n}", grp, app, dg, params, deploy or DeployBehaviour())
        pipeline.extra["alarms"] = alarm_names
        self.pipelines.append(pipeline)
        return pipeline

    def _create_alarms(self, names: list[str], group_id: str) -> None:
        cloudwatch = self.setup_client("cloudwatch")
        for name in names:
            cloudwatch.put_metric_alarm(
                AlarmName=name,
                MetricName="HTTPCode_Target_5XX_Count",
                Namespace="AWS/ApplicationELB",
                Dimensions=[{"Name": "TargetGroup", "Value": f"targetgroup/{group_id}/0123456789abcdef"}],
                Statistic="Sum",
                Period=60,
                EvaluationPeriods=1,
                Threshold=10,
                ComparisonOperator="GreaterThanThreshold",
            )
            cloudwatch.set_alarm_state(AlarmName=name, StateValue="OK", StateReason="Threshold Crossed: no datapoints")

    def fire_alarm(self, name: str, reason: str) -> None:
        """Put an alarm into ALARM (moto's SetAlarmState, as CloudWatch's own evaluation would)."""
        self.setup_client("cloudwatch").set_alarm_state(AlarmName=name, StateValue="ALARM", StateReason=reason)

    def build(self, pipeline: Pipeline, label: str, *, broken: bool = False) -> Build:
        """Run `pipeline`'s Source and Build stages once: a new source commit and its build zip in the artifact
        store, under a fresh key as CodePipeline writes them (<pipeline>/<artifact name, 10 chars>/<7 chars>).
        A `broken` build deploys, and then fails on the instances.
        """
        commit = f"{self.rng.getrandbits(160):040x}"
        suffix = "".join(self.rng.choice(_KEY_CHARS) for _ in range(7))
        key = f"{pipeline.name[:20]}/{BUILD_ARTIFACT[:10]}/{suffix}"
        body = b"PK\x05\x06" + label.encode() + b"\x00" * 18
        self.setup_client("s3").put_object(Bucket=ARTIFACT_BUCKET, Key=key, Body=body)
        build = Build(label, key, commit)
        pipeline.builds.append(build)
        if broken:
            pipeline.broken_builds.add(key)
        return build

    def _codedeploy_created(self, deployment: Deployment) -> None:
        for f in deployment.tag_filters:
            if f.get("Key") == GREEN_TAG:
                self.groups.codedeploy_started(f.get("Value", ""), deployment.deployment_id)

    @property
    def deployed_revisions(self) -> list[tuple[str, dict[str, Any]]]:
        """(deployment id, revision) of every CodeDeploy deployment, in order."""
        return [(d.deployment_id, d.request.get("revision") or {}) for d in self.codedeploy.deployments.values()]

    def _deploy_behaviour(self, app: str, dg: str, revision: Mapping[str, Any]) -> DeployBehaviour:
        for p in self.pipelines:
            if (p.app_name, p.deployment_group) == (app, dg):
                key = (revision.get("s3Location") or {}).get("key")
                if key in p.broken_builds:
                    return DeployBehaviour(fail_instance=0, fail_event="AfterInstall")  # on the first green
                return p.deploy
        return DeployBehaviour()

    def artifact_credentials(self) -> dict[str, str]:
        """The temporary credentials CodePipeline hands the action for its artifact store (canaries)."""
        return {
            "accessKeyId": self.artifact_key_id,
            "secretAccessKey": self.artifact_secret,
            "sessionToken": self.artifact_session,
        }

    def driver(
        self,
        pipeline: Pipeline,
        *,
        log: LogCapture,
        duplicate_first: bool = False,
        build: Build | None = None,
        name: str | None = None,
        lambda_seconds: float = LAMBDA_SECONDS,
        stop: str | None = None,
        kill_after_start: bool = False,
    ) -> PipelineDriver:
        """A CodePipeline driver for one execution of `pipeline`'s deploy action, invoking a fresh handler (one
        Lambda container). With `build`, the action's input artifact is that build.
        """
        from bluegreen.handler import create_handler  # noqa: PLC0415 - the simulator works without it

        pipeline.log = log
        handler = create_handler(
            clock=self.clock,
            environ=self.handler_environ(),
            log_stream=cast("IO[str]", log),
            boto3_session=self.recorder.session(),
        )
        return PipelineDriver(
            self.clock,
            self.jobs,
            handler,
            pipeline.user_parameters,
            name=name or pipeline.name,
            rng=random.Random(self.rng.getrandbits(64)),  # noqa: S311 - determinism, not secrecy
            duplicate_first=duplicate_first,
            artifact_credentials=self.artifact_credentials(),
            input_artifacts=[build.input_artifact()] if build is not None else [],
            lambda_seconds=lambda_seconds,
            stop=stop,
            kill_after_start=kill_after_start,
        )

    def settle(self, seconds: float = 300.0) -> None:
        """Let the world run on after the pipelines are done (Spot finalising, cleanup delays)."""
        with self.clock.participant("settle"):
            self.clock.sleep(seconds)

    # -- observations ---------------------------------------------------------------------------------
    def counts(self, pipeline: Pipeline) -> dict[str, int]:
        """Blues running, greens running and greens ready (status checks ok) for a pipeline's group."""
        group = pipeline.group
        blues = len(self.fleet.alive(group.blue_ids))
        greens = [g for bg in group.deployments for g in bg.green_ids]
        alive = self.fleet.alive(greens)
        ready = [g for g in alive if self.fleet.state(g) == "running" and self.fleet.view(g).checks == "ok"]
        finished = any(bg.state == "FINISHED" for bg in group.deployments)
        if finished:  # the greens have become the group's instances
            blues_original = [i for i in group.all_instances if i not in greens]
            blues = len(self.fleet.alive(blues_original))
        return {"blues": blues, "greens": len(alive), "greens_ready": len(ready), "target": group.target}
