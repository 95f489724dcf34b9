"""Fault injection on every external call the function makes, crossed with every fault that call can show.

Each cell runs one CodePipeline invocation of the real handler with one fault injected at the boundary of one call,
and checks the promises of issue 6: the handler returns (it raises only when the CodePipeline report itself cannot
be made, as documented); CodePipeline gets exactly one report; the outcome is the cell's written row in
tests/fault_matrix_expectations.py (failure type or success, the phase the message starts with, the words it must
contain, what was stopped or is left to do by hand, checked in the fakes and in the message); the canary token
appears in no log line, report or result (the injected error bodies echo it back). The rows are written down, not
recomputed from the code's rules, and a test fails when the rows and the cells the matrix runs differ.

Where faults are injected:
- Spot: the `responses` fake (tests/fakes/spot.py) answers the call with the fault or raises the transport error.
- AWS: every boto3 client of the handler goes through a loopback endpoint (tests/fakes/faultproxy.py) that passes
  calls on to moto (EC2, S3, Secrets Manager, SSM) or to the CodeDeploy/CodePipeline fakes, or answers with the
  fault. boto3's own retries run for real (standard mode, 3 attempts); throttling backs off for up to a second or
  two of wall time, so throttling cells use a fault that lasts one attempt.

The cells of one row (one call) run through one warm handler, as a warm Lambda container serves invocation after
invocation; every cell gets fresh fakes, its own job id (so its own green tag), and its own secret where the token
is read from Secrets Manager or SSM (Powertools caches a secret for 5 minutes). Calls checked before anything is
launched are exercised in a DRY_RUN, which makes exactly the same preflight calls as a real run and stops there.

Not covered, and why:
- an AWS read timeout: the handler's boto3 clients wait 20 s per attempt (botocore Config in handler.py, which
  takes precedence over AWS_MAX_ATTEMPTS / AWS_RETRY_MODE), so one cell would cost a minute; a hanging AWS call
  is covered by tests/test_deadline.py instead;
- a body on S3 HeadObject (a HEAD reply has none), and "limit" errors for operations whose API defines none.
"""

from __future__ import annotations

import io
import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Literal

import boto3
import pytest
import requests
import responses
from moto import mock_aws
from urllib3.exceptions import ProtocolError, ReadTimeoutError

from bluegreen.errors import ReportFailedError
from bluegreen.flow import MAX_POLL_FAILURES, green_identifier
from bluegreen.handler import create_handler
from bluegreen_sim.loopback import AwsJsonServer
from tests.conftest import (
    ACCOUNT_ID,
    CANARY_TOKEN,
    FAKE_AWS_ENVIRONMENT,
    GROUP_ID,
    HANDLER_ENVIRONMENT,
    create_token_key,
    user_parameters,
)
from tests.fakes.clock import FakeClock, FakeLambdaContext
from tests.fakes.codedeploy import FakeCodeDeploy, Script
from tests.fakes.codepipeline import REPORTS, ActionExecution, FakeCodePipeline
from tests.fakes.faultproxy import AwsError, ConnectionReset, FaultProxy, ProxyFault, RawBody
from tests.fakes.spot import FakeSpot, Fault, SpotDeploymentRecord, dripping
from tests.fault_matrix_expectations import (
    BOTH_STOPPED,
    CODEDEPLOY_BY_HAND,
    EXPECTED,
    KEPT,
    LOOK_BY_HAND,
    NOTHING,
    SPOT_BY_HAND,
    SPOT_ENDED,
    SPOT_STOPPED,
    STOP_ACCEPTED,
    UNKNOWN_WORD,
    Cleanup,
    Expect,
)

ECHO = f"request was made with token {CANARY_TOKEN}"  # every injected error echoes the token back
UNKNOWN_STATE = "QUANTUM_FLUX"  # + the cell number: Spot's client logs each unknown word once per process
SPOT_ATTEMPTS = 4  # SpotClient's max_attempts
AWS_ATTEMPTS = 3  # the handler's botocore Config

# ---- the faults ---------------------------------------------------------------------------------------------

