"""CodePipeline's side of a Lambda invoke action: jobs, their results, and the invocations.

Owns the job store behind the gateway's PutJobSuccessResult / PutJobFailureResult (with the checks the real
service makes: unknown job, job no longer in progress, length limits, enums, output variables only on a
final success), the Lambda context whose remaining time follows the simulated clock, and the driver that
invokes the handler with a real-shaped `CodePipeline.job` event, re-invokes with the continuation token
under a NEW job id, retries a raised invocation as Lambda's async retry does, and can deliver the first
event twice.
"""

from __future__ import annotations

import json
import random
import re
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import botocore.session
from botocore.model import StringShape

from bluegreen_sim.clock import SimClock
from bluegreen_sim.gateway import AwsError

LAMBDA_SECONDS = 900.0


def _failure_types() -> frozenset[str]:
    """CodePipeline's own enum, from botocore's service model (the wire contract), not from bluegreen's code."""
    shape = botocore.session.get_session().get_service_model("codepipeline").shape_for("FailureType")
    if not isinstance(shape, StringShape):  # pragma: no cover - a changed model should fail loudly
        raise TypeError(f"unexpected FailureType shape {shape!r}")
    return frozenset(shape.enum)


FAILURE_TYPES = _failure_types()
_VAR_KEY = re.compile(r"^[A-Za-z0-9@\-_]+$")
ACCOUNT = "123456789012"

Handler = Callable[[dict[str, Any], Any], Any]


@dataclass
class Report:
    """One PutJob*Result call the job store received."""

    job_id: str
    operation: str
    request: dict[str, Any]
    elapsed: float
    accepted: bool
    error: str | None = None

    @property
    def final(self) -> bool:
        return self.accepted and not (self.operation == "PutJobSuccessResult" and self.request.get("continuationToken"))

    def wire(self) -> dict[str, Any]:
        return {
            "jobId": self.job_id,
            "operation": self.operation,
            "elapsed": round(self.elapsed, 3),
            "accepted": self.accepted,
            "error": self.error,
            "request": self.request,
        }


@dataclass
class Job:
    id: str
    chain: str
    status: str = "InProgress"


class JobStore:
    """The jobs CodePipeline has handed to the function and what it was told about them."""

    def __init__(self, clock: SimClock) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self.jobs: dict[str, Job] = {}
        self.reports: list[Report] = []

    def create(self, job_id: str, chain: str) -> Job:
        with self._lock:
            job = self.jobs[job_id] = Job(job_id, chain)
            return job

    def receive(self, operation: str, request: dict[str, Any]) -> None:
        """Accept or reject a job result. Raises AwsError as CodePipeline would."""
        job_id = request.get("jobId")
        report = Report(str(job_id), operation, request, self._clock.elapsed, accepted=False)
        try:
            with self._lock:
                _validate(operation, request)
                job = self.jobs.get(str(job_id))
                if job is None:
                    raise AwsError("JobNotFoundException", f"Job {job_id} not found")
                if job.status != "InProgress":
                    raise AwsError("InvalidJobStateException", f"Job {job_id} is in state {job.status}, not InProgress")
                job.status = "Failed" if operation == "PutJobFailureResult" else "Succeeded"
                report.accepted = True
        except AwsError as fault:
            report.error = f"{fault.code}: {fault.message}"
            raise
        finally:
            with self._lock:
                self.reports.append(report)

    def accepted(self, job_id: str) -> Report | None:
        """The accepted report for a job."""
        with self._lock:
            return next((r for r in self.reports if r.job_id == job_id and r.accepted), None)


def _validate(operation: str, request: dict[str, Any]) -> None:
    def bad(message: str) -> AwsError:
        return AwsError("ValidationException", message)

    if not isinstance(request.get("jobId"), str) or not re.fullmatch(r"[0-9a-z\-]{36}", request["jobId"]):
        raise bad("jobId: must match [0-9a-z-]{36}")
    if operation == "PutJobFailureResult":
        details = request.get("failureDetails")
        if not isinstance(details, dict):
            raise bad("failureDetails is required")
        if details.get("type") not in FAILURE_TYPES:
            raise bad(f"failureDetails.type: {details.get('type')!r} is not one of {sorted(FAILURE_TYPES)}")
        message = details.get("message")
        if not isinstance(message, str) or not 1 <= len(message) <= 5000:
            raise bad("failureDetails.message: length must be 1..5000")
        _check_len(details.get("externalExecutionId"), 1500, "failureDetails.externalExecutionId")
        return
    token = request.get("continuationToken")
    if token is not None and (not isinstance(token, str) or not 1 <= len(token) <= 2048):
        raise bad("continuationToken: length must be 1..2048")
    details = request.get("executionDetails")
    if details is not None:
        _check_len(details.get("summary"), 2048, "executionDetails.summary")
        _check_len(details.get("externalExecutionId"), 1500, "executionDetails.externalExecutionId")
        percent = details.get("percentComplete")
        if percent is not None and (not isinstance(percent, int) or not 0 <= percent <= 100):
            raise bad("executionDetails.percentComplete: must be 0..100")
    variables = request.get("outputVariables")
    if variables:
        if token:
            raise bad("outputVariables cannot be specified together with continuationToken")
        for key in variables:
            if not _VAR_KEY.match(key):
                raise bad(f"outputVariables: invalid key {key!r}")


