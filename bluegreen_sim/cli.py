"""The `bluegreen` command: its subcommands, and what a person sees of `simulate`.

`simulate` runs a whole pipeline on the local simulated cloud (it needs the `sim` extra: moto); `invoke` runs
the handler once against the real AWS and Spot APIs (`bluegreen_sim/invoke.py`, runtime dependencies only).
This module imports neither the simulator nor the handler at import time, so `bluegreen --help` is fast and
the command works from a plain `pip install .`. A new subcommand is one `_add_<name>(subparsers)` function
registered in `SUBCOMMANDS`, whose handler imports what it needs when it runs.

For `simulate` it owns what a person sees: a line per phase change, a progress indicator while waiting, the
CodePipeline result, and a closing timeline with API call counts; or one JSON document with `--json`.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections import Counter
from collections.abc import Callable
from typing import IO, TYPE_CHECKING

from bluegreen_sim.scenarios import DESIGN_INSTANCES, SCENARIOS, Scenario

if TYPE_CHECKING:
    from bluegreen_sim.cloud import Cloud, Pipeline
    from bluegreen_sim.codepipeline import Report
    from bluegreen_sim.elastigroup import Interruption
    from bluegreen_sim.logcapture import PhaseChange
    from bluegreen_sim.runner import SimulationResult

SIM_EXTRA_HINT = "pip install -e '.[sim]' in your clone of bluegreen"
DEFAULT_SPEED = 400.0
MAX_INSTANCES = 200
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
            f"running, {counts['greens_ready']} ready; {self._phase or 'working'}"
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
            # The summary is printed here only: it describes the hand-over, and the next invocation moves on.
            details = req.get("executionDetails") or {}
            text = (
                f"in progress {details.get('percentComplete', '?')}%, continuation token "
                f"({len(req['continuationToken'])} chars): {details.get('summary', '')}"
            )
        else:
            text = "SUCCEEDED"
        verdict = "" if report.accepted else f"  (rejected: {report.error})"
        self._print(f"  [{_clock(report.elapsed)}] CodePipeline <- {report.operation}: {text}{verdict}")

    def interruption(self, event: Interruption) -> None:
        self._print(
            f"  [{_clock(event.elapsed)}] Spot reclaimed green {event.reclaimed}; Elastigroup launches a replacement"
        )


def render_summary(result: SimulationResult, out: IO[str]) -> None:
    """The closing part: result, timeline, API calls, checks."""
    verdict = "PASS" if result.passed else "FAIL"
    w = out.write
    w(f"\nResult: {result.outcome} (expected {result.expected_outcome}): {verdict}\n")
    if result.final_message:
        w(f"  {result.final_message.strip()}\n")
    if len(result.executions) > 1:
        w("\nPipeline executions (each deploys its own build, the deploy action's input artifact)\n")
        for execution in result.executions:
            deployed = ", ".join(execution["deployed_revisions"]) or "nothing"
            w(
                f"  [{_clock(execution['started'])}-{_clock(execution['ended'])}] {execution['name']}: build "
                f"{execution['build']} ({execution['source_revision'][:12]}) -> {execution['outcome']}; "
                f"CodeDeploy deployed {deployed}\n"
            )
            w("      " + ", ".join(f"{p} {_clock(t)}" for p, t in execution["timeline"].items()) + "\n")
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
    if result.artifact_calls:
        ops = ", ".join(f"{c} {n}" for c, n in sorted(result.artifact_calls.items()))
        w(f"  {'with the artifact credentials':<14} {ops}\n")
    if result.metrics:
        m = result.metrics
        w(f"\nMetrics (EMF in the function's log, namespace {m.get('namespace')}, outcome {m.get('Outcome')})\n")
        for name, value in m.items():
            if name not in ("namespace", "dimensions", "Outcome"):
                w(f"  {name:<22}{value:>8g}\n")
    for event in result.interruptions:
        w(
            f"\nSpot reclaimed green {event['reclaimed']} at {_clock(event['elapsed'])}; replaced by "
            f"{event['replacement'] or 'nothing'}"
            + (f" at {_clock(event['replaced_at'])}" if event["replaced_at"] is not None else "")
            + "\n"
        )
    w(f"\nInstances after the run: {result.blues_left_running} blue, {result.greens_left_running} stray green\n")
    w("\nChecks\n")
    for name, ok in result.checks.items():
        w(f"  [{'ok' if ok else 'FAILED'}] {name}\n")


def _simulate(args: argparse.Namespace) -> int:
    try:
        from bluegreen_sim.runner import run_scenario  # noqa: PLC0415 - only this subcommand needs the simulator
    except ModuleNotFoundError as exc:
        if (exc.name or "").startswith("bluegreen"):
            raise
        sys.stderr.write(
            f"bluegreen simulate needs the simulator's dependencies ({exc.name} is not installed): {SIM_EXTRA_HINT}\n"
        )
        return 2
    out = sys.stdout
    requested = default_speed(args.instances) if args.speed is None else args.speed
    speed = None if requested == 0 else requested
    display = None if args.json else TextDisplay(out)
    if display is not None:
        out.write(
            f"bluegreen simulate: scenario {args.scenario}, {args.instances} instance(s), "
            f"{args.revision} revision, speed {'max' if speed is None else f'{speed:g}x'}, "
            f"TIMEOUT {SCENARIOS[args.scenario].timeout_for(args.instances)} s\n"
        )
    if SCENARIOS[args.scenario].needs_artifacts and args.revision != "artifact":
        sys.stderr.write(
            f"bluegreen simulate: scenario {args.scenario} deploys the pipeline's input artifacts; "
            "use --revision artifact\n"
        )
        return 2
    result = run_scenario(
        args.scenario, instances=args.instances, revision=args.revision, speed=speed, observer=display
    )
    if args.json:
        json.dump(result.to_json(), out, indent=2)
        out.write("\n")
    else:
        render_summary(result, out)
    return 0 if result.passed else 1


def default_speed(instances: int) -> float:
    """Simulated seconds per wall second when --speed is not given: a larger group deploys for longer (one instance
    after another), so it runs faster, and any size takes about as long to watch as the default group."""
    return DEFAULT_SPEED * max(1.0, instances / DESIGN_INSTANCES)


def _speed(text: str) -> float:
    """`--speed`: a finite number of simulated seconds per wall second, or 0 for as fast as possible."""
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or value < 0:
        raise argparse.ArgumentTypeError(
            f"expected 0 or a positive number of simulated seconds per wall second, got {text!r}"
        )
    return value


def _instances(text: str) -> int:
    """`--instances`: the Elastigroup's size, 1 to MAX_INSTANCES."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if not 1 <= value <= MAX_INSTANCES:
        raise argparse.ArgumentTypeError(
            f"expected a whole number from 1 to {MAX_INSTANCES} (the simulated EC2 gets slow beyond), got {text!r}"
        )
    return value


