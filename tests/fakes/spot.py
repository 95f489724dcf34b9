"""A fake Spot Elastigroup API on `responses`, with an Elastigroup that launches tagged green instances in
moto's EC2 after a launch delay. Faults are queued per route: `fail_next("POST", "deployments", 429, ...)`.
"""

from __future__ import annotations

import json
import re
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
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    exception: Exception | None = None


@dataclass
class SpotDeploymentRecord:
    deployment_id: str
    green: str
    launch_at: float
    state: str = "STARTING"
    status: str = "INITIALIZING"
    launched: bool = False
    stopped: bool = False


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
        self.status_instances = capacity
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

    def tick(self, now: float) -> None:
        for record in self.deployments:
            if not record.launched and not record.stopped and now >= record.launch_at:
                record.launched = True
                self.green_instances[record.deployment_id] = self._launch(record.green, self.capacity)

    def calls_to(self, method: str, route: str) -> int:
        return sum(1 for call in self.calls if call == (method, route))

    # ---- the API ----
    def _dispatch(self, request: requests.PreparedRequest) -> tuple[int, dict[str, str], str]:
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
        queued = self.faults.get((method, route or ""), [])
        if queued:
            fault = queued.pop(0)
            if fault.exception is not None:
                raise fault.exception
            body = fault.body if isinstance(fault.body, str) else json.dumps(fault.body or self._error(fault.status))
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
            return self._ok([self._item(r) for r in self.deployments])
        if route == "deployments" and method == "POST":
            body = json.loads(request.body or b"{}")
            tags = body["deployment"]["tags"]
            record = SpotDeploymentRecord(
                deployment_id=f"cdbg-{len(self.deployments) + 1:08x}",
                green=tags[0]["tagValue"],
                launch_at=self._now() + self.launch_delay,
            )
            self.last_start_body = body
            self.deployments.append(record)
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
            "capacity": {"minimum": 0, "maximum": 10, "target": self.capacity},
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
            "config": {"tags": [{"tagKey": "GreenIdentifier", "tagValue": record.green}]},
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