def _check_len(value: Any, limit: int, name: str) -> None:
    if value is not None and (not isinstance(value, str) or not 1 <= len(value) <= limit):
        raise AwsError("ValidationException", f"{name}: length must be 1..{limit}")


class SimLambdaContext:
    """A Lambda context whose remaining time follows the simulated clock."""

    def __init__(
        self, clock: SimClock, request_id: str, name: str = "bluegreen", seconds: float = LAMBDA_SECONDS
    ) -> None:
        self._clock = clock
        self._deadline = clock.now() + seconds
        self.function_name = name
        self.function_version = "$LATEST"
        self.invoked_function_arn = f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:{name}"
        self.memory_limit_in_mb = 256
        self.aws_request_id = request_id
        self.log_group_name = f"/aws/lambda/{name}"
        self.log_stream_name = f"2026/01/01/[$LATEST]{request_id.replace('-', '')}"

    @property
    def deadline(self) -> float:
        return self._deadline

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - self._clock.now()) * 1000))


@dataclass
class Invocation:
    """One call of the handler."""

    job_id: str
    name: str
    started: float
    ended: float = 0.0
    raised: str | None = None
    overran: bool = False
    returned: Any = None


@dataclass
class DriverResult:
    """How a pipeline action ended and what it took."""

    outcome: str
    invocations: list[Invocation] = field(default_factory=list)
    job_ids: list[str] = field(default_factory=list)


