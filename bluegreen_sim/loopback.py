"""The one loopback server: a threaded HTTP server on 127.0.0.1 that every emulator and test fake here runs on.

Owns the socket, the serving thread, the URL and the framing of a reply; what is served is one function of the
request, `(method, path, headers, body) -> (status, headers, body)`. It also owns the AWS JSON protocol
(`AwsJsonServer`): the operation from `X-Amz-Target`, the body as a JSON object, an `AwsFault` as AWS's error
reply, a `Stall` as a call that hangs until released. The simulator's AWS gateway, its Spot emulator and the unit
tests' CodeDeploy and CodePipeline endpoints are all served by it; it models nothing of any service.

The AWS JSON framing follows botocore (botocore/parsers.py, BaseJSONParser and JSONParser): an error reply carries
its code in the body's `__type` (botocore also reads the `x-amzn-ErrorType` header, sent too) and its text in
`message`; a reply's `x-amzn-RequestId` header becomes `ResponseMetadata.RequestId`.
"""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import uuid
from collections.abc import Callable, Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Protocol, cast

Reply = tuple[int, list[tuple[str, str]], bytes]
Answer = Callable[[str, str, Mapping[str, str], bytes], Reply]
STALL_SECONDS = 60.0  # the longest a stalled call hangs when no one releases it


class LoopbackServer:
    """Serves one `Answer` function on a free loopback port between `serve()` and `stop()`."""

    def __init__(self, name: str) -> None:
        self._name = name
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("serve() first")
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def serve(self, answer: Answer) -> None:
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.answer = answer
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name=self._name, daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server.close_connections()
        if self._thread is not None:
            self._thread.join()


class _Server(ThreadingHTTPServer):
    """Also closes the connections still open when it stops: a client's keep-alive connection otherwise keeps its
    handler thread waiting for a next request forever, and with it the server, what it serves and the client."""

    daemon_threads = True
    answer: Answer

    def __init__(self, address: tuple[str, int], handler: type[BaseHTTPRequestHandler]) -> None:
        super().__init__(address, handler)
        self._open: set[socket.socket] = set()
        self._open_lock = threading.Lock()

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._open_lock:
            self._open.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self._open_lock:
            self._open.discard(request)
        super().shutdown_request(request)

    def close_connections(self) -> None:
        with self._open_lock:
            open_now = list(self._open)
        for connection in open_now:
            with contextlib.suppress(OSError):  # the client closed it meanwhile
                connection.shutdown(socket.SHUT_RDWR)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as AWS's and Spot's endpoints do
    disable_nagle_algorithm = True  # headers and body go out in separate writes: avoid 40 ms delayed-ACK stalls

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        answer = cast("_Server", self.server).answer
        status, headers, data = answer(self.command, self.path, dict(self.headers.items()), body)
        self.send_response(status)
        if not any(name.lower() == "content-length" for name, _ in headers):
            self.send_header("Content-Length", str(len(data)))
        for name, value in headers:
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = _serve  # noqa: N815

    def log_message(self, format: str, *args: Any) -> None:
        """Silence the default stderr access log."""


# -- the AWS JSON protocol ------------------------------------------------------------------------------------


class AwsFault(Exception):  # noqa: N818 - a reply to send, not an error of ours
    """An AWS JSON-protocol error reply: raised by a service (or queued by a test) to answer with it."""

    def __init__(self, code: str, message: str = "", status: int = 400) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message or code
        self.status = status


class Stall(Exception):  # noqa: N818 - a behaviour to play, not an error of ours
    """Raised by a service (or queued by a test) to hang the call until `released` is set; then it answers 500.

    `on_stall` runs first, on the serving thread, when the call has arrived (a test moves its world then).
    """

    def __init__(self, released: threading.Event, on_stall: Callable[[], object] | None = None) -> None:
        super().__init__("stalled")
        self.released = released
        self.on_stall = on_stall


class JsonService(Protocol):
    """What an AwsJsonServer serves: one operation's request object in, its reply object out (or an AwsFault)."""

    def handle(self, operation: str, body: dict[str, Any]) -> dict[str, Any]: ...


def json_reply(status: int, doc: Mapping[str, Any], *, error_type: str | None = None) -> Reply:
    """An AWS JSON 1.1 reply."""
    data = json.dumps(doc, default=str).encode()
    headers = [("Content-Type", "application/x-amz-json-1.1"), ("x-amzn-RequestId", str(uuid.uuid4()))]
    if error_type:
        headers.append(("x-amzn-ErrorType", error_type))
    return status, headers, data


def json_request(body: bytes) -> dict[str, Any]:
    """The request object of an AWS JSON call (SerializationException when it is none)."""
    try:
        doc = json.loads(body or b"{}")
    except ValueError as exc:
        raise AwsFault("SerializationException", "Request body is not valid JSON") from exc
    if not isinstance(doc, dict):
        raise AwsFault("SerializationException", "Request body must be a JSON object")
    return doc


def json_operation(headers: Mapping[str, str]) -> str:
    """The operation of an AWS JSON call: `X-Amz-Target: <service prefix>.<Operation>`."""
    target = next((v for k, v in headers.items() if k.lower() == "x-amz-target"), "")
    return target.rsplit(".", 1)[-1]


def answer_json(call: Callable[[str, dict[str, Any]], Mapping[str, Any]], operation: str, body: bytes) -> Reply:
    """Run one AWS JSON call: its reply, or the error reply of the `AwsFault` it raised, or a stall then a 500."""
    try:
        return json_reply(200, call(operation, json_request(body)))
    except Stall as stall:
        if stall.on_stall is not None:
            stall.on_stall()
        stall.released.wait(timeout=STALL_SECONDS)
        return json_reply(500, {"__type": "InternalFailure", "message": "stalled"}, error_type="InternalFailure")
    except AwsFault as fault:
        return json_reply(fault.status, {"__type": fault.code, "message": fault.message}, error_type=fault.code)


class AwsJsonServer:
    """Serves one `JsonService` on loopback until `close()`; `service` may be swapped (one server per session)."""

    def __init__(self, service: JsonService, name: str = "aws-json") -> None:
        self.service = service
        self._loopback = LoopbackServer(name)
        self._loopback.serve(self._answer)

    @property
    def url(self) -> str:
        return self._loopback.url

    def _answer(self, method: str, path: str, headers: Mapping[str, str], body: bytes) -> Reply:
        return answer_json(self.service.handle, json_operation(headers), body)

    def close(self) -> None:
        self._loopback.stop()
