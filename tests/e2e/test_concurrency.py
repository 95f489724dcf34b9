"""Many pipelines at once on one simulated cloud, under Spot's per route+method rate limit (issue 6).

Two variants share the tests: "wide" is the issue's 50 deployments with 60 calls per 60 s per route+method
(more than a minute of wall time, so marked slow); "tight" is 30 deployments with 20 calls per 60 s, which
forces 429s. Every pipeline has its own Elastigroup, CodeDeploy application and group and Lambda container;
they share one Spot token, so one budget per route+method. The figures are printed (`-s`), attached to the
test report as properties, and written to $BLUEGREEN_FIGURES_DIR/concurrency-<variant>.json when it is set.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from bluegreen_sim.concurrency import ConcurrencyResult, run_concurrent_pipelines

VARIANTS = {
    "wide": {"n": 50, "budget": 60, "instances": 4},
    "tight": {"n": 30, "budget": 20, "instances": 2},
}
_cache: dict[str, ConcurrencyResult] = {}

PARAMS = [
    pytest.param("wide", marks=pytest.mark.slow, id="wide-50x60"),
    pytest.param("tight", id="tight-30x20"),
]


def result_of(variant: str) -> ConcurrencyResult:
    if variant not in _cache:
        spec = VARIANTS[variant]
        result = _cache[variant] = run_concurrent_pipelines(spec["n"], spec["budget"], instances=spec["instances"])
        _publish(variant, result)
    return _cache[variant]


def _publish(variant: str, result: ConcurrencyResult) -> None:
    figures = {"variant": variant, **result.figures()}
    print(f"\nconcurrency figures ({variant}): {json.dumps(figures, indent=2)}")  # noqa: T201 - shown with -s
    directory = os.environ.get("BLUEGREEN_FIGURES_DIR")
    if directory:
        Path(directory).mkdir(parents=True, exist_ok=True)
        (Path(directory) / f"concurrency-{variant}.json").write_text(json.dumps(figures, indent=2) + "\n")


@pytest.mark.parametrize("variant", PARAMS)
def test_every_deployment_succeeds_with_exactly_one_final_report(variant, record_property):
    result = result_of(variant)
    for name, value in result.figures().items():
        record_property(name, json.dumps(value) if isinstance(value, dict) else value)
    assert result.deployments == VARIANTS[variant]["n"]
    assert len(result.pipelines) == result.deployments
    failed = {p.name: (p.outcome, p.final_message) for p in result.pipelines if p.outcome != "Succeeded"}
    assert not failed
    assert [p.final_reports for p in result.pipelines] == [1] * result.deployments
    assert not any(p.rejected_reports for p in result.pipelines)
    assert result.spot_deployments_started == result.deployments


@pytest.mark.parametrize("variant", PARAMS)
def test_no_429_surfaces_as_a_failure(variant):
    result = result_of(variant)
    assert result.figures()["spot_429s_surfaced_as_failure"] == 0
    assert not any(p.raised for p in result.pipelines)
    assert result.spot_429s_absorbed == result.spot_429s


@pytest.mark.parametrize("variant", PARAMS)
def test_spot_calls_stay_within_the_budget_in_every_window(variant):
    result = result_of(variant)
    assert result.spot_log
    assert set(result.busiest_window) == {e.route for e in result.spot_log if e.counted}
    over = {route: calls for route, calls in result.busiest_window.items() if calls > result.budget}
    assert not over


@pytest.mark.parametrize("variant", PARAMS)
def test_no_green_is_left_behind_and_the_blues_are_retired(variant):
    result = result_of(variant)
    for p in result.pipelines:
        assert (p.blues_left_running, p.greens_left_running, p.greens_serving) == (0, 0, p.instances), p.name


@pytest.mark.parametrize("variant", PARAMS)
def test_canary_token_never_appears_in_logs(variant):
    result = result_of(variant)
    text = "\n".join(line for p in result.pipelines for line in p.log_lines)
    assert result.canaries
    for secret in result.canaries:
        assert secret not in text


def test_tight_budget_forces_429s_that_are_absorbed_after_the_reset():
    result = result_of("tight")
    throttled = [e for e in result.spot_log if e.status == 429]
    assert throttled
    for call in throttled:
        later = [e for e in result.spot_log if (e.group, e.route) == (call.group, call.route) and e.at > call.at]
        assert later, f"{call.route} for {call.group} was never retried"
        assert later[0].at >= call.at + (call.reset or 0)
        assert later[-1].status == 200
    assert result.spot_429s_absorbed == len(throttled)
    assert result.succeeded == result.deployments
