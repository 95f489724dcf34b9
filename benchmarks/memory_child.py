"""Child process of the memory benchmark (`memory.py` starts it; not meant to be run by hand).

Owns one Lambda container's memory: it imports what the function imports, then runs console-test invocations of
the real handler against the loopback fakes the parent serves, and reports its peak RSS (VmHWM) before and
after. The fakes run in the parent, so this process's memory is the function's own.

Modes (SPEC_JSON "mode"):
- "run": a whole run, invocation after invocation (each hands over after one poll, as a 900 s invocation does
  when its time runs out); between two invocations it asks the parent, over stdin/stdout, to let the simulated
  world move on. Time in this process is virtual (sleeps return at once), so a 10-minute run takes seconds.
- "reply": one dry run whose Spot calls go to the parent's flood or drip endpoint; reports the wall time too.

Usage: python memory_child.py SPEC_JSON OUT_JSON
"""

from __future__ import annotations

import json
import resource
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from child_context import HandingOverContext


class _VirtualClock:
    """Real time at the start, then only what the handler sleeps: a long run without waiting for it."""

    def __init__(self) -> None:
        self._now = time.time()

    def now(self) -> float:
        return self._now

    def sleep(self, seconds: float) -> None:
        self._now += max(0.0, seconds)

    def start_thread(self, target: Callable[[], object], name: str) -> threading.Thread:
        thread = threading.Thread(target=target, name=name, daemon=True)
        thread.start()
        return thread


def _peak_mb() -> float:
    """This process's peak resident set (Linux VmHWM): `ru_maxrss` would carry the parent's over the exec."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> int:
    spec = json.loads(Path(sys.argv[1]).read_text())
    protocol = sys.stdout
    sys.stdout = open("/dev/null", "w")  # noqa: SIM115 - the handler's JSON logs go nowhere
    import boto3  # noqa: F401, PLC0415 - the function's imports, before the baseline
    import requests  # noqa: F401, PLC0415

    from bluegreen.handler import create_handler  # noqa: PLC0415

    out: dict[str, Any] = {"imports_peak_mb": _peak_mb()}
    params = spec["params"]
    if spec["mode"] == "run":
        handler = create_handler(clock=_VirtualClock())
        event: dict[str, Any] = dict(params)
        statuses = []
        while True:
            result = handler(event, HandingOverContext(44_000, "00000000-0000-4000-8000-000000000001"))
            statuses.append(result["status"])
            if result["status"] != "InProgress" or len(statuses) > 200:
                break
            event = {**params, "continuationToken": result["continuationToken"]}
            protocol.write("advance\n")
            protocol.flush()
            sys.stdin.readline()
        out.update(statuses=statuses, summary=result["summary"][:300])
    else:
        handler = create_handler()
        started = time.perf_counter()
        result = handler(
            {**params, "DRY_RUN": True}, HandingOverContext(880_000, "00000000-0000-4000-8000-000000000001")
        )
        out.update(
            seconds_to_result=time.perf_counter() - started,
            status=result["status"],
            failure_type=result.get("failureType"),
            summary=result["summary"][:300],
        )
    out["peak_mb"] = _peak_mb()
    Path(sys.argv[2]).write_text(json.dumps(out))
    protocol.write("done\n")
    protocol.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