SPOT_KINDS = (
    "400",
    "401",
    "403",
    "404",
    "429-once",
    "429-persistent",
    "500-once",
    "500-persistent",
    "502-once",
    "502-persistent",
    "503-once",
    "503-persistent",
    "reset-once",
    "reset-persistent",
    "read-timeout-once",
    "read-timeout-persistent",
    "not-json",
    "bad-shape",
    "unknown-state",
    "drip-persistent",  # the body arrives at 1 byte/s: every attempt is cut at its time budget
    "huge-body",  # a 200 whose body is larger than the client reads
)
# Faults of one call only.
POST_AMBIGUOUS = "ambiguous-then-refused"  # 503 (Spot started it anyway), list lags, re-sent POST refused
STOP_REFUSED_ENDED = "refused-ended"  # stop refused with 400 because Spot had ended the deployment itself
AWS_KINDS = (
    "400",
    "401",
    "403",
    "404",
    "429-once",
    "500-once",
    "500-persistent",
    "502-once",
    "502-persistent",
    "503-once",
    "503-persistent",
    "reset-once",
    "reset-persistent",
    "not-json",
    "bad-shape",
    "throttling-once",
    "access-denied",
    "not-found",
    "limit",
)
# botocore backs off from throttling for real (1 s base, jittered): a fault that outlasts its retries costs ~1.5 s
# of wall time, so those two run on one call only; every call meets throttling that lasts one attempt.
EXPENSIVE_KINDS = ("429-persistent", "throttling-persistent")

Scenario = Literal[
    "dry-run", "deploy", "failing-deploy", "bad-parameters", "stalled-greens", "stalled-deploy", "refused"
]


@dataclass(frozen=True)
class Call:
    """One external call, the scenario that reaches it, and the words by which a message names it."""

    key: str
    scenario: Scenario
    names: tuple[str, ...]
    service: str = "spot"  # or the AWS service name the proxy sees
    operation: str = ""
    kinds: tuple[str, ...] = AWS_KINDS
    not_found: str | None = None  # the service's own not-found code for this operation
    limit: str | None = None  # the service's own limit code for this operation
    role: Literal["primary", "cleanup", "diagnostic", "report", "identity", "refusal"] = "primary"


def _spot(key: str, scenario: Scenario, operation: str, *, kinds: tuple[str, ...] = SPOT_KINDS) -> Call:
    return Call(key, scenario, (operation,), kinds=kinds, role="cleanup" if "PUT" in key else "primary")


def _aws(service: str, operation: str, scenario: Scenario, **kw: Any) -> Call:
    names = kw.pop("names", (f"{service}:{operation}",))
    return Call(f"{service}:{operation}", scenario, names, service, operation, **kw)


CALLS = (
    _spot("spot:GET group", "dry-run", "GET group", kinds=tuple(k for k in SPOT_KINDS if k != "unknown-state")),
    _spot(
        "spot:GET group status",
        "dry-run",
        "GET group status",
        kinds=tuple(k for k in SPOT_KINDS if k != "unknown-state"),
    ),
    _spot("spot:GET deployments", "dry-run", "GET blue/green deployments"),
    _spot("spot:GET deployments (stall check)", "stalled-greens", "GET blue/green deployments"),
    _spot("spot:POST start", "deploy", "POST start blue/green deployment", kinds=(*SPOT_KINDS, POST_AMBIGUOUS)),
    _spot(
        "spot:PUT stop",
        "failing-deploy",
        "PUT stop blue/green deployment",
        kinds=(*(k for k in SPOT_KINDS if k != "unknown-state"), STOP_REFUSED_ENDED),
    ),
    # EC2's limit error for these calls is its API rate limit, RequestLimitExceeded: the throttling cells use it.
    _aws("ec2", "DescribeInstances", "deploy", not_found="InvalidInstanceID.NotFound"),
    _aws("ec2", "DescribeInstanceStatus", "deploy", not_found="InvalidInstanceID.NotFound"),
    _aws(
        "codedeploy",
        "GetDeploymentGroup",
        "dry-run",
        kinds=AWS_KINDS + EXPENSIVE_KINDS,
        not_found="DeploymentGroupDoesNotExistException",
    ),
    _aws("codedeploy", "ListDeployments", "deploy", not_found="ApplicationDoesNotExistException"),
    _aws("codedeploy", "BatchGetDeployments", "deploy", limit="BatchLimitExceededException"),
    _aws(
        "codedeploy",
        "CreateDeployment",
        "deploy",
        not_found="RevisionDoesNotExistException",
        limit="DeploymentLimitExceededException",
    ),
    _aws("codedeploy", "GetDeployment", "deploy", not_found="DeploymentDoesNotExistException"),
    # CloudWatch signs as "monitoring": the proxy sees that name. Read in preflight (alarms exist), then polled
    # with GetDeployment (a CodeDeploy deployment still running, so a failure stops it).
    Call("cloudwatch:DescribeAlarms", "dry-run", ("cloudwatch:DescribeAlarms",), "monitoring", "DescribeAlarms"),
    Call(
        "cloudwatch:DescribeAlarms (poll)",
        "stalled-deploy",
        ("cloudwatch:DescribeAlarms",),
        "monitoring",
        "DescribeAlarms",
    ),
    _aws("codedeploy", "StopDeployment", "stalled-deploy", not_found="DeploymentDoesNotExistException", role="cleanup"),
    _aws(
        "codedeploy",
        "ListDeploymentTargets",
        "failing-deploy",
        not_found="DeploymentDoesNotExistException",
        role="diagnostic",
    ),
    _aws(
        "codedeploy",
        "BatchGetDeploymentTargets",
        "failing-deploy",
        not_found="DeploymentTargetDoesNotExistException",
        limit="DeploymentTargetListSizeExceededException",
        role="diagnostic",
    ),
    _aws(
        "s3",
        "HeadObject",
        "dry-run",
        names=("s3:HeadObject", "s3://revisions/app/v2.zip"),
        kinds=tuple(k for k in AWS_KINDS if k not in ("not-json", "bad-shape")),
        not_found="NoSuchKey",
    ),
    _aws(
        "secretsmanager",
        "GetSecretValue",
        "dry-run",
        names=("API_TOKEN_SECRET",),
        not_found="ResourceNotFoundException",
    ),
    _aws("ssm", "GetParameter", "dry-run", names=("API_TOKEN_PARAMETER",), not_found="ParameterNotFound"),
    # Which action execution the job belongs to: when it cannot be told, the run goes on under the job id.
    _aws("codepipeline", "GetJobDetails", "deploy", not_found="JobNotFoundException", role="identity"),
    _aws(
        "codepipeline",
        "PutJobSuccessResult",
        "dry-run",
        not_found="JobNotFoundException",
        limit="OutputVariablesSizeExceededException",
        role="report",
    ),
    _aws("codepipeline", "PutJobFailureResult", "bad-parameters", not_found="JobNotFoundException", role="report"),
    # Why CodePipeline refused a report (the execution was stopped and abandoned before the dry run reported).
    _aws(
        "codepipeline",
        "GetPipelineExecution",
        "refused",
        not_found="PipelineExecutionNotFoundException",
        role="refusal",
    ),
    _aws("codepipeline", "ListActionExecutions", "refused", not_found="PipelineNotFoundException", role="refusal"),
)


