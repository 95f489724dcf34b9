"""The Spot Elastigroup API client: the only module that talks to Spot.

Owns the HTTP conversation with Spot: the auth header, the `accountId` query parameter, timeouts, bounded
retries of what is safe to retry, reading Spot's reply envelope into one `SpotApiError`, and turning the few
Elastigroup and CodeDeploy blue/green routes `bluegreen` needs into small typed values.

Every call is bounded: each attempt in time (connect to last byte, never more than the invocation has left)
and in bytes (the body is streamed and refused past `MAX_REPLY_BYTES`), and only a thread that holds the
invocation's `Authority` may send a call that changes something. Ids in Spot's replies are checked for shape
and length before anything else sees them.

It must not import boto3 (AWS has its own gateway), read the environment or build its own Session (the
handler injects one), sleep except through the injected `Clock`, or put the token in any message, log line
or repr. It logs two things only, neither carrying secrets: a deployment state word it does not know
(once per word and reading per process, at most `MAX_UNKNOWN_WORDS_LOGGED` words) and a stop request for
which Spot had nothing to stop.
"""

from __future__ import annotations

import ipaddress
import json as jsonlib
import logging
import math
import re
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final, Literal, NewType, TypeVar
from urllib.parse import quote, urlsplit

import requests
from urllib3.exceptions import DecodeError, NewConnectionError, ProtocolError, ReadTimeoutError, SSLError

from bluegreen.authority import Authority
from bluegreen.clock import Clock
from bluegreen.domain import SpotToken
from bluegreen.errors import ConfigurationError, OutOfInvocationTimeError, SpotApiError, SpotStartUnknownError

logger = logging.getLogger(__name__)

SpotOutcome = Literal["running", "succeeded", "failed", "unknown"]

SpotBaseUrl = NewType("SpotBaseUrl", str)
"""A Spot API base URL `validate_base_url` accepted (or the default): the only kind `SpotClient` takes, so the URL
is checked once, where it enters (SPOT_API_URL), and never again."""
DEFAULT_BASE_URL: Final = SpotBaseUrl("https://api.spotinst.io")
MAX_REPLY_BYTES: Final = 2 * 1024 * 1024  # Spot's largest real reply (a big group's /status) is well under this
MAX_UNKNOWN_WORDS_LOGGED: Final = 32
_MIN_ATTEMPT_SECONDS: Final = 1.0  # below this, an attempt cannot finish: hand the run over instead
_CHUNK_BYTES: Final = 64 * 1024

# Spot publishes only STARTING/INITIALIZING; IN_PROGRESS is Spot's word in its other APIs. "Still running" is
# this positive list: a word outside every list is unknown, and the caller decides what unknown means.
_RUNNING_WORDS: Final = frozenset({"STARTING", "INITIALIZING", "IN_PROGRESS"})
# The terminal words are our reading of Spot's SDKs and help pages (none is published for this route).
_SUCCESS_WORDS: Final = frozenset({"FINISHED", "SUCCEEDED", "COMPLETED", "COMPLETE", "DONE"})
_FAILURE_WORDS: Final = frozenset(
    {
        "FAILED",
        "FINISHED_ERROR",
        "TIMED_OUT",
        "TIMEOUT",
        "STOPPED",
        "CANCELED",
        "CANCELLED",
        "ABORTED",
        "ERROR",
        "ROLLED_BACK",
    }
)
_KNOWN_WORDS: Final = _SUCCESS_WORDS | _FAILURE_WORDS | _RUNNING_WORDS
_WORD_SHOWN_CHARS: Final = 40

# Ids as Spot and AWS print them. Spot's are `cdbg-` + 8 hex today; the length is bounded, not fixed, so a
# longer id Spot may introduce still works while a hostile one never reaches a token, a result or a message.
DEPLOYMENT_ID_PATTERN: Final = re.compile(r"cdbg-[0-9A-Za-z]{1,32}")


