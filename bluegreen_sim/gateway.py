"""The loopback AWS endpoint the handler talks to: fills moto's gaps, forwards the rest.

Owns the AWS wire in front of moto: it reads the service from the SigV4 credential scope and the operation
from `X-Amz-Target` (JSON protocol), `Action` (query protocol) or the method and path (S3); answers itself what
moto does not implement (CodeDeploy StopDeployment,
ListDeploymentTargets, BatchGetDeploymentTargets, GetDeploymentConfig; CodePipeline job results, job details,
pipeline and action executions), checks
CreateDeployment the way CodeDeploy does (targets must exist, one active deployment per group), gives
deployments real-looking `d-` ids, and patches moto's empty `errorInformation`. Everything else goes to
moto unchanged. The handler's calls are counted on its boto3 session, not here (bluegreen_sim/awscalls.py).
"""

from __future__ import annotations

import http.client
import json
import re
import socket
import threading
import uuid
from collections.abc import Callable, Mapping
from typing import Any, ClassVar, Protocol
from urllib.parse import parse_qs, urlsplit

from moto.codedeploy.models import codedeploy_backends

from bluegreen_sim.clock import SimClock
from bluegreen_sim.codedeploy_sim import CodeDeploySim, DeployBehaviour
from bluegreen_sim.ec2fleet import ACCOUNT, REGION, Fleet
from bluegreen_sim.elastigroup import GREEN_TAG, Elastigroups
from bluegreen_sim.loopback import AwsFault, LoopbackServer, Reply, json_reply, json_request

_SCOPE = re.compile(r"Credential=(?P<key>[^/]+)/\d{8}/[^/]+/(?P<service>[^/]+)/aws4_request")
_HOP = frozenset({"connection", "keep-alive", "transfer-encoding", "content-length", "server", "date"})
_CONFIGS = {
    "CodeDeployDefault.OneAtATime": ("HOST_COUNT", 1),
    "CodeDeployDefault.HalfAtATime": ("FLEET_PERCENT", 50),
    "CodeDeployDefault.AllAtOnce": ("FLEET_PERCENT", 0),
}


class CodePipelineSide(Protocol):
    """The simulated CodePipeline behind the gateway (bluegreen_sim.codepipeline.JobStore)."""

    def receive(self, operation: str, request: dict[str, Any]) -> object: ...

    def job_details(self, request: dict[str, Any]) -> dict[str, Any]: ...

    def pipeline_execution(self, request: dict[str, Any]) -> dict[str, Any]: ...

    def action_executions(self, request: dict[str, Any]) -> dict[str, Any]: ...


