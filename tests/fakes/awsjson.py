"""A loopback HTTP server speaking the AWS JSON protocol, dispatching X-Amz-Target to a Python object.

`service.handle(operation, body)` returns the response dict, or raises `AwsFault` for an AWS error reply.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Protocol


class AwsFault(Exception):
    def __init__(self, code: str, message: str = "", status: int = 400) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message or code
        self.status = status


class Stall(Exception):
    """Raised by a service to hang the request until `released` is set (then it answers 500)."""

    def __init__(self, released: threading.Event, on_stall: object = None) -> None:
        super().__init__("stalled")
        self.released = released
        self.on_stall = on_stall


class JsonService(Protocol):
    def handle(self, operation: str, body: dict[str, Any]) -> dict[str, Any]: ...


class AwsJsonServer:
    """Serves one `JsonService` on 127.0.0.1 until `close()`."""

    def __init__(self, service: JsonService) -> None:
        self.service = service
        outer = self

        class _Handler(BaseHTTPRequestHandler):
            disable_nagle_algorithm = True  # else each reply waits ~40 ms for a delayed ACK
            protocol_version = "HTTP/1.1"  # keep-alive, as AWS endpoints do

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length) or b"{}")
                operation = (self.headers.get("X-Amz-Target") or ".").split(".", 1)[1]
                try:
                    status, reply = 200, outer.service.handle(operation, body)
                except Stall as stall:
                    if callable(stall.on_stall):
                        stall.on_stall()
                    stall.released.wait(timeout=60)
                    status, reply = 500, {"__type": "InternalFailure", "message": "stalled"}
                except AwsFault as fault:
                    status, reply = fault.status, {"__type": fault.code, "message": fault.message}
                data = json.dumps(reply, default=str).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/x-amz-json-1.1")
                self.send_header("x-amzn-RequestId", "req-fake-0001")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_port}"

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
