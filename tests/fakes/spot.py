"""A fake Spot Elastigroup API on `responses`, with an Elastigroup that launches tagged green instances in
moto's EC2 after a launch delay. Faults are queued per route: `fail_next("POST", "deployments", 429, ...)`.

Modelled behaviour beyond the happy path, with its source:
- Spot refuses to start a blue/green deployment while another one runs on the group (shared/reference/spot-api.md:
  "Spot itself refuses a concurrent start"). The status and code are not published: we assume HTTP 400 with
  `DEPLOYMENT_ALREADY_IN_PROGRESS` (the example code of the reference's error envelope); the product treats any
  4xx refusal the same way.
- Whether the list can lag just behind a create is undocumented (spot-api.md): `hidden_for_lists` models a lag.
"""

from __future__ import annotations

import io
import json
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlparse

import requests
import responses

BASE = "https://api.spotinst.io"
GROUP_RE = re.compile(r"/aws/ec2/group/(?P<group>sig-[0-9a-z]+)(?P<rest>/.*)?$")


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


@dataclass
class SpotDeploymentRecord:
    deployment_id: str
    green: str
    launch_at: float
    state: str = "STARTING"
    status: str = "INITIALIZING"
    launched: bool = False
    stopped: bool = False
    hidden_for_lists: int = 0  # how many more list calls do not show it yet (a list lagging behind the create)
    tags: list[dict[str, str]] = field(default_factory=list)  # as the POST sent them; Spot echoes them in config

    @property
    def running(self) -> bool:
        return not self.stopped and self.state in ("STARTING", "INITIALIZING", "IN_PROGRESS")