class AwsGateway:
    """Loopback AWS endpoint in front of a moto server."""

    def __init__(
        self,
        clock: SimClock,
        moto_port: int,
        fleet: Fleet,
        groups: Elastigroups,
        codedeploy: CodeDeploySim,
        codepipeline: CodePipelineSide,
        deploy_behaviour: Callable[[str, str, Mapping[str, Any]], DeployBehaviour],
        *,
        artifact_store: tuple[str, str] | None = None,
    ) -> None:
        self.clock = clock
        self.moto_port = moto_port
        self.fleet = fleet
        self.groups = groups
        self.codedeploy = codedeploy
        self.codepipeline = codepipeline
        self.deploy_behaviour = deploy_behaviour
        # (bucket, access key id of the pipeline's artifact credentials)
        self.artifact_store = artifact_store
        self.deployed_revisions: list[tuple[str, dict[str, Any]]] = []  # (deployment id, revision) in order
        self.lock = threading.RLock()
        self._raced: set[str] = set()  # green fleets whose twin's CreateDeployment was played first
        self._loopback = LoopbackServer("aws-gateway")

    @property
    def url(self) -> str:
        return self._loopback.url

    def start(self) -> None:
        self._loopback.serve(self.handle)

    def stop(self) -> None:
        self._loopback.stop()

    # -- dispatch -------------------------------------------------------------------------------------
    def handle(self, method: str, path: str, headers: Mapping[str, str], body: bytes) -> Reply:
        """Answer one AWS request."""
        lower = {k.lower(): v for k, v in headers.items()}
        scope = _SCOPE.search(lower.get("authorization", ""))
        service = scope["service"] if scope else "unknown"
        operation = _operation(service, method, path, lower, body)
        with_artifact_credentials = (
            self.artifact_store is not None and scope is not None and (scope["key"] == self.artifact_store[1])
        )
        local = self._local.get((service, operation))
        denied = self._artifact_store_denies(service, path, with_artifact_credentials)
        if denied is not None:
            return denied if method != "HEAD" else (denied[0], denied[1], b"")
        try:
            if local is not None:
                with self.lock, self.groups.lock:
                    result = local(self, json_request(body))
                reply = json_reply(200, result)
            elif (service, operation) == ("codedeploy", "CreateDeployment"):
                reply = self._create_deployment(method, path, headers, body)
            elif (service, operation) in (("codedeploy", "GetDeployment"), ("codedeploy", "BatchGetDeployments")):
                reply = self._patched_deployments(self._forward(method, path, headers, body))
            else:
                reply = self._forward(method, path, headers, body)
        except AwsFault as fault:
            reply = json_reply(fault.status, {"__type": fault.code, "message": fault.message}, error_type=fault.code)
        return reply

    def _artifact_store_denies(self, service: str, path: str, with_artifact_credentials: bool) -> Reply | None:
        """The artifact store's access rule: S3 calls on it need the pipeline's artifact credentials, and those
        credentials open nothing else.

        CodePipeline's API reference (JobData.artifactCredentials) says they are temporary STS credentials "used
        to access input and output artifacts in the S3 bucket used to store artifacts for the pipeline". The
        assumption modelled here: the function's role is granted nothing on that bucket (the least-privilege
        policy names only S3_BUCKET's bucket), so an artifact read with the role is refused, as it would be.
        """
        if self.artifact_store is None:
            return None
        bucket = next((p for p in urlsplit(path).path.split("/") if p), "")
        on_store = service == "s3" and bucket == self.artifact_store[0]
        if on_store == with_artifact_credentials:
            return None
        body = (
            b'<?xml version="1.0" encoding="UTF-8"?><Error><Code>AccessDenied</Code><Message>Access Denied'
            b"</Message></Error>"
        )
        headers = [("Content-Type", "application/xml"), ("x-amz-request-id", uuid.uuid4().hex[:16].upper())]
        if service != "s3":
            return json_reply(
                403,
                {"__type": "AccessDeniedException", "message": "Access denied"},
                error_type=("AccessDeniedException"),
            )
        return 403, headers, body

    def _forward(self, method: str, path: str, headers: Mapping[str, str], body: bytes) -> Reply:
        conn = http.client.HTTPConnection("127.0.0.1", self.moto_port, timeout=30)
        try:
            conn.connect()
            conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            out = {k: v for k, v in headers.items() if k.lower() not in ("connection", "transfer-encoding")}
            out["Content-Length"] = str(len(body))
            conn.request(method, path, body=body, headers=out)
            resp = conn.getresponse()
            data = resp.read()
            hdrs = [(k, v) for k, v in resp.getheaders() if k.lower() not in _HOP]
            if method == "HEAD":
                hdrs.append(("Content-Length", resp.getheader("Content-Length") or "0"))
            return resp.status, hdrs, data
        finally:
            conn.close()

    # -- CodeDeploy -----------------------------------------------------------------------------------
    def _create_deployment(self, method: str, path: str, headers: Mapping[str, str], body: bytes) -> Reply:
        request = json_request(body)
        app, group = request.get("applicationName", ""), request.get("deploymentGroupName", "")
        filters = (request.get("targetInstances") or {}).get("tagFilters") or []
        with self.lock:
            green = next((f.get("Value", "") for f in filters if f.get("Key") == GREEN_TAG), "")
            if (
                self.deploy_behaviour(app, group, request.get("revision") or {}).twin_race
                and green
                and green not in self._raced
            ):
                self._raced.add(green)
                self._create_deployment(method, path, headers, body)  # the twin's identical call, a moment earlier
            active = self.codedeploy.active_in_group(app, group)
            if active is not None:
                raise AwsFault(
                    "DeploymentLimitExceededException",
                    f"The Deployment Group '{group}' already has an active Deployment '{active.deployment_id}'",
                )
            targets = self.fleet.find_running(filters) if filters else []
            if filters and not targets:
                raise AwsFault(
                    "InvalidTargetInstancesException", "No running EC2 instances match the targetInstances tag filters"
                )
            reply = self._forward(method, path, headers, body)
            if reply[0] != 200:
                return reply
            data = reply[2]
            moto_id = json.loads(data)["deploymentId"]
            backend = codedeploy_backends[ACCOUNT][REGION]
            real_id = "d-" + uuid.UUID(int=self.groups.rng.getrandbits(128)).hex[:9].upper()
            info = backend.deployments.pop(moto_id)
            info.deployment_id = real_id
            backend.deployments[real_id] = info
            revision = request.get("revision") or {}
            self.deployed_revisions.append((real_id, revision))
            self.codedeploy.start(real_id, app, group, filters, targets, self.deploy_behaviour(app, group, revision))
            for f in filters:
                if f.get("Key") == GREEN_TAG:
                    self.groups.codedeploy_started(f.get("Value", ""), real_id)
            return json_reply(200, {"deploymentId": real_id})

    def _patched_deployments(self, reply: Reply) -> Reply:
        status, _, data = reply
        if status != 200:
            return reply
        doc = json.loads(data)
        infos = [doc["deploymentInfo"]] if "deploymentInfo" in doc else doc.get("deploymentsInfo", [])
        for info in infos:
            run = self.codedeploy.runs.get(info.get("deploymentId", ""))
            for key in ("errorInformation", "previousRevision", "rollbackInfo", "relatedDeployments"):
                if info.get(key) in ({}, None):
                    info.pop(key, None)
            if run is not None and run.error_information:
                info["errorInformation"] = dict(run.error_information)
            for key in ("startTime", "completeTime"):
                if info.get(key) is None:
                    info.pop(key, None)
        return json_reply(200, doc)

    def _run(self, deployment_id: str) -> Any:
        if not deployment_id:
            raise AwsFault("DeploymentIdRequiredException", "At least one deployment ID must be specified.")
        if not re.fullmatch(r"d-[A-Z0-9]{9}", deployment_id):
            raise AwsFault(
                "InvalidDeploymentIdException", f"Specified DeploymentId is not in the valid format: {deployment_id}"
            )
        run = self.codedeploy.runs.get(deployment_id)
        if run is None:
            raise AwsFault("DeploymentDoesNotExistException", f"The deployment {deployment_id} could not be found.")
        return run

    def _stop_deployment(self, request: dict[str, Any]) -> dict[str, Any]:
        run = self._run(request.get("deploymentId", ""))
        if run.done:
            raise AwsFault(
                "DeploymentAlreadyCompletedException", f"The deployment {run.deployment_id} has already completed."
            )
        self.codedeploy.stop(run.deployment_id, bool(request.get("autoRollbackEnabled", False)))
        return {"status": "Succeeded", "statusMessage": "Deployment stopped"}

    def _list_targets(self, request: dict[str, Any]) -> dict[str, Any]:
        run = self._run(request.get("deploymentId", ""))
        if run.status == "Created":
            raise AwsFault("DeploymentNotStartedException", f"The deployment {run.deployment_id} has not started yet.")
        return {"targetIds": list(run.targets)}

    def _batch_get_targets(self, request: dict[str, Any]) -> dict[str, Any]:
        run = self._run(request.get("deploymentId", ""))
        ids = request.get("targetIds") or []
        if not ids:
            raise AwsFault("DeploymentTargetIdRequiredException", "A deployment target ID was not provided.")
        if len(ids) > 25:
            raise AwsFault(
                "DeploymentTargetListSizeExceededException",
                "The maximum number of targets that can be requested is 25.",
            )
        out = []
        for target_id in ids:
            target = run.targets.get(target_id)
            if target is None:
                raise AwsFault(
                    "DeploymentTargetDoesNotExistException",
                    f"The target {target_id} does not exist for deployment {run.deployment_id}.",
                )
            out.append(self.codedeploy.target_wire(run, target))
        return {"deploymentTargets": out}

    def _get_config(self, request: dict[str, Any]) -> dict[str, Any]:
        name = request.get("deploymentConfigName", "")
        if name not in _CONFIGS:
            raise AwsFault(
                "DeploymentConfigDoesNotExistException", f"No deployment configuration found for name: {name}"
            )
        kind, value = _CONFIGS[name]
        return {
            "deploymentConfigInfo": {
                "deploymentConfigId": str(uuid.uuid5(uuid.NAMESPACE_DNS, name)),
                "deploymentConfigName": name,
                "minimumHealthyHosts": {"type": kind, "value": value},
                "createTime": 1_420_070_400.0,
                "computePlatform": "Server",
            }
        }

    # -- CodePipeline -----------------------------------------------------------------------------------
    def _put_success(self, request: dict[str, Any]) -> dict[str, Any]:
        self.codepipeline.receive("PutJobSuccessResult", request)
        return {}

    def _put_failure(self, request: dict[str, Any]) -> dict[str, Any]:
        self.codepipeline.receive("PutJobFailureResult", request)
        return {}

    def _job_details(self, request: dict[str, Any]) -> dict[str, Any]:
        return self.codepipeline.job_details(request)

    def _pipeline_execution(self, request: dict[str, Any]) -> dict[str, Any]:
        return self.codepipeline.pipeline_execution(request)

    def _action_executions(self, request: dict[str, Any]) -> dict[str, Any]:
        return self.codepipeline.action_executions(request)

    _local: ClassVar[dict[tuple[str, str], Callable[[AwsGateway, dict[str, Any]], dict[str, Any]]]] = {
        ("codedeploy", "StopDeployment"): _stop_deployment,
        ("codedeploy", "ListDeploymentTargets"): _list_targets,
        ("codedeploy", "BatchGetDeploymentTargets"): _batch_get_targets,
        ("codedeploy", "GetDeploymentConfig"): _get_config,
        ("codepipeline", "PutJobSuccessResult"): _put_success,
        ("codepipeline", "PutJobFailureResult"): _put_failure,
        ("codepipeline", "GetJobDetails"): _job_details,
        ("codepipeline", "GetPipelineExecution"): _pipeline_execution,
        ("codepipeline", "ListActionExecutions"): _action_executions,
    }


def _operation(service: str, method: str, path: str, headers: Mapping[str, str], body: bytes) -> str:
    target = headers.get("x-amz-target")
    if target:
        return target.rsplit(".", 1)[-1]
    if headers.get("smithy-protocol") == "rpc-v2-cbor":  # POST /service/<ServiceName>/operation/<Operation>
        return urlsplit(path).path.rsplit("/", 1)[-1]
    if service == "s3":
        parts = [p for p in urlsplit(path).path.split("/") if p]
        query = parse_qs(urlsplit(path).query, keep_blank_values=True)
        if len(parts) >= 2:
            return {"HEAD": "HeadObject", "GET": "GetObject", "PUT": "PutObject", "DELETE": "DeleteObject"}.get(
                method, method
            )
        if method == "GET":
            return "ListObjectsV2" if "list-type" in query else "ListObjects"
        return {"HEAD": "HeadBucket", "PUT": "CreateBucket", "DELETE": "DeleteBucket"}.get(method, method)
    form = parse_qs(body.decode("utf-8", "replace")) if body else parse_qs(urlsplit(path).query)
    return (form.get("Action") or ["Unknown"])[0]