def _kinds(call: Call) -> tuple[str, ...]:
    return tuple(k for k in call.kinds if (k != "not-found" or call.not_found) and (k != "limit" or call.limit))


# ---- what each cell must end in -----------------------------------------------------------------------------
# Written down in tests/fault_matrix_expectations.py: one table per call, fault kind -> expected outcome.

# Polls only read: a fault that outlasts the retries must outlast MAX_POLL_FAILURES polls in a row (see _inject).
POLLED = (
    "ec2:DescribeInstances",
    "ec2:DescribeInstanceStatus",
    "codedeploy:GetDeployment",
    "cloudwatch:DescribeAlarms (poll)",
)


CELLS = [(call, kind) for call in CALLS for kind in _kinds(call)]
CELL_COUNT = 486  # asserted below, so the matrix cannot silently shrink


def test_the_matrix_covers_every_call_with_every_fault() -> None:
    assert len(CELLS) == CELL_COUNT
    assert {call.key for call in CALLS} >= {
        "spot:GET group",
        "spot:GET group status",
        "spot:GET deployments",
        "spot:POST start",
        "spot:PUT stop",
        "ec2:DescribeInstances",
        "ec2:DescribeInstanceStatus",
        "codedeploy:GetDeploymentGroup",
        "codedeploy:ListDeployments",
        "codedeploy:BatchGetDeployments",
        "codedeploy:CreateDeployment",
        "codedeploy:GetDeployment",
        "cloudwatch:DescribeAlarms",
        "cloudwatch:DescribeAlarms (poll)",
        "codedeploy:StopDeployment",
        "codedeploy:ListDeploymentTargets",
        "codedeploy:BatchGetDeploymentTargets",
        "s3:HeadObject",
        "secretsmanager:GetSecretValue",
        "ssm:GetParameter",
        "codepipeline:GetJobDetails",
        "codepipeline:PutJobSuccessResult",
        "codepipeline:PutJobFailureResult",
        "codepipeline:GetPipelineExecution",
        "codepipeline:ListActionExecutions",
    }


def test_every_cell_the_matrix_runs_has_a_written_row_and_every_row_is_run() -> None:
    run = {(call.key, kind) for call, kind in CELLS}
    written = {(key, kind) for key, rows in EXPECTED.items() for kind in rows}
    assert sorted(run - written) == [], "cells the matrix runs without a written expectation"
    assert sorted(written - run) == [], "written expectations for cells the matrix never runs"
    assert len(written) == CELL_COUNT


