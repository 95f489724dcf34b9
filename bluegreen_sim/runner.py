"""Run one named scenario through the real handler on a fresh simulated cloud and judge the result.

Owns `run_scenario()` and `SimulationResult`: the figures the CLI prints, the end-to-end tests assert and
other tools (IAM policy check, benchmarks) read. It prints nothing; an optional `Observer` hears about
phase changes, time passing and CodePipeline results as they happen.
"""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol

from bluegreen_sim.cloud import Build, Cloud, Pipeline, Revision, TokenSource
from bluegreen_sim.codepipeline import DriverResult, PipelineDriver, Report
from bluegreen_sim.elastigroup import Interruption
from bluegreen_sim.logcapture import LogCapture, PhaseChange
from bluegreen_sim.scenarios import SCENARIOS, Execution, Scenario

SETTLE_SECONDS = 300.0


class Observer(Protocol):
    """Live notifications during a run (the CLI's display)."""

    def started(self, scenario: Scenario, cloud: Cloud, pipeline: Pipeline) -> None: ...

    def phase(self, change: PhaseChange, counts: dict[str, int]) -> None: ...

    def tick(self, elapsed: float) -> None: ...

    def report(self, report: Report) -> None: ...

    def interruption(self, event: Interruption) -> None: ...


@dataclass
class SimulationResult:
    """Everything a simulated run produced. Counters are keyed "METHOD /route" (Spot) or "service:Op".

    `aws_operations` holds the handler's AWS operations as "service:Operation" (botocore operation names
    under IAM service prefixes, e.g. "s3:HeadObject"), recorded on the boto3 session each handler is given
    (bluegreen_sim/awscalls.py), never the simulator's own setup calls; `artifact_calls` those signed with the
    pipeline's artifact credentials instead of the function's role.
    `greens_left_running` counts green instances still alive after a run that did not succeed (after a
    success, or a failure after CodeDeploy succeeded, the greens are the group's serving instances, so it
    is 0); `blues_left_running` counts the original instances still alive."""

    scenario: str
    description: str
    instances: int
    revision: str
    outcome: str
    expected_outcome: str
    passed: bool
    checks: dict[str, bool]
    reports: list[dict[str, Any]]
    invocations: int
    timeline: dict[str, float]
    phases: list[dict[str, Any]]
    spot_calls: Counter[str]
    spot_429s: int
    spot_deployments_started: int
    spot_stops: int
    aws_calls: Counter[str]
    aws_operations: frozenset[str]
    greens_left_running: int
    blues_left_running: int
    log_lines: list[str]
    wall_seconds: float
    simulated_seconds: float
    final_message: str
    invocation_details: list[dict[str, Any]] = field(default_factory=list)
    metrics: dict[str, Any] = field(default_factory=dict)  # the run's EMF metrics, read back from its log lines
    interruptions: list[dict[str, Any]] = field(default_factory=list)  # greens Spot reclaimed, and replacements
    # The revision of every CodeDeploy deployment, in order: s3://bucket/key or owner/repo@commit.
    deployed_revisions: list[str] = field(default_factory=list)
    # Each pipeline execution of the deploy stage (one, or several for `rollback`): its build and outcome.
    executions: list[dict[str, Any]] = field(default_factory=list)
    # AWS calls signed with the pipeline's artifact credentials (not the function's role): "service:Op" -> count.
    artifact_calls: Counter[str] = field(default_factory=Counter)
    reclaimed: list[dict[str, Any]] = field(default_factory=list)  # what reclaim stopped, and when
    canaries: tuple[str, ...] = field(default=(), repr=False)  # the secrets that must never appear

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict (counters as objects, the operation set sorted; the canaries left out)."""
        doc = asdict(self)
        del doc["canaries"]
        doc["spot_calls"] = dict(sorted(self.spot_calls.items()))
        doc["aws_calls"] = dict(sorted(self.aws_calls.items()))
        doc["artifact_calls"] = dict(sorted(self.artifact_calls.items()))
        doc["aws_operations"] = sorted(self.aws_operations)
        return doc


def run_scenario(
    name: str,
    *,
    instances: int = 4,
    revision: Revision = "artifact",
    speed: float | None = None,
    observer: Observer | None = None,
    seed: int = 0,
    token_source: TokenSource = "params",  # noqa: S107 - where the token comes from
) -> SimulationResult:
    """Run scenario `name` end to end through `bluegreen.handler` on a fresh simulated cloud.

    With `revision="artifact"` (the default) each execution runs the pipeline's Source and Build stages first and
    hands the build to the deploy action as its input artifact; "s3" and "github" name a fixed revision in
    UserParameters instead.

    Raises:
        KeyError: unknown scenario name.
        ValueError: `instances` < 1, or a scenario that needs input artifacts run with another revision.
    """
    scenario = SCENARIOS[name]
    if instances < 1:
        raise ValueError("instances must be at least 1")
    timeout = scenario.timeout_for(instances)
    if scenario.needs_artifacts and revision != "artifact":
        raise ValueError(f"scenario {name} deploys the pipeline's input artifacts: it needs revision 'artifact'")
    wall = time.perf_counter()
    with Cloud(speed=speed, spot_budget=scenario.spot_budget, forced_429=scenario.forced_429, seed=seed) as cloud:
        bad_token = f"sim-bad-canary-{cloud.rng.getrandbits(96):024x}"
        pipeline = cloud.add_pipeline(
            instances=instances,
            revision=revision,
            timeout=timeout,
            token=bad_token if scenario.bad_token else None,
            token_source=token_source,
            group=scenario.group,
            deploy=scenario.deploy,
            deployment_type=scenario.deployment_type,
            alarms=scenario.alarms,
            bake_time=scenario.bake_time,
        )
        if scenario.alarm_fires is not None:
            cloud.clock.add_listener(_alarm_trigger(cloud, pipeline, *scenario.alarm_fires))

        drivers: list[PipelineDriver] = []

        def on_phase(change: PhaseChange) -> None:
            for d in drivers:
                d.phase_changed(change.phase)
            if observer is not None:
                observer.phase(change, cloud.counts(pipeline))

        log = LogCapture(cloud.clock, on_phase)
        if observer is not None:
            observer.started(scenario, cloud, pipeline)
            cloud.clock.add_listener(lambda _now: observer.tick(cloud.clock.elapsed))
            seen = interrupted = 0

            def forward_reports(_: float) -> None:
                nonlocal seen, interrupted
                while interrupted < len(cloud.groups.interruption_log):
                    observer.interruption(cloud.groups.interruption_log[interrupted])
                    interrupted += 1
                while seen < len(cloud.jobs.reports):
                    observer.report(cloud.jobs.reports[seen])
                    seen += 1

            cloud.clock.add_listener(forward_reports)
        runs = scenario.executions or (Execution("execution 1", "1", expected=scenario.expected),)
        builds: dict[str, Build] = {}
        executions: list[_Executed] = []
        for n, execution in enumerate(runs):
            if n:
                cloud.settle(SETTLE_SECONDS)  # the previous execution's blue/green finishes before the next starts
            build = None
            if revision == "artifact":
                if execution.build not in builds:
                    builds[execution.build] = cloud.build(pipeline, execution.build, broken=execution.broken)
                build = builds[execution.build]
            driver = cloud.driver(
                pipeline,
                log=log,
                duplicate_first=scenario.duplicate_first and n == 0,
                build=build,
                name=pipeline.name if len(runs) == 1 else f"{pipeline.name}-x{n + 1}",
                lambda_seconds=scenario.lambda_seconds,
                stop=scenario.stop,
                kill_after_start=scenario.kill_after_start,
            )
            drivers.append(driver)
            cloud.jobs.lose_final_reports = scenario.lose_final_reports
            started = cloud.clock.elapsed
            deployments_before = len(cloud.deployed_revisions)
            driven = driver.run()
            executions.append(_Executed(execution, build, driven, started, cloud.clock.elapsed, deployments_before))
        if observer is not None:
            forward_reports(0.0)
        simulated = cloud.clock.elapsed
        cloud.clock.clear_listeners()
        cloud.clock.set_speed(None)  # nobody watches the aftermath: Spot finalising, cleanup delays
        cloud.settle(SETTLE_SECONDS)
        counts = cloud.counts(pipeline)
        secrets = [
            cloud.token,
            bad_token,
            cloud.artifact_secret,
            cloud.artifact_session,
            cloud.artifact_key_id,
            cloud.aws_secret_key,
            cloud.aws_session_token,
            cloud.token_key,
        ]
        return _judge(
            scenario,
            cloud,
            pipeline,
            log,
            executions,
            counts,
            secrets,
            instances,
            revision,
            simulated,
            time.perf_counter() - wall,
            drivers,
        )


@dataclass(frozen=True)
class _Executed:
    """How one pipeline execution of the deploy stage went."""

    execution: Execution
    build: Build | None
    driven: DriverResult
    started: float
    ended: float
    first_deployment: int  # index of its first CodeDeploy deployment in the gateway's list

    def to_json(self, deployed: list[str], phases: list[PhaseChange], name: str) -> dict[str, Any]:
        mine = [c for c in phases if (c.caller or "").split("#", 1)[0] == name]
        return {
            "name": self.execution.name,
            "build": self.execution.build,
            "artifact": self.build.location if self.build else None,
            "source_revision": self.build.commit if self.build else None,
            "outcome": self.driven.outcome,
            "expected_outcome": self.execution.expected,
            "deployed_revisions": deployed,
            "started": round(self.started, 3),
            "ended": round(self.ended, 3),
            "invocations": len(self.driven.invocations),
            "timeline": _timeline(mine, self.ended),
        }


def _revision_text(revision: dict[str, Any]) -> str:
    s3 = revision.get("s3Location")
    if s3:
        text = f"s3://{s3.get('bucket')}/{s3.get('key')}"
        return f"{text}?versionId={s3['version']}" if s3.get("version") else text
    github = revision.get("gitHubLocation") or {}
    return f"{github.get('repository')}@{github.get('commitId')}"


def _combined(executions: list[_Executed]) -> DriverResult:
    """All executions as one driven run: the last one's outcome, every invocation and job."""
    driven = DriverResult(outcome=executions[-1].driven.outcome)
    for done in executions:
        driven.invocations.extend(done.driven.invocations)
        driven.job_ids.extend(done.driven.job_ids)
    return driven


