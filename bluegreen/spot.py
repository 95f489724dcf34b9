"""The Spot Elastigroup API client: the only module that talks to Spot.

Owns the HTTP conversation with Spot: the auth header, the `accountId` query parameter, timeouts, bounded
retries of what is safe to retry, reading Spot's reply envelope into one `SpotApiError`, and turning the few
Elastigroup and CodeDeploy blue/green routes `bluegreen` needs into small typed values.

It must not import boto3 (AWS has its own gateway), read the environment or build its own Session (the
handler injects one), sleep except through the injected `Clock`, or put the token in any message, log line
or repr. It logs two things only, neither carrying secrets: a deployment state word it does not know
(once per word per process) and a stop request for which Spot had nothing to stop.
"""

from __future__ import annotations

import ipaddress
import logging
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final, Literal, TypeVar
from urllib.parse import quote, urlsplit

import requests
from urllib3.exceptions import NewConnectionError

from bluegreen.clock import Clock
from bluegreen.errors import ConfigurationError, SpotApiError

logger = logging.getLogger(__name__)

SpotOutcome = Literal["running", "succeeded", "failed"]

DEFAULT_BASE_URL: Final = "https://api.spotinst.io"

# Spot publishes only STARTING/INITIALIZING; the terminal words are our reading of its SDKs and help pages.
_SUCCESS_WORDS: Final = frozenset({"FINISHED", "SUCCEEDED", "COMPLETED", "DONE"})
_FAILURE_WORDS: Final = frozenset(
    {"FAILED", "TIMED_OUT", "TIMEOUT", "STOPPED", "CANCELED", "CANCELLED", "ABORTED", "ERROR"}
)
_KNOWN_WORDS: Final = _SUCCESS_WORDS | _FAILURE_WORDS | {"STARTING", "INITIALIZING"}
_unknown_words_logged: set[str] = set()

_RETRIED_SERVER_STATUSES: Final = frozenset({500, 502, 503, 504})
_TRANSIENT_TRANSPORT_ERRORS: Final = (
    requests.ConnectionError,
    requests.Timeout,
    requests.exceptions.ChunkedEncodingError,
)
_SNIPPET_CHARS: Final = 120
_MESSAGE_CHARS: Final = 500
_TOKEN_PATTERN: Final = re.compile(r"[\x21-\x7e]+")

_T = TypeVar("_T")


def validate_base_url(url: str) -> str:
    """Return the Spot API base URL without a trailing slash.

    Raises:
        ConfigurationError: the URL is not https (plain http is accepted for a loopback host only), or it
            carries credentials, a query or a fragment.
    """
    problem = ConfigurationError(
        f"SPOT_API_URL: expected an https:// URL (http only for loopback), got '{_without_userinfo(url)}'"
    )
    try:
        parts = urlsplit(url.strip())
        parts.port  # noqa: B018 -- raises ValueError for a malformed port
    except ValueError as exc:
        raise problem from exc
    host = parts.hostname or ""
    if not host or parts.username is not None or parts.query or parts.fragment:
        raise problem
    if parts.scheme == "https" or (parts.scheme == "http" and _is_loopback(host)):
        return url.strip().rstrip("/")
    raise problem


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _without_userinfo(url: str) -> str:
    """`url` as it may be shown: no userinfo (up to the authority's LAST @), query or fragment, which may hold
    credentials; a URL that does not even split shows only that it was malformed."""
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return "<a malformed URL>"
    if not parts.netloc:  # no "//": whatever stands before an @ may be a credential
        return re.sub(r"^.*@", "***@", re.split(r"[?#]", url.strip(), maxsplit=1)[0])
    host = parts.netloc.rpartition("@")[2]
    shown = f"{parts.scheme}://{'***@' if parts.netloc != host else ''}{host}{parts.path}"
    if parts.query or parts.fragment:
        shown += "?***"
    return shown