# ---- the simulated cloud, shared by the module ----------------------------------------------------------------


@dataclass
class World:
    rsps: responses.RequestsMock
    proxy: FaultProxy
    clock: FakeClock
    ec2: Any
    secrets: Any
    ssm: Any
    cloudwatch: Any
    codedeploy_server: AwsJsonServer
    codepipeline_server: AwsJsonServer
    environ: dict[str, str] = field(default_factory=lambda: dict(HANDLER_ENVIRONMENT))
    log_stream: io.StringIO = field(default_factory=io.StringIO)
    handlers: dict[str, Any] = field(default_factory=dict)

    def handler(self, row: str) -> Any:
        """One warm handler per row, as a warm Lambda container serves invocation after invocation.

        Not one for the whole matrix: boto3's retry quota (per client) drains when call after call fails, and then
        a later row's transient fault would no longer be retried.
        """
        if row not in self.handlers:
            self.handlers[row] = create_handler(clock=self.clock, environ=self.environ, log_stream=self.log_stream)
        return self.handlers[row]


@pytest.fixture(scope="module")
def world(codedeploy_server: AwsJsonServer, codepipeline_server: AwsJsonServer) -> Iterator[World]:
    with pytest.MonkeyPatch.context() as mp:
        for name, value in FAKE_AWS_ENVIRONMENT.items():
            mp.setenv(name, value)
        proxy = FaultProxy(upstreams={"codedeploy": codedeploy_server.url, "codepipeline": codepipeline_server.url})
        for service in ("EC2", "S3", "SECRETS_MANAGER", "SSM", "CODEDEPLOY", "CODEPIPELINE", "CLOUDWATCH"):
            mp.setenv(f"AWS_ENDPOINT_URL_{service}", proxy.url)
        try:
            with mock_aws(), responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
                s3 = boto3.client("s3", region_name="us-east-1")
                s3.create_bucket(Bucket="revisions")
                s3.put_object(Bucket="revisions", Key="app/v2.zip", Body=b"PK-fake-bundle")
                create_token_key(boto3.client("secretsmanager", region_name="us-east-1"))
                yield World(
                    rsps=rsps,
                    proxy=proxy,
                    clock=FakeClock(),
                    ec2=boto3.client("ec2", region_name="us-east-1"),
                    secrets=boto3.client("secretsmanager", region_name="us-east-1"),
                    ssm=boto3.client("ssm", region_name="us-east-1"),
                    cloudwatch=boto3.client("cloudwatch", region_name="us-east-1"),
                    codedeploy_server=codedeploy_server,
                    codepipeline_server=codepipeline_server,
                )
        finally:
            proxy.close()


@dataclass
class Cell:
    call: Call
    kind: str
    world: World
    spot: FakeSpot
    codedeploy: FakeCodeDeploy
    codepipeline: FakeCodePipeline
    job_id: str
    params: dict[str, Any]
    action: ActionExecution

    @property
    def unknown_state(self) -> str:
        return f"{UNKNOWN_STATE}_{self.job_id[-4:]}"

    @property
    def green(self) -> str:
        """The run's GreenIdentifier: from its action execution, as CodePipeline's GetJobDetails tells it."""
        return green_identifier(self.action.action_execution_id)

    @property
    def job_green(self) -> str:
        """The GreenIdentifier a run falls back to when GetJobDetails cannot be read: from the job id."""
        return green_identifier(self.job_id)

    def event(self) -> dict[str, Any]:
        data = {
            "actionConfiguration": {
                "configuration": {"FunctionName": "bluegreen", "UserParameters": json.dumps(self.params)}
            },
            "inputArtifacts": [],
            "outputArtifacts": [],
        }
        return {"CodePipeline.job": {"id": self.job_id, "accountId": "123456789012", "data": data}}


