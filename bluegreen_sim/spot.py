"""HTTP emulator of the Spot Elastigroup endpoints `bluegreen` uses, on 127.0.0.1.

Owns the wire: routing, Spot's response envelope and error shape, the Bearer-token and `accountId`
checks, the per organisation x route x method rate limit over a sliding 60 s window of SIMULATED time
(with `X-RateLimit-*` headers on every reply and a 429 `"Rate limit exceeded"` without `errors[]` when the
budget is spent), and a ledger of the calls made. Behaviour lives in `elastigroup.py`.

The one Spot emulator: the simulator serves `handle` on loopback (`start()`), the unit tests through `responses`
(tests/fakes/spot.py, which adds only fault injection). The clock is the simulator's SimClock or the tests'
FakeClock (`now()`, `running`, and what `elastigroup.WorldClock` asks).
"""

from __future__ import annotations

import datetime as dt
import json
import math
import re
import threading
import uuid
from collections import Counter, deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

from bluegreen_sim.elastigroup import Elastigroups, SpotError, WorldClock
from bluegreen_sim.loopback import LoopbackServer, Reply

WINDOW = 60.0
DEFAULT_ACCOUNT = "act-00000000"  # what Spot uses when accountId is missing: the organisation's oldest account

_ROUTES: tuple[tuple[str, re.Pattern[str], str], ...] = (
    ("GET", re.compile(r"^/aws/ec2/group/(?P<g>[^/]+)$"), "/aws/ec2/group/{groupId}"),
    ("GET", re.compile(r"^/aws/ec2/group/(?P<g>[^/]+)/status$"), "/aws/ec2/group/{groupId}/status"),
    (
        "GET",
        re.compile(r"^/aws/ec2/group/(?P<g>[^/]+)/codeDeploy/blueGreenDeployment$"),
        "/aws/ec2/group/{groupId}/codeDeploy/blueGreenDeployment",
    ),
    (
        "POST",
        re.compile(r"^/aws/ec2/group/(?P<g>[^/]+)/codeDeploy/blueGreenDeployment$"),
        "/aws/ec2/group/{groupId}/codeDeploy/blueGreenDeployment",
    ),
    (
        "PUT",
        re.compile(r"^/aws/ec2/group/(?P<g>[^/]+)/codeDeploy/blueGreenDeployment/(?P<d>[^/]+)/stop$"),
        "/aws/ec2/group/{groupId}/codeDeploy/blueGreenDeployment/{deploymentId}/stop",
    ),
)
_STATUS_TEXT = {
    200: "OK",
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    429: "Too Many Requests",
    500: "Internal Server Error",
}


@dataclass(frozen=True)
class Decision:
    """The rate limiter's verdict on one call."""

    allowed: bool
    limit: int
    remaining: int
    reset: int


class RateLimiter:
    """Sliding-window budget per (organisation, "METHOD /route") on simulated time.

    `forced`: route keys whose next N calls are answered 429 regardless (with `forced_reset` seconds),
    so a scenario can show rate limiting without depending on how often the handler calls.
    """

    def __init__(
        self, clock: WorldClock, budget: int = 60, *, forced: Mapping[str, int] | None = None, forced_reset: int = 5
    ) -> None:
        self._clock = clock
        self.budget = budget
        self._forced = dict(forced or {})
        self._forced_reset = forced_reset
        self._calls: dict[tuple[str, str], deque[float]] = {}
        self._lock = threading.Lock()

    def check(self, org: str, route: str) -> Decision:
        """Count the call if allowed; say how much budget is left and when a call is allowed again."""
        now = self._clock.now()
        with self._lock:
            window = self._calls.setdefault((org, route), deque())
            while window and window[0] <= now - WINDOW:
                window.popleft()
            if self._forced.get(route, 0) > 0:
                self._forced[route] -= 1
                return Decision(False, self.budget, 0, self._forced_reset)
            if len(window) >= self.budget:
                return Decision(False, self.budget, 0, max(1, math.ceil(window[0] + WINDOW - now)))
            window.append(now)
            reset = max(1, math.ceil(window[0] + WINDOW - now))
            return Decision(True, self.budget, self.budget - len(window), reset)