@dataclass(frozen=True)
class SpotGroup:
    """The parts of an Elastigroup `bluegreen` looks at."""

    group_id: str
    name: str
    capacity_target: int | None
    codedeploy_groups: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class SpotDeployment:
    """One CodeDeploy blue/green deployment as Spot reports it."""

    deployment_id: str
    group_id: str
    state: str
    status: str
    tags: tuple[tuple[str, str], ...]

    @property
    def outcome(self) -> SpotOutcome:
        """Where the deployment stands, read from both `state` and `status`; a failure word wins."""
        words = {_normalised_word(self.state), _normalised_word(self.status)} - {""}
        for word in sorted(words - _KNOWN_WORDS - _unknown_words_logged):
            _unknown_words_logged.add(word)
            logger.warning(
                "Spot reported an unknown blue/green deployment state or status %r on %s; treating it as still running",
                word,
                self.deployment_id,
            )
        if words & _FAILURE_WORDS:
            return "failed"
        if words & _SUCCESS_WORDS:
            return "succeeded"
        return "running"

    def has_tag(self, key: str, value: str) -> bool:
        """Whether the deployment was started with the tag `key=value`."""
        return (key, value) in self.tags


def _normalised_word(value: str) -> str:
    return re.sub(r"[\s-]+", "_", value.strip()).upper()


@dataclass(frozen=True)
class _Reply:
    """The `response` part of one successful Spot reply, with what an error about it needs."""

    operation: str
    status: int
    request_id: str | None
    response: dict[str, Any]

    def unexpected(self, detail: str) -> SpotApiError:
        return SpotApiError(self.operation, self.status, f"unexpected reply: {detail}", request_id=self.request_id)

    def items(self) -> list[dict[str, Any]]:
        items = self.response.get("items")
        if not isinstance(items, list):
            raise self.unexpected("'response.items' is not a list")
        for index, item in enumerate(items):
            if not isinstance(item, dict):
                raise self.unexpected(f"items[{index}] is not an object")
        return items

    def optional(self, container: Mapping[str, Any], key: str, kind: type[_T], where: str) -> _T | None:
        value = container.get(key)
        if value is None:
            return None
        if not isinstance(value, kind):
            raise self.unexpected(f"{where}.{key} is not {_kind_name(kind)}")
        return value

    def required(self, container: Mapping[str, Any], key: str, kind: type[_T], where: str) -> _T:
        value = self.optional(container, key, kind, where)
        if value is None:
            raise self.unexpected(f"{where}.{key} is missing")
        return value


def _kind_name(kind: type[Any]) -> str:
    names: dict[type[Any], str] = {str: "a string", dict: "an object", list: "a list"}
    return names.get(kind, kind.__name__)


class _OutcomeUnknownError(Exception):
    """A call that must not be repeated blindly may or may not have reached Spot."""

    def __init__(self, error: SpotApiError, attempt: int) -> None:
        super().__init__(str(error))
        self.error = error
        self.attempt = attempt


