"""The Spot API for unit tests: bluegreen_sim's one Spot emulator (spot.py + elastigroup.py), served through
`responses`, with the test's fast settings (every delay zero but the launch, on the FakeClock) and fault injection.

This file models nothing about Spot itself: the wire (envelope, errors, rate-limit headers, token and account
checks), the deployments (state words, the concurrent-start refusal, the lagging list, stop semantics, capacity
units, the echoed `config`) live in bluegreen_sim and are cited there. What is here is a test's control of the
boundary: faults queued per route (`fail_next("POST", "deployments", Fault(429, ...))`, which answer before the
emulator and may make Spot act anyway, `Fault.before`), a hook after a reply (`after_next`), dripping bodies,
and settings of the group (`capacity`, `status_instances`, `launch_delay`, `codedeploy_groups`).
"""

from __future__ import annotations

import io
import json
import random
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlparse

import requests
import responses

from bluegreen_sim.behaviour import GroupBehaviour
from bluegreen_sim.ec2fleet import Fleet
from bluegreen_sim.elastigroup import GREEN_TAG, GROUP_TAG, BlueGreen, Elastigroups
from bluegreen_sim.spot import RateLimiter, SpotEmulator
from tests.fakes.clock import FakeClock

BASE = "https://api.spotinst.io"
GROUP_RE = re.compile(r"/aws/ec2/group/(?P<group>sig-[0-9a-z]+)(?P<rest>/.*)?$")
# The tests' settings: greens launch after a minute of fake time, boot and pass their checks at once, and a
# stopped or failed deployment's greens go at once.
FAST = GroupBehaviour(
    launch_delay=60.0, boot_delay=0.0, checks_delay=0.0, replace_delay=0.0, finalize_delay=0.0, cleanup_delay=0.0
)


@dataclass
class Fault:
    status: int
    body: Any = None  # a JSON value, a str or bytes sent as is, or a callable giving an io.BufferedReader
    headers: dict[str, str] = field(default_factory=dict)
    exception: Exception | None = None
    before: Callable[[], None] | None = None  # what Spot did anyway before answering with this fault


class DripBody(io.RawIOBase):
    """A reply body that arrives one byte per simulated second: each read advances the fake clock by one."""

    def __init__(self, advance: Callable[[float], None], data: bytes) -> None:
        self._advance = advance
        self._data = data
        self.bytes_sent = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        if self.bytes_sent >= len(self._data):
            return 0
        self._advance(1.0)
        buffer[0] = self._data[self.bytes_sent]
        self.bytes_sent += 1
        return 1


def dripping(advance: Callable[[float], None], data: bytes) -> Callable[[], io.BufferedReader]:
    """A `Fault.body` that drips `data` in, one byte per simulated second."""
    return lambda: io.BufferedReader(DripBody(advance, data), buffer_size=1)


_current: list[FakeSpot] = []  # the FakeSpot of the running test (one at a time per process)


def SpotDeploymentRecord(
    deployment_id: str,
    green: str,
    launch_at: float,
    *,
    state: str = "STARTING",
    status: str = "INITIALIZING",
    launched: bool = False,
) -> BlueGreen:
    """A deployment Spot lists without this run's POST (someone else's, or an old one), for `spot.deployments`."""
    spot = _current[-1]
    return spot.groups.record(
        spot.group, deployment_id, green, launch_at, state=state, status=status, launched=launched
    )


