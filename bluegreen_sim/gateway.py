"""The loopback AWS endpoint the handler talks to: serves the simulated services, forwards the rest.

Owns the AWS wire in front of moto: it reads the service from the SigV4 credential scope and the operation
from `X-Amz-Target` (JSON protocol), `Action` (query protocol) or the method and path (S3); hands every CodeDeploy
call to the one CodeDeploy model (bluegreen_sim/codedeploy.py) and answers itself what moto does not implement of
CodePipeline (job results, job details, pipeline and action executions). Everything else (EC2, S3, Secrets
Manager, SSM, CloudWatch) goes to moto unchanged. The handler's calls are counted on its boto3 session, not here
(bluegreen_sim/awscalls.py).
"""

from __future__ import annotations

import http.client
import re
import socket
import threading
import uuid
from collections.abc import Callable, Mapping
from typing import Any, ClassVar, Protocol
from urllib.parse import parse_qs, urlsplit

from bluegreen_sim.clock import SimClock
from bluegreen_sim.codedeploy import CodeDeploy
from bluegreen_sim.elastigroup import Elastigroups
from bluegreen_sim.loopback import AwsFault, LoopbackServer, Reply, answer_json, json_reply, json_request

_SCOPE = re.compile(r"Credential=(?P<key>[^/]+)/\d{8}/[^/]+/(?P<service>[^/]+)/aws4_request")
_HOP = frozenset({"connection", "keep-alive", "transfer-encoding", "content-length", "server", "date"})


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
        groups: Elastigroups,
        codedeploy: CodeDeploy,
        codepipeline: CodePipelineSide,
        *,
        artifact_store: tuple[str, str] | None = None,
    ) -> None:
        self.clock = clock
        self.moto_port = moto_port
        self.groups = groups
        self.codedeploy = codedeploy
        self.codepipeline = codepipeline
        # (bucket, access key id of the pipeline's artifact credentials)
        self.artifact_store = artifact_store
        self.lock = threading.RLock()
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
            if service == "codedeploy":
                with self.lock, self.groups.lock:
                    reply = answer_json(self.codedeploy.handle, operation, body)
            elif local is not None:
                with self.lock, self.groups.lock:
                    result = local(self, json_request(body))
                reply = json_reply(200, result)
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