class SpotClient:
    """The Spot Elastigroup calls `bluegreen` makes, each under an intention-revealing name."""

    def __init__(
        self,
        session: requests.Session,
        *,
        token: str,
        account_id: str,
        clock: Clock,
        base_url: str = DEFAULT_BASE_URL,
        connect_timeout: float = 5.0,
        read_timeout: float = 30.0,
        max_attempts: int = 4,
        max_retry_wait: float = 60.0,
        user_agent: str = "bluegreen/1.0.0",
    ) -> None:
        # A token requests would reject as a header value ends up quoted in requests' own exception text.
        if not _TOKEN_PATTERN.fullmatch(token):
            raise ConfigurationError(
                "Spot token: expected printable ASCII without spaces or control characters (value not shown)"
            )
        if max_attempts < 1:
            raise ValueError(f"max_attempts must be at least 1, got {max_attempts}")
        self._session = session
        self._token = token
        self._account_id = account_id
        self._clock = clock
        self._base_url = validate_base_url(base_url)
        self._timeout = (connect_timeout, read_timeout)
        self._max_attempts = max_attempts
        self._max_retry_wait = max_retry_wait
        self._headers = {
            "Authorization": f"Bearer {token}",
            "Content-Type": "application/json",
            "Accept": "application/json",
            "User-Agent": user_agent,
        }

    def __repr__(self) -> str:
        return f"SpotClient(base_url={self._base_url!r}, account_id={self._account_id!r})"

    def get_group(self, group_id: str) -> SpotGroup:
        """Read an Elastigroup's name, target capacity and CodeDeploy integration.

        Raises:
            SpotApiError: Spot refused the call, stayed unavailable, or answered in an unexpected shape.
        """
        reply = self._request("GET", self._group_path(group_id), "GET group")
        for index, item in enumerate(reply.items()):
            if reply.required(item, "id", str, f"items[{index}]") == group_id:
                return _group_from(reply, item, f"items[{index}]")
        raise reply.unexpected(f"no item has id '{group_id}'")

    def count_group_instances(self, group_id: str) -> int:
        """Count the instances Spot lists for an Elastigroup.

        Raises:
            SpotApiError: Spot refused the call, stayed unavailable, or answered in an unexpected shape.
        """
        reply = self._request("GET", f"{self._group_path(group_id)}/status", "GET group status")
        return len(reply.items())

    def list_deployments(self, group_id: str) -> list[SpotDeployment]:
        """List the CodeDeploy blue/green deployments Spot reports for an Elastigroup, in Spot's order.

        Raises:
            SpotApiError: Spot refused the call, stayed unavailable, or answered in an unexpected shape.
        """
        reply = self._request("GET", self._deployments_path(group_id), "GET blue/green deployments")
        return [_deployment_from(reply, item, f"items[{index}]", group_id) for index, item in enumerate(reply.items())]

    def find_deployment_by_tag(self, group_id: str, key: str, value: str) -> SpotDeployment | None:
        """Return the first listed deployment started with the tag `key=value`, or None.

        Raises:
            SpotApiError: Spot refused the call, stayed unavailable, or answered in an unexpected shape.
        """
        for deployment in self.list_deployments(group_id):
            if deployment.has_tag(key, value):
                return deployment
        return None

    def start_deployment(
        self,
        group_id: str,
        *,
        tag_key: str,
        tag_value: str,
        timeout: int,
        application: str,
        deployment_group: str,
    ) -> SpotDeployment:
        """Start a blue/green deployment tagged `tag_key=tag_value`; `timeout` goes on the wire unchanged.

        When the POST's outcome is unknown (read timeout, dropped connection, 5xx) the deployment list is
        searched for the tag before the POST is sent again, so a retry never starts a second deployment.

        Raises:
            SpotApiError: Spot refused the call, stayed unavailable, or answered in an unexpected shape.
        """
        operation = "POST start blue/green deployment"
        body = {
            "deployment": {
                "timeout": timeout,
                "tags": [{"tagKey": tag_key, "tagValue": tag_value}],
                "deploymentGroups": [{"applicationName": application, "deploymentGroupName": deployment_group}],
            }
        }
        attempt = 1
        while True:
            try:
                reply = self._request(
                    "POST",
                    self._deployments_path(group_id),
                    operation,
                    json=body,
                    ambiguous_ok=False,
                    first_attempt=attempt,
                )
            except _OutcomeUnknownError as unknown:
                # A timed-out POST may still be in progress at Spot: give it the backoff before looking.
                self._clock.sleep(self._backoff(unknown.attempt))
                started = self.find_deployment_by_tag(group_id, tag_key, tag_value)
                if started is not None:
                    return started
                if unknown.attempt >= self._max_attempts:
                    raise _gave_up(unknown.error, unknown.attempt) from unknown.__cause__
                attempt = unknown.attempt + 1
                continue
            return _started_deployment_from(reply, group_id, tag_key, tag_value)

    def stop_deployment(self, group_id: str, deployment_id: str) -> bool:
        """Ask Spot to stop a deployment; False when Spot answers 400/404, i.e. there is nothing to stop.

        Raises:
            SpotApiError: Spot refused the call for another reason, stayed unavailable, or answered in an
                unexpected shape.
        """
        path = f"{self._deployments_path(group_id)}/{quote(deployment_id, safe='')}/stop"
        try:
            self._request("PUT", path, "PUT stop blue/green deployment")
        except SpotApiError as exc:
            if exc.status not in (400, 404):
                raise
            logger.warning("Spot had no blue/green deployment %s on %s to stop: %s", deployment_id, group_id, exc)
            return False
        return True

    def _group_path(self, group_id: str) -> str:
        return f"/aws/ec2/group/{quote(group_id, safe='')}"

    def _deployments_path(self, group_id: str) -> str:
        return f"{self._group_path(group_id)}/codeDeploy/blueGreenDeployment"

    def _request(
        self,
        method: str,
        path: str,
        operation: str,
        *,
        json: dict[str, Any] | None = None,
        ambiguous_ok: bool = True,
        first_attempt: int = 1,
    ) -> _Reply:
        """Send one Spot call, retrying what is safe to retry, and read the reply.

        `ambiguous_ok=False` marks a call that must not be re-sent when Spot may already have acted on it:
        instead of retrying, `_OutcomeUnknownError` tells the caller to look first. `first_attempt` lets
        such a caller continue the same attempt budget.
        """
        attempt = first_attempt
        while True:
            cause: BaseException | None = None
            try:
                response = self._session.request(
                    method,
                    self._base_url + path,
                    params={"accountId": self._account_id},
                    json=json,
                    headers=self._headers,
                    timeout=self._timeout,
                    allow_redirects=False,
                )
            except _TRANSIENT_TRANSPORT_ERRORS as exc:
                # Only the exception's type: requests' text can quote request details.
                error = SpotApiError(operation, None, f"no reply from Spot ({type(exc).__name__})")
                safe_to_resend = _nothing_was_sent(exc)
                wait = self._backoff(attempt)
                cause = exc
            except requests.RequestException as exc:
                raise SpotApiError(operation, None, f"request could not be sent ({type(exc).__name__})") from exc
            else:
                try:
                    return self._read_response(response, operation)
                except SpotApiError as exc:
                    if response.status_code == 429:
                        safe_to_resend = True
                        wait = self._rate_limit_wait(response, attempt)
                    elif response.status_code in _RETRIED_SERVER_STATUSES:
                        safe_to_resend = False
                        wait = self._backoff(attempt)
                    else:
                        raise
                    error = exc
            if not (safe_to_resend or ambiguous_ok):
                raise _OutcomeUnknownError(error, attempt) from cause
            if attempt >= self._max_attempts:
                raise _gave_up(error, attempt) from cause
            self._clock.sleep(wait)
            attempt += 1

    def _read_response(self, response: requests.Response, operation: str) -> _Reply:
        """Return the `response` part of Spot's envelope, or raise the one error that describes the reply."""
        status = response.status_code
        try:
            document: Any = response.json()
        except ValueError:
            snippet = _snippet(self._redacted(response.text))
            raise self._error(operation, status, f"non-JSON body: {snippet}") from None
        if not isinstance(document, dict):
            raise self._error(operation, status, "unexpected reply: the body is not a JSON object")
        request = document.get("request")
        request_id = request.get("id") if isinstance(request, dict) else None
        request_id = request_id if isinstance(request_id, str) else None
        envelope = document.get("response")
        if status != 200:
            code, message = _error_detail(envelope)
            message = message or response.reason or "no error detail"
            raise self._error(operation, status, message, code=code, request_id=request_id)
        if not isinstance(envelope, dict):
            raise self._error(operation, status, "unexpected reply: no 'response' object", request_id=request_id)
        return _Reply(operation, status, request_id, envelope)

    def _error(
        self,
        operation: str,
        status: int,
        message: str,
        *,
        code: str | None = None,
        request_id: str | None = None,
    ) -> SpotApiError:
        return SpotApiError(
            operation,
            status,
            _one_line(self._redacted(message), _MESSAGE_CHARS),
            code=self._redacted(code) if code else None,
            request_id=request_id,
        )

    def _redacted(self, text: str) -> str:
        # Spot or a proxy could echo request headers back; redact before any truncation can split the token.
        return text.replace(self._token, "***")

    def _backoff(self, attempt: int) -> float:
        return min(float(2 ** (attempt - 1)), self._max_retry_wait)

    def _rate_limit_wait(self, response: requests.Response, attempt: int) -> float:
        for header in ("X-RateLimit-Reset", "Retry-After"):
            try:
                seconds = float(response.headers.get(header, ""))
            except ValueError:
                continue
            if math.isfinite(seconds) and seconds > 0:
                return min(seconds, self._max_retry_wait)
        return self._backoff(attempt)