def _new_cell(world: World, call: Call, kind: str, number: int) -> Cell:
    world.proxy.reset()
    world.rsps.reset()
    world.rsps.add_passthru("http://127.0.0.1")
    spot = FakeSpot(
        world.rsps,
        token=CANARY_TOKEN,
        account_id=ACCOUNT_ID,
        group_id=GROUP_ID,
        clock=world.clock,
        ec2=world.ec2,
        capacity=1,
    )
    spot.launch_delay = 1
    world.clock.on_advance[:] = [spot.tick]
    codedeploy = FakeCodeDeploy(world.clock, world.ec2)
    codedeploy.script = Script(duration=0)
    # An earlier deployment of the group, an hour before the run (within the window the function lists), so that
    # looking for ours reads the deployments' details.
    codedeploy.record(
        "d-EARLIER01",
        {"applicationName": "App", "deploymentGroupName": "DG", "description": "an earlier release"},
        status="Succeeded",
        created_at=world.clock.now() - 3600,
    )
    codepipeline = FakeCodePipeline(world.clock)
    world.codedeploy_server.service = codedeploy
    world.codepipeline_server.service = codepipeline
    params = user_parameters()
    if call.scenario in ("dry-run", "refused"):
        params["DRY_RUN"] = True
    elif call.scenario == "failing-deploy":
        codedeploy.script = Script(duration=0, outcome="Failed")
    elif call.scenario == "bad-parameters":
        params["GROUP_ID"] = "abc"
    elif call.scenario == "stalled-greens":
        params["TIMEOUT"] = 600
        spot.launch_delay = 10**7
    elif call.scenario == "stalled-deploy":  # CodeDeploy still running at the deadline: it must be stopped
        params["TIMEOUT"] = 600
        codedeploy.script = Script(duration=10**7)
    if call.service == "secretsmanager":
        del params["API_TOKEN"]
        params["API_TOKEN_SECRET"] = f"spot/token-{number}"
        world.secrets.create_secret(Name=params["API_TOKEN_SECRET"], SecretString=CANARY_TOKEN)
    elif call.service == "ssm":
        del params["API_TOKEN"]
        params["API_TOKEN_PARAMETER"] = f"/spot/token-{number}"
        world.ssm.put_parameter(Name=params["API_TOKEN_PARAMETER"], Value=CANARY_TOKEN, Type="SecureString")
    if call.service == "monitoring":  # the health gate, on an alarm that exists and stays OK
        alarm = f"gate-{number}"
        world.cloudwatch.put_metric_alarm(
            AlarmName=alarm,
            MetricName="HTTPCode_Target_5XX_Count",
            Namespace="AWS/ApplicationELB",
            Statistic="Sum",
            Period=60,
            EvaluationPeriods=1,
            Threshold=10,
            ComparisonOperator="GreaterThanThreshold",
        )
        world.cloudwatch.set_alarm_state(AlarmName=alarm, StateValue="OK", StateReason="quiet")
        params["ALARMS"] = [alarm]
    if call.key == "spot:GET group status":
        spot.capacity = 0  # no capacity target: the green count comes from the group's status
        spot.status_instances = 1
    job_id = f"fault-matrix-{number:04d}"
    action = codepipeline.start_action(json.dumps(params))
    codepipeline.add_job(job_id, action)
    if call.scenario == "refused":
        codepipeline.stop(action)  # "Stop and abandon": the dry run's report will be refused
    return Cell(call, kind, world, spot, codedeploy, codepipeline, job_id, params, action)


# ---- injecting one fault --------------------------------------------------------------------------------------


def _times(kind: str, attempts: int) -> int:
    return 2 * attempts if kind.endswith("-persistent") else 1


def _spot_fault(cell: Cell) -> Fault:
    kind = cell.kind.removesuffix("-once").removesuffix("-persistent")
    if kind == "drip":
        body = json.dumps({"request": {"id": "spot-req-drip"}, "response": {"items": []}}).encode()
        return Fault(200, dripping(cell.world.clock.advance, body))
    if kind == "huge-body":
        return Fault(200, b'{"response": {"items": [' + b'{"id": "x"},' * 300_000 + b"{}]}}")
    if kind == "reset":
        reset = ProtocolError("Connection aborted.", ConnectionResetError(104, "Connection reset by peer"))
        return Fault(0, exception=requests.ConnectionError(reset))
    if kind == "read-timeout":
        timeout = ReadTimeoutError(None, "api.spotinst.io", "Read timed out. (read timeout=30)")  # type: ignore[arg-type]
        return Fault(0, exception=requests.ReadTimeout(timeout))
    if kind == "not-json":
        return Fault(200, f"<html><body><h1>Service temporarily unavailable</h1>{ECHO}</body></html>")
    if kind == "bad-shape":
        if cell.call.key == "spot:PUT stop":  # stop reads only the envelope
            return Fault(200, [{"unexpected": ECHO}])
        return Fault(200, {"request": {"id": "spot-req-odd"}, "response": {"items": {"unexpected": ECHO}}})
    status = int(kind)
    return Fault(
        status,
        {
            "request": {"id": "spot-req-err"},
            "response": {"errors": [{"code": f"HTTP_{status}", "message": ECHO}]},
        },
    )