def _add_simulate(sub: _Subparsers) -> None:
    sim = sub.add_parser(
        "simulate",
        help="run a whole pipeline deployment on a local simulated cloud (needs the 'sim' extra)",
        description="Run a whole CodePipeline -> Lambda -> Spot/CodeDeploy deployment "
        "through the real handler on 127.0.0.1. Scenarios: "
        + ", ".join(f"{s.name} ({s.description})" for s in SCENARIOS.values()),
    )
    sim.add_argument("--scenario", choices=sorted(SCENARIOS), default="happy")
    sim.add_argument(
        "--instances",
        type=_instances,
        default=4,
        help=f"blue instances in the Elastigroup, 1 to {MAX_INSTANCES} (default 4)",
    )
    sim.add_argument(
        "--revision",
        choices=("artifact", "s3", "github"),
        default="artifact",
        help="artifact (default): each execution runs Source and Build and deploys the build, the action's input "
        "artifact; s3: a fixed S3_BUCKET/S3_KEY in UserParameters; github: GITHUB_REPO/COMMIT_ID",
    )
    sim.add_argument(
        "--speed",
        type=_speed,
        default=None,
        help=f"simulated seconds per wall second (default {DEFAULT_SPEED:g} for up to {DESIGN_INSTANCES} instances, "
        "proportionally more for more; 0 = as fast as possible)",
    )
    sim.add_argument("--json", action="store_true", help="print one JSON document instead of the live view")
    sim.set_defaults(func=_simulate)


def _add_invoke(sub: _Subparsers) -> None:
    inv = sub.add_parser(
        "invoke",
        help='run the handler once against the REAL AWS and Spot APIs (a dry run with "DRY_RUN": true)',
        description="Console-test mode with your own credentials: the params file holds "
        "the UserParameters keys as a JSON object; --event optionally gives the event "
        '(e.g. {"continuationToken": ...} to resume, or a CodePipeline.job event).',
    )
    inv.add_argument("--params", required=True, help="JSON file with the UserParameters keys")
    inv.add_argument("--event", help="JSON file with the event to send (parameters are merged in)")
    inv.add_argument("--json", action="store_true", help="print the handler's result as JSON only")
    inv.add_argument("--verbose", action="store_true", help="also show the function's JSON log lines on stderr")

    def run(args: argparse.Namespace) -> int:
        from bluegreen_sim.invoke import invoke  # noqa: PLC0415 - loads the handler only when invoked

        return invoke(args.params, args.event, as_json=args.json, verbose=args.verbose)

    inv.set_defaults(func=run)


def _add_policy(sub: _Subparsers) -> None:
    # Its options belong to bluegreen.policy, which imports the handler's package: it parses them itself when
    # it runs, so `bluegreen --help` stays fast.
    pol = sub.add_parser(
        "policy",
        add_help=False,
        help="print the least-privilege IAM policy of the function's role for your names (no AWS call)",
        description="See `bluegreen policy --help`.",
    )

    def run(args: argparse.Namespace) -> int:
        from bluegreen import policy  # noqa: PLC0415 - pure, loaded only when asked for

        return policy.main(args.rest)

    pol.set_defaults(func=run, takes_rest=True)


_Subparsers = "argparse._SubParsersAction[argparse.ArgumentParser]"

# One entry per subcommand, in the order `--help` lists them.
SUBCOMMANDS: tuple[Callable[[_Subparsers], None], ...] = (_add_simulate, _add_invoke, _add_policy)


def build_parser() -> argparse.ArgumentParser:
    """The `bluegreen` argument parser with every subcommand of SUBCOMMANDS."""
    parser = argparse.ArgumentParser(
        prog="bluegreen", description="bluegreen: local simulation and manual invocation of the blue/green Lambda"
    )
    sub = parser.add_subparsers(dest="command", required=True)
    for add in SUBCOMMANDS:
        add(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `bluegreen` console script."""
    parser = build_parser()
    args, rest = parser.parse_known_args(argv)
    if rest and not getattr(args, "takes_rest", False):
        parser.error("unrecognized arguments: " + " ".join(rest))
    args.rest = rest
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
