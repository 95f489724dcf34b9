"""The Lambda entry point and the composition root.

Owns everything that touches the process: reading the environment, building the `requests.Session` and the
boto3 clients, configuring logging, answering each kind of event (a CodePipeline job, a CodePipeline state
change, a console test: `bluegreen.events` tells them apart and reads them), and turning the flow's outcome into
exactly one CodePipeline report (or a console result). It is the only module that does these things; the rest of
the package receives what it needs as arguments.
"""

from __future__ import annotations

import contextvars
import dataclasses
import json
import logging
import math
import os
import re
import sys
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cache, partial, wraps
from typing import IO, TYPE_CHECKING, Any, Final, TypeVar

from bluegreen import events, logs, reclaim
from bluegreen.authority import Authority
from bluegreen.aws import CREDENTIALS_HINT, REGION_HINT, ActionExecutionInfo, ActionRun, AwsGateway, JobRecord
from bluegreen.clock import Clock, SystemClock
from bluegreen.domain import S3Revision, SpotToken
from bluegreen.errors import (
    BlueGreenError,
    ConfigurationError,
    JobAlreadyReportedError,
    ReclaimFailedError,
    ReportFailedError,
)
from bluegreen.events import NOT_AN_EVENT, ArtifactCredentials, ConsoleTest, PipelineStateChange
from bluegreen.flow import Deployment, Failed, InProgress, Outcome, Succeeded, Timing, green_identifier
from bluegreen.metrics import DEFAULT_NAMESPACE, RunFacts, emf_document
from bluegreen.params import (
    DeploymentParams,
    InputArtifact,
    UserParameters,
    decode_user_parameters,
    validate_parameters,
)
from bluegreen.spot import DEFAULT_BASE_URL, SpotBaseUrl, SpotClient, validate_base_url
from bluegreen.state import RunState, TokenKey, decode_token, encode_token, recorded_artifact
from bluegreen.token import TokenResolver

if TYPE_CHECKING:
    import boto3
    import requests
    from aws_lambda_powertools.utilities.data_classes import CodePipelineJobEvent
    from aws_lambda_powertools.utilities.parameters import SecretsProvider, SSMProvider
    from aws_lambda_powertools.utilities.typing import LambdaContext
    from botocore.config import Config
    from mypy_boto3_cloudwatch import CloudWatchClient
    from mypy_boto3_codedeploy import CodeDeployClient
    from mypy_boto3_codepipeline import CodePipelineClient
    from mypy_boto3_ec2 import EC2Client
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_secretsmanager import SecretsManagerClient
    from mypy_boto3_ssm import SSMClient

__all__ = ["create_handler", "lambda_handler"]

logger = logging.getLogger(__name__)

# Lambda's init: the runtime has configured the root logger (maybe at DEBUG) before importing us. Cap the
# libraries that log wire traffic before any client exists; each invocation checks again (bluegreen.logs).
logs.guard_process_logging()

MAX_FAILURE_MESSAGE: Final = 5000
MAX_SUMMARY: Final = 2048
MAX_EXTERNAL_ID: Final = 1500
POLL_INTERVAL_RANGE: Final = (1.0, 300.0)  # seconds, BLUEGREEN_POLL_INTERVAL (template.yaml's PollIntervalSeconds)
SAFETY_MARGIN_RANGE: Final = (5.0, 600.0)  # seconds, BLUEGREEN_SAFETY_MARGIN
_WATCHDOG_TICK: Final = 1.0  # seconds between looks at the invocation's remaining time while a call runs
ONE_CALL_SECONDS: Final = 30.0  # the longest one Spot call attempt may take (SpotClient's attempt budget)
RECOMMENDED_TIMEOUT: Final = 900
USER_AGENT: Final = "bluegreen/1.0.0"

# The event is any JSON value Lambda was invoked with (bluegreen.events tells the kinds apart); the context is
# Lambda's (Powertools' LambdaContext describes it, for the type checker only).
Handler = Callable[[object, "LambdaContext"], dict[str, Any] | None]


@dataclass(frozen=True)
class Settings:
    """Function-level configuration from the environment."""

    spot_url: SpotBaseUrl
    timing: Timing
    default_secret: str | None
    token_key_secret: str
    metrics_namespace: str = DEFAULT_NAMESPACE

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> Settings:
        """Raises: ConfigurationError naming the environment variable at fault."""
        problems: list[str] = []
        poll = _seconds(environ, "BLUEGREEN_POLL_INTERVAL", 15.0, *POLL_INTERVAL_RANGE, problems)
        margin = _seconds(environ, "BLUEGREEN_SAFETY_MARGIN", 30.0, *SAFETY_MARGIN_RANGE, problems)
        try:
            spot_url = validate_base_url(environ.get("SPOT_API_URL") or DEFAULT_BASE_URL)
        except ConfigurationError as exc:
            problems.extend(exc.problems)
            spot_url = DEFAULT_BASE_URL
        token_key_secret = environ.get("BLUEGREEN_TOKEN_KEY_SECRET") or ""
        if not token_key_secret:
            problems.append(
                "BLUEGREEN_TOKEN_KEY_SECRET: missing; name the Secrets Manager secret (a random string of at least "
                "32 characters) the function signs its continuation tokens with: the SAM template creates it, "
                "docs/deploy.md shows the console steps"
            )
        if problems:
            raise ConfigurationError([f"environment variable {p}" for p in problems])
        return cls(
            spot_url=spot_url,
            timing=Timing(poll_interval=poll, safety_margin=margin),
            default_secret=environ.get("SPOT_API_TOKEN_SECRET") or None,
            metrics_namespace=environ.get("POWERTOOLS_METRICS_NAMESPACE") or DEFAULT_NAMESPACE,
            token_key_secret=token_key_secret,
        )


