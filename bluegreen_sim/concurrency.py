"""Many pipelines at once on one simulated cloud, under Spot's per route+method rate limit.

Owns `run_concurrent_pipelines()` and `ConcurrencyResult`: N pipelines (each with its own Elastigroup,
CodeDeploy application and deployment group, and its own Lambda container) driven together through the
real handler, sharing one Spot token and so one rate-limit budget per route+method, then the figures the
concurrency tests assert and report. Like `runner.py` it prints nothing and judges nothing: the caller
decides what must hold.
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from bluegreen_sim.cloud import Cloud, Pipeline
from bluegreen_sim.codepipeline import DriverResult, run_concurrently
from bluegreen_sim.logcapture import LogCapture
from bluegreen_sim.runner import SETTLE_SECONDS
from bluegreen_sim.spot import WINDOW, SpotCall


@dataclass(frozen=True)
class PipelineOutcome:
    """How one of the concurrent pipelines ended."""

    name: str
    outcome: str  # "Succeeded", "Failed:<type>", "NoReport" or "TooManyInvocations"
    final_reports: int  # accepted reports that ended the action (exactly 1 when all is well)
    rejected_reports: int  # reports CodePipeline refused
    invocations: int
    raised: tuple[str, ...]  # what escaped the handler, one entry per raising invocation
    final_message: str  # the failure type and message, or the success summary
    blues_left_running: int
    greens_left_running: int  # greens alive after a run that did not succeed (after a success they serve)
    greens_serving: int  # greens alive after a success
    instances: int
    log_lines: tuple[str, ...] = field(repr=False)


@dataclass
class ConcurrencyResult:
    """What N concurrent pipelines produced. Route keys are "METHOD /route" as the Spot emulator names them.

    `spot_calls` counts every answered call, 429s included; `busiest_window` is the most budget-spending
    calls per route in any `window_seconds` (the limiter's sliding window), `busiest_demand` the same with
    refused calls counted too. A 429 is absorbed when the same group's next call on the same route came no
    sooner than the X-RateLimit-Reset it was given and the group's calls on that route ended in a 200.
    `simulated_seconds` runs until the last pipeline has its final report (the settling afterwards is not
    counted). `spot_log` is the emulator's timestamped call log, in call order.
    """

    deployments: int
    instances: int
    budget: int
    window_seconds: float
    pipelines: list[PipelineOutcome]
    spot_calls: Counter[str]
    spot_429s: int
    spot_429s_by_route: Counter[str]
    spot_429s_absorbed: int
    busiest_window: dict[str, int]
    busiest_demand: dict[str, int]
    spot_deployments_started: int
    aws_calls: Counter[str]
    invocations: int
    wall_seconds: float
    simulated_seconds: float
    spot_log: tuple[SpotCall, ...] = field(default=(), repr=False)
    canaries: tuple[str, ...] = field(default=(), repr=False)  # the secrets that must never appear

    @property
    def succeeded(self) -> int:
        """How many pipelines ended in success."""
        return sum(p.outcome == "Succeeded" for p in self.pipelines)

    def figures(self) -> dict[str, Any]:
        """The headline figures as a JSON-ready dict (no per-pipeline detail, no log lines, no secrets)."""
        outcomes = Counter(p.outcome for p in self.pipelines)
        return {
            "deployments": self.deployments,
            "instances_per_group": self.instances,
            "budget_per_route_per_window": self.budget,
            "window_seconds": self.window_seconds,
            "outcomes": dict(sorted(outcomes.items())),
            "spot_calls_per_route": dict(sorted(self.spot_calls.items())),
            "spot_calls_total": sum(self.spot_calls.values()),
            "spot_429s_seen": self.spot_429s,
            "spot_429s_by_route": dict(sorted(self.spot_429s_by_route.items())),
            "spot_429s_absorbed": self.spot_429s_absorbed,
            "spot_429s_surfaced_as_failure": sum(_mentions_429(p) for p in self.pipelines),
            "max_calls_in_any_window_per_route": self.busiest_window,
            "max_attempts_in_any_window_per_route": self.busiest_demand,
            "spot_deployments_started": self.spot_deployments_started,
            "aws_calls_total": sum(self.aws_calls.values()),
            "invocations": self.invocations,
            "wall_seconds": round(self.wall_seconds, 3),
            "simulated_seconds": round(self.simulated_seconds, 3),
        }


def run_concurrent_pipelines(
    n: int,
    budget: int = 60,
    *,
    instances: int = 2,
    seed: int = 0,
    poll_interval: float = 15.0,
) -> ConcurrencyResult:
    """Run `n` blue/green deployments at once through `bluegreen.handler`, Spot allowing `budget` calls per 60 s.

    Each pipeline has its own Elastigroup of `instances` blues, its own CodeDeploy application and group
    and its own handler (one Lambda container each); all of them share the cloud's one Spot token, so the
    budget per route+method is shared too. Simulated time is deterministic: the same arguments give the
    same figures (wall time apart).

    Raises:
        ValueError: `n`, `budget` or `instances` < 1.
    """
    if n < 1 or budget < 1 or instances < 1:
        raise ValueError("n, budget and instances must be at least 1")
    wall = time.perf_counter()
    with Cloud(spot_budget=budget, seed=seed, poll_interval=poll_interval) as cloud:
        pipelines = [cloud.add_pipeline(instances=instances) for _ in range(n)]
        # Each pipeline deploys its own build, handed over as the deploy action's input artifact.
        drivers = [cloud.driver(p, log=LogCapture(cloud.clock), build=cloud.build(p, "1")) for p in pipelines]
        driven = run_concurrently(cloud.clock, drivers)
        simulated = cloud.clock.elapsed
        cloud.settle(SETTLE_SECONDS)
        outcomes = [_outcome(cloud, p, d, instances) for p, d in zip(pipelines, driven, strict=True)]
        ledger = cloud.spot.ledger
        return ConcurrencyResult(
            deployments=n,
            instances=instances,
            budget=budget,
            window_seconds=WINDOW,
            pipelines=outcomes,
            spot_calls=Counter(ledger.calls),
            spot_429s=ledger.throttled,
            spot_429s_by_route=Counter(e.route for e in ledger.entries if e.status == 429),
            spot_429s_absorbed=absorbed_429s(ledger.entries),
            busiest_window=ledger.busiest_window(),
            busiest_demand=ledger.busiest_window(counted_only=False),
            spot_deployments_started=cloud.groups.started,
            aws_calls=Counter(cloud.recorder.calls),
            invocations=sum(len(d.invocations) for d in driven),
            wall_seconds=time.perf_counter() - wall,
            simulated_seconds=simulated,
            spot_log=tuple(ledger.entries),
            canaries=(
                cloud.token,
                cloud.artifact_secret,
                cloud.artifact_session,
                cloud.aws_secret_key,
                cloud.aws_session_token,
                cloud.token_key,
            ),
        )


def _outcome(cloud: Cloud, pipeline: Pipeline, driven: DriverResult, instances: int) -> PipelineOutcome:
    mine = set(driven.job_ids)
    reports = [r for r in cloud.jobs.reports if r.job_id in mine]
    finals = [r for r in reports if r.final]
    counts = cloud.counts(pipeline)
    succeeded = driven.outcome == "Succeeded"
    message = ""
    if finals:
        final = finals[-1]
        if final.operation == "PutJobFailureResult":
            details = final.request.get("failureDetails") or {}
            message = f"{details.get('type')}: {details.get('message')}"
        else:
            message = str((final.request.get("executionDetails") or {}).get("summary", ""))
    log = pipeline.log
    return PipelineOutcome(
        name=pipeline.name,
        outcome=driven.outcome,
        final_reports=len(finals),
        rejected_reports=sum(not r.accepted for r in reports),
        invocations=len(driven.invocations),
        raised=tuple(inv.raised for inv in driven.invocations if inv.raised),
        final_message=message,
        blues_left_running=counts["blues"],
        greens_left_running=0 if succeeded else counts["greens"],
        greens_serving=counts["greens"] if succeeded else 0,
        instances=instances,
        log_lines=tuple(line for _, line in log.lines) if log is not None else (),
    )


def _mentions_429(outcome: PipelineOutcome) -> bool:
    """Whether a pipeline that did not succeed was brought down by rate limiting."""
    if outcome.outcome == "Succeeded":
        return False
    text = f"{outcome.final_message} {' '.join(outcome.raised)}".lower()
    return "429" in text or "rate limit" in text


def absorbed_429s(log: list[SpotCall] | tuple[SpotCall, ...]) -> int:
    """How many 429s in `log` were absorbed: retried no sooner than their X-RateLimit-Reset, ending in a 200.

    Calls are told apart by Elastigroup and route (each pipeline has its own group), so the check does not
    depend on which thread the emulator believed was running.
    """
    by_key: dict[tuple[str | None, str], list[SpotCall]] = {}
    for call in log:
        by_key.setdefault((call.group, call.route), []).append(call)
    absorbed = 0
    for calls in by_key.values():
        ends_well = calls[-1].status == 200
        for n, call in enumerate(calls[:-1]):
            if call.status != 429:
                continue
            retry = calls[n + 1]
            if ends_well and retry.at >= call.at + (call.reset or 0):
                absorbed += 1
    return absorbed