def _inject_spot(cell: Cell) -> None:
    method, route = {
        "spot:GET group": ("GET", "group"),
        "spot:GET group status": ("GET", "status"),
        "spot:GET deployments": ("GET", "deployments"),
        "spot:GET deployments (stall check)": ("GET", "deployments"),
        "spot:POST start": ("POST", "deployments"),
        "spot:PUT stop": ("PUT", "stop"),
    }[cell.call.key]
    if cell.kind == "unknown-state":
        _inject_unknown_state(cell)
        return
    if cell.kind == POST_AMBIGUOUS:
        # Spot starts the deployment but answers 503; its list does not show it on the first look; the re-sent
        # POST is refused because that deployment now runs (the fake's concurrent-start refusal).
        cell.spot.fail_next(
            "POST", "deployments", Fault(503, before=lambda: cell.spot.start(cell.green, hidden_for_lists=1))
        )
        return
    if cell.kind == STOP_REFUSED_ENDED:

        def spot_ended_it() -> None:
            cell.spot.deployments[-1].state = "FAILED"

        cell.spot.fail_next("PUT", "stop", Fault(400, before=spot_ended_it))
        return
    faults = [_spot_fault(cell)] * _times(cell.kind, SPOT_ATTEMPTS)
    if cell.call.key == "spot:GET deployments (stall check)":
        _after_first_sleep(cell, lambda: cell.spot.fail_next(method, route, *faults))
    else:
        cell.spot.fail_next(method, route, *faults)


def _inject_unknown_state(cell: Cell) -> None:
    spot = cell.spot
    if cell.call.key == "spot:GET deployments":
        spot.deployments.append(
            SpotDeploymentRecord("cdbg-0ther001", "another-run", launch_at=0.0, state=cell.unknown_state, launched=True)
        )
    elif cell.call.key == "spot:POST start":
        record = SpotDeploymentRecord("cdbg-00000001", cell.green, launch_at=cell.world.clock.now() + 1)
        spot.deployments.append(record)  # Spot started it, and answers with a state word nobody knows
        spot.fail_next("POST", "deployments", Fault(200, _spot_items([{**record.wire(), "state": cell.unknown_state}])))
    else:  # the stall check finds our own deployment in an unknown state

        def mark() -> None:
            spot.deployments[0].state = cell.unknown_state

        _after_first_sleep(cell, mark)


def _spot_items(items: list[dict[str, Any]]) -> dict[str, Any]:
    return {"request": {"id": "spot-req-1"}, "response": {"status": {"code": 200}, "items": items}}


def _after_first_sleep(cell: Cell, action: Callable[[], None]) -> None:
    """Run `action` once the run first waits (preflight and start are behind it)."""
    done: list[bool] = []

    def hook(now: float) -> None:
        if not done:
            done.append(True)
            action()

    cell.world.clock.on_advance.append(hook)


def _aws_fault(cell: Cell) -> ProxyFault:
    call, kind = cell.call, cell.kind.removesuffix("-once").removesuffix("-persistent")
    # Secrets Manager/SSM cannot echo a token they have not served; CodePipeline gets only redacted reports.
    echo = "" if call.service in ("secretsmanager", "ssm", "codepipeline") else f" ({ECHO})"
    message = f"injected fault{echo}"
    json_service = call.service not in ("ec2", "s3")
    if kind == "reset":
        return ConnectionReset()
    if kind == "not-json":
        return RawBody(200, f"<html><body>Bad gateway{echo}</body></html>".encode())
    if kind == "bad-shape":
        if json_service:
            return RawBody(200, json.dumps({"unexpected": message}).encode(), "application/x-amz-json-1.1")
        return RawBody(
            200,
            f"<{call.operation}Response><unexpected>{message}</unexpected></{call.operation}Response>".encode(),
            "text/xml",
        )
    if kind == "throttling":
        code = {"ec2": "RequestLimitExceeded", "s3": "SlowDown"}.get(call.service, "ThrottlingException")
        return AwsError(503 if call.service == "s3" else 400, code, message)
    if kind == "access-denied":
        code = {"ec2": "UnauthorizedOperation", "s3": "AccessDenied"}.get(call.service, "AccessDeniedException")
        return AwsError(403 if call.service in ("ec2", "s3") else 400, code, message)
    if kind == "not-found":
        status = 404 if call.service == "s3" else 400
        return AwsError(status, call.not_found, message)
    if kind == "limit":
        return AwsError(400, call.limit, message)
    return AwsError(int(kind), None, message)  # a bare HTTP status


def _inject(cell: Cell) -> None:
    if cell.call.service == "spot":
        _inject_spot(cell)
        return
    times = _times(cell.kind, AWS_ATTEMPTS)
    if cell.kind.endswith("-persistent") and cell.call.key in POLLED:
        times = MAX_POLL_FAILURES * (AWS_ATTEMPTS + 1)  # outlast every attempt of every poll the run tolerates
    # The poll row lets preflight's read and the one before CreateDeployment through: the polls meet the fault.
    skip = 2 if cell.call.key.endswith("(poll)") else 0
    cell.world.proxy.fail_next(cell.call.service, cell.call.operation, _aws_fault(cell), times=times, skip=skip)


