"""The benchmark script keeps working: `benchmarks/run.py --quick --json` reports every figure as a number.

No timing is asserted: machines are noisy and the figures are reported, not judged, here.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

EXPECTED = [
    "cold_start.import_bluegreen_ms",
    "cold_start.ratio_to_boto3_requests",
    "cold_start.import_boto3_ms",
    "cold_start.import_bluegreen_boto3_ms",
    "cold_start.powertools_adds_ms",
    "cold_start.own_modules_add_ms",
    "cold_start.cpu_ratio_to_boto3_requests",
    "importtime.bluegreen_ms",
    "importtime.requests_ms",
    "first_invocation.wall_ms",
    "first_invocation.cpu_ms",
    "first_invocation.waiting_ms",
    "first_invocation.own_cpu_ms",
    "first_invocation.warm_cpu_ms",
    "first_invocation.client_floor_cpu_ms",
    "package.default.compressed_mb",
    "package.default.unpacked_mb",
    "package.default.entries",
    "package.bundle_boto3.compressed_mb",
    "package.bundle_boto3.unpacked_mb",
    "package.bundle_boto3.entries",
    "api.spot_calls",
    "api.ec2_calls",
    "api.codedeploy_calls",
    "api.codepipeline_calls",
    "api.lambda_invocations",
    "api.happy_10min.spot_calls",
    "api.happy_30min.spot_calls",
    "api.slow_launch_10min.spot_calls",
    "api.poll.wait_green.ec2.max",
    "api.poll.wait_deploy.codedeploy.max",
    "api.poll.wait_deploy.spot.max",
    "reaction.10min.codedeploy_final_to_report_s",
    "reaction.10min.greens_ready_to_create_s",
]


def _number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def test_quick_benchmark_reports_every_figure_as_a_number():
    done = subprocess.run(  # noqa: S603 - our own script, with this interpreter
        [sys.executable, str(ROOT / "benchmarks" / "run.py"), "--quick", "--json"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=280,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    doc = json.loads(done.stdout)
    figures = {f["id"]: f for f in doc["figures"]}
    assert sorted(set(EXPECTED) - set(figures)) == []
    for figure in doc["figures"]:
        assert _number(figure["value"]), figure
        assert figure["floor"] is None or _number(figure["floor"]), figure
    assert doc["machine"]["python"]
