"""The AWS operations the handler performs, recorded over the simulator's end-to-end runs.

Owns `recorded_operations()`, which the IAM policy coverage test reads: every scenario once, plus the
GitHub revision and the two secret token sources, each on a fresh simulated cloud, as fast as possible.
The names are "service:Operation" as botocore names the operations, under IAM service prefixes
("codedeploy:CreateDeployment", "s3:HeadObject", "secretsmanager:GetSecretValue"), and only the handler's
own calls with its role: they are recorded on the boto3 session each handler is given (bluegreen_sim/awscalls.py),
so the simulator's setup is never seen, and the calls signed with the pipeline's artifact credentials are kept
apart (the role needs no permission for them).
"""

from __future__ import annotations

from functools import cache

from bluegreen_sim.runner import run_scenario
from bluegreen_sim.scenarios import SCENARIOS

EXTRA_RUNS: tuple[dict[str, str], ...] = (
    {"revision": "s3"},  # the scenarios deploy input artifacts, read with the pipeline's credentials, not the role
    {"revision": "github"},
    {"token_source": "secret"},
    {"token_source": "parameter"},
)


@cache
def recorded_operations() -> frozenset[str]:
    """Union of the handler's AWS operations over every scenario and the extra variants."""
    operations: set[str] = set()
    for name in SCENARIOS:
        operations |= run_scenario(name).aws_operations
    for extra in EXTRA_RUNS:
        operations |= run_scenario("happy", **extra).aws_operations  # type: ignore[arg-type]
    return frozenset(operations)
