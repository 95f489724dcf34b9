"""The `bluegreen` command: `simulate` (a whole pipeline run on the local simulated cloud) and `invoke`.

Owns argument parsing and what a person sees: a line per phase change, a progress indicator while
waiting, the CodePipeline result, and a closing timeline with API call counts; or one JSON document with
`--json`. `invoke` runs the handler once against the real AWS and Spot APIs (console-test mode).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter
from pathlib import Path
from typing import IO, Any

from bluegreen_sim.cloud import Cloud, Pipeline
from bluegreen_sim.codepipeline import Report
from bluegreen_sim.logcapture import PhaseChange
from bluegreen_sim.runner import SimulationResult, run_scenario
from bluegreen_sim.scenarios import SCENARIOS, Scenario

DEFAULT_SPEED = 400.0
_SPINNER = "|/-\\"


def _clock(seconds: float) -> str:
    minutes, secs = divmod(round(seconds), 60)
    return f"{minutes:02d}:{secs:02d}"


class TextDisplay:
    """Prints the run as it happens (implements `runner.Observer`)."""

    def __init__(self, out: IO[str]) -> None:
        self._out = out
        self._tty = out.isatty()
        self._cloud: Cloud | None = None
        self._pipeline: Pipeline | None = None
        self._last_tick = -1e9
        self._spin = 0
        self._summary = ""
        self._phase = ""
        self._progress_shown = False

    def _print(self, text: str) -> None:
        if self._progress_shown:
            self._out.write("\r\033[K")
            self._progress_shown = False
        self._out.write(text + "\n")
        self._out.flush()

    def started(self, scenario: Scenario, cloud: Cloud, pipeline: Pipeline) -> None:
        self._cloud, self._pipeline = cloud, pipeline
        self._print(f"  {scenario.description}")
        self._print(
            f"  Elastigroup {pipeline.group.id} with {pipeline.group.target} blue instance(s); "
            f"CodeDeploy {pipeline.app_name}/{pipeline.deployment_group}; "
            f"Spot API {cloud.spot.url}, AWS {cloud.gateway.url}"
        )
        self._print("")

    def phase(self, change: PhaseChange, counts: dict[str, int]) -> None:
        self._phase = change.phase
        rec = change.record
        ids = " ".join(
            f"{label} {rec[key]}"
            for key, label in (("spot_deployment_id", "spot"), ("codedeploy_deployment_id", "codedeploy"))
            if rec.get(key)
        )
        who = " (duplicate delivery)" if (change.caller or "").endswith("-dup") else ""
        self._print(
            f"  [{_clock(change.elapsed)}] {change.phase:<12} blues {counts['blues']} | greens "
            f"{counts['greens']}/{counts['target']} running, {counts['greens_ready']} ready"
            f"{'  ' + ids if ids else ''}{who}"
        )

    def tick(self, elapsed: float) -> None:
        if elapsed - self._last_tick < (5.0 if self._tty else 120.0):
            return
        self._last_tick = elapsed
        if self._cloud is None or self._pipeline is None:
            return
        counts = self._cloud.counts(self._pipeline)
        line = (
            f"  {_SPINNER[self._spin % 4]} [{_clock(elapsed)}] greens {counts['greens']}/{counts['target']} "
            f"running, {counts['greens_ready']} ready; {self._summary or self._phase or 'working'}"
        )
        self._spin += 1
        if self._tty:
            self._out.write("\r\033[K" + line[:150])
            self._out.flush()
            self._progress_shown = True
        else:
            self._print(line)

    def report(self, report: Report) -> None:
        req = report.request
        if report.operation == "PutJobFailureResult":
            details = req.get("failureDetails") or {}
            text = f"FAILED {details.get('type')}"
        elif req.get("continuationToken"):
            details = req.get("executionDetails") or {}
            self._summary = str(details.get("summary", ""))
            text = (
                f"in progress {details.get('percentComplete', '?')}%, continuation token "
                f"({len(req['continuationToken'])} chars): {self._summary}"
            )
        else:
            text = "SUCCEEDED"
        self._summary = "" if report.final else self._summary
        verdict = "" if report.accepted else f"  (rejected: {report.error})"
        self._print(f"  [{_clock(report.elapsed)}] CodePipeline <- {report.operation}: {text}{verdict}")


def render_summary(result: SimulationResult, out: IO[str]) -> None:
    """The closing part: result, timeline, API calls, checks."""
    verdict = "PASS" if result.passed else "FAIL"
    w = out.write
    w(f"\nResult: {result.outcome} (expected {result.expected_outcome}): {verdict}\n")
    if result.final_message:
        w(f"  {result.final_message.strip()}\n")
    w("\nTimeline (simulated time per phase)\n")
    for phase, seconds in result.timeline.items():
        w(f"  {phase:<14}{_clock(seconds):>8}\n")
    w(
        f"  {'total':<14}{_clock(result.simulated_seconds):>8}   {result.invocations} invocation(s), "
        f"wall {result.wall_seconds:.1f} s\n"
    )
    w("\nAPI calls\n")
    spot_total = sum(result.spot_calls.values())
    w(
        f"  {'spot':<14}{spot_total:>5}   429s: {result.spot_429s}, deployments started: "
        f"{result.spot_deployments_started}, stopped: {result.spot_stops}\n"
    )
    for route, count in sorted(result.spot_calls.items()):
        w(f"      {count:>4}  {route}\n")
    by_service: Counter[str] = Counter()
    for call, count in result.aws_calls.items():
        by_service[call.split(":", 1)[0]] += count
    for service, total in sorted(by_service.items()):
        ops = ", ".join(
            f"{c.split(':', 1)[1]} {n}" for c, n in sorted(result.aws_calls.items()) if c.startswith(service + ":")
        )
        w(f"  {service:<14}{total:>5}   {ops}\n")
    w(f"\nInstances after the run: {result.blues_left_running} blue, {result.greens_left_running} stray green\n")
    w("\nChecks\n")
    for name, ok in result.checks.items():
        w(f"  [{'ok' if ok else 'FAILED'}] {name}\n")


def _simulate(args: argparse.Namespace) -> int:
    out = sys.stdout
    speed = None if args.speed == 0 else args.speed
    display = None if args.json else TextDisplay(out)
    if display is not None:
        out.write(
            f"bluegreen simulate: scenario {args.scenario}, {args.instances} instance(s), "
            f"{args.revision} revision, speed {'max' if speed is None else f'{speed:g}x'}\n"
        )
    result = run_scenario(
        args.scenario, instances=args.instances, revision=args.revision, speed=speed, observer=display
    )
    if args.json:
        json.dump(result.to_json(), out, indent=2)
        out.write("\n")
    else:
        render_summary(result, out)
    return 0 if result.passed else 1


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


def _load_json(path: str, what: str) -> Any:
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise SystemExit(f"bluegreen invoke: cannot read {what} {path}: {exc}") from exc


def _invoke(args: argparse.Namespace) -> int:
    from bluegreen.handler import create_handler  # noqa: PLC0415 - only this subcommand needs it

    params = _load_json(args.params, "--params")
    if not isinstance(params, dict):
        raise SystemExit("bluegreen invoke: --params must hold a JSON object of UserParameters keys")
    event: dict[str, Any] = _load_json(args.event, "--event") if args.event else {}
    if not isinstance(event, dict):
        raise SystemExit("bluegreen invoke: --event must hold a JSON object")
    job = event.get("CodePipeline.job")
    if isinstance(job, dict):
        job.setdefault("data", {}).setdefault("actionConfiguration", {}).setdefault("configuration", {})[
            "UserParameters"
        ] = json.dumps(params)
    else:
        event = {**event, **params}
    handler = create_handler(log_stream=sys.stderr)
    result = handler(event, _WallContext())
    json.dump(result, sys.stdout, indent=2)
    sys.stdout.write("\n")
    if isinstance(result, dict) and result.get("status") == "InProgress":
        sys.stderr.write(
            "In progress: run again with an --event file holding "
            '{"continuationToken": "<the token above>"} to resume.\n'
        )
    return 1 if isinstance(result, dict) and result.get("status") == "Failed" else 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="bluegreen", description="bluegreen: local simulation and manual invocation of the blue/green Lambda"
    )
    sub = parser.add_subparsers(dest="command", required=True)
    sim = sub.add_parser(
        "simulate",
        help="run a whole pipeline deployment on a local simulated cloud",
        description="Run a whole CodePipeline -> Lambda -> Spot/CodeDeploy deployment "
        "through the real handler on 127.0.0.1. Scenarios: "
        + ", ".join(f"{s.name} ({s.description})" for s in SCENARIOS.values()),
    )
    sim.add_argument("--scenario", choices=sorted(SCENARIOS), default="happy")
    sim.add_argument("--instances", type=int, default=4, help="blue instances in the Elastigroup (default 4)")
    sim.add_argument("--revision", choices=("s3", "github"), default="s3")
    sim.add_argument(
        "--speed",
        type=float,
        default=DEFAULT_SPEED,
        help=f"simulated seconds per wall second (default {DEFAULT_SPEED:g}; 0 = as fast as possible)",
    )
    sim.add_argument("--json", action="store_true", help="print one JSON document instead of the live view")
    sim.set_defaults(func=_simulate)
    inv = sub.add_parser(
        "invoke",
        help="run the handler once against the REAL AWS and Spot APIs",
        description="Console-test mode with your own credentials: the params file holds "
        "the UserParameters keys as a JSON object; --event optionally gives the event "
        '(e.g. {"continuationToken": ...} to resume, or a CodePipeline.job event).',
    )
    inv.add_argument("--params", required=True, help="JSON file with the UserParameters keys")
    inv.add_argument("--event", help="JSON file with the event to send (parameters are merged in)")
    inv.set_defaults(func=_invoke)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `bluegreen` console script."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "instances", 1) < 1:
        parser.error("--instances must be at least 1")
    if getattr(args, "speed", 1.0) < 0:
        parser.error("--speed must be positive (or 0 for as fast as possible)")
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