def _nothing_was_sent(exc: requests.RequestException) -> bool:
    """Whether the request certainly never reached Spot (the connection was never established)."""
    if isinstance(exc, requests.ConnectTimeout):
        return True
    if isinstance(exc, requests.ConnectionError) and exc.args:
        return isinstance(getattr(exc.args[0], "reason", None), NewConnectionError)
    return False


def _gave_up(error: SpotApiError, attempts: int) -> SpotApiError:
    plural = "s" if attempts != 1 else ""
    return SpotApiError(
        error.operation,
        error.status,
        f"{error.spot_message} (gave up after {attempts} attempt{plural})",
        code=error.code,
        request_id=error.request_id,
    )


def _error_detail(envelope: Any) -> tuple[str | None, str]:
    """Spot's error code and message from `response.errors[0]`, or the 429 `response.data` text."""
    if not isinstance(envelope, dict):
        return None, ""
    errors = envelope.get("errors")
    if isinstance(errors, list) and errors and isinstance(errors[0], dict):
        first = errors[0]
        code = first.get("code")
        message = str(first.get("message") or "no message")
        if first.get("field"):
            message += f" (field {first['field']})"
        if len(errors) > 1:
            more = len(errors) - 1
            message += f" (and {more} more error{'s' if more != 1 else ''})"
        return (str(code) if code else None), message
    data = envelope.get("data")
    if isinstance(data, str) and data:
        return None, data
    status = envelope.get("status")
    if isinstance(status, dict) and isinstance(status.get("message"), str):
        return None, status["message"]
    return None, ""


