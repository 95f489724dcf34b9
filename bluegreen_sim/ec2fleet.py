"""The simulated instances, kept in moto's EC2 so the handler sees them through the real EC2 API.

Owns launching, booting, status-check progress and termination of instances. Launches go through a boto3
client aimed directly at the moto server (not the counting gateway, so they are not mistaken for the
handler's calls); state changes moto cannot express over its API (pending -> running, status checks that
are still initializing) are made on moto's in-process objects.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any, Literal

from moto.ec2.models import ec2_backends
from moto.ec2.models.instances import Instance, InstanceState

Checks = Literal["initializing", "ok", "impaired"]

ACCOUNT = "123456789012"
REGION = "us-east-1"


class _SimInstance(Instance):
    """A moto instance whose status checks the simulation controls."""

    _sim_checks: Checks = "initializing"

    @property
    def instance_status(self) -> dict[str, Any]:
        return self._status()

    @property
    def system_status(self) -> dict[str, Any]:
        return self._status()

    def _status(self) -> dict[str, Any]:
        if self.state_code != 16:
            return {"Status": "not-applicable"}
        detail = {"initializing": "initializing", "ok": "passed", "impaired": "failed"}[self._sim_checks]
        return {"Details": [{"Name": "reachability", "Status": detail}], "Status": self._sim_checks}


# moto's serializer maps InstanceId -> id by the class name, so the subclass must keep it
_SimInstance.__name__ = _SimInstance.__qualname__ = "Instance"


@dataclass(frozen=True)
class InstanceView:
    """What the world needs to know about one instance."""

    instance_id: str
    state: str
    checks: Checks
    tags: dict[str, str]


class Fleet:
    """EC2 instances of the simulated cloud, in moto."""

    def __init__(self, ec2_client: Any) -> None:
        self._ec2 = ec2_client
        self._lock = threading.RLock()
        self._image_id: str | None = None

    @property
    def _backend(self) -> Any:
        return ec2_backends[ACCOUNT][REGION]

    def _image(self) -> str:
        # moto does not validate AMIs by default; listing its catalogue would cost a second per run
        return self._image_id or "ami-12c6146b"

    def launch(self, count: int, tags: dict[str, str], *, running: bool) -> list[str]:
        """Launch `count` instances carrying `tags`, pending (or already running with checks ok)."""
        if count <= 0:
            return []
        with self._lock:
            reply = self._ec2.run_instances(
                ImageId=self._image(),
                MinCount=count,
                MaxCount=count,
                InstanceType="m5.large",
                TagSpecifications=[
                    {"ResourceType": "instance", "Tags": [{"Key": k, "Value": v} for k, v in tags.items()]}
                ],
            )
            ids = [i["InstanceId"] for i in reply["Instances"]]
            for instance_id in ids:
                inst = self._backend.get_instance(instance_id)
                inst.__class__ = _SimInstance
                if running:
                    inst._sim_checks = "ok"
                else:
                    inst._state = InstanceState("pending", 0)
            return ids

    def boot(self, instance_id: str) -> None:
        """pending -> running, status checks initializing."""
        with self._lock:
            inst = self._backend.get_instance(instance_id)
            if inst.state == "pending":
                inst._state = InstanceState("running", 16)
                inst._sim_checks = "initializing"

    def set_checks(self, instance_id: str, checks: Checks) -> None:
        """Set the instance's (and system's) status-check result."""
        with self._lock:
            self._backend.get_instance(instance_id)._sim_checks = checks

    def terminate(self, instance_ids: list[str]) -> None:
        """Terminate instances that are not already gone."""
        with self._lock:
            alive = [i for i in instance_ids if self.view(i).state not in ("terminated", "shutting-down")]
            if alive:
                self._backend.terminate_instances(alive)

    def view(self, instance_id: str) -> InstanceView:
        """The instance's current state, checks and tags."""
        with self._lock:
            inst = self._backend.get_instance(instance_id)
            tags = {t["key"]: t["value"] for t in self._backend.describe_tags(filters={"resource-id": [instance_id]})}
            return InstanceView(instance_id, inst.state, getattr(inst, "_sim_checks", "ok"), tags)

    def state(self, instance_id: str) -> str:
        """EC2 state name of the instance."""
        with self._lock:
            return str(self._backend.get_instance(instance_id).state)

    def find_running(self, tag_filters: list[dict[str, str]]) -> list[str]:
        """Running instances matching any of CodeDeploy's tag filters (KEY_ONLY, VALUE_ONLY, KEY_AND_VALUE)."""
        with self._lock:
            found: list[str] = []
            for inst in self._backend.all_instances():
                if inst.state != "running" or inst.id in found:
                    continue
                tags = {t["key"]: t["value"] for t in self._backend.describe_tags(filters={"resource-id": [inst.id]})}
                for f in tag_filters:
                    kind, key, value = f.get("Type", "KEY_AND_VALUE"), f.get("Key"), f.get("Value")
                    if (
                        (kind == "KEY_ONLY" and key in tags)
                        or (kind == "VALUE_ONLY" and value in tags.values())
                        or (kind == "KEY_AND_VALUE" and key in tags and tags[key] == value)
                    ):
                        found.append(inst.id)
                        break
            return found

    def alive(self, instance_ids: list[str]) -> list[str]:
        """The ids among `instance_ids` that are pending or running."""
        return [i for i in instance_ids if self.state(i) in ("pending", "running")]