def _seconds(
    environ: Mapping[str, str], name: str, default: float, low: float, high: float, problems: list[str]
) -> float:
    raw = environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        value = math.nan
    if not low <= value <= high:
        problems.append(f"{name}: expected seconds between {low:g} and {high:g}, got {raw!r}")
        return default
    return value


_Built = TypeVar("_Built")


def _kept(build: Callable[[_Clients], _Built]) -> Callable[[_Clients], _Built]:
    """Build on first use and keep it as long as its `_Clients` lives (one per handler, so per container).

    Not `functools.cache` on the method: that cache belongs to the class, so it would keep every `_Clients` ever made
    (their sessions, clients and open connections) alive for the whole process (ruff B019).
    """
    name = build.__name__

    @wraps(build)
    def kept(self: _Clients) -> _Built:
        if name not in self._built:
            self._built.setdefault(name, build(self))  # two racing first calls: both get the one kept
        built: _Built = self._built[name]
        return built

    return kept


class _Clients:
    """boto3 clients and the HTTP session, built on first use and kept for warm invocations."""

    def __init__(self, boto3_session: boto3.session.Session | None = None, region: str | None = None) -> None:
        self._lock = threading.Lock()
        self._built: dict[str, Any] = {}
        self._boto3_session = boto3_session
        self._region = region

    @_kept
    def session(self) -> boto3.session.Session:
        if self._boto3_session is not None:
            return self._boto3_session
        import boto3  # noqa: PLC0415 - deferred: only paths that call AWS pay for it

        session = boto3.session.Session()
        if not session.region_name and self._region:
            # boto3 reads AWS_DEFAULT_REGION (or the profile's region) but not AWS_REGION, which people also set.
            session = boto3.session.Session(region_name=self._region)
        return session

    def aws_setup_problems(self) -> list[str]:
        """What keeps every AWS call from working: no region, or no credentials (say so once, not per call).

        Resolves the credentials the clients would resolve on their first call anyway; the session caches them.
        """
        from botocore.exceptions import BotoCoreError  # noqa: PLC0415

        problems: list[str] = []
        try:
            if not self.session().region_name:
                problems.append(f"AWS region: none is configured; {REGION_HINT}")
            if self.session().get_credentials() is None:
                problems.append(f"AWS credentials: none found; {CREDENTIALS_HINT}")
        except BotoCoreError as exc:  # an AWS_PROFILE that does not exist, a credential_process that fails
            problems.append(f"AWS credentials: {type(exc).__name__}: {exc}; {CREDENTIALS_HINT}")
        return problems

    # One typed client per service (mypy_boto3 stubs, type-checking only): built on first use, kept while warm.
    @_kept
    def ec2(self) -> EC2Client:
        with self._lock:  # boto3 sessions are not thread-safe while creating clients
            return self.session().client("ec2", config=_client_config())

    @_kept
    def codedeploy(self) -> CodeDeployClient:
        with self._lock:
            return self.session().client("codedeploy", config=_client_config())

    @_kept
    def codepipeline(self) -> CodePipelineClient:
        with self._lock:
            return self.session().client("codepipeline", config=_client_config())

    @_kept
    def s3(self) -> S3Client:
        with self._lock:
            return self.session().client("s3", config=_client_config())

    @_kept
    def cloudwatch(self) -> CloudWatchClient:
        with self._lock:
            return self.session().client("cloudwatch", config=_client_config())

    @_kept
    def secretsmanager(self) -> SecretsManagerClient:
        with self._lock:
            return self.session().client("secretsmanager", config=_client_config())

    @_kept
    def ssm(self) -> SSMClient:
        with self._lock:
            return self.session().client("ssm", config=_client_config())

    def artifact_s3(self, credentials: ArtifactCredentials) -> S3Client:
        """An S3 client signed with the pipeline's artifact credentials: never cached, they belong to one job."""
        with self._lock:
            return self.session().client(
                "s3",
                config=_client_config(),
                aws_access_key_id=credentials.access_key_id,
                aws_secret_access_key=credentials.secret_access_key,
                aws_session_token=credentials.session_token,
            )

    def http(self) -> requests.Session:
        """A new Session for one invocation: its worker thread is the only one that uses it (a worker that was
        given up may still be reading with it while the next invocation runs)."""
        import requests  # noqa: PLC0415

        return requests.Session()

    def gateway(self, artifact_credentials: ArtifactCredentials | None = None) -> AwsGateway:
        credentials = artifact_credentials
        return AwsGateway(
            ec2=self.ec2,
            codedeploy=self.codedeploy,
            codepipeline=self.codepipeline,
            s3=self.s3,
            cloudwatch=self.cloudwatch,
            artifact_s3=None if credentials is None else cache(lambda: self.artifact_s3(credentials)),
        )

    @_kept
    def tokens(self) -> TokenResolver:
        return TokenResolver(secrets=self._secrets_provider, ssm=self._ssm_provider)

    @_kept
    def _secrets_provider(self) -> SecretsProvider:
        from aws_lambda_powertools.utilities.parameters import SecretsProvider  # noqa: PLC0415

        return SecretsProvider(boto3_client=self.secretsmanager())

    @_kept
    def _ssm_provider(self) -> SSMProvider:
        from aws_lambda_powertools.utilities.parameters import SSMProvider  # noqa: PLC0415

        return SSMProvider(boto3_client=self.ssm())


