"""The run's state machine vocabulary and the continuation token that carries it across invocations.

Owns the phase names, `RunState` (everything a later invocation needs to resume) and its encoding: a small,
versioned JSON document of at most 2048 characters. Decoding is strict: a truncated, tampered, foreign or
outdated token is a `ConfigurationError` saying so, never a crash.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, replace
from typing import Any, Final, Literal, get_args

from bluegreen.errors import ConfigurationError

Phase = Literal["START", "WAIT_GREEN", "DEPLOY", "WAIT_DEPLOY", "BAKE"]
PHASES: Final[tuple[Phase, ...]] = get_args(Phase)

TOKEN_VERSION: Final = 1
MAX_TOKEN_LENGTH: Final = 2048


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

    def advance(self, **changes: Any) -> RunState:
        return replace(self, **changes)


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
}
MAX_RECORDED_ARTIFACT: Final = 1200  # characters of name, bucket, key and revision a token carries at most


def encode_token(state: RunState) -> str:
    """The continuation token for `state`: versioned compact JSON with a checksum."""
    body = {short: value for name, short in _FIELDS.items() if (value := asdict(state)[name]) is not None}
    payload = json.dumps({"v": TOKEN_VERSION, **body}, separators=(",", ":"), sort_keys=True)
    token = json.dumps({"v": TOKEN_VERSION, **body, "c": _checksum(payload)}, separators=(",", ":"), sort_keys=True)
    if len(token) > MAX_TOKEN_LENGTH:  # pragma: no cover - ids are short; guarded for safety
        raise ValueError(f"continuation token is {len(token)} characters, more than {MAX_TOKEN_LENGTH}")
    return token


def decode_token(token: str, *, fingerprint: str) -> RunState:
    """The state a continuation token carries, checked against the current parameters.

    Raises:
        ConfigurationError: the token is malformed, altered, of another version, or from another deployment.
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
            f"{TOKEN_VERSION}); the function was probably updated mid-run: re-run the pipeline stage"
        )
    checksum = document.pop("c", None)
    payload = json.dumps(document, separators=(",", ":"), sort_keys=True)
    if checksum != _checksum(payload):
        raise ConfigurationError(f"{problem} (checksum mismatch: it was altered)")
    try:
        state = RunState(**{name: document[short] for name, short in _FIELDS.items() if short in document})
    except TypeError:
        raise ConfigurationError(f"{problem} (fields missing)") from None
    if not _well_typed(state):
        raise ConfigurationError(f"{problem} (fields of the wrong type)")
    if state.fingerprint != fingerprint:
        raise ConfigurationError(
            "continuationToken: belongs to a run with different parameters (group, application, deployment "
            "group or revision changed mid-run); re-run the pipeline stage"
        )
    return state


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
    checksum = document.pop("c", None)
    if checksum != _checksum(json.dumps(document, separators=(",", ":"), sort_keys=True)):
        return None
    artifact = document.get("a")
    return artifact if _artifact_well_typed(artifact) and artifact is not None else None


def _artifact_well_typed(artifact: object) -> bool:
    return artifact is None or (
        isinstance(artifact, list)
        and len(artifact) == 4
        and all(isinstance(v, str) and v for v in artifact[:3])
        and (artifact[3] is None or isinstance(artifact[3], str))
    )


def _checksum(payload: str) -> str:
    return hashlib.sha256(payload.encode()).hexdigest()[:12]


def _well_typed(state: RunState) -> bool:
    def optional(value: object, kind: type) -> bool:
        return value is None or (isinstance(value, kind) and not isinstance(value, bool))

    return (
        state.phase in PHASES
        and isinstance(state.green, str)
        and bool(state.green)
        and isinstance(state.fingerprint, str)
        and all(isinstance(v, int) and not isinstance(v, bool) for v in (state.started_at, state.deadline))
        and isinstance(state.invocation, int)
        and isinstance(state.greens_lost, int)
        and not isinstance(state.greens_lost, bool)
        and optional(state.greens_ready_at, int)
        and optional(state.bake_started_at, int)
        and optional(state.expected_greens, int)
        and optional(state.polled_at, int)
        and optional(state.spot_deployment_id, str)
        and optional(state.codedeploy_deployment_id, str)
        and _artifact_well_typed(state.artifact)
    )