# ---- the matrix -----------------------------------------------------------------------------------------------


def _cell_params() -> list[Any]:
    return [pytest.param(call, kind, number, id=f"{call.key}|{kind}") for number, (call, kind) in enumerate(CELLS)]


@pytest.mark.parametrize(("call", "kind", "number"), _cell_params())
def test_fault_cell(world: World, call: Call, kind: str, number: int) -> None:
    cell = _new_cell(world, call, kind, number)
    _inject(cell)
    expect = EXPECTED[call.key][kind]
    handler, stream = world.handler(call.key), world.log_stream
    log_start = stream.tell()
    context = FakeLambdaContext(world.clock, 900.0, request_id=f"req-{number}")

    raised: BaseException | None = None
    result: dict[str, Any] | None = None
    try:
        result = handler(cell.event(), context)
    except ReportFailedError as exc:
        raised = exc
    logs = stream.getvalue()[log_start:]

    # The fault was met (or the cell would prove nothing).
    if call.service == "spot":
        assert cell.spot.calls, "Spot was never called"
    else:
        assert call.operation in world.proxy.operations(call.service), f"{call.key} was never called"

    # The token appears nowhere.
    for text in (logs, json.dumps(result), json.dumps([r.body for r in cell.codepipeline.reports]), str(raised)):
        assert CANARY_TOKEN not in text

    for word in expect.logged:
        assert (cell.unknown_state if word == UNKNOWN_WORD else word) in logs
    for word in expect.not_logged:
        assert word not in logs, logs

    # Exactly one report (attempts of the same report may repeat when a fault made boto3 retry).
    report_calls = [op for op in world.proxy.operations("codepipeline") if op in REPORTS]
    assert len(set(report_calls)) == 1, report_calls
    assert len(cell.codepipeline.reports) == (1 if expect.recorded else 0), cell.codepipeline.reports
    if expect.result == "raise":
        assert raised is not None, f"expected the report failure to be raised, got {result}"
        _assert_mentions(str(raised), expect)
        return
    assert raised is None, f"raised {raised!r}"
    assert result is not None
    if expect.recorded:
        report = cell.codepipeline.reports[0]
        assert report.job_id == cell.job_id
        assert report.kind == ("failure" if expect.result == "failure" else "success"), report.body

    # The outcome and its message.
    summary = result["summary"]
    if expect.failure_type is not None:
        assert result["status"] == "Failed", result
        assert result["failureType"] == expect.failure_type, summary
    else:
        assert result["status"] == "Succeeded", result
    phase = re.match(r"(START|WAIT_GREEN|DEPLOY|WAIT_DEPLOY|BAKE): ", summary)
    assert (phase.group(1) if phase else None) == expect.phase, summary
    _assert_mentions(summary, expect)
    if kind == POST_AMBIGUOUS:
        assert len(cell.spot.deployments) == 1
        assert result["spotDeploymentId"] == cell.spot.deployments[0].deployment_id

    # What became of what the run launched: no green capacity left behind, or what to do by hand.
    _assert_cleanup(cell, expect.cleanup, summary, cell.job_green if expect.green_from_job_id else cell.green)


def _assert_mentions(text: str, expect: Expect) -> None:
    missing = [word for word in expect.mentions if word not in text]
    assert not missing, (missing, text)