def _client_config() -> Config:
    from botocore.config import Config  # noqa: PLC0415 - deferred: only paths that call AWS pay for it

    return Config(
        connect_timeout=5,
        read_timeout=20,
        retries={"mode": "standard", "max_attempts": 3},
        user_agent_extra=USER_AGENT,
    )


@dataclass(frozen=True)
class _JobInput:
    """What a CodePipeline job event gives besides UserParameters."""

    artifacts: list[InputArtifact]
    credentials: ArtifactCredentials | None


class _BlueGreenHandler:
    def __init__(
        self,
        clock: Clock,
        environ: Mapping[str, str],
        log_stream: IO[str] | None,
        boto3_session: boto3.session.Session | None,
        cold_start_warning: str | None = None,
    ) -> None:
        self._clock = clock
        self._environ = environ
        self._clients = _Clients(boto3_session, region=environ.get("AWS_REGION") or None)
        level = environ.get("POWERTOOLS_LOG_LEVEL") or environ.get("LOG_LEVEL") or "INFO"
        self._sink = logs.LogSink(log_stream, level)
        self._cold_start_warning = cold_start_warning

    def __call__(self, event: object, context: LambdaContext) -> dict[str, Any] | None:
        with self._sink.serving():
            logs.bind(aws_request_id=context.aws_request_id)
            if self._cold_start_warning is not None:
                logger.warning("%s", self._cold_start_warning)
                self._cold_start_warning = None
            kind = events.classify(event)
            if isinstance(kind, PipelineStateChange):
                return self._pipeline_event(kind, context)
            if isinstance(kind, ConsoleTest):
                return self._console_test(kind, context)
            if kind is None:
                return _result(Failed("ConfigurationError", f"{NOT_AN_EVENT}, got {_json_kind(event)}"), None)
            return self._codepipeline_job(kind, context)

    # ---- the kinds of invocation ----------------------------------------------------------------

    def _codepipeline_job(self, job: CodePipelineJobEvent, context: LambdaContext) -> dict[str, Any] | None:
        # The artifact store's credentials ride in every job: nothing may print them, whatever happens next.
        logs.register_credentials(events.raw_artifact_credentials(job))
        job_id = events.job_id(job)
        if job_id is None:
            # Without a job id there is nobody to report to, and raising would only make Lambda retry.
            logger.error("CodePipeline event without a job id: nothing can be reported; ignoring it")
            return None
        logs.bind(job_id=job_id)
        user_parameters = events.user_parameters(job)
        continuation = events.continuation_token(job)
        job_input = _JobInput([], None)

        def load(settings: Settings) -> DeploymentParams:
            nonlocal job_input
            credentials = events.artifact_credentials(job)  # first: registered for redaction before anything logs
            decoded = decode_user_parameters(user_parameters)
            _register_plain_token(decoded)
            artifacts = events.input_artifacts(job)
            if not artifacts and isinstance(continuation, str):
                # A continuation job without input artifacts: deploy what the run started with, never nothing.
                recorded = recorded_artifact(continuation)
                if recorded is not None:
                    name, bucket, key, revision = recorded
                    artifacts = [InputArtifact(str(name), str(bucket), str(key), revision)]
            job_input = _JobInput(artifacts, credentials)
            return validate_parameters(decoded, default_secret=settings.default_secret, artifacts=artifacts)

        def verify(run: ActionRun | None) -> None:
            if run is not None and run.job is not None:
                differ = _differs_from_record(run.job, user_parameters, continuation, job_input.artifacts)
                if differ:
                    raise _MadeUpJobEventError(job_id, differ)

        try:
            outcome, key, deployment = self._execute(
                load, continuation, job_id, context, lambda: job_input.credentials, verify
            )
        except _MadeUpJobEventError as exc:
            # Not what CodePipeline sent: reporting anything would answer a real job with someone else's run.
            logger.error("%s", exc)
            return _result(Failed(exc.failure_type, str(exc)), None)
        self._report(job_id, outcome, key, deployment)
        return _result(outcome, key)

    def _console_test(self, test: ConsoleTest, context: LambdaContext) -> dict[str, Any]:
        given = UserParameters(test.parameters)

        def load(settings: Settings) -> DeploymentParams:
            _register_plain_token(given)
            return validate_parameters(given, default_secret=settings.default_secret)

        outcome, key, _ = self._execute(load, test.continuation, None, context, lambda: None)
        return _result(outcome, key)

    # ---- running the flow -----------------------------------------------------------------------

    def _execute(
        self,
        load: Callable[[Settings], DeploymentParams],
        continuation: object,
        job_id: str | None,
        context: LambdaContext,
        artifact_credentials: Callable[[], ArtifactCredentials | None],
        verify: Callable[[ActionRun | None], None] | None = None,
    ) -> tuple[Outcome, TokenKey | None, Deployment | None]:
        """The run's outcome, the key to sign its continuation token with (None if the run never got it), and the
        run's Deployment (None if it was never built), which a refused report needs to reclaim the run.
        """
        key: TokenKey | None = None
        built: Deployment | None = None
        try:
            settings = Settings.from_environ(self._environ)
            remaining = _remaining_seconds(context)
            _check_invocation_time(remaining(), settings.timing)
            params = load(settings)
            problems = self._clients.aws_setup_problems()
            if problems:
                raise ConfigurationError(problems)
            token = self._clients.tokens().resolve(params.token_source)
            logs.register_secret(token.reveal())
            # Before any token is read or any capacity launched: a run that could not hand over must not start.
            key = self._clients.tokens().signing_key(settings.token_key_secret)
            logs.register_secret(key.secret)
            session = self._clients.http()
            deployment = self._deployment(
                params, settings, token, session, self._clients.gateway(artifact_credentials()), remaining
            )
            built = deployment
            run = self._action_run(job_id)
            if verify is not None:
                verify(run)
            if continuation is not None:
                if not isinstance(continuation, str) or not continuation:
                    raise ConfigurationError("continuationToken: expected a non-empty string")
                state = self._resume(continuation, key, params, run)
            else:
                state = deployment.begin(job_id, run)
            logs.bind(
                pipeline_name=state.pipeline_name,
                pipeline_execution_id=state.pipeline_execution_id,
                action_execution_id=state.action_execution_id,
                green_identifier=state.green,
                spot_deployment_id=state.spot_deployment_id,
                codedeploy_deployment_id=state.codedeploy_deployment_id,
            )
            outcome = _reportable(_run_before_deadline(deployment, state, context, settings.timing, self._clock), key)
            self._emit_metrics(params, outcome, deployment, settings.metrics_namespace)
            if not deployment.abandoned:
                session.close()
            if outcome.state is not None:
                logs.bind(
                    spot_deployment_id=outcome.state.spot_deployment_id,
                    codedeploy_deployment_id=outcome.state.codedeploy_deployment_id,
                )
            return outcome, key, built
        except _MadeUpJobEventError:
            raise
        except BlueGreenError as exc:
            logger.error("Run cannot start: %s", exc)
            return Failed(exc.failure_type, str(exc)), key, built
        except Exception as exc:
            logger.exception("Unexpected error before the run started")
            return Failed("JobFailed", f"internal error {type(exc).__name__}: {exc}"), key, built

    def _deployment(
        self,
        params: DeploymentParams,
        settings: Settings,
        spot_token: SpotToken,
        session: requests.Session,
        aws: AwsGateway,
        remaining: Callable[[], float],
    ) -> Deployment:
        """The run's flow on its Spot client and AWS gateway, sharing one authority: the composition root of a run."""
        authority = Authority()
        spot = SpotClient(
            session,
            token=spot_token,
            account_id=params.account_id,
            clock=self._clock,
            base_url=settings.spot_url,
            user_agent=USER_AGENT,
            attempt_budget=ONE_CALL_SECONDS,
            time_left=lambda: deployment.call_time_left(),  # noqa: PLW0108 - deployment is built below
            authority=authority,
        )
        deployment = Deployment(
            params,
            spot=spot,
            aws=aws,
            clock=self._clock,
            timing=settings.timing,
            remaining_seconds=remaining,
            authority=authority,
        )
        return deployment

    def _resume(self, continuation: str, key: TokenKey, params: DeploymentParams, run: ActionRun | None) -> RunState:
        """The state the continuation token carries, bound to this job's action execution.

        A run whose first invocation could not read GetJobDetails (a passing outage) wrote tokens without an
        action execution. Such a token is still this run's when CodePipeline's own record of this job carries
        it (GetJobDetails' continuationToken: CodePipeline took it from this action execution's previous job's
        report): it resumes, now bound to the action execution, rather than fail and leave the run's green fleet
        running under a GreenIdentifier reclaim cannot find.

        Raises:
            ConfigurationError: the token is not this run's (decode_token).
        """

        def decode(bound_to: str | None) -> RunState:
            return decode_token(
                continuation,
                key=key,
                fingerprint=params.fingerprint(),
                timeout_seconds=params.timeout_seconds,
                now=self._clock.now(),
                action_execution_id=bound_to,
            )

        try:
            return decode(run.action_execution_id if run else None)
        except ConfigurationError:
            recorded = run is not None and run.job is not None and run.job.continuation_token == continuation
            if run is None or not recorded:
                raise
            try:
                state = decode(None)
            except ConfigurationError:
                pass
            else:
                logger.warning(
                    "This run started without knowing its action execution (codepipeline:GetJobDetails failed in "
                    "its first invocation): it goes on as GreenIdentifier=%s, which reclaim cannot find after a "
                    "stop; its tokens are bound to action execution %s from now on",
                    state.green,
                    run.action_execution_id,
                )
                # The run learns its identity (not a step's progress, so not RunState.advance).
                return dataclasses.replace(
                    state,
                    pipeline_name=run.pipeline_name,
                    pipeline_execution_id=run.pipeline_execution_id,
                    action_execution_id=run.action_execution_id,
                )
            raise

    def _emit_metrics(self, params: DeploymentParams, outcome: Outcome, deployment: Deployment, namespace: str) -> None:
        """The run's EMF metrics, once, by the invocation that ends it; never fails the run."""
        if isinstance(outcome, InProgress) or outcome.state is None or params.dry_run:
            return
        label = "Succeeded" if isinstance(outcome, Succeeded) else outcome.failure_type
        facts = RunFacts(params, outcome.state, label, int(self._clock.now()), deployment.greens_seen)
        document = emf_document(facts, namespace=namespace)
        if document is None:
            return
        try:
            self._sink.write_line(json.dumps(document, separators=(",", ":")))
        except Exception as exc:  # noqa: BLE001 - metrics never fail a run
            logger.warning("Deployment metrics not written: %s: %s", type(exc).__name__, exc)

    def _action_run(self, job_id: str | None) -> ActionRun | None:
        """The action execution this job belongs to, or None (console test, or CodePipeline would not say)."""
        if job_id is None:
            return None
        try:
            return self._clients.gateway().action_run(job_id)
        except BlueGreenError as exc:
            logger.warning(
                "Cannot tell which pipeline action execution job %s belongs to (%s): the GreenIdentifier is derived "
                "from the job id, so reclaim cannot find this run after a stop, a lost report or a killed "
                "invocation. Grant codepipeline:GetJobDetails to the function's role.",
                job_id,
                exc,
            )
            return None

    def _report(self, job_id: str, outcome: Outcome, key: TokenKey | None, deployment: Deployment | None) -> None:
        try:
            if isinstance(outcome, InProgress):
                self._clients.gateway().report_in_progress(
                    job_id,
                    _continuation_token(outcome, key),
                    _fit(outcome.summary, MAX_SUMMARY),
                    outcome.percent,
                    _external_id(outcome.state),
                )
            elif isinstance(outcome, Succeeded):
                self._clients.gateway().report_success(
                    job_id, _fit(outcome.summary, MAX_SUMMARY), _external_id(outcome.state), _output_variables(outcome)
                )
            else:
                self._clients.gateway().report_failure(
                    job_id,
                    outcome.failure_type,
                    _fit(outcome.message, MAX_FAILURE_MESSAGE),
                    _external_id(outcome.state),
                )
        except JobAlreadyReportedError as exc:
            self._refused(job_id, outcome, deployment, exc)
            return
        except BlueGreenError as exc:
            logger.error("Could not report the result to CodePipeline: %s", exc)
            raise ReportFailedError(logs.redact(f"reporting to CodePipeline failed: {exc}")) from exc
        logger.info("Reported %s to CodePipeline", type(outcome).__name__)

    def _pipeline_event(self, change: PipelineStateChange, context: LambdaContext) -> dict[str, Any]:
        """Out of band: CodePipeline says a pipeline execution or an action changed state. Read its action
        executions, and stop whatever still runs for each run of this function that nobody waits for any more.

        Stateless and idempotent: CodePipeline, Spot and CodeDeploy are the records, and a run already stopped is
        left as it is. Raises ReclaimFailedError (so Lambda retries the event) only when something could not be
        read or stopped; everything else is logged.
        """
        pipeline, execution_id = change.pipeline, change.execution_id
        logs.bind(pipeline_name=pipeline, pipeline_execution_id=execution_id)
        if not change.names_an_execution or pipeline is None or execution_id is None:
            logger.warning("Ignoring an aws.codepipeline event without a pipeline and an execution id")
            return {"status": "Ignored", "reclaimed": []}
        function_name = context.function_name or self._environ.get("AWS_LAMBDA_FUNCTION_NAME", "")
        gateway = self._clients.gateway()
        try:
            execution = gateway.pipeline_execution_status(pipeline, execution_id)
            actions = [a for a in gateway.action_executions(pipeline, execution_id) if a.invokes(function_name)]
        except BlueGreenError as exc:
            logger.error("Cannot read pipeline execution %s of %s to reclaim its runs: %s", execution_id, pipeline, exc)
            raise ReclaimFailedError(f"reading pipeline execution {execution_id} of {pipeline} failed: {exc}") from exc
        reclaimed: list[dict[str, str]] = []
        failures: list[str] = []
        for action in actions:
            judgement = reclaim.judge_action(pipeline, execution_id, execution, action)
            green = green_identifier(action.action_execution_id)
            if judgement.verdict != "ended":
                logger.info("Leaving run GreenIdentifier=%s alone: %s", green, judgement.reason)
                continue
            try:
                done = self._reclaim_action(pipeline, execution_id, action, context)
            except BlueGreenError as exc:
                done = f"Reclaim FAILED, stop by hand whatever runs tagged GreenIdentifier={green} ({exc})"
            failed = "FAILED" in done or "could not" in done
            live = "already succeeded" in done  # a live release of a stopped run: a person decides on rollback
            level = logging.ERROR if failed or live else logging.WARNING
            if failed:
                failures.append(done)
            logger.log(
                level,
                "Reclaimed run GreenIdentifier=%s of action execution %s (%s): %s",
                green,
                action.action_execution_id,
                judgement.reason,
                done,
                extra={"reclaimed": True, "green_identifier": green, "action_execution_id": action.action_execution_id},
            )
            reclaimed.append({"actionExecutionId": action.action_execution_id, "greenIdentifier": green, "done": done})
        if failures:
            raise ReclaimFailedError(logs.redact("; ".join(failures)))
        return {"status": "Reclaimed" if reclaimed else "NothingToReclaim", "reclaimed": reclaimed}

    def _reclaim_action(
        self, pipeline: str, execution_id: str, action: ActionExecutionInfo, context: LambdaContext
    ) -> str:
        """Stop what still runs for one action execution of this function; says what was done.

        Raises:
            BlueGreenError: its UserParameters or token cannot be used (nothing can be stopped without them).
        """
        settings = Settings.from_environ(self._environ)
        decoded = decode_user_parameters(action.configuration.get("UserParameters"))
        _register_plain_token(decoded)
        # Reclaim never deploys: the revision only has to parse. The action's input artifacts as CodePipeline
        # recorded them; when it lists none, the parser leaves the input artifact unread (artifacts=None).
        artifacts = [InputArtifact(name, bucket, key, None) for name, bucket, key in action.input_artifacts if name]
        params = validate_parameters(decoded, default_secret=settings.default_secret, artifacts=artifacts or None)
        token = self._clients.tokens().resolve(params.token_source)
        logs.register_secret(token.reveal())
        deployment = self._deployment(
            params, settings, token, self._clients.http(), self._clients.gateway(), _remaining_seconds(context)
        )
        now = int(self._clock.now())
        state = RunState(
            phase="WAIT_DEPLOY",  # so that a CodeDeploy deployment of the run is looked for too
            green=green_identifier(action.action_execution_id),
            fingerprint=params.fingerprint(),
            started_at=now,
            deadline=now,
            pipeline_name=pipeline,
            pipeline_execution_id=execution_id,
            action_execution_id=action.action_execution_id,
        )
        return deployment.reclaim(state)

    def _refused(
        self, job_id: str, outcome: Outcome, deployment: Deployment | None, refusal: JobAlreadyReportedError
    ) -> None:
        """CodePipeline refused the report: find out why before deciding whether to stop the run."""
        state = outcome.state
        if state is None or deployment is None:
            logger.warning("CodePipeline no longer waits for this job (%s); nothing of the run was started", refusal)
            return
        judgement = reclaim.judge(self._clients.gateway(), state)
        if judgement.verdict == "answered":
            logger.warning(
                "CodePipeline no longer waits for this job (%s): another delivery answered it (%s); leaving the run "
                "to it",
                refusal,
                judgement.reason,
            )
            return
        if judgement.verdict == "unknown":
            logger.error(
                "CodePipeline no longer waits for this job (%s) and why cannot be told: %s. If the pipeline "
                "execution was stopped, stop by hand: %s",
                refusal,
                judgement.reason,
                reclaim.by_hand(state, deployment.group_id),
            )
            return
        if isinstance(outcome, Failed):
            logger.warning(
                "CodePipeline no longer waits for this job (%s; %s); the failed run was already cleaned up",
                refusal,
                judgement.reason,
            )
            return
        if isinstance(outcome, Succeeded) and not state.codedeploy_deployment_id:
            logger.warning(
                "CodePipeline no longer waits for this job (%s; %s); nothing was deployed", refusal, judgement.reason
            )
            return
        if isinstance(outcome, Succeeded):
            logger.error(
                "CodePipeline no longer waits for this job (%s; %s), but CodeDeploy deployment %s had already "
                "succeeded: the release is live; roll it back by hand if it must not be",
                refusal,
                judgement.reason,
                state.codedeploy_deployment_id,
            )
            return
        done = deployment.reclaim(state)
        logger.warning(
            "CodePipeline no longer waits for this job (%s; %s): reclaimed the run: %s",
            refusal,
            judgement.reason,
            done,
            extra={"reclaimed": True},
        )