def _judge(
    scenario: Scenario,
    cloud: Cloud,
    pipeline: Pipeline,
    log: LogCapture,
    executions: list[_Executed],
    counts: dict[str, int],
    secrets: list[str],
    instances: int,
    revision: str,
    simulated: float,
    wall: float,
    drivers: list[PipelineDriver],
) -> SimulationResult:
    driven = _combined(executions)
    deployed = [_revision_text(revision) for _, revision in cloud.deployed_revisions]
    names = [pipeline.name] if len(executions) == 1 else [f"{pipeline.name}-x{n + 1}" for n in range(len(executions))]
    executed = [
        done.to_json(
            deployed[done.first_deployment : (executions[n + 1].first_deployment if n + 1 < len(executions) else None)],
            log.phases,
            names[n],
        )
        for n, done in enumerate(executions)
    ]
    reports = list(cloud.jobs.reports)
    accepted = [r for r in reports if r.accepted]
    finals = [r for r in accepted if r.final]
    per_job = Counter(r.job_id for r in accepted)
    rejected = [r for r in reports if not r.accepted]
    allowed_rejections: tuple[str, ...] = ("InvalidJobStateException",) if scenario.duplicate_first else ()
    returns = [inv.returned for inv in driven.invocations]
    everything = "\n".join([log.text(), json.dumps([r.request for r in reports]), json.dumps(returns, default=str)])
    succeeded = driven.outcome == "Succeeded"
    rejection_label = (
        "CodePipeline rejected no report but the duplicate delivery's late one (InvalidJobStateException)"
        if allowed_rejections
        else "no report rejected by CodePipeline"
    )
    if scenario.lose_final_reports:
        allowed_rejections += ("InternalFailure",)
    checks = {
        "no invocation overran 900 s": not any(inv.overran for inv in driven.invocations),
        "token and credentials never in output": not any(s in everything for s in secrets),
        f"at least {scenario.min_invocations} invocation(s)": len(driven.invocations) >= scenario.min_invocations,
    }
    if not scenario.reclaims:
        checks["exactly one final report"] = len(finals) == len(executions) and not any(
            d.driven.outcome in ("NoReport", "TooManyInvocations") for d in executions
        )
        checks["every job answered exactly once"] = all(per_job.get(j) == 1 for j in driven.job_ids)
        checks[rejection_label] = all((r.error or "").startswith(allowed_rejections) for r in rejected)
        checks["handler never raised"] = not any(inv.raised for inv in driven.invocations[scenario_raises(scenario) :])
    if scenario.reclaims or scenario.lose_final_reports:
        group = pipeline.group
        runs = [
            r
            for r in cloud.codedeploy.deployments.values()
            if (r.application, r.group) == (pipeline.app_name, pipeline.deployment_group)
        ]
        checks["no Spot deployment of the run in progress"] = not any(bg.open for bg in group.deployments)
        checks["no CodeDeploy deployment of the run in progress"] = all(r.done for r in runs)
        checks["no success reported for a stopped run"] = not any(
            r.operation == "PutJobSuccessResult" and r.final for r in accepted
        )
        checks["at most one CodeDeploy deployment"] = len(runs) <= 1
    if scenario.reclaims:
        checks["the run was reclaimed"] = bool(_reclaimed(log))
    if succeeded:
        checks["blues retired"] = counts["blues"] == 0
        checks["greens serving"] = counts["greens"] == instances
    else:
        checks["no green left running"] = counts["greens"] == 0
        checks["blues still serving"] = counts["blues"] == instances
    if scenario.fails_after_deploy:
        # CodeDeploy had succeeded: the function leaves the Spot deployment alone, Elastigroup finishes it.
        del checks["no green left running"], checks["blues still serving"]
        checks["Spot deployment left alone"] = cloud.groups.stops == 0
        checks["greens serving"] = counts["greens"] == instances
    if scenario.alarms:
        # One DescribeAlarms in preflight, one before CreateDeployment, then at most one per poll interval while
        # the gate is watched (a resumed invocation polls at once).
        timeline = _timeline(log.phases, simulated)
        watched = sum(timeline.get(phase, 0.0) for phase in ("DEPLOY", "WAIT_DEPLOY", "BAKE"))
        reads = cloud.recorder.calls["cloudwatch:DescribeAlarms"]
        checks["alarms read at most once per poll"] = 2 <= reads <= 2 + len(driven.invocations) + watched // 15.0
    if scenario.forced_429 or scenario.spot_budget < 60:
        checks["Spot answered 429 and the run still ended as expected"] = cloud.spot.ledger.throttled > 0
    if scenario.duplicate_first:
        checks["only one Spot deployment started"] = cloud.groups.started == 1
        runs = [r for r in cloud.codedeploy.deployments.values() if r.application == pipeline.app_name]
        checks["one CodeDeploy deployment"] = len(runs) == 1
    if succeeded:
        checks["nothing stopped"] = cloud.groups.stops == 0
    if scenario.lambda_seconds < 60:
        checks["nothing launched"] = cloud.groups.started == 0
    if scenario.bad_token:
        checks["no Spot deployment started"] = cloud.groups.started == 0
    interruptions = list(cloud.groups.interruption_log)
    if scenario.group.interrupt_after_boot is not None:
        checks["reclaimed green replaced by Elastigroup"] = bool(interruptions) and all(
            i.replacement for i in interruptions
        )
        targeted = {i for run in cloud.codedeploy.deployments.values() for i in run.targets}
        checks["CodeDeploy deployed to the replacement, not the reclaimed green"] = bool(interruptions) and all(
            i.replacement in targeted and i.reclaimed not in targeted for i in interruptions
        )
    with_build = [d for d in executions if d.build is not None]
    if with_build and succeeded:
        checks["the build of each execution was deployed"] = all(
            e["deployed_revisions"] and set(e["deployed_revisions"]) == {d.build.location}
            for d, e in zip(executions, executed, strict=True)
            if d.build is not None
        )
    if with_build and scenario.lambda_seconds >= 60:  # a function refused at its start reads nothing
        checks["the artifact was read with the artifact credentials only"] = cloud.recorder.other_credentials[
            "s3:HeadObject"
        ] >= len(with_build) and not any(call.startswith("s3:") for call in cloud.recorder.calls)
    if len(executions) > 1:
        checks["each execution ended as expected"] = all(d.driven.outcome == d.execution.expected for d in executions)
    final = finals[-1] if finals else None
    lines = [line for _, line in log.lines]
    return SimulationResult(
        scenario=scenario.name,
        description=scenario.description,
        instances=instances,
        revision=revision,
        outcome=driven.outcome,
        expected_outcome=scenario.expected,
        passed=driven.outcome == scenario.expected and all(checks.values()),
        checks=checks,
        reports=[r.wire() for r in reports],
        invocations=len(driven.invocations),
        timeline=_timeline(log.phases, simulated),
        phases=[{"elapsed": c.elapsed, "phase": c.phase, "invocation": c.caller} for c in log.phases],
        spot_calls=Counter(cloud.spot.ledger.calls),
        spot_429s=cloud.spot.ledger.throttled,
        spot_deployments_started=cloud.groups.started,
        spot_stops=cloud.groups.stops,
        aws_calls=Counter(cloud.recorder.calls),
        aws_operations=cloud.recorder.operations,
        greens_left_running=counts["greens"] if not (succeeded or scenario.fails_after_deploy) else 0,
        blues_left_running=counts["blues"],
        log_lines=lines,
        metrics=metrics_summary(lines),
        wall_seconds=round(wall, 3),
        simulated_seconds=simulated,
        final_message=_final_message(final),
        reclaimed=[e for d in drivers for e in _world_events(d)] + _reclaimed(log),
        canaries=tuple(secrets),
        interruptions=[asdict(i) for i in interruptions],
        deployed_revisions=deployed,
        executions=executed,
        artifact_calls=Counter(cloud.recorder.other_credentials),
        invocation_details=[
            {
                "name": i.name,
                "job_id": i.job_id,
                "started": i.started,
                "ended": i.ended,
                "raised": i.raised,
                "overran": i.overran,
            }
            for i in driven.invocations
        ],
    )


