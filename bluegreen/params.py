"""UserParameters: parsed and validated once, at the edge, into a typed `DeploymentParams`.

Owns every rule about what a user may write in the CodePipeline action (or the console test event).
Every problem is collected and reported at once, each naming the key and what was expected. The
token's value is never echoed. Nothing downstream re-checks these values.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from bluegreen.domain import BundleType, GitHubRevision, InvalidSpotTokenError, Revision, S3Revision, SpotToken
from bluegreen.errors import ConfigurationError

_BUNDLE_TYPES: Final[dict[str, BundleType]] = {
    "tar": "tar",
    "tgz": "tgz",
    "zip": "zip",
    "yaml": "YAML",
    "json": "JSON",
}

MIN_TIMEOUT: Final = 60
# CodePipeline gives a Lambda invoke action 24 h in all. TIMEOUT is counted from the first invocation, and the
# run's last invocation may start up to one poll after the deadline, wait for CodePipeline's re-invocation (an
# undocumented delay of seconds to minutes), stop both deployments and report: an hour is left for all of that,
# so the function's own diagnosis, not CodePipeline's generic timeout, is what the pipeline shows.
MAX_TIMEOUT: Final = 82800
DEFAULT_TIMEOUT: Final = 3600
MAX_ALARMS: Final = 10
MAX_BAKE_TIME: Final = (
    43200  # 12 h: about half the TIMEOUT cap (82800), so a long bake leaves room to launch and deploy
)
MIN_TIME_BEFORE_BAKE: Final = 300  # seconds of TIMEOUT a bake must leave for launching the greens and deploying

_TOKEN_KEYS: Final = ("API_TOKEN", "API_TOKEN_SECRET", "API_TOKEN_PARAMETER")
_REQUIRED_KEYS: Final = ("ACCOUNT_ID", "GROUP_ID", "APP_NAME", "DEPLOYMENT_GROUP")
_ARTIFACT_KEYS: Final = ("REVISION_ARTIFACT",)
_S3_KEYS: Final = ("S3_BUCKET", "S3_KEY", "S3_BUNDLE")
_S3_PIN_KEYS: Final = ("S3_VERSION", "S3_ETAG")
_GITHUB_KEYS: Final = ("GITHUB_REPO", "COMMIT_ID")
_OPTIONAL_KEYS: Final = ("TIMEOUT", "DRY_RUN", "ALARMS", "BAKE_TIME")
ACCEPTED_KEYS: Final = (
    *_TOKEN_KEYS,
    *_REQUIRED_KEYS,
    *_OPTIONAL_KEYS,
    *_ARTIFACT_KEYS,
    *_S3_KEYS,
    *_S3_PIN_KEYS,
    *_GITHUB_KEYS,
)
MAX_INPUT_ARTIFACTS: Final = 5  # a Lambda invoke action takes 0 to 5 input artifacts
UNREAD: Final = "bluegreen-unread"  # the bucket and key of an input artifact parsed without its location (reclaim)

_ACCOUNT_RE: Final = re.compile(r"act-[0-9a-zA-Z]+")
_GROUP_RE: Final = re.compile(r"sig-[0-9a-zA-Z]+")
CODEDEPLOY_NAME_RE: Final = re.compile(r"[A-Za-z0-9_.+\-@]{1,100}")
_GITHUB_REPO_RE: Final = re.compile(r"[A-Za-z0-9_.\-]{1,100}/[A-Za-z0-9_.\-]{1,100}")
_COMMIT_RE: Final = re.compile(r"[0-9a-fA-F]{40}")
BUCKET_RE: Final = re.compile(r"[a-z0-9][a-z0-9.\-]{1,61}[a-z0-9]")
_SECRET_ID_RE: Final = re.compile(r"[A-Za-z0-9/_+=.@:\-]{1,2048}")
_PARAMETER_RE: Final = re.compile(r"[A-Za-z0-9/_.\-:]{1,2048}")
_ALARM_NAME_RE: Final = re.compile(r"[^\x00-\x1f\x7f]{1,255}")  # CloudWatch's AlarmName: 1-255 characters
# CodePipeline artifact names: [a-zA-Z0-9_\-]+, 1-100 characters (botocore's codepipeline model, ArtifactName).
_ARTIFACT_NAME_RE: Final = re.compile(r"[A-Za-z0-9_\-]{1,100}")
# S3 version ids are opaque URL-safe strings ("null" for objects written before versioning was enabled).
_S3_VERSION_RE: Final = re.compile(r"[\x21-\x7e]{1,1024}")
_S3_ETAG_RE: Final = re.compile(r'"?[0-9A-Za-z\-]{1,128}"?')


@dataclass(frozen=True)
class PlainToken:
    """The token written into UserParameters (works, but everyone who can read the pipeline sees it)."""

    token: SpotToken


@dataclass(frozen=True)
class SecretToken:
    """A Secrets Manager secret (name or ARN) holding the token, raw or as JSON `{"token": ...}`."""

    secret_id: str


@dataclass(frozen=True)
class ParameterToken:
    """An SSM SecureString parameter holding the token."""

    name: str


TokenSource = PlainToken | SecretToken | ParameterToken


@dataclass(frozen=True)
class InputArtifact:
    """One of the CodePipeline action's input artifacts, as the event describes it (never its credentials)."""

    name: str
    bucket: str
    key: str
    revision: str | None = None