class _MadeUpJobEventError(ConfigurationError):
    """A job event that does not say what CodePipeline holds for its job: made up, by someone allowed to invoke
    the function. Answered with nothing: the job is a real run's, and its own deliveries answer it."""

    def __init__(self, job_id: str, differ: list[str]) -> None:
        super().__init__(
            f"CodePipeline.job: the event for job {job_id} does not match CodePipeline's record of that job "
            f"(GetJobDetails: {', '.join(differ)} differ): it was not sent by CodePipeline; nothing was done and "
            "nothing reported to the job"
        )


_VARIABLE = re.compile(r"\\#\\\{[^}]*\\\}")  # an escaped #{Namespace.Variable}


def _differs_from_record(
    record: JobRecord, user_parameters: object, continuation: object, artifacts: list[InputArtifact]
) -> list[str]:
    """Which of the event's UserParameters, continuationToken and inputArtifacts differ from CodePipeline's own
    record of the job (GetJobDetails returns the same JobData the event carries: botocore's model, JobData).

    Where the record could read otherwise than the event without anything being wrong, the product is safe under
    both readings: a `#{...}` variable left unresolved in the record matches any value; a record without a
    continuation token or without input artifacts is not held against the event (the token is signed and bound
    to the action execution anyway; the artifacts only name what UserParameters already chose).
    """
    differ: list[str] = []
    recorded = record.user_parameters or ""
    given = user_parameters if isinstance(user_parameters, str) else ""
    pattern = _VARIABLE.sub(lambda _: ".*?", re.escape(recorded))
    if given != recorded and not re.fullmatch(pattern, given, flags=re.DOTALL):
        differ.append("UserParameters")
    if record.continuation_token is not None and continuation != record.continuation_token:
        differ.append("continuationToken")
    given_artifacts = sorted((a.name, a.bucket, a.key) for a in artifacts)
    if record.input_artifacts and given_artifacts != sorted(record.input_artifacts):
        differ.append("inputArtifacts")
    return differ