def _alarm_trigger(cloud: Cloud, pipeline: Pipeline, when: str, after: float) -> Callable[[float], None]:
    """A clock listener that fires the pipeline's first alarm `after` seconds into deploying or baking.

    "deploying" counts from the CodeDeploy deployment's start, "baking" from its success (when the function's
    bake begins).
    """
    fired = threading.Event()
    seen: dict[str, float] = {}
    lock = threading.Lock()

    def listener(now: float) -> None:
        if fired.is_set():
            return
        runs = [r for r in cloud.codedeploy.deployments.values() if r.application == pipeline.app_name]
        if not runs:
            return
        run = runs[-1]
        with lock:
            if when == "deploying" and run.status == "InProgress":
                seen.setdefault(when, now)
            elif when == "baking" and run.status == "Succeeded":
                seen.setdefault(when, now)
            start = seen.get(when)
            if start is None or now < start + after or fired.is_set():
                return
            fired.set()
        name = pipeline.extra["alarms"][0]
        cloud.fire_alarm(
            name,
            f"Threshold Crossed: 1 datapoint [37.0] was greater than the threshold (10.0), "
            f"{when} for {int(now - start)} s",
        )

    return listener


def metrics_summary(lines: list[str]) -> dict[str, Any]:
    """The metrics of the run's EMF documents (lines with an `_aws` key), with their dimensions."""
    summary: dict[str, Any] = {}
    for line in lines:
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if not isinstance(record, dict) or "_aws" not in record:
            continue
        for directive in record["_aws"].get("CloudWatchMetrics", []):
            summary["namespace"] = directive.get("Namespace")
            summary["dimensions"] = directive.get("Dimensions")
            for metric in directive.get("Metrics", []):
                value = record.get(metric["Name"])
                value = value[0] if isinstance(value, list) and len(value) == 1 else value
                summary[metric["Name"]] = value
        summary["Outcome"] = record.get("Outcome")
    return summary


