"""Deployment metrics (issue 14): one EMF document per finished run on the log stream, never failing the run."""

from __future__ import annotations

import json
from typing import Any

import pytest

from bluegreen.metrics import RunFacts, emf_document
from bluegreen.params import validate_parameters
from bluegreen.state import RunState
from tests.conftest import Cloud, user_parameters
from tests.fakes.codedeploy import Script


def _emf_documents(cloud: Cloud) -> list[dict[str, Any]]:
    documents = []
    for line in cloud.logs.splitlines():
        record = json.loads(line)
        if "_aws" in record:
            documents.append(record)
    return documents


def _values(document: dict[str, Any]) -> dict[str, float]:
    """Metric name -> value (Powertools writes each value as a list of the values added)."""
    names = [m["Name"] for m in document["_aws"]["CloudWatchMetrics"][0]["Metrics"]]
    values = {}
    for name in names:
        [value] = document[name]
        values[name] = value
    return values


def test_a_successful_run_emits_one_emf_document_with_phase_durations_and_the_outcome(cloud: Cloud) -> None:
    cloud.spot.launch_delay = 250

    report = cloud.run_pipeline(cloud.params(BAKE_TIME=60), budget=120)

    assert report.kind == "success"
    [document] = _emf_documents(cloud)  # once per run, not once per invocation
    directive = document["_aws"]["CloudWatchMetrics"][0]
    assert directive["Namespace"] == "bluegreen"
    assert directive["Dimensions"] == [
        ["Application", "DeploymentGroup"],
        ["Application", "DeploymentGroup", "Outcome"],
    ]
    assert (document["Application"], document["DeploymentGroup"], document["Outcome"]) == ("App", "DG", "Succeeded")
    names = {m["Name"]: m["Unit"] for m in directive["Metrics"]}
    assert names == {
        "DeploymentSucceeded": "Count",
        "DeploymentFailed": "Count",
        "TotalSeconds": "Seconds",
        "GreenLaunchSeconds": "Seconds",
        "DeploySeconds": "Seconds",
        "BakeSeconds": "Seconds",
        "GreensLaunched": "Count",
        "GreensLost": "Count",
    }
    values = _values(document)
    assert (values["DeploymentSucceeded"], values["DeploymentFailed"]) == (1, 0)
    assert values["GreenLaunchSeconds"] >= 250
    assert values["DeploySeconds"] >= cloud.codedeploy.script.duration
    assert values["BakeSeconds"] >= 60
    assert values["TotalSeconds"] >= values["GreenLaunchSeconds"] + values["DeploySeconds"] + 60
    assert (values["GreensLaunched"], values["GreensLost"]) == (cloud.spot.capacity, 0)
    assert document["GreenIdentifier"] == cloud.spot.deployments[0].green


def test_a_failed_run_emits_its_failure_type_as_the_outcome(cloud: Cloud) -> None:
    cloud.codedeploy.script = Script(outcome="Failed")

    report = cloud.run_pipeline(cloud.params())

    assert report.kind == "failure"
    [document] = _emf_documents(cloud)
    assert document["Outcome"] == "JobFailed"
    values = _values(document)
    assert (values["DeploymentSucceeded"], values["DeploymentFailed"]) == (0, 1)
    assert "BakeSeconds" not in values


def test_a_dry_run_emits_no_metrics(cloud: Cloud) -> None:
    cloud.run_pipeline(cloud.params(DRY_RUN=True))

    assert _emf_documents(cloud) == []


def test_the_namespace_comes_from_powertools_metrics_namespace(cloud: Cloud) -> None:
    cloud.environ["POWERTOOLS_METRICS_NAMESPACE"] = "Acme/Deployments"

    cloud.run_pipeline(cloud.params())

    [document] = _emf_documents(cloud)
    assert document["_aws"]["CloudWatchMetrics"][0]["Namespace"] == "Acme/Deployments"


def test_a_document_that_cannot_be_built_is_dropped_with_a_warning(caplog: pytest.LogCaptureFixture) -> None:
    params = validate_parameters(user_parameters())
    state = RunState("WAIT_DEPLOY", "green", "f", started_at=100, deadline=1000, greens_lost=-1)
    facts = RunFacts(params, state, "Succeeded", ended_at=200, greens_seen=0)

    # CloudWatch's EMF rejects nothing here, but Powertools refuses a metric value that is not a number.
    broken = RunFacts(params, state.advance(started_at="soon"), "Succeeded", ended_at=200, greens_seen=0)  # type: ignore[arg-type]

    assert emf_document(facts) is not None
    assert emf_document(broken) is None
    assert "Deployment metrics not emitted" in caplog.text