class FakeSpot:
    """The Spot emulator on `responses`, with one group (`group_id`) of `capacity` blues in moto's EC2."""

    def __init__(
        self,
        rsps: responses.RequestsMock,
        *,
        token: str,
        account_id: str,
        group_id: str,
        clock: FakeClock,
        ec2: Any,
        capacity: int = 2,
    ) -> None:
        self.clock = clock
        self.groups = Elastigroups(clock, Fleet(ec2), random.Random(0))  # noqa: S311 - ids of a fake world
        self.groups.sequential_ids = True
        self.group = self.groups.add_group(account_id, "web", capacity, "App", "DG", FAST, group_id=group_id)
        # Rate limiting is Spot's (60 a minute per route); tests that need a 429 queue one as a fault.
        self.emulator = SpotEmulator(clock, self.groups, {token: {account_id}}, RateLimiter(clock))
        _current[:] = [self]
        self.threads: list[str] = []  # the thread of each call, to check how the client is shared
        self.after: dict[tuple[str, str], list[Callable[[], None]]] = {}
        self.calls: list[tuple[str, str]] = []
        self.faults: dict[tuple[str, str], list[Fault]] = {}
        self.last_start_body: Any = None
        pattern = re.compile(re.escape(BASE) + r"/aws/ec2/group/.*")
        for method in ("GET", "POST", "PUT"):
            rsps.add_callback(method, pattern, callback=self._dispatch)

    # ---- the group's settings ----
    @property
    def deployments(self) -> list[BlueGreen]:
        return self.group.deployments

    @property
    def ledger(self) -> Any:
        return self.emulator.ledger

    @property
    def launch_delay(self) -> float:
        return self.group.behaviour.launch_delay

    @launch_delay.setter
    def launch_delay(self, seconds: float) -> None:
        self.groups.set_behaviour(self.group, launch_delay=seconds)

    @property
    def capacity_unit(self) -> str:
        return self.group.behaviour.capacity_unit

    @capacity_unit.setter
    def capacity_unit(self, unit: str) -> None:
        self.groups.set_behaviour(self.group, capacity_unit=unit)

    @property
    def capacity(self) -> int:
        """The group's capacity.target on the wire (a weight sum when the unit is "weight")."""
        return self.group.wire_target

    @capacity.setter
    def capacity(self, target: int) -> None:
        self.group.capacity_target = target

    @property
    def status_instances(self) -> int:
        """How many blue instances the group runs (what /status lists before greens come)."""
        return len(self.groups.fleet.alive(self.group.blue_ids))

    @status_instances.setter
    def status_instances(self, count: int) -> None:
        self.groups.set_blues(self.group, count)

    @property
    def codedeploy_groups(self) -> list[tuple[str, str]]:
        return self.group.deployment_groups

    @codedeploy_groups.setter
    def codedeploy_groups(self, pairs: list[tuple[str, str]]) -> None:
        self.group.extra_deployment_groups = list(pairs)

    # ---- test controls ----
    def fail_next(self, method: str, route: str, *faults: Fault) -> None:
        self.faults.setdefault((method, route), []).extend(faults)

    def after_next(self, method: str, route: str, hook: Callable[[], None]) -> None:
        """Run `hook` once the next such call was handled, before its reply leaves (a reply that hangs)."""
        self.after.setdefault((method, route), []).append(hook)

    def tick(self, now: float) -> None:
        """The world moves to `now`: due events run, and greens whose launch time has come are launched."""
        self.clock.run_due_events()
        self.groups.launch_due()
        self.clock.run_due_events()

    def start(self, green: str, *, hidden_for_lists: int = 0) -> BlueGreen:
        """Start a deployment as Spot does on a POST (tests call it to model a POST whose reply was lost)."""
        return self.groups.begin(self.group, green, hidden_for_lists=hidden_for_lists)

    def launch_anyway(self, record: BlueGreen) -> list[str]:
        """Launch the record's greens now, whatever its state (greens that come up after a stop all the same)."""
        tags = {GROUP_TAG: self.group.id, "Name": self.group.name, GREEN_TAG: record.green or ""}
        ids = self.groups.fleet.launch(self.groups.green_count(self.group), tags, running=True)
        record.launched = True
        record.green_ids.extend(ids)
        self.group.all_instances.extend(ids)
        return ids

    def calls_to(self, method: str, route: str) -> int:
        return sum(1 for call in self.calls if call == (method, route))

    # ---- the API ----
    def _dispatch(self, request: requests.PreparedRequest) -> tuple[int, dict[str, str], Any]:
        reply = self._handle(request)
        route = self.calls[-1]
        hooks = self.after.get(route, [])
        if hooks:
            hooks.pop(0)()
        return reply

    def _handle(self, request: requests.PreparedRequest) -> tuple[int, dict[str, str], Any]:
        url = urlparse(request.url or "")
        match = GROUP_RE.match(url.path)
        assert match, url.path
        rest = match.group("rest") or ""
        route = {"": "group", "/status": "status", "/codeDeploy/blueGreenDeployment": "deployments"}.get(rest)
        if route is None and rest.endswith("/stop"):
            route = "stop"
        method = request.method or "GET"
        self.calls.append((method, route or rest))
        self.threads.append(threading.current_thread().name)
        queued = self.faults.get((method, route or ""), [])
        if queued:
            fault = queued.pop(0)
            if fault.before is not None:
                fault.before()
            if fault.exception is not None:
                raise fault.exception
            body: Any
            if isinstance(fault.body, str | bytes):
                body = fault.body
            elif callable(fault.body):
                body = fault.body()
            else:
                body = json.dumps(fault.body or _error(fault.status))
            return fault.status, {"X-RateLimit-Remaining": "0", **fault.headers}, body
        raw = request.body or b""
        data = raw.encode() if isinstance(raw, str) else raw
        if route == "deployments" and method == "POST":
            self.last_start_body = json.loads(data or b"null")
        path = url.path + (f"?{url.query}" if url.query else "")
        status, headers, doc = self.emulator.handle(method, path, dict(request.headers), data)
        return status, headers, json.dumps(doc)


def _error(status: int, code: str = "ERROR", message: str = "failure") -> dict[str, Any]:
    """Spot's error envelope (shared/reference/spot-api.md), for a fault that names no body."""
    return {
        "request": {"id": "spot-req-err"},
        "response": {
            "status": {"code": status, "message": message},
            "errors": [{"code": code, "message": message}],
        },
    }