def scenario_raises(scenario: Scenario) -> int:
    """How many invocations of the scenario may raise (a lost report is raised so Lambda retries it)."""
    return 1 if scenario.lose_final_reports else 0


def _world_events(driver: PipelineDriver) -> list[dict[str, Any]]:
    """When CodePipeline stopped waiting: the person's stop, or the invocation's death."""
    events = []
    if driver.stopped_at is not None and driver.stopped_at >= 0:
        events.append({"elapsed": driver.stopped_at, "message": "a person stopped and abandoned the execution"})
    if driver.killed_at is not None:
        events.append({"elapsed": driver.killed_at, "message": "the invocation died after the Spot start"})
    return events


def _reclaimed(log: LogCapture) -> list[dict[str, Any]]:
    """What the handler reclaimed, and when (simulated seconds): its log records marked `reclaimed`."""
    found = []
    for elapsed, line in log.lines:
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if isinstance(record, dict) and record.get("reclaimed"):
            found.append({"elapsed": elapsed, "message": str(record.get("message", ""))})
    return found


def _final_message(report: Report | None) -> str:
    if report is None:
        return ""
    if report.operation == "PutJobFailureResult":
        details = report.request.get("failureDetails") or {}
        return f"{details.get('type')}: {details.get('message')}"
    return str((report.request.get("executionDetails") or {}).get("summary", ""))


def _timeline(phases: list[PhaseChange], end: float) -> dict[str, float]:
    """Simulated seconds spent in each phase (a phase entered twice adds up)."""
    timeline: dict[str, float] = {}
    for n, change in enumerate(phases):
        until = phases[n + 1].elapsed if n + 1 < len(phases) else end
        timeline[change.phase] = round(timeline.get(change.phase, 0.0) + max(0.0, until - change.elapsed), 3)
    return timeline