class UnknownWords:
    """The unknown state words already logged, bounded, so 20,000 distinct words give at most a few lines."""

    def __init__(self, limit: int) -> None:
        self._limit = limit
        self._seen: set[tuple[str, str]] = set()
        self._full = False
        self._lock = threading.Lock()

    def note(self, words: list[str], deployment_id: str, reading: str) -> None:
        with self._lock:
            fresh = [w for w in words if (w, reading) not in self._seen]
            if not fresh or self._full:
                return
            if len(self._seen) >= self._limit:
                self._full = True
                logger.warning(
                    "Spot reported more than %d unknown blue/green deployment words; no longer logging each",
                    self._limit,
                )
                return
            self._seen.update((w, reading) for w in fresh)
        shown = ", ".join(repr(w[:_WORD_SHOWN_CHARS]) for w in fresh)
        logger.warning(
            "Spot reported an unknown blue/green deployment state or status %s on %s; read the deployment as %s",
            shown,
            deployment_id,
            reading,
        )


_unknown_words = UnknownWords(MAX_UNKNOWN_WORDS_LOGGED)

_RETRIED_SERVER_STATUSES: Final = frozenset({500, 502, 503, 504})
_TRANSIENT_TRANSPORT_ERRORS: Final = (
    requests.ConnectionError,
    requests.Timeout,
    requests.exceptions.ChunkedEncodingError,
)
_SNIPPET_CHARS: Final = 120
_NAME_CHARS: Final = 120
_MAX_CAPACITY: Final = 100_000  # an Elastigroup's target is far below this; a larger one is no real reply
_MESSAGE_CHARS: Final = 500

_T = TypeVar("_T")