@dataclass(frozen=True)
class DeploymentParams:
    token_source: TokenSource
    account_id: str
    group_id: str
    application: str
    deployment_group: str
    timeout_seconds: int
    revision: Revision
    dry_run: bool = False
    alarms: tuple[str, ...] = ()  # CloudWatch alarms that gate the deployment, from DEPLOY to the end of the bake
    bake_seconds: int = 0  # how long the alarms are watched after CodeDeploy succeeded, before reporting success

    def fingerprint(self) -> str:
        """A short digest of what is deployed where: binds a continuation token to these parameters."""
        text = "|".join((self.account_id, self.group_id, self.application, self.deployment_group, repr(self.revision)))
        return hashlib.sha256(text.encode()).hexdigest()[:16]


@dataclass(frozen=True)
class UserParameters:
    """UserParameters decoded, once, where they enter: a JSON object (the action's UserParameters string, or a
    console test's event) and the keys it gave more than once. `validate_parameters` checks the rest; nothing
    decodes them again.
    """

    fields: Mapping[str, Any] = field(repr=False)  # may hold a plain API_TOKEN
    duplicates: tuple[str, ...] = ()

    def plain_token(self) -> str | None:
        """API_TOKEN as given, valid or not: for the log scrubber, before anything is validated."""
        token = self.fields.get("API_TOKEN")
        return token if isinstance(token, str) else None


def decode_user_parameters(text: object) -> UserParameters:
    """Decode the UserParameters string of a CodePipeline action (as the event or CodePipeline's record gives it).

    Raises:
        ConfigurationError: it is not a string, is missing, is not JSON or not a JSON object.
    """
    if text is not None and not isinstance(text, str):
        raise ConfigurationError("UserParameters: expected a JSON string")
    if text is None or not text.strip():
        raise ConfigurationError(
            "UserParameters: missing; expected a JSON object with the keys " + ", ".join(ACCEPTED_KEYS)
        )
    duplicates: list[str] = []

    def _reject_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        seen: dict[str, Any] = {}
        for key, value in pairs:
            if key in seen:
                duplicates.append(key)
            seen[key] = value
        return seen

    try:
        decoded = json.loads(text, object_pairs_hook=_reject_duplicates)
    except json.JSONDecodeError as exc:
        raise ConfigurationError(
            f"UserParameters: invalid JSON at line {exc.lineno} column {exc.colno} (char {exc.pos}): {exc.msg}"
        ) from None
    except RecursionError:
        raise ConfigurationError("UserParameters: invalid JSON: nested too deeply") from None
    if not isinstance(decoded, dict):
        raise ConfigurationError(f"UserParameters: expected a JSON object, got {_json_type(decoded)}")
    return UserParameters(decoded, tuple(dict.fromkeys(duplicates)))


def parse_user_parameters(
    text: object, *, default_secret: str | None = None, artifacts: Sequence[InputArtifact] | None = ()
) -> DeploymentParams:
    """Decode and validate the UserParameters string of a CodePipeline action with its input artifacts.

    Raises:
        ConfigurationError: the string is missing, not a JSON object, or any key is invalid.
    """
    return validate_parameters(decode_user_parameters(text), default_secret=default_secret, artifacts=artifacts)


