"""Child process of the first-invocation benchmark (`run.py` starts it; not meant to be run by hand).

Owns measuring one fresh Lambda container's invocations: it imports everything first (the cold start is
measured separately), then times console-test invocations of `bluegreen.lambda_handler` against the
loopback fakes the parent serves, or, in `floor` mode, only builds the boto3 clients and the HTTP session
those invocations need. The fakes run in the parent process, so this process's CPU time is the function's
own CPU (our code plus the libraries it drives), never the fakes'. The handler is built on the first invocation,
as `bluegreen.lambda_handler` builds it, but on a boto3 session whose calls are recorded (bluegreen_sim/awscalls.py):
they are written out with the figures.

Usage: python first_invocation_child.py SPEC_JSON OUT_JSON
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

from child_context import HandingOverContext


def _measure(action: Any) -> tuple[Any, dict[str, float]]:
    wall, cpu, thread = time.perf_counter(), time.process_time(), time.thread_time()
    value = action()
    return value, {
        "wall_ms": (time.perf_counter() - wall) * 1000,
        "cpu_ms": (time.process_time() - cpu) * 1000,
        "main_thread_cpu_ms": (time.thread_time() - thread) * 1000,
    }


def main() -> int:
    spec = json.loads(Path(sys.argv[1]).read_text())
    import boto3  # noqa: PLC0415 - the warm imports happen here, outside every measurement
    import requests  # noqa: PLC0415
    from botocore.config import Config  # noqa: PLC0415

    from bluegreen import handler as handler_module  # noqa: PLC0415
    from bluegreen_sim.awscalls import AwsCallRecorder  # noqa: PLC0415

    out: dict[str, Any] = {}
    if spec["mode"] == "floor":

        def clients() -> None:
            session = boto3.session.Session()
            config = Config(connect_timeout=5, read_timeout=20, retries={"mode": "standard", "max_attempts": 3})
            for service in spec["services"]:
                session.client(service, config=config)
            requests.Session()

        _, out["floor"] = _measure(clients)
    else:
        recorder = AwsCallRecorder()
        built: list[Any] = []

        def lambda_handler(event: Any, context: Any) -> Any:
            if not built:  # as bluegreen.lambda_handler does on a container's first invocation, with a new session
                spec_cached = handler_module.__spec__.cached if handler_module.__spec__ else None
                built.append(
                    handler_module.create_handler(
                        boto3_session=recorder.session(),
                        cold_start_warning=handler_module.bytecode_mismatch(spec_cached),
                    )
                )
            return built[0](event, context)

        runs = []
        for event in spec["events"]:
            context = HandingOverContext(spec["remaining_ms"])
            result, figures = _measure(lambda event=event, context=context: lambda_handler(event, context))
            figures["status"] = result.get("status") if isinstance(result, dict) else None
            figures["phase"] = result.get("phase") if isinstance(result, dict) else None
            runs.append(figures)
        out["runs"] = runs
        out["aws_calls"] = dict(recorder.calls)
    Path(sys.argv[2]).write_text(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