def validate_base_url(url: str) -> SpotBaseUrl:
    """Return the Spot API base URL without a trailing slash: the one check of SPOT_API_URL.

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
        return SpotBaseUrl(url.strip().rstrip("/"))
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
    capacity_unit: str = "instance"  # "weight": `capacity_target` is a sum of instance weights, not a count


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
        """Where the deployment stands, read from both `state` and `status`: a failure word wins, then a
        success word; "running" only when every word is a running word; anything else (an unknown word, no
        word at all) is "unknown".
        """
        words = {_normalised_word(self.state), _normalised_word(self.status)} - {""}
        if words & _FAILURE_WORDS:
            return "failed"
        if words & _SUCCESS_WORDS:
            return "succeeded"
        if words and words <= _RUNNING_WORDS:
            return "running"
        return "unknown"

    def another_still_running(self, log: UnknownWords | None = None) -> bool:
        """Read as another run's deployment: only a known running word counts as running; unknown is ended
        (Spot itself refuses a concurrent start, and that refusal is the real signal).
        """
        outcome = self.outcome
        reading = {
            "running": "still running (another run's deployment)",
            "unknown": "ended (another run's deployment; Spot refuses a start if it still runs)",
        }.get(outcome, f"{outcome} (another run's deployment)")
        self._note_unknown(log, reading)
        return outcome == "running"

    def own_outcome(self, log: UnknownWords | None = None) -> SpotOutcome:
        """Read as this run's own deployment: unknown is kept watching, as if still running (its outcome is
        read from CodeDeploy anyway).
        """
        outcome = self.outcome
        reading = {
            "running": "still running (this run's own deployment)",
            "unknown": "still running (this run's own deployment: kept watching)",
        }.get(outcome, f"{outcome} (this run's own deployment)")
        self._note_unknown(log, reading)
        return "running" if outcome == "unknown" else outcome

    def _note_unknown(self, log: UnknownWords | None, reading: str) -> None:
        words = {_normalised_word(self.state), _normalised_word(self.status)} - {""}
        unknown = sorted(words - _KNOWN_WORDS) or ([] if words else ["(empty)"])
        if unknown:
            (log or _unknown_words).note(unknown, self.deployment_id, reading)

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

    def __init__(self, error: SpotApiError, attempt: int, *, last: bool = False) -> None:
        super().__init__(str(error))
        self.error = error
        self.attempt = attempt  # how many attempts were sent
        self.last = last  # whatever attempts are left, the call must not be sent again


class SpotClient:
    """The Spot Elastigroup calls `bluegreen` makes, each under an intention-revealing name."""

    def __init__(
        self,
        session: requests.Session,
        *,
        token: SpotToken,
        account_id: str,
        clock: Clock,
        base_url: SpotBaseUrl = DEFAULT_BASE_URL,
        connect_timeout: float = 5.0,
        read_timeout: float = 30.0,
        attempt_budget: float = 30.0,
        max_attempts: int = 4,
        max_retry_wait: float = 60.0,
        user_agent: str = "bluegreen/1.0.0",
        time_left: Callable[[], float] | None = None,
        authority: Authority | None = None,
        max_reply_bytes: int = MAX_REPLY_BYTES,
    ) -> None:
        """`attempt_budget` bounds one attempt from connect to last byte, on the injected clock; `time_left` is
        what the invocation still has for calls, which bounds every attempt and every wait too.
        """
        if max_attempts < 1:
            raise ValueError(f"max_attempts must be at least 1, got {max_attempts}")
        self._session = session
        self._token = token.reveal()
        self._account_id = account_id
        self._clock = clock
        self._base_url = base_url
        self._connect_timeout = connect_timeout
        self._read_timeout = read_timeout
        self._attempt_budget = attempt_budget
        self._max_attempts = max_attempts
        self._max_retry_wait = max_retry_wait
        self._time_left = time_left or (lambda: math.inf)
        self._authority = authority
        self._max_reply_bytes = max_reply_bytes
        self._headers = {
            "Authorization": f"Bearer {self._token}",  # a SpotToken is header-safe (bluegreen.domain)
            "Content-Type": "application/json",
            "Accept": "application/json",
            "User-Agent": user_agent,
        }

    def __repr__(self) -> str:
        return f"SpotClient(base_url={self._base_url!r}, account_id={self._account_id!r})"

    def get_group(self, group_id: str) -> SpotGroup:
        """Read an Elastigroup's name, target capacity (and its unit) and CodeDeploy integration.

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
        extra_tags: tuple[tuple[str, str], ...] = (),
    ) -> SpotDeployment:
        """Start a blue/green deployment tagged `tag_key=tag_value` (and `extra_tags`); `timeout` goes on the wire
        unchanged.

        When the POST's outcome is unknown (read timeout, dropped connection, 5xx) the deployment list is
        searched for the tag before the POST is sent again, so a retry never starts a second deployment. A
        refusal of a POST sent after such an unknown outcome may be Spot refusing a second start of our own
        deployment: the list is searched again, a few times, and the deployment found is adopted.

        Raises:
            SpotStartUnknownError: the outcome stayed unknown: a deployment with our tag may have started.
            SpotApiError: Spot refused the start, stayed unavailable, or answered in an unexpected shape.
        """
        operation = "POST start blue/green deployment"
        body = {
            "deployment": {
                "timeout": timeout,
                "tags": [{"tagKey": k, "tagValue": v} for k, v in ((tag_key, tag_value), *extra_tags)],
                "deploymentGroups": [{"applicationName": application, "deploymentGroupName": deployment_group}],
            }
        }
        attempt = 1
        unknown_before: SpotApiError | None = None
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
                unknown_before = unknown.error
                # A timed-out POST may still be in progress at Spot: give it the backoff before looking.
                self._clock.sleep(self._wait(self._backoff(unknown.attempt)))
                started = self.find_deployment_by_tag(group_id, tag_key, tag_value)
                if started is not None:
                    return started
                if unknown.last or unknown.attempt >= self._max_attempts:
                    raise _start_unknown(unknown.error, unknown.attempt, tag_key, tag_value) from unknown.__cause__
                attempt = unknown.attempt + 1
                continue
            except SpotApiError as exc:
                if _read_as_started(exc) or (unknown_before is not None and _refusal(exc)):
                    # An OK reply we cannot read means Spot started it; Spot's error codes are not published, so
                    # any refusal of a POST re-sent after an unknown outcome means "look again" too.
                    started = self._look_again(group_id, tag_key, tag_value)
                    if started is not None:
                        return started
                    raise _start_unknown(exc, attempt, tag_key, tag_value) from exc
                raise _refused_start(exc) from exc
            try:
                return _started_deployment_from(reply, group_id, tag_key, tag_value)
            except SpotApiError as exc:
                started = self._look_again(group_id, tag_key, tag_value)
                if started is not None:
                    return started
                raise _start_unknown(exc, attempt, tag_key, tag_value) from exc

    def _look_again(self, group_id: str, tag_key: str, tag_value: str) -> SpotDeployment | None:
        # Whether Spot's list can lag just behind a create is undocumented: a few looks, a short backoff.
        for attempt in range(1, 4):
            self._clock.sleep(self._wait(self._backoff(attempt + 1)))
            started = self.find_deployment_by_tag(group_id, tag_key, tag_value)
            if started is not None:
                return started
        return None

    def stop_deployment(self, group_id: str, deployment_id: str) -> bool:
        """Ask Spot to stop a deployment; False when Spot refuses (400/404) and its list confirms that the
        deployment has ended (or lists it no longer).

        Raises:
            SpotApiError: Spot refused the stop and the deployment is not confirmed ended, refused for another
                reason, stayed unavailable, or answered in an unexpected shape.
        """
        operation = "PUT stop blue/green deployment"
        path = f"{self._deployments_path(group_id)}/{quote(deployment_id, safe='')}/stop"
        try:
            self._request("PUT", path, operation)
        except SpotApiError as exc:
            if exc.status not in (400, 404):
                raise
            # A refused stop proves nothing by itself (the route is in Spot's Python SDK only): look.
            listed = next((d for d in self.list_deployments(group_id) if d.deployment_id == deployment_id), None)
            if listed is not None and listed.outcome not in ("succeeded", "failed"):
                raise SpotApiError(
                    operation,
                    exc.status,
                    f"{exc.spot_message}; Spot still lists {deployment_id} as "
                    f"{listed.state or '?'}/{listed.status or '?'}, so it may still be running",
                    code=exc.code,
                    request_id=exc.request_id,
                ) from exc
            logger.warning(
                "Spot had no blue/green deployment %s on %s to stop (%s): it %s",
                deployment_id,
                group_id,
                exc,
                "is no longer listed" if listed is None else f"ended ({listed.state}/{listed.status})",
            )
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

        Each attempt is bounded in time (`attempt_budget`, and what the invocation has left) and in bytes.
        `ambiguous_ok=False` marks a call that must not be re-sent when Spot may already have acted on it:
        instead of retrying, `_OutcomeUnknownError` tells the caller to look first. `first_attempt` lets
        such a caller continue the same attempt budget.

        Raises:
            AuthorityLostError: a call that changes something, from a thread that no longer holds the run.
            OutOfInvocationTimeError: the invocation has no time left for an attempt.
        """
        attempt = first_attempt
        while True:
            if method != "GET" and self._authority is not None:
                self._authority.check(f"Spot {operation}")
            budget = self._budget(operation)
            cause: BaseException | None = None
            try:
                raw = self._send(method, path, operation, json, budget)
            except _TRANSIENT_TRANSPORT_ERRORS as exc:
                # Only the exception's type: requests' text can quote request details.
                error = SpotApiError(operation, None, f"no reply from Spot ({type(exc).__name__})")
                safe_to_resend = _nothing_was_sent(exc)
                wait = self._backoff(attempt)
                cause = exc
            except _TooSlowError as exc:
                error = SpotApiError(operation, None, str(exc))
                safe_to_resend = False
                wait = self._backoff(attempt)
            except _TooLargeError as exc:
                # Asking again brings the same flood: never retried. A POST's outcome is unknown, though.
                error = SpotApiError(operation, None, str(exc))
                if not ambiguous_ok:
                    raise _OutcomeUnknownError(error, attempt, last=True) from None
                raise error from None
            except requests.RequestException as exc:
                raise SpotApiError(operation, None, f"request could not be sent ({type(exc).__name__})") from exc
            else:
                try:
                    return self._read_response(raw, operation)
                except SpotApiError as exc:
                    if raw.status == 429:
                        safe_to_resend = True
                        wait = self._rate_limit_wait(raw.headers, attempt)
                    elif raw.status in _RETRIED_SERVER_STATUSES:
                        safe_to_resend = False
                        wait = self._backoff(attempt)
                    else:
                        raise
                    error = exc
            if not (safe_to_resend or ambiguous_ok):
                raise _OutcomeUnknownError(error, attempt) from cause
            if attempt >= self._max_attempts or self._time_left() - wait < _MIN_ATTEMPT_SECONDS:
                raise _gave_up(error, attempt) from cause
            self._clock.sleep(wait)
            attempt += 1

    def _budget(self, operation: str) -> float:
        left = self._time_left()
        if left < _MIN_ATTEMPT_SECONDS:
            raise OutOfInvocationTimeError(f"Spot {operation}: not sent, the invocation has {max(left, 0):.1f} s left")
        return min(self._attempt_budget, left)

    def _wait(self, seconds: float) -> float:
        return max(0.0, min(seconds, self._time_left() - _MIN_ATTEMPT_SECONDS))

    def _send(self, method: str, path: str, operation: str, json: dict[str, Any] | None, budget: float) -> _RawReply:
        """One attempt: the request and its whole body, within `budget` seconds and `max_reply_bytes`."""
        started = self._clock.now()
        response = self._session.request(
            method,
            self._base_url + path,
            params={"accountId": self._account_id},
            json=json,
            headers=self._headers,
            timeout=(min(self._connect_timeout, budget), min(self._read_timeout, budget)),
            allow_redirects=False,
            stream=True,
        )
        try:
            chunks: list[bytes] = []
            size = 0
            while chunk := _read_some(response):
                size += len(chunk)
                if size > self._max_reply_bytes:
                    raise _TooLargeError(
                        f"reply larger than {self._max_reply_bytes // 1024} KiB (HTTP {response.status_code}); not read"
                    )
                chunks.append(chunk)
                if self._clock.now() - started > budget:
                    raise _TooSlowError(
                        f"no complete reply from Spot within {budget:.0f} s (the body was still arriving)"
                    )
            if self._clock.now() - started > budget:
                raise _TooSlowError(f"no complete reply from Spot within {budget:.0f} s")
        finally:
            response.close()
        return _RawReply(response.status_code, response.reason or "", dict(response.headers), b"".join(chunks))

    def _read_response(self, raw: _RawReply, operation: str) -> _Reply:
        """Return the `response` part of Spot's envelope, or raise the one error that describes the reply."""
        status = raw.status
        try:
            document: Any = jsonlib.loads(raw.body)
        except RecursionError:
            raise self._error(operation, status, "unexpected reply: JSON nested too deeply to read") from None
        except ValueError:
            snippet = _snippet(self._redacted(raw.body[: _SNIPPET_CHARS * 8].decode("utf-8", "replace")))
            raise self._error(operation, status, f"non-JSON body: {snippet}") from None
        if not isinstance(document, dict):
            raise self._error(operation, status, "unexpected reply: the body is not a JSON object")
        request = document.get("request")
        request_id = request.get("id") if isinstance(request, dict) else None
        request_id = request_id if isinstance(request_id, str) and _REQUEST_ID_PATTERN.fullmatch(request_id) else None
        envelope = document.get("response")
        if status != 200:
            code, message = _error_detail(envelope)
            message = message or raw.reason or "no error detail"
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
            code=_one_line(self._redacted(code), _CODE_CHARS) if code else None,
            request_id=request_id,
        )

    def _redacted(self, text: str) -> str:
        # Spot or a proxy could echo request headers back; redact before any truncation can split the token.
        return text.replace(self._token, "***")

    def _backoff(self, attempt: int) -> float:
        return min(float(2 ** (attempt - 1)), self._max_retry_wait)

    def _rate_limit_wait(self, headers: Mapping[str, str], attempt: int) -> float:
        lowered = {k.lower(): v for k, v in headers.items()}
        for header in ("x-ratelimit-reset", "retry-after"):
            try:
                seconds = float(lowered.get(header, ""))
            except ValueError:
                continue
            if math.isfinite(seconds) and seconds > 0:
                return min(seconds, self._max_retry_wait)
        return self._backoff(attempt)