def _register_plain_token(given: UserParameters) -> None:
    """Redact a plain API_TOKEN from everything, even when other parameters turn out invalid."""
    token = given.plain_token()
    if token is not None and len(token.strip()) >= logs.MIN_SECRET_LENGTH:
        logs.register_secret(token)


def _json_kind(value: object) -> str:
    """What JSON value `value` is, for a message (never the value: it may hold a token)."""
    names = {list: "an array", str: "a string", bool: "a boolean", type(None): "null"}
    return next((name for kind, name in names.items() if isinstance(value, kind)), "a number")


def _run_before_deadline(
    deployment: Deployment, state: RunState, context: LambdaContext, timing: Timing, clock: Clock
) -> Outcome:
    """Run the flow in a worker thread; if a call hangs until the invocation is nearly out of time, give the run
    up so the job is still answered before Lambda kills the invocation (the flow hands over on its own otherwise).
    """
    remaining = _remaining_seconds(context)
    reserve = timing.safety_margin / 2  # time kept for the report itself
    outcomes: list[Outcome] = []

    def run() -> None:
        outcomes.append(deployment.run(state))

    worker = clock.start_thread(partial(contextvars.copy_context().run, run), name="bluegreen-run")
    while True:
        worker.join(timeout=max(0.0, min(_WATCHDOG_TICK, remaining() - reserve)))
        if outcomes:
            return outcomes[0]
        if not worker.is_alive():  # pragma: no cover - run() never raises; kept so a bug cannot hang the handler
            return Failed("JobFailed", "internal error: the run ended without an outcome")
        if remaining() <= reserve:
            logger.error("A call is still waiting with %.1f s of the invocation left: giving the run up", remaining())
            return deployment.abandon()