def validate_parameters(
    given: UserParameters | Mapping[str, Any],
    *,
    default_secret: str | None = None,
    artifacts: Sequence[InputArtifact] | None = (),
) -> DeploymentParams:
    """Validate decoded parameters (decoded UserParameters, or the console test event's keys).

    When they name no revision source, the revision is the action's input artifact (`artifacts`, from the
    CodePipeline event): the only one, or the one REVISION_ARTIFACT names. `artifacts=None` says the action's
    input artifacts are not known (reclaim, which never deploys nor reads the revision): the revision is then
    not read, and stands for whichever input artifact it would name.

    Raises:
        ConfigurationError: listing every problem found, each naming its key.
    """
    if not isinstance(given, UserParameters):
        given = UserParameters(given)
    raw = given.fields
    problems = [f"{_show_key(key)}: given more than once" for key in given.duplicates]
    unknown = [key for key in raw if key not in ACCEPTED_KEYS]
    if unknown:
        problems.append(
            "unknown key(s) "
            + ", ".join(_show_key(k) for k in unknown[:10])
            + ("" if len(unknown) <= 10 else f" and {len(unknown) - 10} more")
            + "; accepted keys are "
            + ", ".join(ACCEPTED_KEYS)
        )

    token_source = _token_source(raw, default_secret, problems)
    account_id = _matching(raw, "ACCOUNT_ID", _ACCOUNT_RE, "a Spot account id like act-1234abcd", problems)
    group_id = _matching(raw, "GROUP_ID", _GROUP_RE, "an Elastigroup id like sig-1234abcd", problems)
    application = _matching(
        raw, "APP_NAME", CODEDEPLOY_NAME_RE, "a CodeDeploy application name (1-100 characters)", problems
    )
    deployment_group = _matching(
        raw,
        "DEPLOYMENT_GROUP",
        CODEDEPLOY_NAME_RE,
        "a CodeDeploy deployment group name (1-100 characters)",
        problems,
    )
    timeout = _timeout(raw, problems)
    revision = _revision(raw, artifacts, problems)
    dry_run = _flag(raw, "DRY_RUN", problems)
    alarms = _alarms(raw, problems)
    bake_seconds = _bake_time(raw, timeout, problems)

    if (
        problems
        or token_source is None
        or not (account_id and group_id and application and deployment_group and revision)
    ):
        raise ConfigurationError(problems)
    return DeploymentParams(
        token_source=token_source,
        account_id=account_id,
        group_id=group_id,
        application=application,
        deployment_group=deployment_group,
        timeout_seconds=timeout,
        revision=revision,
        dry_run=dry_run,
        alarms=alarms,
        bake_seconds=bake_seconds,
    )


def _token_source(raw: Mapping[str, Any], default_secret: str | None, problems: list[str]) -> TokenSource | None:
    given = [key for key in _TOKEN_KEYS if key in raw]
    if len(given) > 1:
        problems.append(f"{' and '.join(given)}: give only one token source")
        return None
    if not given:
        if default_secret:
            return SecretToken(default_secret)
        problems.append(
            "API_TOKEN: missing; give the Spot API token as API_TOKEN_SECRET (a Secrets Manager secret), "
            "API_TOKEN_PARAMETER (an SSM SecureString) or API_TOKEN"
        )
        return None
    key = given[0]
    value = raw[key]
    if key == "API_TOKEN":
        token = _spot_token(value)
        if token is None:
            # Never echo the value: it may be a real token with a stray character.
            problems.append(
                f"API_TOKEN: expected the Spot API token as a string of 8+ printable characters without "
                f"spaces, got {_json_type(value)}" + (f" of length {len(value)}" if isinstance(value, str) else "")
            )
            return None
        return PlainToken(token)
    if key == "API_TOKEN_SECRET":
        secret = _matching(raw, key, _SECRET_ID_RE, "a Secrets Manager secret name or ARN", problems)
        return SecretToken(secret) if secret else None
    name = _matching(raw, key, _PARAMETER_RE, "an SSM parameter name like /spot/api-token", problems)
    return ParameterToken(name) if name else None


def _spot_token(value: object) -> SpotToken | None:
    if not isinstance(value, str):
        return None
    try:
        return SpotToken(value)
    except InvalidSpotTokenError:
        return None


def _matching(
    raw: Mapping[str, Any], key: str, pattern: re.Pattern[str], expected: str, problems: list[str]
) -> str | None:
    if key not in raw:
        problems.append(f"{key}: missing; expected {expected}")
        return None
    value = raw[key]
    if not isinstance(value, str) or not pattern.fullmatch(value):
        problems.append(f"{key}: expected {expected}, got {_show_value(value)}")
        return None
    return value


