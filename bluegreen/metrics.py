"""Deployment metrics in CloudWatch Embedded Metric Format (EMF), built with Powertools Metrics.

Owns which metrics a finished run emits and their dimensions. The document is one JSON line written to the
function's log stream (stdout on Lambda), from which CloudWatch Logs extracts the metrics: no API call, no
permission. Namespace `bluegreen` (or POWERTOOLS_METRICS_NAMESPACE, read by the handler). Every metric has the
dimensions {Application, DeploymentGroup} and {Application, DeploymentGroup, Outcome}, Outcome being `Succeeded`
or the CodePipeline failure type. Emitted once per run, by the invocation that reports its final result; a dry
run and a run that fails before it has a state (unreadable UserParameters or token) emit nothing.

Building the document never raises into the run: `emf_document` returns None and logs a warning instead. It
imports Powertools Metrics on first use, so a cold start does not pay for it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Final

from bluegreen.params import DeploymentParams
from bluegreen.state import RunState

logger = logging.getLogger(__name__)

DEFAULT_NAMESPACE: Final = "bluegreen"


@dataclass(frozen=True)
class RunFacts:
    """What a finished run was: enough to build its metrics."""

    params: DeploymentParams
    state: RunState
    outcome: str  # "Succeeded" or a CodePipeline failure type
    ended_at: int
    greens_seen: int  # green instances alive at the last look (used when the run ended before they were ready)


def metric_values(facts: RunFacts) -> dict[str, tuple[float, str]]:
    """Metric name -> (value, unit) for a finished run; a phase the run never reached has no duration."""
    state = facts.state
    end = facts.ended_at
    values: dict[str, tuple[float, str]] = {
        "DeploymentSucceeded": (1 if facts.outcome == "Succeeded" else 0, "Count"),
        "DeploymentFailed": (0 if facts.outcome == "Succeeded" else 1, "Count"),
        "TotalSeconds": (max(0, end - state.started_at), "Seconds"),
        "GreensLost": (state.greens_lost, "Count"),
    }
    ready = state.greens_ready_at
    if ready is not None:
        values["GreenLaunchSeconds"] = (max(0, ready - state.started_at), "Seconds")
        values["DeploySeconds"] = (max(0, (state.bake_started_at or end) - ready), "Seconds")
        values["GreensLaunched"] = ((state.expected_greens or 0) + state.greens_lost, "Count")
    elif state.spot_deployment_id is not None:
        values["GreensLaunched"] = (facts.greens_seen + state.greens_lost, "Count")
    if state.bake_started_at is not None:
        values["BakeSeconds"] = (max(0, end - state.bake_started_at), "Seconds")
    return values


def emf_document(facts: RunFacts, *, namespace: str = DEFAULT_NAMESPACE) -> dict[str, Any] | None:
    """The EMF document for a finished run, or None if it could not be built (logged, never raised)."""
    try:
        from aws_lambda_powertools.metrics import EphemeralMetrics  # noqa: PLC0415 - deferred: off the cold start

        # service="" keeps Powertools from adding a "service" dimension from POWERTOOLS_SERVICE_NAME: the
        # dimension sets stay the same wherever the function runs, so alarms and dashboards find the metrics.
        metrics = EphemeralMetrics(namespace=namespace, service="")
        p = facts.params
        metrics.add_dimension(name="Application", value=p.application)
        metrics.add_dimension(name="DeploymentGroup", value=p.deployment_group)
        metrics.add_dimensions(Application=p.application, DeploymentGroup=p.deployment_group, Outcome=facts.outcome)
        for name, (value, unit) in metric_values(facts).items():
            metrics.add_metric(name=name, unit=unit, value=value)
        state = facts.state
        metrics.add_metadata(key="GreenIdentifier", value=state.green)
        for key, deployment_id in (
            ("SpotDeploymentId", state.spot_deployment_id),
            ("CodeDeployDeploymentId", state.codedeploy_deployment_id),
        ):
            if deployment_id:
                metrics.add_metadata(key=key, value=deployment_id)
        return dict(metrics.serialize_metric_set())
    except Exception as exc:  # noqa: BLE001 - metrics never fail a run
        logger.warning("Deployment metrics not emitted: %s: %s", type(exc).__name__, exc)
        return None