@dataclass(frozen=True)
class SpotCall:
    """One call the emulator answered: when (simulated epoch seconds), "METHOD /route", status and who."""

    at: float
    route: str
    status: int
    caller: str | None
    group: str | None = None  # the Elastigroup id in the path, when the route has one
    reset: int | None = None  # the X-RateLimit-Reset the reply carried, when the limiter was asked

    @property
    def counted(self) -> bool:
        """Whether the call spent rate-limit budget (it got past the token check and was not refused)."""
        return self.status not in (401, 429)


@dataclass
class SpotLedger:
    """Every call the emulator answered, as counters and as a timestamped log (`entries`, in call order)."""

    calls: Counter[str] = field(default_factory=Counter)
    statuses: Counter[int] = field(default_factory=Counter)
    throttled: int = 0
    by_caller: Counter[str] = field(default_factory=Counter)
    entries: list[SpotCall] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def record(
        self,
        route: str,
        status: int,
        caller: str | None,
        at: float = math.nan,
        *,
        group: str | None = None,
        reset: int | None = None,
    ) -> None:
        with self.lock:
            self.calls[route] += 1
            self.statuses[status] += 1
            if status == 429:
                self.throttled += 1
            self.by_caller[caller or "-"] += 1
            self.entries.append(SpotCall(at, route, status, caller, group, reset))

    def busiest_window(self, window: float = WINDOW, *, counted_only: bool = True) -> dict[str, int]:
        """Per "METHOD /route", the most calls in any `window` seconds, as the limiter counts them.

        A window is the half-open interval (t - window, t], the limiter's own sliding window. With
        `counted_only` (the default) only calls that spent budget count; otherwise refused calls (429)
        count too, which shows the demand the limiter pushed back on. The limiter keeps one budget per
        token; a simulated cloud accepts one token, so per route is per budget.
        """
        with self.lock:
            entries = [e for e in self.entries if e.counted or (not counted_only and e.status == 429)]
        times: dict[str, list[float]] = {}
        for entry in entries:
            times.setdefault(entry.route, []).append(entry.at)
        busiest: dict[str, int] = {}
        for route, stamps in times.items():
            stamps.sort()
            start = best = 0
            for end, at in enumerate(stamps):
                while stamps[start] <= at - window:
                    start += 1
                best = max(best, end - start + 1)
            busiest[route] = best
        return dict(sorted(busiest.items()))


