"""The run's state machine vocabulary and the continuation token that carries it across invocations.

Owns the phase names, `RunState` (everything a later invocation needs to resume) and its encoding: a small,
versioned JSON document of at most 2048 characters, signed with HMAC-SHA256 under a key only the function
holds (`TokenKey`; where it comes from and why: docs/security.md). Decoding is strict: a truncated, tampered,
forged, foreign or outdated token, or one whose fields are out of range for this run, is a `ConfigurationError`
saying so, never a crash, and is refused before anything is done with it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
from dataclasses import asdict, dataclass, replace
from typing import Any, Final, Literal, TypedDict, Unpack, get_args

from bluegreen.errors import ConfigurationError

Phase = Literal["START", "WAIT_GREEN", "DEPLOY", "WAIT_DEPLOY", "BAKE"]
PHASES: Final[tuple[Phase, ...]] = get_args(Phase)

TOKEN_VERSION: Final = 2  # 1 carried an unkeyed checksum: anyone could write one
MAX_TOKEN_LENGTH: Final = 2048
MIN_KEY_LENGTH: Final = 32  # characters of the secret the key is made from
MAX_CLOCK_SKEW: Final = 300  # seconds a token's times may lie ahead of this invocation's clock
MAX_GREENS: Final = 1000  # no Elastigroup the function serves launches more green instances than this
MAX_INVOCATIONS: Final = 1000  # CodePipeline gives an action 24 hours; a run hands over at most this often

GREEN_RE: Final = re.compile(r"[A-Za-z0-9_-]{22}")
SPOT_DEPLOYMENT_RE: Final = re.compile(r"cdbg-[A-Za-z0-9]{1,64}")
CODEDEPLOY_DEPLOYMENT_RE: Final = re.compile(r"d-[A-Z0-9]{1,64}")
# CodePipeline's ids, from botocore's codepipeline model: PipelineName is [A-Za-z0-9.@\-_]+ of 1-100 characters,
# PipelineExecutionId a lowercase UUID. ActionExecutionId has no pattern there (observed: UUIDs); assumed to be
# letters, digits and hyphens, at most 128, so nothing else a reply says reaches a token or a log line.
PIPELINE_NAME_RE: Final = re.compile(r"[A-Za-z0-9.@_-]{1,100}")
PIPELINE_EXECUTION_ID_RE: Final = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
ACTION_EXECUTION_ID_RE: Final = re.compile(r"[A-Za-z0-9-]{1,128}")


@dataclass(frozen=True)
class RunState:
    """Where a run is. Immutable: each step returns a new state."""

    phase: Phase
    green: str
    fingerprint: str
    started_at: int
    deadline: int
    expected_greens: int | None = None
    spot_deployment_id: str | None = None
    codedeploy_deployment_id: str | None = None
    invocation: int = 1
    polled_at: int | None = None  # when the last poll ran: a resumed run waits out the rest of that interval
    greens_ready_at: int | None = None  # when enough greens passed their checks (the end of the green launch)
    bake_started_at: int | None = None  # when CodeDeploy succeeded and the bake began
    greens_lost: int = 0  # green instances that went away (spot interruptions) while the run waited for them
    # The input artifact deployed, [name, bucket, key, revision]: what a continuation deploys if its event carried
    # no input artifacts (CodePipeline's JobData is expected to repeat them; the run must not depend on it).
    artifact: list[str | None] | None = None
    # Which delivery of the job this run is (random, carried by its continuations): it marks what this delivery
    # starts, so a deployment found later is told apart from one a twin delivery of the same job started.
    delivery: str | None = None
    # A deployment this delivery found already started by a twin delivery of the same job: cleanup leaves it.
    spot_adopted: bool = False
    codedeploy_adopted: bool = False
    # The run's identity in CodePipeline (GetJobDetails' pipelineContext), so that a later invocation can ask
    # CodePipeline whether it still waits for this run. None for a console test, or when GetJobDetails failed.
    pipeline_name: str | None = None
    pipeline_execution_id: str | None = None
    action_execution_id: str | None = None

    def advance(self, **changes: Unpack[Progress]) -> RunState:
        """This state with a step's changes (mypy checks each name and type; the run's identity has none)."""
        return replace(self, **changes)


class Progress(TypedDict, total=False):
    """What a step may change in `RunState`. The run's identity (green, fingerprint, started_at, deadline, artifact,
    delivery, and the pipeline run's ids) is fixed when the run begins, so it is not here.
    """

    phase: Phase
    expected_greens: int | None
    spot_deployment_id: str | None
    codedeploy_deployment_id: str | None
    invocation: int
    polled_at: int | None
    greens_ready_at: int | None
    bake_started_at: int | None
    greens_lost: int
    spot_adopted: bool
    codedeploy_adopted: bool


class TokenKey:
    """The key continuation tokens are signed with: made from a secret only the function can read.

    Its repr and str hide it; `secret` is kept only so the handler can register it for redaction.
    """

    def __init__(self, secret: str) -> None:
        """Raises: ConfigurationError when the secret is too short to be a key."""
        if len(secret.strip()) < MIN_KEY_LENGTH:
            raise ConfigurationError(
                f"BLUEGREEN_TOKEN_KEY_SECRET: the secret holds {len(secret.strip())} characters, fewer than "
                f"{MIN_KEY_LENGTH}; store a random string of at least {MIN_KEY_LENGTH} (the SAM template generates "
                "64; see docs/deploy.md)"
            )
        self.secret = secret.strip()
        # Domain-separated, so the same secret can never sign anything else of ours by accident.
        self._key = hmac.new(self.secret.encode(), b"bluegreen continuation token", hashlib.sha256).digest()

    def mac(self, payload: str) -> str:
        digest = hmac.new(self._key, payload.encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).decode().rstrip("=")

    def verifies(self, payload: str, mac: object) -> bool:
        return isinstance(mac, str) and hmac.compare_digest(self.mac(payload), mac)

    def __repr__(self) -> str:
        return "TokenKey(***)"

    __str__ = __repr__


_FIELDS: Final = {
    "phase": "p",
    "green": "g",
    "fingerprint": "f",
    "started_at": "s",
    "deadline": "d",
    "expected_greens": "n",
    "spot_deployment_id": "sd",
    "codedeploy_deployment_id": "cd",
    "invocation": "i",
    "polled_at": "t",
    "greens_ready_at": "r",
    "bake_started_at": "b",
    "greens_lost": "l",
    "artifact": "a",
    "delivery": "dv",
    "spot_adopted": "sa",
    "codedeploy_adopted": "ca",
    "pipeline_name": "pn",
    "pipeline_execution_id": "px",
    "action_execution_id": "ax",
}
MAX_RECORDED_ARTIFACT: Final = 1200  # characters of name, bucket, key and revision a token carries at most


def encode_token(state: RunState, key: TokenKey) -> str:
    """The continuation token for `state`: versioned compact JSON with its HMAC-SHA256 under `key`."""
    body = {
        short: value
        for name, short in _FIELDS.items()
        if (value := asdict(state)[name]) is not None and value is not False
    }
    document = {"v": TOKEN_VERSION, **body}
    token = _canonical({**document, "m": key.mac(_canonical(document))})
    if len(token) > MAX_TOKEN_LENGTH:  # pragma: no cover - ids are bounded; guarded for safety
        raise ValueError(f"continuation token is {len(token)} characters, more than {MAX_TOKEN_LENGTH}")
    return token


def decode_token(
    token: str,
    *,
    key: TokenKey,
    fingerprint: str,
    timeout_seconds: int,
    now: float,
    action_execution_id: str | None = None,
) -> RunState:
    """The state a continuation token carries, once its signature, its binding to this run and every field's
    range are checked.

    `action_execution_id` is the action execution this job belongs to (GetJobDetails), None when it cannot be
    known (a console test, or CodePipeline would not say): a token is accepted only by the run that wrote it.

    Raises:
        ConfigurationError: the token is malformed, unsigned or signed with another key, of another version,
            from a run with other parameters or of another action execution, or carries a value out of range.
    """
    problem = "continuationToken: not a token this function wrote"
    try:
        document = json.loads(token)
    except (json.JSONDecodeError, RecursionError):
        raise ConfigurationError(f"{problem} (not JSON; was it truncated?)") from None
    if not isinstance(document, dict):
        raise ConfigurationError(problem)
    version = document.get("v")
    if version != TOKEN_VERSION:
        raise ConfigurationError(
            f"continuationToken: format version {version!r} is not supported by this function (expects "
            f"{TOKEN_VERSION}, signed); the function was probably updated mid-run: re-run the pipeline stage"
        )
    mac = document.pop("m", None)
    if not key.verifies(_canonical(document), mac):
        raise ConfigurationError(
            f"{problem}: its signature does not verify (altered, forged, or signed before the key in "
            "BLUEGREEN_TOKEN_KEY_SECRET changed); re-run the pipeline stage"
        )
    try:
        state = RunState(**{name: document[short] for name, short in _FIELDS.items() if short in document})
    except TypeError:
        raise ConfigurationError(f"{problem} (fields missing or unknown)") from None
    if not _well_typed(state):
        raise ConfigurationError(f"{problem} (fields of the wrong type)")
    if state.fingerprint != fingerprint:
        raise ConfigurationError(
            "continuationToken: belongs to a run with different parameters (group, application, deployment "
            "group or revision changed mid-run); re-run the pipeline stage"
        )
    if state.action_execution_id != action_execution_id:
        raise ConfigurationError(_other_run(state.action_execution_id, action_execution_id))
    problems = _out_of_range(state, timeout_seconds, now)
    if problems:
        raise ConfigurationError([f"continuationToken: {p}" for p in problems])
    return state


def _other_run(written_by: str | None, this_job: str | None) -> str:
    """Why a token of another action execution (or of none) is refused in this job."""
    if written_by is None:
        return (
            "continuationToken: written by a run CodePipeline did not identify (a console test, or a run without "
            f"codepipeline:GetJobDetails), but this job belongs to action execution {this_job}: not this run's token"
        )
    if this_job is None:
        return (
            f"continuationToken: belongs to action execution {written_by}, and which action execution this job "
            "belongs to cannot be read (codepipeline:GetJobDetails failed or is not allowed: see the warning "
            "above); re-run the pipeline stage"
        )
    return (
        f"continuationToken: belongs to another run of the action (action execution {written_by}; this job's is "
        f"{this_job}): a token is only accepted by the run that wrote it"
    )


def recorded_artifact(token: str) -> list[str | None] | None:
    """The input artifact a well-formed token of this function recorded, else None. Never raises: the token is
    checked in full by `decode_token` afterwards.
    """
    try:
        document = json.loads(token)
    except (json.JSONDecodeError, RecursionError, TypeError):
        return None
    if not isinstance(document, dict) or document.get("v") != TOKEN_VERSION:
        return None
    # Only a hint for where to look: decode_token checks the signature and every field afterwards.
    artifact = document.get("a")
    return artifact if _artifact_well_typed(artifact) and artifact is not None else None


def _artifact_well_typed(artifact: object) -> bool:
    return artifact is None or (
        isinstance(artifact, list)
        and len(artifact) == 4
        and all(isinstance(v, str) and v for v in artifact[:3])
        and (artifact[3] is None or isinstance(artifact[3], str))
    )


def _canonical(document: dict[str, Any]) -> str:
    return json.dumps(document, separators=(",", ":"), sort_keys=True)


def _well_typed(state: RunState) -> bool:
    def optional(value: object, kind: type) -> bool:
        return value is None or (isinstance(value, kind) and not isinstance(value, bool))

    return (
        state.phase in PHASES
        and isinstance(state.green, str)
        and isinstance(state.fingerprint, str)
        and all(isinstance(v, int) and not isinstance(v, bool) for v in (state.started_at, state.deadline))
        and isinstance(state.invocation, int)
        and not isinstance(state.invocation, bool)
        and isinstance(state.greens_lost, int)
        and not isinstance(state.greens_lost, bool)
        and optional(state.greens_ready_at, int)
        and optional(state.bake_started_at, int)
        and optional(state.expected_greens, int)
        and optional(state.polled_at, int)
        and optional(state.spot_deployment_id, str)
        and optional(state.codedeploy_deployment_id, str)
        and _artifact_well_typed(state.artifact)
        and optional(state.delivery, str)
        and isinstance(state.spot_adopted, bool)
        and isinstance(state.codedeploy_adopted, bool)
        and optional(state.pipeline_name, str)
        and optional(state.pipeline_execution_id, str)
        and optional(state.action_execution_id, str)
    )


def _out_of_range(state: RunState, timeout_seconds: int, now: float) -> list[str]:
    """What in a correctly signed token still cannot be this run's (defence in depth, should a key leak)."""
    problems: list[str] = []
    latest = now + MAX_CLOCK_SKEW
    if not GREEN_RE.fullmatch(state.green):
        problems.append("GreenIdentifier: expected 22 URL-safe characters")
    if state.started_at > latest:
        problems.append("the run's start lies in the future")
    if not state.started_at < state.deadline <= state.started_at + timeout_seconds:
        problems.append(f"the deadline is not within TIMEOUT ({timeout_seconds} s) of the run's start")
    if not 2 <= state.invocation <= MAX_INVOCATIONS:
        problems.append(f"invocation count {state.invocation} is not between 2 and {MAX_INVOCATIONS}")
    if state.polled_at is not None and not state.started_at <= state.polled_at <= latest:
        problems.append("the last poll's time is outside the run")
    for name in ("greens_ready_at", "bake_started_at"):
        moment = getattr(state, name)
        if moment is not None and not state.started_at <= moment <= latest:
            problems.append(f"{name} is outside the run")
    if not 0 <= state.greens_lost <= MAX_GREENS * MAX_INVOCATIONS:
        problems.append(f"lost green count {state.greens_lost} is out of range")
    if state.expected_greens is not None and not 1 <= state.expected_greens <= MAX_GREENS:
        problems.append(f"green instance count {state.expected_greens} is not between 1 and {MAX_GREENS}")
    if state.spot_deployment_id is not None and not SPOT_DEPLOYMENT_RE.fullmatch(state.spot_deployment_id):
        problems.append("Spot deployment id: expected cdbg- and letters or digits")
    if state.codedeploy_deployment_id is not None and not CODEDEPLOY_DEPLOYMENT_RE.fullmatch(
        state.codedeploy_deployment_id
    ):
        problems.append("CodeDeploy deployment id: expected d- and capital letters or digits")
    for name, pattern, expected in (
        ("pipeline_name", PIPELINE_NAME_RE, "a CodePipeline pipeline name"),
        ("pipeline_execution_id", PIPELINE_EXECUTION_ID_RE, "a pipeline execution id (a UUID)"),
        ("action_execution_id", ACTION_EXECUTION_ID_RE, "an action execution id"),
    ):
        value = getattr(state, name)
        if value is not None and not pattern.fullmatch(value):
            problems.append(f"{name}: expected {expected}")
    needs = {
        "START": (),
        "WAIT_GREEN": ("expected_greens", "spot_deployment_id"),
        "DEPLOY": ("expected_greens", "spot_deployment_id"),
        "WAIT_DEPLOY": ("expected_greens", "spot_deployment_id", "codedeploy_deployment_id"),
        "BAKE": ("expected_greens", "spot_deployment_id", "codedeploy_deployment_id", "bake_started_at"),
    }[state.phase]
    missing = [name for name in needs if getattr(state, name) is None]
    if missing:
        problems.append(f"phase {state.phase} without {', '.join(missing)}")
    return problems
