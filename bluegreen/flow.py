"""The deployment state machine: START -> WAIT_GREEN -> DEPLOY -> WAIT_DEPLOY -> BAKE -> outcome.

Owns the order of the phases, when to wait, when to hand over to a later invocation, the run's deadline, the
health gate (the CloudWatch alarms watched from DEPLOY to the end of the bake) and the cleanup after a failure.
Receives Spot and AWS as ports (bluegreen/ports.py) and the clock; never builds them, never reads the environment
and never talks to CodePipeline (the handler reports the outcome it returns).

Every change it makes (start or stop a Spot deployment, create or stop a CodeDeploy deployment) is made only by
a thread that holds the invocation's `Authority`: once the run is given up, its worker may still read, never
change. Cleanup stops only what this delivery of the job created; a deployment it adopted from a twin delivery
is left to the twin, and the message says so.

What it does not own, it delegates: the invocation's time and the one give-up of the run to `Invocation`
(bluegreen/authority.py), what the last look at the world saw to one `Observation` value
(bluegreen/observation.py) it replaces at each read, and every word of its reports to bluegreen/messages.py. What
is left here are the rules: which phase comes next, what to read, when to wait, what to stop.
"""

from __future__ import annotations

import base64
import contextlib
import contextvars
import hashlib
import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass, replace
from functools import partial
from typing import Final

from bluegreen import logs, messages
from bluegreen.authority import Authority, Invocation
from bluegreen.aws import (
    ActionRun,
    DeploymentProgress,
    GreenDeployment,
)
from bluegreen.clock import Clock
from bluegreen.domain import DELIVERY_TAG_KEY, GREEN_TAG_KEY, Revision, S3Revision
from bluegreen.errors import (
    AlarmFiredError,
    AuthorityLostError,
    BlueGreenError,
    DeploymentFailedError,
    DeploymentLimitExceededError,
    DeploymentTimedOutError,
    FailureType,
    NotOwnedError,
    OutOfInvocationTimeError,
    ServiceUnavailableError,
    SpotStartUnknownError,
    failure_type_of,
)
from bluegreen.observation import Observation
from bluegreen.params import DeploymentParams
from bluegreen.ports import AwsPort, SpotPort
from bluegreen.preflight import checked_items, run_preflight
from bluegreen.spot import SpotDeployment
from bluegreen.state import MAX_RECORDED_ARTIFACT, Phase, RunState

logger = logging.getLogger(__name__)

MAX_FAILED_TARGETS_SHOWN: Final = 3
MAX_POLL_FAILURES: Final = 3  # consecutive failed polls before the run gives up
SPOT_CHECK_AFTER_STALL: Final = 300.0  # seconds without a new green before Spot is asked whether it gave up
TWIN_LOOKS: Final = 3  # looks for a twin's CodeDeploy deployment after DeploymentLimitExceeded
TWIN_LOOK_WAIT: Final = 2.0


@dataclass(frozen=True)
class Timing:
    """How often to poll and how much of the Lambda's remaining time to keep for reporting."""

    poll_interval: float = 15.0
    safety_margin: float = 30.0


@dataclass(frozen=True)
class InProgress:
    state: RunState
    summary: str
    percent: int


@dataclass(frozen=True)
class Succeeded:
    state: RunState
    summary: str
    checks: tuple[str, ...] = ()  # a dry run: what was checked, one line each
    revision: Revision | None = None  # what was deployed (None for a dry run, which deploys nothing)


@dataclass(frozen=True)
class Failed:
    failure_type: FailureType
    message: str
    state: RunState | None = None


Outcome = InProgress | Succeeded | Failed


def green_identifier(run_id: str | None) -> str:
    """The GreenIdentifier tag value: 22 URL-safe characters, derived from the run's id when there is one.

    `run_id` is the CodePipeline action execution id (the same for every continuation job and duplicate
    delivery of one run of the action, new when a person retries it), or the job id when that cannot be
    known. The same run always gets the same value, so the start of a deployment is idempotent, and reclaim
    can recompute it from CodePipeline's records alone; a console test gets a fresh random value.
    """
    seed = hashlib.sha256(f"bluegreen:{run_id}".encode()).digest() if run_id else secrets.token_bytes(32)
    return base64.urlsafe_b64encode(seed[:16]).decode().rstrip("=")


class _NotOurs(Exception):  # noqa: N818 - a signal, not an error
    """Inside cleanup: the deployment is someone else's, so it is left alone."""


class _Abandoned(Exception):  # noqa: N818 - a signal, not an error
    """Raised inside the run once the handler has given it up."""