def _check_invocation_time(remaining: float, timing: Timing) -> None:
    """Raises ConfigurationError when the invocation cannot make one call and still report."""
    needed = timing.safety_margin / 2 + ONE_CALL_SECONDS
    if remaining < needed:
        raise ConfigurationError(
            f"Lambda function timeout: this invocation has {remaining:.0f} s, less than the {needed:.0f} s one call "
            f"and the report need; set the function's timeout to {RECOMMENDED_TIMEOUT} s (Configuration > General "
            "configuration > Timeout; the console's default is 3 s)"
        )


def _reportable(outcome: Outcome, key: TokenKey | None) -> Outcome:
    """`outcome`, or a failure saying why it cannot be sent: the report path itself never raises."""
    if not isinstance(outcome, InProgress):
        return outcome
    try:
        _continuation_token(outcome, key)
    except (ValueError, TypeError, RuntimeError) as exc:
        logger.error("The run's state cannot be carried to the next invocation: %s", exc)
        return Failed(
            "JobFailed",
            f"{outcome.state.phase}: internal error: the run's state cannot be carried to the next invocation "
            f"({type(exc).__name__}). Cleanup FAILED, do this by hand: stop the Spot and CodeDeploy deployments of "
            f"the green instances tagged GreenIdentifier={outcome.state.green}.",
        )
    return outcome


