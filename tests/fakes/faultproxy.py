"""A loopback AWS endpoint that passes each call to the fake behind it, or answers it with a queued fault.

The handler's boto3 clients reach it through the standard `AWS_ENDPOINT_URL_<SERVICE>` variables. Calls to EC2,
S3, Secrets Manager and SSM go to moto's own WSGI app, in-process, so they see the same state as `mock_aws`;
calls to the services named in `upstreams` (the CodeDeploy and CodePipeline JSON fakes) are forwarded over HTTP.
`fail_next(service, operation, fault, times=, skip=)` makes the next calls of one operation fail instead: an AWS
error reply, a raw body (not JSON/XML, or of an unexpected shape) or a connection reset.
"""

from __future__ import annotations

import http.client
import json
import re
import socket
import struct
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

# "monitoring" is CloudWatch's signing name; botocore speaks JSON to it when it can (its model also offers CBOR
# and query).
_JSON_SERVICES = frozenset({"codedeploy", "codepipeline", "secretsmanager", "ssm", "monitoring"})
_SCOPE_RE = re.compile(r"Credential=[^/]+/[^/]+/[^/]+/([^/]+)/aws4_request")
_DROPPED_HEADERS = frozenset({"content-length", "transfer-encoding", "connection", "server", "date", "keep-alive"})


@dataclass(frozen=True)
class AwsError:
    """An AWS error reply; `code=None` gives a bare HTTP status (a proxy or gateway answered, not the service)."""

    status: int
    code: str | None = None
    message: str = "injected fault"


@dataclass(frozen=True)
class RawBody:
    """Any reply body, sent as is."""

    status: int
    body: bytes
    content_type: str = "text/html"


@dataclass(frozen=True)
class ConnectionReset:
    """The connection is reset (RST) after the request was read, before any reply.

    `after_forwarding`: the call first reaches the service behind the proxy, which carries it out; only its reply
    is lost (as when AWS's answer is slower than the client's read timeout, or a connection drops mid-reply).
    """

    after_forwarding: bool = False


ProxyFault = AwsError | RawBody | ConnectionReset


@dataclass
class _Queued:
    fault: ProxyFault
    times: int
    skip: int


@dataclass
class FaultProxy:
    """Serves until `close()`; `calls` records (service, operation, what was answered) in order."""

    upstreams: dict[str, str] = field(default_factory=dict)
    calls: list[tuple[str, str, str]] = field(default_factory=list)

    def __post_init__(self) -> None:
        from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
        from werkzeug.test import Client

        self._moto = Client(DomainDispatcherApplication(create_backend_app), use_cookies=False)
        self._faults: dict[tuple[str, str], list[_Queued]] = {}
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_port}"

    def fail_next(self, service: str, operation: str, fault: ProxyFault, *, times: int = 1, skip: int = 0) -> None:
        """Answer `times` calls of `service`/`operation` with `fault`, after letting `skip` calls through."""
        with self._lock:
            self._faults.setdefault((service, operation), []).append(_Queued(fault, times, skip))

    def reset(self) -> None:
        with self._lock:
            self._faults.clear()
            self.calls.clear()

    def operations(self, service: str) -> list[str]:
        return [operation for s, operation, _ in self.calls if s == service]

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    # ---- serving ------------------------------------------------------------------------------------

    def _take_fault(self, service: str, operation: str) -> ProxyFault | None:
        with self._lock:
            queue = self._faults.get((service, operation), [])
            while queue:
                head = queue[0]
                if head.skip:
                    head.skip -= 1
                    return None
                if head.times:
                    head.times -= 1
                    return head.fault
                queue.pop(0)
            return None

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        proxy = self

        class _Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True

            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                service = _service(self.headers.get("Authorization", ""))
                operation = _operation(service, self.command, self.headers, body)
                fault = proxy._take_fault(service, operation)
                proxy.calls.append((service, operation, type(fault).__name__ if fault else "ok"))
                if isinstance(fault, ConnectionReset):
                    if fault.after_forwarding:
                        self._pass_on(service, body)
                    self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                    self.connection.close()
                    self.close_connection = True
                    return
                if fault is not None:
                    status, headers, data = _render(service, fault)
                else:
                    status, headers, data = self._pass_on(service, body)
                self._reply(status, headers, data)

            def _pass_on(self, service: str, body: bytes) -> tuple[int, list[tuple[str, str]], bytes]:
                if service in proxy.upstreams:
                    return _forward(proxy.upstreams[service], self.command, self.path, self.headers, body)
                reply = proxy._moto.open(self.path, method=self.command, headers=list(self.headers.items()), data=body)
                return reply.status_code, list(reply.headers.items()), reply.get_data()

            def _reply(self, status: int, headers: list[tuple[str, str]], data: bytes) -> None:
                self.send_response(status)
                upstream_length = None
                for name, value in headers:
                    if name.lower() == "content-length":
                        upstream_length = value
                    if name.lower() not in _DROPPED_HEADERS:
                        self.send_header(name, value)
                head = self.command == "HEAD"
                self.send_header("Content-Length", upstream_length if head and upstream_length else str(len(data)))
                self.end_headers()
                if not head:
                    self.wfile.write(data)

            do_GET = do_POST = do_PUT = do_HEAD = do_DELETE = _serve  # noqa: N815

            def log_message(self, *args: object) -> None:
                pass

        return _Handler


def _service(authorization: str) -> str:
    match = _SCOPE_RE.search(authorization)
    return match.group(1) if match else "unknown"


def _operation(service: str, method: str, headers: object, body: bytes) -> str:
    target = getattr(headers, "get", lambda _: None)("X-Amz-Target")
    if target:
        return str(target).rsplit(".", 1)[-1]
    if service == "s3":
        return {"HEAD": "HeadObject", "GET": "GetObject", "PUT": "PutObject"}.get(method, method)
    action = parse_qs(body.decode(errors="replace")).get("Action")
    return action[0] if action else method


def _render(service: str, fault: AwsError | RawBody) -> tuple[int, list[tuple[str, str]], bytes]:
    request_id = [("x-amzn-RequestId", "req-injected-0001")]
    if isinstance(fault, RawBody):
        return fault.status, [("Content-Type", fault.content_type), *request_id], fault.body
    if service in _JSON_SERVICES:
        document: dict[str, str] = {"message": fault.message}
        if fault.code:
            document["__type"] = fault.code
        return (
            fault.status,
            [("Content-Type", "application/x-amz-json-1.1"), *request_id],
            json.dumps(document).encode(),
        )
    if service == "s3" or not fault.code:  # S3 HEAD replies carry no body; a bare status carries none either
        return fault.status, request_id, b""
    error = f"<Error><Code>{fault.code}</Code><Message>{_xml_escape(fault.message)}</Message></Error>"
    xml = f"<Response><Errors>{error}</Errors><RequestID>req-injected-0001</RequestID></Response>"
    return fault.status, [("Content-Type", "text/xml"), *request_id], xml.encode()


def _xml_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _forward(
    base: str, method: str, path: str, headers: object, body: bytes
) -> tuple[int, list[tuple[str, str]], bytes]:
    parts = urlsplit(base)
    connection = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=30)
    try:
        items = getattr(headers, "items", dict)()
        connection.request(method, path, body=body, headers={k: v for k, v in items if k.lower() != "host"})
        reply = connection.getresponse()
        return reply.status, reply.getheaders(), reply.read()
    finally:
        connection.close()