class FakeSpot:
    def __init__(
        self,
        rsps: responses.RequestsMock,
        *,
        token: str,
        account_id: str,
        group_id: str,
        now: Callable[[], float],
        launch_greens: Callable[[str, int], list[str]],
        terminate: Callable[[list[str]], None],
        capacity: int = 2,
    ) -> None:
        self.token = token
        self.account_id = account_id
        self.group_id = group_id
        self.capacity = capacity
        self.capacity_unit = "instance"  # or "weight": capacity is then a weight sum (OpenAPI elastigroupCreate)
        self.status_instances = capacity
        self.threads: list[str] = []  # the thread of each call, to check how the client is shared
        self.after: dict[tuple[str, str], list[Callable[[], None]]] = {}
        self.launch_delay = 60.0
        self.codedeploy_groups = [("App", "DG")]
        self.deployments: list[SpotDeploymentRecord] = []
        self.green_instances: dict[str, list[str]] = {}
        self.calls: list[tuple[str, str]] = []
        self.faults: dict[tuple[str, str], list[Fault]] = {}
        self._now = now
        self._launch = launch_greens
        self._terminate = terminate
        pattern = re.compile(re.escape(BASE) + r"/aws/ec2/group/.*")
        for method in ("GET", "POST", "PUT"):
            rsps.add_callback(method, pattern, callback=self._dispatch)

    # ---- test controls ----
    def fail_next(self, method: str, route: str, *faults: Fault) -> None:
        self.faults.setdefault((method, route), []).extend(faults)

    def after_next(self, method: str, route: str, hook: Callable[[], None]) -> None:
        """Run `hook` once the next such call was handled, before its reply leaves (a reply that hangs)."""
        self.after.setdefault((method, route), []).append(hook)

    def tick(self, now: float) -> None:
        for record in self.deployments:
            if not record.launched and not record.stopped and now >= record.launch_at:
                record.launched = True
                # Elastigroup launches as many greens as the group runs now (spot-api.md); with a weighted
                # capacity the target is no count, so the fake launches the instances /status lists.
                count = self.status_instances if self.capacity_unit == "weight" else self.capacity
                self.green_instances[record.deployment_id] = self._launch(record.green, count)

    def start(self, green: str, *, hidden_for_lists: int = 0) -> SpotDeploymentRecord:
        """Start a deployment as Spot does on a POST (tests call it to model a POST whose reply was lost)."""
        record = SpotDeploymentRecord(
            deployment_id=f"cdbg-{len(self.deployments) + 1:08x}",
            green=green,
            launch_at=self._now() + self.launch_delay,
            hidden_for_lists=hidden_for_lists,
        )
        self.deployments.append(record)
        return record

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
        query = dict(parse_qsl(url.query))
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
                body = json.dumps(fault.body or self._error(fault.status))
            return fault.status, {"X-RateLimit-Remaining": "0", **fault.headers}, body
        if request.headers.get("Authorization") != f"Bearer {self.token}":
            return 401, {}, json.dumps(self._error(401, "UNAUTHORIZED", "Invalid token"))
        if query.get("accountId") != self.account_id:
            return 400, {}, json.dumps(self._error(400, "ACCOUNT_NOT_FOUND", "bad account"))
        if match.group("group") != self.group_id:
            return 404, {}, json.dumps(self._error(404, "GROUP_DOESNT_EXIST", "no such group"))
        if route == "group":
            return self._ok([self._group()])
        if route == "status":
            return self._ok([{"instanceId": f"i-blue{n}", "status": "fulfilled"} for n in range(self.status_instances)])
        if route == "deployments" and method == "GET":
            listed = [r for r in self.deployments if r.hidden_for_lists == 0]
            for record in self.deployments:
                record.hidden_for_lists = max(0, record.hidden_for_lists - 1)
            return self._ok([self._item(r) for r in listed])
        if route == "deployments" and method == "POST":
            if any(r.running for r in self.deployments):
                return (
                    400,
                    {},
                    json.dumps(
                        self._error(400, "DEPLOYMENT_ALREADY_IN_PROGRESS", "a blue/green deployment is in progress")
                    ),
                )
            body = json.loads(request.body or b"{}")
            record = self.start(body["deployment"]["tags"][0]["tagValue"])
            record.tags = body["deployment"]["tags"]
            self.last_start_body = body
            return self._ok([self._item(record)])
        if route == "stop":
            deployment_id = rest.split("/")[-2]
            for record in self.deployments:
                if record.deployment_id == deployment_id:
                    record.stopped = True
                    record.state = "STOPPED"
                    self._terminate(self.green_instances.get(deployment_id, []))
                    return self._ok([])
            return 404, {}, json.dumps(self._error(404, "DEPLOYMENT_NOT_FOUND", "no such deployment"))
        return 404, {}, json.dumps(self._error(404, "NOT_FOUND", "route"))

    def _group(self) -> dict[str, Any]:
        return {
            "id": self.group_id,
            "name": "web",
            "capacity": {"minimum": 0, "maximum": 10, "target": self.capacity, "unit": self.capacity_unit},
            "thirdPartiesIntegration": {
                "codeDeploy": {
                    "cleanUpOnFailure": True,
                    "terminateInstanceOnFailure": True,
                    "deploymentGroups": [
                        {"applicationName": a, "deploymentGroupName": g} for a, g in self.codedeploy_groups
                    ],
                }
            },
        }

    def _item(self, record: SpotDeploymentRecord) -> dict[str, Any]:
        return {
            "id": record.deployment_id,
            "groupId": self.group_id,
            "state": record.state,
            "status": record.status,
            "config": {"tags": record.tags or [{"tagKey": "GreenIdentifier", "tagValue": record.green}]},
        }

    @staticmethod
    def _ok(items: list[dict[str, Any]]) -> tuple[int, dict[str, str], str]:
        envelope = {
            "request": {"id": "spot-req-1", "method": "GET"},
            "response": {"status": {"code": 200, "message": "OK"}, "items": items, "count": len(items)},
        }
        return (
            200,
            {"X-RateLimit-Limit": "60", "X-RateLimit-Remaining": "59", "X-RateLimit-Reset": "0"},
            json.dumps(envelope),
        )

    @staticmethod
    def _error(status: int, code: str = "ERROR", message: str = "failure") -> dict[str, Any]:
        return {
            "request": {"id": "spot-req-err"},
            "response": {
                "status": {"code": status, "message": message},
                "errors": [{"code": code, "message": message}],
            },
        }