def _remaining_seconds(context: LambdaContext) -> Callable[[], float]:
    return lambda: context.get_remaining_time_in_millis() / 1000.0


def _fit(text: str, limit: int) -> str:
    """`text` redacted and cut to `limit` characters, keeping the end, where the cause is."""
    text = logs.redact(text)
    if len(text) <= limit:
        return text
    marker = "[...truncated] "
    return marker + text[-(limit - len(marker)) :]


def _external_id(state: RunState | None) -> str | None:
    """The CodeDeploy deployment id, once known: CodePipeline links it as the action's external execution."""
    if state is None or not state.codedeploy_deployment_id:
        return None
    return state.codedeploy_deployment_id[:MAX_EXTERNAL_ID]


def _output_variables(outcome: Succeeded) -> dict[str, str]:
    state = outcome.state
    revision = outcome.revision
    outputs = {
        "GreenIdentifier": state.green,
        "SpotDeploymentId": state.spot_deployment_id,
        "CodeDeployDeploymentId": state.codedeploy_deployment_id,
        "DeployedRevision": revision.location() if revision else None,
        "SourceRevision": revision.source_revision if isinstance(revision, S3Revision) else None,
    }
    return {k: v for k, v in outputs.items() if v}


def _continuation_token(outcome: InProgress, key: TokenKey | None) -> str:
    if key is None:  # pragma: no cover - a run in progress has always read its key first
        raise RuntimeError("a run in progress without its signing key")
    return encode_token(outcome.state, key)