@dataclass(frozen=True)
class _RawReply:
    """One attempt's reply, read whole (within the byte cap) and closed."""

    status: int
    reason: str
    headers: dict[str, str]
    body: bytes


def _read_some(response: requests.Response) -> bytes:
    """What has arrived of the body, at most one chunk: `read1` returns after one read of the socket, where
    `read` (and requests' `iter_content`) would wait for a whole chunk however slowly it drips in.
    """
    try:
        return response.raw.read1(_CHUNK_BYTES, decode_content=True) or b""
    except ProtocolError as exc:
        raise requests.exceptions.ChunkedEncodingError(exc) from exc
    except ReadTimeoutError as exc:
        raise requests.ReadTimeout(exc) from exc
    except (DecodeError, SSLError) as exc:
        raise requests.ConnectionError(exc) from exc


class _TooLargeError(Exception):
    """The reply is larger than the client reads (a flood, or a body that never ends)."""


class _TooSlowError(Exception):
    """The reply did not arrive whole within the attempt's budget (a drip defeats the per-read timeout)."""


_REQUEST_ID_PATTERN: Final = re.compile(r"[0-9A-Za-z._:-]{1,64}")
_CODE_CHARS: Final = 80


def _read_as_started(exc: SpotApiError) -> bool:
    return exc.status is not None and 200 <= exc.status < 300