class SpotEmulator:
    """The Spot API on loopback. `tokens` maps each accepted token to the accounts it may use."""

    def __init__(
        self, clock: WorldClock, groups: Elastigroups, tokens: Mapping[str, set[str]], limiter: RateLimiter
    ) -> None:
        self.clock = clock
        self.groups = groups
        self.tokens = {k: set(v) for k, v in tokens.items()}
        self.limiter = limiter
        self.ledger = SpotLedger()
        self._loopback = LoopbackServer("spot-emulator")

    @property
    def url(self) -> str:
        return self._loopback.url

    def start(self) -> None:
        self._loopback.serve(self._answer)

    def _answer(self, method: str, raw_path: str, headers: Mapping[str, str], body: bytes) -> Reply:
        status, extra, doc = self.handle(method, raw_path, headers, body)
        return status, [("Content-Type", "application/json; charset=utf-8"), *extra.items()], json.dumps(doc).encode()

    def stop(self) -> None:
        self._loopback.stop()

    # -- request handling (transport-free, so unit tests can call it) --------------------------------
    def handle(
        self, method: str, raw_path: str, headers: Mapping[str, str], body: bytes
    ) -> tuple[int, dict[str, str], dict[str, Any]]:
        """Answer one request: (HTTP status, extra headers, JSON envelope)."""
        parts = urlsplit(raw_path)
        query = parse_qs(parts.query)
        request = {
            "id": str(uuid.UUID(int=self.groups.rng.getrandbits(128), version=4)),
            "url": raw_path,
            "method": method,
            "timestamp": self._iso(),
        }
        route, match = self._route(method, parts.path)
        key = f"{method} {route}"
        caller = self.clock.running
        now = self.clock.now()
        group = match["g"] if match else None
        token = _bearer(headers)
        if token is None or token not in self.tokens:
            self.ledger.record(key, 401, caller, now, group=group)
            return 401, {}, _error(request, 401, "UNAUTHORIZED", "Unauthorized: invalid or missing token")
        decision = self.limiter.check(token, key)
        limits = {
            "X-RateLimit-Limit": str(decision.limit),
            "X-RateLimit-Remaining": str(decision.remaining),
            "X-RateLimit-Reset": str(decision.reset),
        }
        if not decision.allowed:
            self.ledger.record(key, 429, caller, now, group=group, reset=decision.reset)
            return (
                429,
                limits,
                {
                    "request": request,
                    "response": {"status": {"code": 429, "message": _STATUS_TEXT[429]}, "data": "Rate limit exceeded"},
                },
            )
        try:
            if match is None:
                raise SpotError(404, "NOT_FOUND", f"No route for {method} {parts.path}")
            account = (query.get("accountId") or [DEFAULT_ACCOUNT])[0]
            if not account.startswith("act-"):
                raise SpotError(400, "INVALID_ACCOUNT_ID", f"Invalid accountId {account}", "accountId")
            if account != DEFAULT_ACCOUNT and account not in self.tokens[token]:
                raise SpotError(403, "FORBIDDEN", f"Account {account} is not accessible with this token")
            kind, items = self._dispatch(method, route, match, account, body)
        except SpotError as fault:
            self.ledger.record(key, fault.status, caller, now, group=group, reset=decision.reset)
            return fault.status, limits, _error(request, fault.status, fault.code, fault.message, fault.field_name)
        self.ledger.record(key, 200, caller, now, group=group, reset=decision.reset)
        return (
            200,
            limits,
            {
                "request": request,
                "response": {
                    "status": {"code": 200, "message": "OK"},
                    "kind": kind,
                    "items": items,
                    "count": len(items),
                },
            },
        )

    def _dispatch(
        self, method: str, route: str, match: re.Match[str], account: str, body: bytes
    ) -> tuple[str, list[dict[str, Any]]]:
        with self.groups.lock:
            group = self.groups.group(account, match["g"])
            if route == "/aws/ec2/group/{groupId}":
                return "spotinst:aws:ec2:group", [group.wire(self._iso(group.created_at))]
            if route.endswith("/status"):
                return "spotinst:aws:ec2:group:instance", self.groups.status_items(group)
            kind = "spotinst:aws:ec2:group:codeDeploy:blueGreenDeployment"
            if method == "GET":
                return kind, self.groups.list_items(group)
            if method == "POST":
                try:
                    payload = json.loads(body or b"null")
                except ValueError as exc:
                    raise SpotError(400, "INVALID_JSON", f"Request body is not valid JSON: {exc}") from exc
                return kind, [self.groups.start(group, payload).wire()]
            return kind, [self.groups.stop(group, match["d"]).wire()]

    def _route(self, method: str, path: str) -> tuple[str, re.Match[str] | None]:
        for verb, pattern, template in _ROUTES:
            found = pattern.match(path)
            if found and verb == method:
                return template, found
        return path, None

    def _iso(self, at: float | None = None) -> str:
        moment = dt.datetime.fromtimestamp(self.clock.now() if at is None else at, dt.UTC)
        return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def _bearer(headers: Mapping[str, str]) -> str | None:
    value = next((v for k, v in headers.items() if k.lower() == "authorization"), "")
    if not value.startswith("Bearer "):
        return None
    return value[len("Bearer ") :].strip() or None


def _error(
    request: dict[str, Any], status: int, code: str, message: str, field_name: str | None = None
) -> dict[str, Any]:
    error: dict[str, str] = {"code": code, "message": message}
    if field_name:
        error["field"] = field_name
    return {
        "request": request,
        "response": {"status": {"code": status, "message": _STATUS_TEXT.get(status, "Error")}, "errors": [error]},
    }