def _result(outcome: Outcome, key: TokenKey | None) -> dict[str, Any]:
    state = outcome.state
    result: dict[str, Any] = {
        "status": {InProgress: "InProgress", Succeeded: "Succeeded", Failed: "Failed"}[type(outcome)],
        "phase": state.phase if state else "START",
        "greenIdentifier": state.green if state else None,
        "spotDeploymentId": state.spot_deployment_id if state else None,
        "codeDeployDeploymentId": state.codedeploy_deployment_id if state else None,
    }
    if isinstance(outcome, Failed):
        result["summary"] = _fit(outcome.message, MAX_FAILURE_MESSAGE)
        result["failureType"] = outcome.failure_type
    else:
        result["summary"] = _fit(outcome.summary, MAX_SUMMARY)
    if isinstance(outcome, Succeeded) and outcome.checks:
        result["checks"] = [logs.redact(check) for check in outcome.checks]
    if isinstance(outcome, InProgress):
        result["continuationToken"] = _continuation_token(outcome, key)
        result["percentComplete"] = outcome.percent
    return result


def create_handler(
    *,
    clock: Clock | None = None,
    environ: Mapping[str, str] | None = None,
    log_stream: IO[str] | None = None,
    boto3_session: boto3.session.Session | None = None,
    cold_start_warning: str | None = None,
) -> Handler:
    """A Lambda handler with its dependencies: the production one uses the system clock, os.environ and a new
    boto3 session; tests and the simulator pass their own (a session lets them hook botocore's events).
    `cold_start_warning`, if any, is the first line the first invocation logs.
    """
    return _BlueGreenHandler(
        clock or SystemClock(),
        os.environ if environ is None else environ,
        log_stream,
        boto3_session,
        cold_start_warning,
    )


def bytecode_mismatch(cached: str | None) -> str | None:
    """A warning when the package ships bytecode, but for another Python than this one (a zip built with
    `build_zip.py --python 3.12` on a python3.13 function): every cold start then compiles the sources.

    `cached` is a module's bytecode path for this interpreter (`__spec__.cached`). Costs one stat; the folder is
    listed only when that file is missing. A package built without bytecode gets no warning: it was asked for.
    """
    if not cached or os.path.exists(cached):
        return None
    try:
        names = os.listdir(os.path.dirname(cached))
    except OSError:
        return None
    shipped = sorted({name.split(".")[-2] for name in names if name.endswith(".pyc") and name.count(".") >= 2})
    if not shipped:
        return None
    runtime = f"{sys.version_info.major}.{sys.version_info.minor}"
    return (
        f"this package's bytecode is for {', '.join(shipped)}, but the function runs Python {runtime}: every cold "
        f"start compiles the sources instead; build the zip with `build_zip.py --python {runtime}`, or set the "
        "function's runtime to the one the zip was built for"
    )


_default_handler: Handler | None = None


def lambda_handler(event: object, context: LambdaContext) -> dict[str, Any] | None:
    """The function's entry point (`bluegreen.lambda_handler`)."""
    global _default_handler  # noqa: PLW0603 - built on the first invocation, reused while the container is warm
    if _default_handler is None:
        _default_handler = create_handler(cold_start_warning=bytecode_mismatch(__spec__.cached if __spec__ else None))
    return _default_handler(event, context)
