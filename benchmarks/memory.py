"""The function's memory, and how long a hostile Spot reply can hold a run: the figures behind MemorySize.

Usage: python benchmarks/memory.py [--quick] [--json]

1. Peak RSS of a whole `happy` run (4 instances): every invocation in one child process (one warm Lambda
   container), against the simulated cloud served by this process.
2. Peak RSS when Spot answers with a 50 MB body (streamed by a loopback endpoint here), next to the peak after
   the imports alone.
3. Time to a result when Spot's reply drips in at 1 byte/s (real time: about two minutes; skipped by --quick).

The child measures its own peak resident set (VmHWM), so the fakes never count.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
HERE = Path(__file__).resolve().parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

FLOOD_BYTES = 50 * 1024 * 1024
ADVANCE_SECONDS = 30.0  # simulated seconds the world moves between two invocations of the run


class _HostileSpot:
    """A loopback Spot endpoint whose every reply is a 50 MB flood or a 1 byte/s drip."""

    def __init__(self, kind: str) -> None:
        kind_ = kind

        class _Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                if kind_ == "flood":
                    item = b'{"id": "x"},'
                    count = FLOOD_BYTES // len(item)
                    body_head, body_tail = b'{"response": {"items": [', b"{}]}}"
                    self.send_header("Content-Length", str(len(body_head) + count * len(item) + len(body_tail)))
                    self.end_headers()
                    try:
                        self.wfile.write(body_head)
                        chunk = item * 8192
                        for _ in range(count // 8192):
                            self.wfile.write(chunk)
                        self.wfile.write(item * (count % 8192) + body_tail)
                    except (BrokenPipeError, ConnectionResetError):
                        return
                else:
                    body = b'{"request": {"id": "drip"}, "response": {"items": []}}' * 4
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    try:
                        for byte in body:
                            self.wfile.write(bytes([byte]))
                            self.wfile.flush()
                            time.sleep(1.0)
                    except (BrokenPipeError, ConnectionResetError):
                        return

            def log_message(self, *args: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self._server.server_port}"

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def _child(tmp: str, env: dict[str, str], spec: dict[str, Any], on_advance: Any = None) -> dict[str, Any]:
    spec_path, out_path = Path(tmp) / f"spec-{spec['mode']}.json", Path(tmp) / f"out-{spec['mode']}.json"
    spec_path.write_text(json.dumps(spec))
    child = subprocess.Popen(
        [sys.executable, str(HERE / "memory_child.py"), str(spec_path), str(out_path)],
        cwd=ROOT,
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    if child.stdin is None or child.stdout is None:
        raise RuntimeError("memory child has no pipes")
    for line in child.stdout:
        if line.strip() == "advance":
            on_advance()
            child.stdin.write("ok\n")
            child.stdin.flush()
        elif line.strip() == "done":
            break
    if child.wait(timeout=600) != 0:
        raise RuntimeError(f"memory child failed in mode {spec['mode']}")
    result: dict[str, Any] = json.loads(out_path.read_text())
    return result


def measure(quick: bool) -> dict[str, Any]:
    from bluegreen_sim.cloud import Cloud  # noqa: PLC0415 - moto is heavy

    figures: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="bluegreen-mem-") as tmp, Cloud() as cloud:
        env = {**os.environ, **cloud.handler_environ(), "PYTHONPATH": str(ROOT)}
        pipeline = cloud.add_pipeline(instances=4, revision="s3")  # console-test invocations: no input artifact
        run = _child(
            tmp, env, {"mode": "run", "params": dict(pipeline.params)}, lambda: cloud.clock.sleep(ADVANCE_SECONDS)
        )
        figures["whole_run"] = run
        for kind in ("flood",) if quick else ("flood", "drip"):
            spot = _HostileSpot(kind)
            try:
                reply = _child(
                    tmp, {**env, "SPOT_API_URL": spot.url}, {"mode": "reply", "params": dict(pipeline.params)}
                )
            finally:
                spot.close()
            figures[kind] = reply
    return figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="bluegreen memory: peak RSS of a run, of a 50 MB reply; drip")
    parser.add_argument("--quick", action="store_true", help="skip the two-minute drip")
    parser.add_argument("--json", action="store_true", help="print JSON")
    args = parser.parse_args(argv)
    figures = measure(args.quick)
    if args.json:
        print(json.dumps(figures, indent=2))
        return 0
    run = figures["whole_run"]
    print(
        f"whole happy run (4 instances, {len(run['statuses'])} invocations, {run['statuses'][-1]}): "
        f"peak RSS {run['peak_mb']:.1f} MB (after the imports: {run['imports_peak_mb']:.1f} MB)"
    )
    flood = figures["flood"]
    print(
        f"50 MB Spot reply: peak RSS {flood['peak_mb']:.1f} MB (after the imports: {flood['imports_peak_mb']:.1f} "
        f"MB), {flood['status']} {flood['failure_type']} in {flood['seconds_to_result']:.1f} s: {flood['summary']}"
    )
    if "drip" in figures:
        drip = figures["drip"]
        print(
            f"1 byte/s Spot reply: {drip['status']} {drip['failure_type']} after {drip['seconds_to_result']:.0f} s "
            f"(peak RSS {drip['peak_mb']:.1f} MB): {drip['summary']}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