class _Ownership:
    """Ownership before power: the deployments this invocation started, created or checked as its own, and those
    it found to be someone else's (id -> why). Only the first kind is ever stopped.
    """

    def __init__(self) -> None:
        self._ours: set[str] = set()
        self._theirs: dict[str, str] = {}

    def claim(self, deployment_id: str) -> None:
        """Started or created now, or found on our group carrying our marker."""
        self._ours.add(deployment_id)

    def refuse(self, deployment_id: str, why: str) -> None:
        self._theirs[deployment_id] = why

    def ours(self, deployment_id: str | None) -> bool:
        return deployment_id in self._ours

    def why_not_ours(self, deployment_id: str) -> str | None:
        return self._theirs.get(deployment_id)

    @property
    def refused_any(self) -> bool:
        """The run was named someone else's deployment (a token or a lookup pointed at it)."""
        return bool(self._theirs)


@dataclass(frozen=True)
class _Failing:
    """A run this invocation is failing: the report it will send, and the error that failed it."""

    report: Failed
    cause: Exception


class Deployment:
    """Runs one invocation's share of a blue/green deployment."""

    def __init__(
        self,
        params: DeploymentParams,
        *,
        spot: SpotPort,
        aws: AwsPort,
        clock: Clock,
        timing: Timing,
        remaining_seconds: Callable[[], float],
        authority: Authority | None = None,
    ) -> None:
        self._params = params
        self._spot = spot
        self._aws = aws
        self._clock = clock
        self._timing = timing
        self._invocation = Invocation(remaining_seconds, safety_margin=timing.safety_margin, authority=authority)
        self._seen = Observation()  # what this invocation last saw of the world: replaced at each read
        self._stalled_since: float | None = None
        self._poll_failures = 0
        self._reached: RunState | None = None  # the last state the run reached: the loop's and the watchdog's
        self._failing: _Failing | None = None
        self._ownership = _Ownership()

    def call_time_left(self) -> float:
        """Seconds a call may still take in this invocation (the Spot client bounds every attempt by it)."""
        return self._invocation.call_time_left()

    @property
    def abandoned(self) -> bool:
        """Whether this invocation gave the run up (its worker may still be running, changing nothing)."""
        return self._invocation.given_up

    @property
    def greens_seen(self) -> int:
        """Green instances alive at this invocation's last look at the fleet."""
        return len(self._seen.greens)

    def begin(self, job_id: str | None, run: ActionRun | None = None) -> RunState:
        """The state of a new run, whose deadline is TIMEOUT seconds from now.

        The GreenIdentifier comes from the action execution when CodePipeline said which one this job belongs
        to, else from the job id (a console test has neither and gets a random one).
        """
        now = int(self._clock.now())
        revision = self._params.revision
        artifact: list[str | None] | None = None
        if isinstance(revision, S3Revision) and revision.artifact:
            artifact = [revision.artifact, revision.bucket, revision.key, revision.source_revision]
            if sum(len(v or "") for v in artifact) > MAX_RECORDED_ARTIFACT:
                artifact = None  # too long to carry: a continuation then relies on its event's input artifacts
        return RunState(
            phase="START",
            green=green_identifier(run.action_execution_id if run else job_id),
            fingerprint=self._params.fingerprint(),
            started_at=now,
            deadline=now + self._params.timeout_seconds,
            artifact=artifact,
            delivery=secrets.token_hex(4),
            pipeline_name=run.pipeline_name if run else None,
            pipeline_execution_id=run.pipeline_execution_id if run else None,
            action_execution_id=run.action_execution_id if run else None,
        )

    @property
    def group_id(self) -> str:
        return self._params.group_id

    def run(self, state: RunState) -> Outcome:
        """Advance the run as far as this invocation's time allows; never raises."""
        logger.info(
            "%s in phase %s (invocation %d)",
            "Resuming" if state.invocation > 1 else "Starting",
            state.phase,
            state.invocation,
            extra={"phase": state.phase, "green_identifier": state.green},
        )
        self._reached = state
        if not self._invocation.authority.grant():
            return self.abandon()
        try:
            self._wait_out_last_poll(state)
            return self._loop()
        except (_Abandoned, AuthorityLostError):
            return self.abandon()
        except OutOfInvocationTimeError as exc:
            logger.warning("%s: handing the run over", exc)
            return self.abandon()
        except Exception as exc:  # noqa: BLE001 - every failure ends in one report, after cleanup
            if self._invocation.given_up:
                # The next invocation owns the run now: cleaning up here would pull capacity from under it.
                return self.abandon()
            return self._fail(self._reached or state, exc)

    # ---- giving the run up ------------------------------------------------------------------------

    def abandon(self) -> Outcome:
        """Give the run up in this invocation (a call hangs, or no time is left for one); says what to report.

        Safe to call from another thread. From now on the worker changes nothing. The phases are idempotent (the
        green tag finds an already started Spot or CodeDeploy deployment), so the last state reached can be
        resumed: report it as in progress. A run already past its deadline fails, with the cleanup this
        invocation can still do in the time it has. A run that was already failing is reported as failed, with
        the cleanup it could not finish. The watchdog and the worker may both call it: the first answer stands.
        """
        return self._invocation.give_up(self._what_to_report_given_up)

    def _what_to_report_given_up(self) -> Outcome:
        state = self._reached
        if self._failing is not None:
            failing = self._failing.report
            return Failed(
                failing.failure_type,
                messages.cleanup_unfinished(failing.message, self._params.group_id, failing.state),
                failing.state,
            )
        if state is None:
            return Failed("SystemUnavailable", "no answer from Spot or AWS before the invocation's deadline")
        if self._clock.now() >= state.deadline:
            return self._fail_past_deadline(state)
        summary, percent = self.progress_summary(state)
        summary = messages.resuming_after_hang(summary)
        logger.warning("A call did not answer before the invocation's deadline in phase %s: handing over", state.phase)
        return InProgress(state.advance(invocation=state.invocation + 1), summary, percent)

    def _fail_past_deadline(self, state: RunState) -> Failed:
        """The run's TIMEOUT has passed while a call hung: fail now, cleaning up in the time this invocation has."""
        message = messages.timeout_during_call(self._timeout_message(state), state.phase)
        logger.error("Run failed in phase %s: %s", state.phase, message, extra={"phase": "FAILED"})
        cleanup: list[str] = []

        def clean_up() -> None:
            self._invocation.authority.entrust()
            cleanup.append(self._clean_up(state))

        self._invocation.begin_last_cleanup()
        helper = self._clock.start_thread(partial(contextvars.copy_context().run, clean_up), name="bluegreen-cleanup")
        helper.join(timeout=self._invocation.last_cleanup_time())
        if cleanup:
            return Failed("JobFailed", f"{message}\n{cleanup[0]}".rstrip(), state)
        return Failed("JobFailed", messages.cleanup_timed_out(message, self._params.group_id, state), state)

    # ---- the loop ---------------------------------------------------------------------------------

    def _wait_out_last_poll(self, state: RunState) -> None:
        # CodePipeline may call again within seconds of a hand-over: keep to one poll per interval across it.
        if state.polled_at is None:
            return
        wait = state.polled_at + self._timing.poll_interval - self._clock.now()
        if wait > 0:
            self._clock.sleep(min(wait, self._timing.poll_interval))

    def _loop(self) -> Outcome:
        """Step the run on from the last state reached, until it ends or hands over."""
        while (before := self._reached) is not None:
            state, done = self._step(before)
            if self._invocation.given_up:
                raise _Abandoned
            self._reached = state
            if done is not None:
                return done
            if state.phase != before.phase:
                self._log_phase(before.phase, state)
                continue  # a new phase starts at once: no reason to wait
            now = self._clock.now()
            if now >= state.deadline:
                raise DeploymentTimedOutError(self._timeout_message(state))
            if self._invocation.remaining() < self._timing.safety_margin + self._timing.poll_interval:
                return self._hand_over(state)
            wake = min(state.deadline, self._bake_end(state) or state.deadline)
            self._clock.sleep(max(0.0, min(self._timing.poll_interval, wake - now)))
            if self._invocation.given_up:
                raise _Abandoned
        return self.abandon()  # no state reached, nothing to step: run() records one before the loop

    def _step(self, state: RunState) -> tuple[RunState, Outcome | None]:
        if state.phase == "START":
            return self._start(state)
        if state.phase == "DEPLOY":
            return self._deploy(state), None
        try:
            if state.phase == "WAIT_GREEN":
                result: tuple[RunState, Outcome | None] = (self._wait_green(state), None)
            elif state.phase == "WAIT_DEPLOY":
                result = self._wait_deploy(state)
            else:
                result = self._bake(state)
        except ServiceUnavailableError as exc:
            # A poll only reads: one that fails is retried at the next interval, and a long deployment does not
            # fail on one blip. Several in a row mean the service is really down.
            self._poll_failures += 1
            if self._poll_failures >= MAX_POLL_FAILURES:
                raise
            logger.warning("Poll failed (%d in a row), retrying at the next interval: %s", self._poll_failures, exc)
            return state, None
        self._poll_failures = 0
        return result

    def _log_phase(self, before: Phase, state: RunState) -> None:
        logs.bind(spot_deployment_id=state.spot_deployment_id, codedeploy_deployment_id=state.codedeploy_deployment_id)
        logger.info(
            "Phase %s -> %s",
            before,
            state.phase,
            extra={
                "phase": state.phase,
                "green_identifier": state.green,
                "spot_deployment_id": state.spot_deployment_id,
                "codedeploy_deployment_id": state.codedeploy_deployment_id,
                "expected_greens": state.expected_greens,
            },
        )

    # ---- phases -----------------------------------------------------------------------------------

    def _start(self, state: RunState) -> tuple[RunState, Outcome | None]:
        p = self._params
        checked = run_preflight(p, state.green, spot=self._spot, aws=self._aws, clock=self._clock)
        if p.dry_run:
            summary = messages.dry_run_summary(p, state, checked)
            return state, Succeeded(state, summary, tuple(checked_items(p, checked)))
        if checked.existing is not None and checked.existing.own_outcome() != "running":
            # A re-delivery of an event whose run already ended: its outcome is in the world, not to be redone.
            return self._reproduce(state, checked.existing, checked.expected_greens), None
        # Found by our tag but not started by this delivery (a token from before deliveries were marked: ours).
        adopted = (
            checked.existing is not None
            and state.delivery is not None
            and not checked.existing.has_tag(DELIVERY_TAG_KEY, state.delivery)
        )
        if checked.existing is not None:
            logger.info(
                "Spot deployment %s already carries GreenIdentifier=%s: attaching to it (duplicate delivery)",
                checked.existing.deployment_id,
                state.green,
            )
            deployment = checked.existing
        else:
            self._invocation.authority.check("Spot POST start blue/green deployment")
            deployment = self._spot.start_deployment(
                p.group_id,
                tag_key=GREEN_TAG_KEY,
                tag_value=state.green,
                # TIMEOUT in seconds, unchanged, as the original function sent it; Spot's unit is not settled and
                # the run never relies on Spot's own timeout (docs/spot-timeout.md).
                timeout=p.timeout_seconds,
                application=p.application,
                deployment_group=p.deployment_group,
                extra_tags=((DELIVERY_TAG_KEY, state.delivery),) if state.delivery else (),
            )
        self._ownership.claim(deployment.deployment_id)  # started now, or found on our group carrying our tag
        self._seen = replace(self._seen, spot_running=True)
        started = state.advance(
            phase="WAIT_GREEN",
            expected_greens=checked.expected_greens,
            spot_deployment_id=deployment.deployment_id,
            spot_adopted=adopted,
        )
        return started, None

    def _reproduce(self, state: RunState, spot: SpotDeployment, expected_greens: int) -> RunState:
        """The state of a run that ended before this delivery: follow its CodeDeploy deployment to the outcome it
        had (success, or failure with CodeDeploy's own cause), and never start anything again.

        Raises:
            DeploymentFailedError: the Spot deployment ended before any CodeDeploy deployment was made.
        """
        p = self._params
        self._ownership.claim(spot.deployment_id)  # found on our group carrying our tag
        ended = state.advance(expected_greens=expected_greens, spot_deployment_id=spot.deployment_id)
        self._reached = ended
        found = self._aws.find_deployment_for_green(
            p.application, p.deployment_group, state.green, created_since=state.started_at
        )
        logger.warning(
            "Spot deployment %s of this run has already ended (%s/%s): an earlier delivery of this event ran it; "
            "reporting its outcome%s",
            spot.deployment_id,
            spot.state,
            spot.status,
            f" from CodeDeploy deployment {found.deployment_id}" if found else "",
        )
        if found is None:
            raise DeploymentFailedError(messages.ended_before_codedeploy(spot, state.green))
        deployment_id = found.deployment_id
        self._ownership.claim(deployment_id)  # listed on our group with our green marker
        deploying = ended.advance(phase="WAIT_DEPLOY", codedeploy_deployment_id=deployment_id)
        self._reached = deploying
        if spot.outcome == "succeeded":
            return deploying  # its CodeDeploy deployment's status is the run's outcome
        progress = self._aws.deployment_progress(deployment_id)
        self._check_codedeploy_owner(progress, state.green)
        self._seen = replace(self._seen, codedeploy=progress)
        if progress.status in ("Failed", "Stopped"):
            raise DeploymentFailedError(self._failure_message(progress))
        raise DeploymentFailedError(messages.ended_while_deploying(spot, deployment_id, progress.status))

    def _wait_green(self, state: RunState) -> RunState:
        expected = state.expected_greens or 1
        live_before = len(self._seen.greens)
        state = self._observe_greens(state, expected)
        if len(self._seen.ready) >= expected:
            return state.advance(phase="DEPLOY", greens_ready_at=int(self._clock.now()))
        now = self._clock.now()
        if self._stalled_since is None or len(self._seen.greens) != live_before:
            self._stalled_since = now
        elif now - self._stalled_since >= SPOT_CHECK_AFTER_STALL:
            # The fleet has not grown for a while: ask Spot once whether it gave up, rather than wait for TIMEOUT.
            self._stalled_since = now
            self._check_spot_still_running(state)
        return state

    def _check_spot_still_running(self, state: RunState, before: str = "the green instances were ready") -> None:
        if state.spot_deployment_id is None:
            return
        deployment = next(
            (
                d
                for d in self._spot.list_deployments(self._params.group_id)
                if d.deployment_id == state.spot_deployment_id
            ),
            None,
        )
        if deployment is not None and deployment.own_outcome() == "failed":
            raise DeploymentFailedError(messages.spot_ended(deployment, before))

    def _observe_greens(self, state: RunState, expected: int) -> RunState:
        # Steady state costs one EC2 call per poll: once enough greens are known, only their status is read;
        # the fleet is listed again only when one of them has gone away (e.g. a spot interruption).
        if len(self._seen.greens) < expected:
            self._seen = replace(self._seen, greens=tuple(self._aws.find_green_instances(state.green)))
            if len(self._seen.running) < expected:
                return state
        health = self._aws.instance_health(self._seen.green_ids)
        live = [h for h in health if h.alive]
        if len(live) < len(health):
            gone = [h for h in health if not h.alive]
            logger.warning(
                "Green instance(s) %s went away; waiting for replacements", ", ".join(h.instance_id for h in gone)
            )
            # "unknown" is EC2 not describing a new instance yet, not a loss.
            lost = sum(1 for h in gone if h.state != "unknown")
            state = state.advance(greens_lost=state.greens_lost + lost)
        self._seen = replace(self._seen, greens=tuple(live))
        return state

    def _deploy(self, state: RunState) -> RunState:
        p = self._params
        found = self._aws.find_deployment_for_green(
            p.application, p.deployment_group, state.green, created_since=state.started_at
        )
        if found is not None:
            logger.info("CodeDeploy deployment %s already targets this green fleet: following it", found.deployment_id)
            return self._following(state, found)
        if self._clock.now() >= state.deadline:
            # Reached past TIMEOUT (greens ready at the last poll, or a late continuation): deploy nothing new.
            raise DeploymentTimedOutError(self._timeout_message(state))
        if not self._seen.spot_running:
            # Resumed into DEPLOY: never deploy onto the greens of a Spot deployment that was stopped meanwhile.
            self._check_spot_still_running(state, "the CodeDeploy deployment was made")
        self._check_alarms_before_deploying()
        self._invocation.authority.check("codedeploy:CreateDeployment")
        try:
            deployment_id = self._aws.create_deployment(
                p.application,
                p.deployment_group,
                p.revision,
                state.green,
                description=messages.deployment_description(p, state),
                created_since=state.started_at,
            )
        except DeploymentLimitExceededError:
            # The deployment that holds the group may be our own twin's (a duplicate delivery that reached DEPLOY
            # between our look and our create): then follow it instead of failing and cleaning up under it.
            twin = self._find_twin_deployment(state.green, state.started_at)
            if twin is None:
                raise
            logger.info(
                "CodeDeploy deployment %s of a twin delivery targets this green fleet: following it", twin.deployment_id
            )
            return self._following(state, twin)
        self._ownership.claim(deployment_id)  # created now
        return state.advance(phase="WAIT_DEPLOY", codedeploy_deployment_id=deployment_id)

    def _check_alarms_before_deploying(self) -> None:
        """An alarm already in ALARM fails the run before CodeDeploy starts on the greens.

        Raises:
            AlarmFiredError: an alarm is in ALARM.
        """
        try:
            self._check_alarms()
        except ServiceUnavailableError as exc:
            # Not a reason to hold the deployment: the first WAIT_DEPLOY poll reads the alarms again, at once.
            logger.warning("Could not read the alarms before deploying (read again at the first poll): %s", exc)

    def _following(self, state: RunState, found: GreenDeployment) -> RunState:
        # Ours when this delivery's marker is on it (an earlier invocation of this run created it); else a twin's.
        ours = state.delivery is None or found.marked(DELIVERY_TAG_KEY, state.delivery)
        self._ownership.claim(found.deployment_id)  # listed on our group with our green marker
        return state.advance(
            phase="WAIT_DEPLOY", codedeploy_deployment_id=found.deployment_id, codedeploy_adopted=not ours
        )

    def _find_twin_deployment(self, green: str, started_at: int) -> GreenDeployment | None:
        p = self._params
        for look in range(TWIN_LOOKS):
            if look:
                self._clock.sleep(TWIN_LOOK_WAIT)
            found = self._aws.find_deployment_for_green(
                p.application, p.deployment_group, green, created_since=started_at
            )
            if found is not None:
                return found
        return None

    def _wait_deploy(self, state: RunState) -> tuple[RunState, Outcome | None]:
        assert state.codedeploy_deployment_id is not None  # noqa: S101 - DEPLOY always sets it
        progress = self._aws.deployment_progress(state.codedeploy_deployment_id)
        self._check_codedeploy_owner(progress, state.green)
        self._seen = replace(self._seen, codedeploy=progress)
        if progress.status in ("Failed", "Stopped"):
            raise DeploymentFailedError(self._failure_message(progress))
        self._check_alarms()  # also when CodeDeploy just succeeded: a firing alarm is never reported as success
        if progress.status != "Succeeded":
            return state, None
        if self._params.bake_seconds > 0:
            logger.info(
                "CodeDeploy deployment %s succeeded: baking for %d s",
                state.codedeploy_deployment_id,
                self._params.bake_seconds,
            )
            return state.advance(phase="BAKE", bake_started_at=int(self._clock.now())), None
        return state, self._succeeded(state)

    def _bake(self, state: RunState) -> tuple[RunState, Outcome | None]:
        if not self._ownership.ours(state.codedeploy_deployment_id):  # resumed in BAKE: read whose it was, once
            assert state.codedeploy_deployment_id is not None  # noqa: S101 - the token's range check ensures it
            self._check_codedeploy_owner(self._aws.deployment_progress(state.codedeploy_deployment_id), state.green)
        self._check_alarms()
        end = self._bake_end(state)
        if end is not None and self._clock.now() >= end:
            return state, self._succeeded(state)
        return state, None

    def _bake_end(self, state: RunState) -> float | None:
        if state.phase != "BAKE" or state.bake_started_at is None:
            return None
        return float(state.bake_started_at + self._params.bake_seconds)

    def _check_alarms(self) -> None:
        """One DescribeAlarms call for all of ALARMS; fails the run if one of them is in ALARM.

        Raises:
            AlarmFiredError: an alarm is in ALARM.
            ServiceUnavailableError: CloudWatch did not answer, or left an alarm out (a poll blip, retried).
        """
        names = self._params.alarms
        if not names:
            return
        states = self._aws.alarm_states(names)
        self._seen = replace(self._seen, alarms=states)
        missing = [name for name in names if name not in states]
        if missing:
            # Preflight saw them: a deleted alarm or a reply botocore read as empty. Like a failed poll, never a
            # success; it fails the run only if it persists.
            raise ServiceUnavailableError(messages.alarms_unread(missing))
        firing = [states[name] for name in names if states[name].firing]
        if firing:
            raise AlarmFiredError(messages.alarms_firing(firing))

    def _succeeded(self, state: RunState) -> Succeeded:
        summary = messages.success_summary(self._params, state, self._seen.alarms)
        logger.info("Deployment succeeded", extra={"phase": "SUCCEEDED"})
        return Succeeded(state, summary, revision=self._params.revision)

    # ---- ownership before power --------------------------------------------------------------------

    def _check_codedeploy_owner(self, progress: DeploymentProgress, green: str) -> None:
        """Raises NotOwnedError unless the deployment is this run's (application, group, green marker)."""
        p = self._params
        problem = progress.not_owned_by(p.application, p.deployment_group, green)
        if problem is not None:
            self._ownership.refuse(progress.deployment_id, problem)
            raise NotOwnedError(messages.codedeploy_not_ours(progress.deployment_id, problem))
        self._ownership.claim(progress.deployment_id)

    def _codedeploy_not_owned(self, deployment_id: str, green: str) -> str | None:
        if self._ownership.ours(deployment_id):
            return None
        if self._ownership.why_not_ours(deployment_id) is None:
            with contextlib.suppress(NotOwnedError):  # recorded as refused
                self._check_codedeploy_owner(self._aws.deployment_progress(deployment_id), green)
        return self._ownership.why_not_ours(deployment_id)

    def _spot_not_owned(self, deployment_id: str, green: str) -> str | None:
        if self._ownership.ours(deployment_id):
            return None
        group = self._params.group_id
        listed = next((d for d in self._spot.list_deployments(group) if d.deployment_id == deployment_id), None)
        if listed is None:
            problem = f"Elastigroup {group} lists no deployment {deployment_id}"
        elif not listed.has_tag(GREEN_TAG_KEY, green):
            problem = f"it does not carry the tag {GREEN_TAG_KEY}={green}"
        else:
            self._ownership.claim(deployment_id)
            return None
        self._ownership.refuse(deployment_id, problem)
        return problem

    # ---- progress, hand-over and failure ----------------------------------------------------------

    def progress_summary(self, state: RunState) -> tuple[str, int]:
        """A line a person can read, and a percentage, for the in-progress report."""
        return messages.progress_summary(self._params, state, self._seen, now=self._clock.now())

    def _hand_over(self, state: RunState) -> InProgress:
        summary, percent = self.progress_summary(state)
        logger.info("Handing over to the next invocation in phase %s", state.phase, extra={"phase": state.phase})
        polled_at = int(self._clock.now()) if state.phase in ("WAIT_GREEN", "WAIT_DEPLOY", "BAKE") else None
        return InProgress(state.advance(invocation=state.invocation + 1, polled_at=polled_at), summary, percent)

    def _timeout_message(self, state: RunState) -> str:
        return messages.timeout(self._params, state, self._seen, now=self._clock.now())

    def _failure_message(self, progress: DeploymentProgress) -> str:
        try:
            failures = self._aws.failed_targets(progress.deployment_id, limit=MAX_FAILED_TARGETS_SHOWN)
        except BlueGreenError as exc:
            logger.warning("Could not read the failed instances' lifecycle events: %s", exc)
            return messages.codedeploy_failure(progress, exc)
        return messages.codedeploy_failure(progress, failures)

    def _fail(self, state: RunState, exc: Exception) -> Failed:
        failure_type = failure_type_of(exc)
        message = messages.failure(state.phase, exc)
        if isinstance(exc, BlueGreenError):
            logger.error("Run failed in phase %s: %s", state.phase, exc, extra={"phase": "FAILED"})
        else:
            logger.exception("Run failed in phase %s with an unexpected error", state.phase)
        self._failing = _Failing(Failed(failure_type, message, state), exc)
        if isinstance(exc, SpotStartUnknownError) and state.spot_deployment_id is None:
            state = self._recover_started(state)
        cleanup = self._clean_up(state)
        if cleanup:
            message += "\n" + cleanup
        if self._ownership.refused_any:  # the run named someone else's deployment: that is what to fix
            failure_type = "ConfigurationError"
        return Failed(failure_type, message, state)

    @property
    def _failing_cause(self) -> Exception | None:
        return self._failing.cause if self._failing is not None else None

    def _recover_started(self, state: RunState) -> RunState:
        """After a start whose outcome stayed unknown, one more look for our deployment, so it can be stopped."""
        try:
            found = self._spot.find_deployment_by_tag(self._params.group_id, GREEN_TAG_KEY, state.green)
        except BlueGreenError as exc:
            logger.warning("Could not look for a Spot deployment this run may have started: %s", exc)
            found = None
        if found is None:
            return state
        return state.advance(spot_deployment_id=found.deployment_id)

    # ---- reclaim and cleanup ----------------------------------------------------------------------

    def reclaim(self, state: RunState) -> str:
        """Stop whatever of this run still runs, because CodePipeline no longer waits for it; says what was done.

        CodePipeline gave up the whole action execution, so what a twin delivery of it started is stopped too.
        Idempotent: a deployment that already ended is left as it is. A deployment the state does not name yet
        (the invocation was given up while the call that creates it hung, or only the GreenIdentifier is known)
        is looked up by the run's tag first. Ownership is checked as for any stop: a deployment named by the
        state that is not on our group with our green marker is never stopped. Never raises: what could not be
        stopped is listed for a person.
        """
        p = self._params
        # The thread that learnt CodePipeline gave the run up may stop what is left of it, with most of the reserve
        # kept for the report (already sent, or refused); a worker given up earlier still changes nothing.
        self._invocation.authority.entrust()
        self._invocation.begin_last_cleanup()
        state = state.advance(spot_adopted=False, codedeploy_adopted=False)
        lookups: list[str] = []
        if state.spot_deployment_id is None:
            try:
                spot = self._spot.find_deployment_by_tag(p.group_id, GREEN_TAG_KEY, state.green)
                if spot is not None and spot.own_outcome() == "running":
                    self._ownership.claim(spot.deployment_id)  # found on our group carrying our tag
                    state = state.advance(spot_deployment_id=spot.deployment_id)
            except BlueGreenError as exc:
                lookups.append(messages.spot_lookup(state.green, exc))
        if state.codedeploy_deployment_id is None and state.phase != "WAIT_GREEN":
            try:
                found = self._aws.find_deployment_for_green(
                    p.application, p.deployment_group, state.green, created_since=state.started_at
                )
                if found is not None:
                    self._ownership.claim(found.deployment_id)  # listed on our group with our green marker
                    state = state.advance(codedeploy_deployment_id=found.deployment_id)
            except BlueGreenError as exc:
                lookups.append(messages.codedeploy_lookup(state.green, exc))
        if state.codedeploy_deployment_id and self._seen.codedeploy is None:
            try:
                progress = self._aws.deployment_progress(state.codedeploy_deployment_id)
                self._check_codedeploy_owner(progress, state.green)
                self._seen = replace(self._seen, codedeploy=progress)
            except NotOwnedError:
                pass  # recorded: the cleanup below names it and leaves it alone
            except BlueGreenError as exc:
                logger.warning("Could not read CodeDeploy deployment %s: %s", state.codedeploy_deployment_id, exc)
        if self._seen.deployed:
            # The release went live: Elastigroup is retiring the blues; stopping it now would only break that.
            return messages.already_live(state.codedeploy_deployment_id)
        text = self._clean_up(state)
        if lookups:
            text += messages.reclaim_lookups_failed(lookups)
        return text or "nothing of this run was still running"

    def _clean_up(self, state: RunState) -> str:
        """Stop what this delivery started, so no green capacity is left behind; says what was done."""
        done: list[str] = []
        by_hand: list[str] = []
        not_ours: list[str] = []
        left: list[str] = []
        if state.phase == "BAKE" or self._seen.deployed:
            return self._left_running(state)
        try:
            self._stop_codedeploy(state, done, by_hand, left, not_ours)
            if self._seen.deployed:
                # CodeDeploy said it had completed, and the read that followed showed success (the poll that failed
                # the run missed it): the blues may be retiring, so the Spot deployment is left as after a success.
                return self._left_running(state)
            self._stop_spot(state, done, by_hand, left, not_ours)
        except AuthorityLostError:
            by_hand.append("the rest of the cleanup: this invocation gave the run up while cleaning up")
        parts = messages.cleanup(done=done, by_hand=by_hand, left=left, not_ours=not_ours)
        for part in parts:
            logger.warning(part)
        return " ".join(parts)

    def _left_running(self, state: RunState) -> str:
        """CodeDeploy has succeeded, so Elastigroup may already be retiring the blue instances: stopping the Spot
        deployment now could take down the only fleet left serving. It is left, and the text says how to roll back.
        """
        text = messages.left_running(state)
        logger.warning(text)
        return text

    def _stop_codedeploy(
        self, state: RunState, done: list[str], by_hand: list[str], left: list[str], not_ours: list[str]
    ) -> None:
        if not state.codedeploy_deployment_id or self._seen.codedeploy_over:
            return
        if state.codedeploy_adopted:
            left.append(messages.codedeploy_left_to_twin(state.codedeploy_deployment_id))
            return
        self._invocation.authority.check("codedeploy:StopDeployment")
        try:
            problem = self._codedeploy_not_owned(state.codedeploy_deployment_id, state.green)
            if problem is not None:
                not_ours.append(f"CodeDeploy deployment {state.codedeploy_deployment_id} ({problem})")
            elif self._aws.stop_deployment(state.codedeploy_deployment_id):
                done.append(f"stopped CodeDeploy deployment {state.codedeploy_deployment_id} (with rollback)")
            else:
                self._read_how_it_ended(state.codedeploy_deployment_id)
        except BlueGreenError as exc:
            by_hand.append(f"stop CodeDeploy deployment {state.codedeploy_deployment_id} ({exc})")

    def _read_how_it_ended(self, deployment_id: str) -> None:
        """CodeDeploy refused the stop as already completed: one read tells success from failure (one GetDeployment,
        only on this path). Unreadable, the run's failure stands and the Spot deployment is stopped as before.
        """
        try:
            self._seen = replace(self._seen, codedeploy=self._aws.deployment_progress(deployment_id))
        except BlueGreenError as exc:
            logger.warning("Could not read how CodeDeploy deployment %s ended: %s", deployment_id, exc)

    def _stop_spot(
        self, state: RunState, done: list[str], by_hand: list[str], left: list[str], not_ours: list[str]
    ) -> None:
        if not state.spot_deployment_id:
            if state.phase == "START" and isinstance(self._failing_cause, SpotStartUnknownError):
                by_hand.append(messages.look_for_spot_start(self._params.group_id, state.green))
            return
        if state.spot_adopted:
            left.append(messages.spot_left_to_twin(state.spot_deployment_id))
            return
        if state.spot_deployment_id:
            self._invocation.authority.check("Spot PUT stop blue/green deployment")
            try:
                problem = self._spot_not_owned(state.spot_deployment_id, state.green)
                if problem is not None:
                    not_ours.append(f"Spot deployment {state.spot_deployment_id} ({problem})")
                    raise _NotOurs
                stopped = self._spot.stop_deployment(self._params.group_id, state.spot_deployment_id)
                done.append(messages.spot_stopped(state, stopped=stopped))
            except _NotOurs:
                pass
            except BlueGreenError as exc:
                by_hand.append(f"{messages.stop_spot_by_hand(self._params.group_id, state)} ({exc})")