def _refusal(exc: SpotApiError) -> bool:
    return exc.status is not None and 400 <= exc.status < 500 and exc.status not in (401, 403, 429)


def _refused_start(exc: SpotApiError) -> SpotApiError:
    if exc.status != 400:
        return exc
    return SpotApiError(
        exc.operation,
        exc.status,
        f"{exc.spot_message} (Spot refuses a start while another blue/green deployment runs on the group: wait "
        "for it, or stop it in the Spot console)",
        code=exc.code,
        request_id=exc.request_id,
    )


def _start_unknown(error: SpotApiError, attempts: int, tag_key: str, tag_value: str) -> SpotStartUnknownError:
    plural = "s" if attempts != 1 else ""
    return SpotStartUnknownError(
        error.operation,
        error.status,
        f"{error.spot_message} (gave up after {attempts} attempt{plural}; a deployment tagged "
        f"{tag_key}={tag_value} may have started, and none is listed yet)",
        code=error.code,
        request_id=error.request_id,
    )


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
    unit = capacity.get("unit")
    if isinstance(target, int) and not isinstance(target, bool) and not 0 <= target <= _MAX_CAPACITY:
        raise reply.unexpected(f"{where}.capacity.target is outside 0..{_MAX_CAPACITY}")
    return SpotGroup(
        group_id=reply.required(item, "id", str, where),
        name=_one_line(reply.optional(item, "name", str, where) or "", _NAME_CHARS),
        capacity_target=target if isinstance(target, int) and not isinstance(target, bool) else None,
        codedeploy_groups=tuple(pairs),
        capacity_unit=unit.strip().lower()[:_WORD_SHOWN_CHARS]
        if isinstance(unit, str) and unit.strip()
        else "instance",
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
    deployment_id = reply.required(item, "id", str, where)
    if not DEPLOYMENT_ID_PATTERN.fullmatch(deployment_id):
        raise reply.unexpected(
            f"{where}.id is not a blue/green deployment id like cdbg-611a38d3 ({len(deployment_id)} characters)"
        )
    return SpotDeployment(
        deployment_id=deployment_id,
        group_id=group_id,
        state=_one_line(reply.optional(item, "state", str, where) or "", _WORD_SHOWN_CHARS),
        status=_one_line(reply.optional(item, "status", str, where) or "", _WORD_SHOWN_CHARS),
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