def _timeout(raw: Mapping[str, Any], problems: list[str]) -> int:
    if "TIMEOUT" not in raw:
        return DEFAULT_TIMEOUT
    value = raw["TIMEOUT"]
    expected = f"whole seconds between {MIN_TIMEOUT} and {MAX_TIMEOUT}"
    seconds = _whole_seconds(value)
    if seconds is None or not MIN_TIMEOUT <= seconds <= MAX_TIMEOUT:
        problems.append(f"TIMEOUT: expected {expected}, got {_show_value(value)}")
        return DEFAULT_TIMEOUT
    return seconds


def _alarms(raw: Mapping[str, Any], problems: list[str]) -> tuple[str, ...]:
    if "ALARMS" not in raw:
        return ()
    value = raw["ALARMS"]
    expected = (
        f"up to {MAX_ALARMS} CloudWatch alarm names (1-255 characters each), as a JSON list or a comma-separated string"
    )
    if isinstance(value, str):
        names: list[Any] = [part.strip() for part in value.split(",")] if value.strip() else []
    elif isinstance(value, list):
        names = value
    else:
        problems.append(f"ALARMS: expected {expected}, got {_show_value(value)}")
        return ()
    bad = [name for name in names if not isinstance(name, str) or not _ALARM_NAME_RE.fullmatch(name)]
    if bad:
        problems.append(f"ALARMS: expected {expected}, got " + ", ".join(_show_value(b) for b in bad[:3]))
        return ()
    unique = tuple(dict.fromkeys(names))
    if len(unique) > MAX_ALARMS:
        problems.append(f"ALARMS: expected {expected}, got {len(unique)} names")
        return ()
    return unique


def _bake_time(raw: Mapping[str, Any], timeout: int, problems: list[str]) -> int:
    if "BAKE_TIME" not in raw:
        return 0
    value = raw["BAKE_TIME"]
    seconds = _whole_seconds(value)
    if seconds is None or not 0 <= seconds <= MAX_BAKE_TIME:
        problems.append(f"BAKE_TIME: expected whole seconds between 0 and {MAX_BAKE_TIME}, got {_show_value(value)}")
        return 0
    if seconds > timeout - MIN_TIME_BEFORE_BAKE:
        problems.append(
            f"BAKE_TIME: {seconds} s does not fit in TIMEOUT {timeout} s, which covers launching the green "
            f"instances, deploying and baking; leave at least {MIN_TIME_BEFORE_BAKE} s for the launch and the "
            f"deployment (raise TIMEOUT to {seconds + MIN_TIME_BEFORE_BAKE} or more, or shorten BAKE_TIME)"
        )
        return 0
    return seconds


def _whole_seconds(value: object) -> int | None:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and re.fullmatch(r"\s*\d{1,6}\s*", value):
        return int(value)
    return None


def _flag(raw: Mapping[str, Any], key: str, problems: list[str]) -> bool:
    value = raw.get(key, False)
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    problems.append(f"{key}: expected true or false, got {_show_value(value)}")
    return False


def _revision(
    raw: Mapping[str, Any], artifacts: Sequence[InputArtifact] | None, problems: list[str]
) -> Revision | None:
    has_s3 = any(key in raw for key in (*_S3_KEYS, *_S3_PIN_KEYS))
    has_github = any(key in raw for key in _GITHUB_KEYS)
    has_artifact = "REVISION_ARTIFACT" in raw
    given = [name for name, yes in (("S3", has_s3), ("GitHub", has_github), ("input artifact", has_artifact)) if yes]
    if len(given) > 1:
        problems.append(
            "revision: give one revision source (S3_BUCKET/S3_KEY/S3_BUNDLE, GITHUB_REPO/COMMIT_ID, or "
            f"REVISION_ARTIFACT naming an input artifact), not both {' and '.join(given)}"
        )
        return None
    if has_github:
        repo = _matching(raw, "GITHUB_REPO", _GITHUB_REPO_RE, "a GitHub repository like owner/repo", problems)
        commit = _matching(raw, "COMMIT_ID", _COMMIT_RE, "a full 40-character hex commit SHA", problems)
        return GitHubRevision(repo, commit.lower()) if repo and commit else None
    if has_s3:
        return _s3_revision(raw, problems)
    return _artifact_revision(raw, artifacts, problems)