def _assert_cleanup(cell: Cell, cleanup: Cleanup, summary: str, green: str) -> None:
    ours = [d for d in cell.spot.deployments if d.green == green]
    stops = cell.spot.calls_to("PUT", "stop")
    if cleanup == NOTHING:
        assert ours == [], ours
        assert stops == 0
        assert "Cleanup" not in summary, summary
        return
    if cleanup == LOOK_BY_HAND:
        assert ours == [], ours
        assert stops == 0
        assert (
            f"Cleanup FAILED, do this by hand: look for a blue/green deployment tagged GreenIdentifier={green}"
            in summary
        ), summary
        return
    assert len(ours) == 1, ours  # one Spot deployment per job, whatever the fault
    spot = ours[0]
    codedeploy = [d for key, d in cell.codedeploy.deployments.items() if key != "d-EARLIER01"]
    if cleanup == KEPT:
        assert not spot.stopped
        assert stops == 0
        assert "Cleanup" not in summary, summary
        # One CodeDeploy deployment, the one that succeeded (a retried CreateDeployment made no second one).
        assert [d.status for d in codedeploy] == ["Succeeded"], codedeploy
    elif cleanup in (SPOT_STOPPED, BOTH_STOPPED, STOP_ACCEPTED, CODEDEPLOY_BY_HAND):
        assert spot.stopped
        assert f"stopped Spot deployment {spot.deployment_id}; Elastigroup terminates the green instances" in summary
        stopped_codedeploy = re.search(r"stopped CodeDeploy deployment (d-\w+) \(with rollback\)", summary)
        by_hand = re.search(r"Cleanup FAILED, do this by hand: stop CodeDeploy deployment (d-\w+)", summary)
        if cleanup == SPOT_STOPPED:
            assert stopped_codedeploy is None, summary
            assert "Cleanup FAILED" not in summary, summary
            assert not any(d.stopped for d in codedeploy)
        elif cleanup == CODEDEPLOY_BY_HAND:
            assert stopped_codedeploy is None, summary
            assert by_hand is not None, summary
            assert [d.deployment_id for d in codedeploy if not d.stopped] == [by_hand.group(1)]
        else:
            assert stopped_codedeploy is not None, summary
            assert "Cleanup FAILED" not in summary, summary
            assert [d.deployment_id for d in codedeploy] == [stopped_codedeploy.group(1)]
            # The fault proxy answered StopDeployment's 200 in CodeDeploy's stead: the fake's deployment runs on.
            assert codedeploy[0].stopped is (cleanup == BOTH_STOPPED)
    elif cleanup == SPOT_BY_HAND:
        assert not spot.stopped
        assert stops >= 1
        assert f"Cleanup FAILED, do this by hand: stop Spot deployment {spot.deployment_id}" in summary, summary
    else:
        assert cleanup == SPOT_ENDED
        assert stops >= 1
        assert not spot.stopped
        assert spot.state == "FAILED"
        assert f"Cleanup: Spot deployment {spot.deployment_id} had already ended." in summary, summary


def test_a_report_failure_raised_to_lambda_does_not_carry_the_token(world: World) -> None:
    call = next(c for c in CALLS if c.key == "codepipeline:PutJobFailureResult")
    cell = _new_cell(world, call, "400", len(CELLS))
    world.proxy.fail_next("codepipeline", "PutJobFailureResult", AwsError(400, "ValidationException", ECHO))

    with pytest.raises(ReportFailedError) as caught:
        world.handler("report-leak")(cell.event(), FakeLambdaContext(world.clock))

    assert CANARY_TOKEN not in world.log_stream.getvalue()
    assert CANARY_TOKEN not in str(caught.value)


def test_a_create_deployment_whose_answer_is_lost_is_looked_for_and_not_made_twice(world: World) -> None:
    # CodeDeploy creates the deployment, its answer is lost (a read timeout under load, a dropped connection), and
    # the deployment ends before a re-sent call would arrive (here: at once), so CodeDeploy would accept a second one.
    call = next(c for c in CALLS if c.key == "codedeploy:CreateDeployment")
    cell = _new_cell(world, call, "answer-lost", len(CELLS) + 1)
    world.proxy.fail_next("codedeploy", "CreateDeployment", ConnectionReset(after_forwarding=True))

    result = world.handler("answer-lost")(cell.event(), FakeLambdaContext(world.clock, 900.0, request_id="req-lost"))

    created = [key for key in cell.codedeploy.deployments if key != "d-EARLIER01"]
    assert len(created) == 1, created
    assert world.proxy.operations("codedeploy").count("CreateDeployment") == 1
    assert result["status"] == "Succeeded", result
    assert f"CodeDeploy {created[0]}," in result["summary"], result["summary"]


def test_a_create_deployment_refused_with_a_5xx_and_not_made_is_sent_again(world: World) -> None:
    call = next(c for c in CALLS if c.key == "codedeploy:CreateDeployment")
    cell = _new_cell(world, call, "5xx-not-made", len(CELLS) + 2)
    world.proxy.fail_next("codedeploy", "CreateDeployment", AwsError(500, "InternalFailure", "injected fault"))

    result = world.handler("5xx-not-made")(cell.event(), FakeLambdaContext(world.clock, 900.0, request_id="req-5xx"))

    created = [key for key in cell.codedeploy.deployments if key != "d-EARLIER01"]
    assert len(created) == 1, created
    calls = world.proxy.operations("codedeploy")
    assert calls.count("CreateDeployment") == 2
    first = calls.index("CreateDeployment")
    assert "ListDeployments" in calls[first : calls.index("CreateDeployment", first + 1)]  # looked for it first
    assert result["status"] == "Succeeded", result