class PipelineDriver:
    """Runs one Lambda invoke action of one pipeline execution to its end."""

    def __init__(
        self,
        clock: SimClock,
        jobs: JobStore,
        handler: Handler,
        user_parameters: str,
        *,
        name: str = "pipeline",
        rng: random.Random | None = None,
        duplicate_first: bool = False,
        duplicate_delay: float = 3.0,
        continuation_delay: float = 10.0,
        max_invocations: int = 40,
        artifact_credentials: dict[str, str] | None = None,
        input_artifacts: list[dict[str, Any]] | None = None,
        lambda_seconds: float = LAMBDA_SECONDS,
    ) -> None:
        self._clock = clock
        self._jobs = jobs
        self._handler = handler
        self._params = user_parameters
        self._name = name
        self._rng = rng or random.Random(0)  # noqa: S311 - determinism, not secrecy
        self._duplicate_first = duplicate_first
        self._duplicate_delay = duplicate_delay
        self._continuation_delay = continuation_delay
        self._max = max_invocations
        self._artifact_credentials = dict(
            artifact_credentials
            or {
                "accessKeyId": "ASIASIMULATEDKEY0001",
                "secretAccessKey": "sim-artifact-secret",
                "sessionToken": "sim-session-token",
            }
        )
        self._input_artifacts = list(input_artifacts or [])
        self._lambda_seconds = lambda_seconds

    def _uuid(self) -> str:
        return str(uuid.UUID(int=self._rng.getrandbits(128), version=4))

    def event(self, job_id: str, continuation: str | None) -> dict[str, Any]:
        """A `CodePipeline.job` event as the invoke action sends it.

        Every job of the action carries the same input artifacts and the artifact credentials, continuation jobs
        included: each is a job of its own whose JobData (CodePipeline API reference, JobData: inputArtifacts,
        artifactCredentials, continuationToken) describes the same action execution.
        """
        data: dict[str, Any] = {
            "actionConfiguration": {"configuration": {"FunctionName": "bluegreen", "UserParameters": self._params}},
            "inputArtifacts": json.loads(json.dumps(self._input_artifacts)),
            "outputArtifacts": [],
            "artifactCredentials": dict(self._artifact_credentials),
        }
        if continuation is not None:
            data["continuationToken"] = continuation
        return {"CodePipeline.job": {"id": job_id, "accountId": ACCOUNT, "data": data}}

    def run(self, registered: threading.Event | None = None) -> DriverResult:
        """Invoke until CodePipeline has a final result (or the action would time out).

        The calling thread is a clock participant for the whole run, so pauses between invocations
        happen in simulated time, deterministically, even with other pipelines running alongside.
        """
        with self._clock.participant(self._name, registered):
            return self._run()

    def _run(self) -> DriverResult:
        result = DriverResult(outcome="NoReport")
        continuation: str | None = None
        attempt = 0
        job_id = self._uuid()
        self._jobs.create(job_id, self._name)
        result.job_ids.append(job_id)
        first = True
        while len(result.invocations) < self._max:
            event = self.event(job_id, continuation)
            if first and self._duplicate_first:
                batch = self._invoke_with_duplicate(event, job_id, result)
            else:
                batch = [self._invoke(event, job_id, f"{self._name}#{len(result.invocations) + 1}", result)]
            first = False
            report = self._jobs.accepted(job_id)
            if report is None:
                if any(inv.raised for inv in batch) and attempt < 2:
                    attempt += 1  # Lambda's async retry of the same event, ~1 then ~2 minutes later
                    self._clock.sleep(60.0 * attempt)
                    continue
                result.outcome = "NoReport"
                return result
            attempt = 0
            if report.operation == "PutJobFailureResult":
                result.outcome = f"Failed:{report.request['failureDetails']['type']}"
                return result
            continuation = report.request.get("continuationToken")
            if not continuation:
                result.outcome = "Succeeded"
                return result
            self._clock.sleep(self._continuation_delay)
            job_id = self._uuid()
            self._jobs.create(job_id, self._name)
            result.job_ids.append(job_id)
        result.outcome = "TooManyInvocations"
        return result

    def _invoke(self, event: dict[str, Any], job_id: str, name: str, result: DriverResult) -> Invocation:
        inv = Invocation(job_id, name, self._clock.elapsed)
        result.invocations.append(inv)
        context = SimLambdaContext(self._clock, self._uuid(), seconds=self._lambda_seconds)
        try:
            inv.returned = self._handler(event, context)
        except Exception as exc:  # noqa: BLE001 - Lambda records any escaping error and retries
            inv.raised = f"{type(exc).__name__}: {exc}"
        inv.ended = self._clock.elapsed
        inv.overran = self._clock.now() > context.deadline
        return inv

    def _invoke_with_duplicate(self, event: dict[str, Any], job_id: str, result: DriverResult) -> list[Invocation]:
        """Deliver `event` twice: a second container receives it `duplicate_delay` seconds later."""
        done: list[Invocation] = []
        registered = threading.Event()
        finished = threading.Event()
        copy = json.loads(json.dumps(event))
        name = f"{self._name}#1-dup"

        def duplicate() -> None:
            try:
                with self._clock.participant(name, registered):
                    self._clock.sleep(self._duplicate_delay)
                    done.append(self._invoke(copy, job_id, name, result))
            finally:
                finished.set()

        threading.Thread(target=duplicate, name=name, daemon=True).start()
        registered.wait()
        done.insert(0, self._invoke(event, job_id, f"{self._name}#1", result))
        while not finished.is_set():
            self._clock.sleep(1.0)  # wait in simulated time, so the duplicate can run
        return done


def run_concurrently(clock: SimClock, drivers: list[PipelineDriver]) -> list[DriverResult]:
    """Run several pipeline actions at once on one simulated cloud; results in the drivers' order.

    Every driver becomes a clock participant before simulated time moves, so the interleaving (and so
    every figure) is the same on every run.
    """
    results: list[DriverResult | None] = [None] * len(drivers)
    errors: list[BaseException] = []
    threads = []
    with clock.participant("starter"):
        for n, driver in enumerate(drivers):
            registered = threading.Event()

            def work(n: int = n, driver: PipelineDriver = driver, registered: threading.Event = registered) -> None:
                try:
                    results[n] = driver.run(registered)
                except BaseException as exc:  # noqa: BLE001 - handed to the caller below
                    errors.append(exc)
                    registered.set()

            thread = threading.Thread(target=work, name=f"pipeline-{n}", daemon=True)
            thread.start()
            registered.wait()
            threads.append(thread)
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]
    return [r for r in results if r is not None]
