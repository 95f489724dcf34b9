"""`bluegreen invoke`: one console-test invocation of the real handler, with your own AWS and Spot credentials.

Owns reading the params and event files, running `bluegreen.handler` once (as the Lambda console's Test tab
does), and telling a person the result: what a dry run checked, as a list, and the one step that makes it a real
run; the ids of a real run; how to resume one still in progress. Any failure is one line and a non-zero exit,
never a traceback. Needs only the runtime dependencies (boto3, requests, Powertools): it must not import the
simulator.
"""

from __future__ import annotations

import io
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

Handler = Callable[[Any, Any], "dict[str, Any] | None"]

EXIT_FAILED = 1


class _WallContext:
    """A Lambda context for `invoke`: 900 s of real time."""

    def __init__(self) -> None:
        self._deadline = time.monotonic() + 900.0
        self.function_name = "bluegreen"
        self.function_version = "$LATEST"
        self.invoked_function_arn = "arn:aws:lambda:local:000000000000:function:bluegreen"
        self.memory_limit_in_mb = 256
        self.aws_request_id = f"local-{int(time.time())}"
        self.log_group_name = "/aws/lambda/bluegreen"
        self.log_stream_name = "local"

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


class InvokeError(Exception):
    """A problem with the command's own input (a file that cannot be read or has the wrong shape)."""


def _load_json(path: str, what: str) -> Any:
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise InvokeError(f"cannot read {what} {path}: {exc}") from exc


def build_event(params_path: str, event_path: str | None) -> dict[str, Any]:
    """The event to send: the params merged into the --event file (a console test or a CodePipeline job).

    Raises:
        InvokeError: a file cannot be read, or does not hold a JSON object.
    """
    params = _load_json(params_path, "--params")
    if not isinstance(params, dict):
        raise InvokeError("--params must hold a JSON object of UserParameters keys")
    event: Any = _load_json(event_path, "--event") if event_path else {}
    if not isinstance(event, dict):
        raise InvokeError("--event must hold a JSON object")
    job = event.get("CodePipeline.job")
    if isinstance(job, dict):
        job.setdefault("data", {}).setdefault("actionConfiguration", {}).setdefault("configuration", {})[
            "UserParameters"
        ] = json.dumps(params)
        return event
    return {**event, **params}


def invoke(
    params_path: str,
    event_path: str | None,
    *,
    as_json: bool = False,
    verbose: bool = False,
    out: IO[str] | None = None,
    err: IO[str] | None = None,
    handler: Handler | None = None,
) -> int:
    """Run the handler once and print its result; the process exit status (0 unless the run failed).

    `handler` replaces the production handler (the simulator's walk-through passes one on its simulated clock).
    """
    out = out or sys.stdout
    err = err or sys.stderr
    try:
        event = build_event(params_path, event_path)
    except InvokeError as exc:
        err.write(f"bluegreen invoke: {exc}\n")
        return EXIT_FAILED
    try:
        if handler is None:
            from bluegreen.handler import create_handler  # noqa: PLC0415 - --help must not pay for the handler

            # The function's JSON log lines are for CloudWatch; here they go to stderr only when asked for.
            handler = create_handler(log_stream=err if verbose else io.StringIO())
        result = handler(event, _WallContext())
    except Exception as exc:  # noqa: BLE001 - one line for any failure, never a traceback
        from bluegreen.logs import redact  # noqa: PLC0415

        err.write(f"bluegreen invoke: failed: {type(exc).__name__}: {redact(str(exc))}\n")
        return EXIT_FAILED
    if not isinstance(result, dict):
        err.write("bluegreen invoke: the handler returned no result (a CodePipeline event without a job id?)\n")
        return EXIT_FAILED
    if as_json:
        json.dump(result, out, indent=2)
        out.write("\n")
    else:
        render_result(result, params_path, out)
    return EXIT_FAILED if result.get("status") == "Failed" else 0


def render_result(result: dict[str, Any], params_path: str, out: IO[str]) -> None:
    """The handler's console result, for a person."""
    status = result.get("status")
    if status == "Failed":
        out.write(f"FAILED {result.get('failureType')}: {result.get('summary')}\n")
        return
    checks = result.get("checks")
    if status == "Succeeded" and isinstance(checks, list):
        out.write(f"{result.get('summary')}\nChecked:\n")
        for check in checks:
            out.write(f"  [ok] {check}\n")
        out.write(
            f'Next: set "DRY_RUN": false in {params_path} (or remove the key) and run the same command to '
            "deploy for real.\n"
        )
        return
    ids = ", ".join(
        f"{label} {result[key]}"
        for key, label in (
            ("greenIdentifier", "GreenIdentifier"),
            ("spotDeploymentId", "Spot deployment"),
            ("codeDeployDeploymentId", "CodeDeploy deployment"),
        )
        if result.get(key)
    )
    if status == "InProgress":
        out.write(f"In progress ({result.get('percentComplete', '?')}%, phase {result.get('phase')}): ")
        out.write(f"{result.get('summary')}\n  {ids}\n")
        out.write(
            "To resume, save this as resume.json and run the same command with --event resume.json:\n"
            f"  {json.dumps({'continuationToken': result.get('continuationToken')})}\n"
        )
        return
    out.write(f"SUCCEEDED: {result.get('summary')}\n  {ids}\n")