def _s3_revision(raw: Mapping[str, Any], problems: list[str]) -> S3Revision | None:
    bucket = _matching(raw, "S3_BUCKET", BUCKET_RE, "an S3 bucket name", problems)
    key = raw.get("S3_KEY")
    if "S3_KEY" not in raw:
        problems.append("S3_KEY: missing; expected the object key of the revision bundle")
    elif not isinstance(key, str) or not 1 <= len(key) <= 1024:
        problems.append(f"S3_KEY: expected an S3 object key (1-1024 characters), got {_show_value(key)}")
        key = None
    bundle = _bundle(raw, problems)
    version = etag = None
    if "S3_VERSION" in raw:
        version = _matching(raw, "S3_VERSION", _S3_VERSION_RE, "an S3 object version id", problems)
    if "S3_ETAG" in raw:
        etag = _matching(raw, "S3_ETAG", _S3_ETAG_RE, "the S3 object's ETag (hex, quotes optional)", problems)
    if bucket and isinstance(key, str) and bundle:
        return S3Revision(bucket, key, bundle, version=version, etag=etag.strip('"') if etag else None)
    return None


def _artifact_revision(
    raw: Mapping[str, Any], artifacts: Sequence[InputArtifact] | None, problems: list[str]
) -> S3Revision | None:
    wanted: str | None = None
    if "REVISION_ARTIFACT" in raw:
        wanted = _matching(
            raw, "REVISION_ARTIFACT", _ARTIFACT_NAME_RE, "the name of one of the action's input artifacts", problems
        )
        if wanted is None:
            return None
    if artifacts is None:  # not known, and never read: the artifact the parameters name, wherever it is
        return S3Revision(UNREAD, UNREAD, "zip", artifact=wanted or "input")
    names = ", ".join(a.name for a in artifacts)
    if not artifacts:
        problems.append(
            "revision: missing; the action has no input artifact and UserParameters name no revision: give the "
            "action an input artifact (the Build action's output), or S3_BUCKET, S3_KEY and S3_BUNDLE, or "
            "GITHUB_REPO and COMMIT_ID"
            if wanted is None
            else f"REVISION_ARTIFACT: names {wanted!r}, but the action has no input artifact; add it to the "
            "action's input artifacts"
        )
        return None
    if wanted is None:
        if len(artifacts) > 1:
            problems.append(
                f"REVISION_ARTIFACT: missing; the action has {len(artifacts)} input artifacts ({names}): name the "
                "one to deploy"
            )
            return None
        chosen = artifacts[0]
    else:
        found = next((a for a in artifacts if a.name == wanted), None)
        if found is None:
            problems.append(
                f"REVISION_ARTIFACT: expected the name of one of the action's input artifacts ({names}), got "
                f"{_show_value(wanted)}"
            )
            return None
        chosen = found
    # CodePipeline stores every artifact as a zip in its artifact store.
    return S3Revision(chosen.bucket, chosen.key, "zip", artifact=chosen.name, source_revision=chosen.revision)


def _bundle(raw: Mapping[str, Any], problems: list[str]) -> BundleType | None:
    expected = "one of tar, tgz, zip, YAML, JSON"
    if "S3_BUNDLE" not in raw:
        problems.append(f"S3_BUNDLE: missing; expected {expected}")
        return None
    value = raw["S3_BUNDLE"]
    bundle = _BUNDLE_TYPES.get(value.strip().lower()) if isinstance(value, str) else None
    if bundle is None:
        problems.append(f"S3_BUNDLE: expected {expected}, got {_show_value(value)}")
    return bundle


def _json_type(value: object) -> str:
    names = {dict: "an object", list: "an array", str: "a string", bool: "a boolean", type(None): "null"}
    for kind, name in names.items():
        if isinstance(value, kind):
            return name
    return "a number" if isinstance(value, int | float) else type(value).__name__


def _show_value(value: object) -> str:
    if isinstance(value, str):
        shown = value if len(value) <= 60 else value[:57] + "..."
        return repr(shown)
    if isinstance(value, bool | int | float) or value is None:
        text = json.dumps(value)
        return text if len(text) <= 30 else text[:27] + "..."
    return _json_type(value)


def _show_key(key: str) -> str:
    return repr(key if len(key) <= 40 else key[:37] + "...")