def _one_line(text: str, limit: int) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 3] + "..."


def _snippet(body: str) -> str:
    return repr(_one_line(body, _SNIPPET_CHARS)) if body.strip() else "(empty)"


def _group_from(reply: _Reply, item: dict[str, Any], where: str) -> SpotGroup:
    capacity = reply.optional(item, "capacity", dict, where) or {}
    target = capacity.get("target")
    integrations = reply.optional(item, "thirdPartiesIntegration", dict, where) or {}
    codedeploy = reply.optional(integrations, "codeDeploy", dict, f"{where}.thirdPartiesIntegration") or {}
    groups_where = f"{where}.thirdPartiesIntegration.codeDeploy"
    pairs = []
    for index, entry in enumerate(reply.optional(codedeploy, "deploymentGroups", list, groups_where) or []):
        entry_where = f"{groups_where}.deploymentGroups[{index}]"
        if not isinstance(entry, dict):
            raise reply.unexpected(f"{entry_where} is not an object")
        pairs.append(
            (
                reply.required(entry, "applicationName", str, entry_where),
                reply.required(entry, "deploymentGroupName", str, entry_where),
            )
        )
    return SpotGroup(
        group_id=reply.required(item, "id", str, where),
        name=reply.optional(item, "name", str, where) or "",
        capacity_target=target if isinstance(target, int) and not isinstance(target, bool) else None,
        codedeploy_groups=tuple(pairs),
    )


def _deployment_from(reply: _Reply, item: dict[str, Any], where: str, group_id: str) -> SpotDeployment:
    config = reply.optional(item, "config", dict, where) or {}
    if "tags" not in config and isinstance(config.get("deployment"), dict):
        # "config" echoes the request; whether the echo keeps the request's {"deployment": ...} wrapper is not
        # documented, and missing our own tag would make a duplicate delivery refuse its own deployment.
        config = config["deployment"]
        where = f"{where}.config.deployment"
    tags = []
    for index, tag in enumerate(reply.optional(config, "tags", list, f"{where}.config") or []):
        tag_where = f"{where}.config.tags[{index}]"
        if not isinstance(tag, dict):
            raise reply.unexpected(f"{tag_where} is not an object")
        tags.append((reply.required(tag, "tagKey", str, tag_where), reply.required(tag, "tagValue", str, tag_where)))
    return SpotDeployment(
        deployment_id=reply.required(item, "id", str, where),
        group_id=reply.optional(item, "groupId", str, where) or group_id,
        state=reply.optional(item, "state", str, where) or "",
        status=reply.optional(item, "status", str, where) or "",
        tags=tuple(tags),
    )


def _started_deployment_from(reply: _Reply, group_id: str, tag_key: str, tag_value: str) -> SpotDeployment:
    deployments = [
        _deployment_from(reply, item, f"items[{index}]", group_id) for index, item in enumerate(reply.items())
    ]
    for deployment in deployments:
        if deployment.has_tag(tag_key, tag_value):
            return deployment
    if len(deployments) == 1:
        return deployments[0]
    raise reply.unexpected(f"expected the started deployment, got {len(deployments)} items without our tag")
