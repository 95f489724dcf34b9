"""The policy grants every AWS operation the function performs, and nothing it never performs.

The operations come as `service:Operation` strings as botocore names them (`codedeploy:CreateDeployment`,
`secrets-manager:GetSecretValue`): the simulator records them over all end-to-end scenarios with a botocore event
hook on the boto3 session each handler is given (`bluegreen_sim.awscalls`, read by
`bluegreen_sim.recording.recorded_operations()`), keeping apart the calls signed with the pipeline's artifact
credentials. The mapping from operations to IAM actions is also tested on a hand-written list of the calls the
function makes.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

import pytest

from tests.packaging.helpers import all_actions

# The session fixture below runs every simulated scenario once (27 runs). On a loaded 2-core machine that took
# more than pytest-timeout's 300 s default (pyproject) and failed the file's first test with a timeout, not a
# finding; 900 s still ends a hung simulation.
pytestmark = pytest.mark.timeout(900)

# botocore service ids (hyphenised) whose IAM prefix differs.
IAM_PREFIXES = {
    "secrets-manager": "secretsmanager",
    "cloudwatch-logs": "logs",
    "codedeploy": "codedeploy",
    "codepipeline": "codepipeline",
}

# Operations that IAM authorises with other actions, or with more than their own.
IMPLIED_ACTIONS: dict[str, frozenset[str]] = {
    # CodeDeploy permissions reference: CreateDeployment also needs these three.
    "codedeploy:CreateDeployment": frozenset(
        {
            "codedeploy:CreateDeployment",
            "codedeploy:GetDeploymentConfig",
            "codedeploy:GetApplicationRevision",
            "codedeploy:RegisterApplicationRevision",
        }
    ),
    # HeadObject has no action of its own: it is GetObject, or GetObjectVersion for a pinned S3_VERSION (a
    # VersionId request), and without ListBucket a missing key answers 403 instead of 404.
    "s3:HeadObject": frozenset({"s3:GetObject", "s3:GetObjectVersion", "s3:ListBucket"}),
    # A secret or SecureString under a customer managed key is decrypted with the caller's kms:Decrypt.
    "secretsmanager:GetSecretValue": frozenset({"secretsmanager:GetSecretValue", "kms:Decrypt"}),
    "ssm:GetParameter": frozenset({"ssm:GetParameter", "kms:Decrypt"}),
}

# Not botocore calls of the function: the Lambda service writes the function's logs with its role.
RUNTIME_ACTIONS = frozenset({"logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"})

_OPERATION = re.compile(r"([a-z0-9-]+):([A-Z][A-Za-z0-9]+)")

# Every call the function makes over its scenarios: start (group check, idempotency lookup, revision
# preflight, deployment), polling, failure detail, cleanup, token sources, job results.
HAND_WRITTEN_OPERATIONS = [
    "codedeploy:GetDeploymentGroup",
    "codedeploy:ListDeployments",
    "codedeploy:BatchGetDeployments",
    "codedeploy:CreateDeployment",
    "codedeploy:GetDeployment",
    "codedeploy:ListDeploymentTargets",
    "codedeploy:BatchGetDeploymentTargets",
    "codedeploy:StopDeployment",
    "ec2:DescribeInstances",
    "ec2:DescribeInstanceStatus",
    "cloudwatch:DescribeAlarms",
    "s3:HeadObject",
    "secrets-manager:GetSecretValue",
    "ssm:GetParameter",
    "codepipeline:GetJobDetails",
    "codepipeline:GetPipelineExecution",
    "codepipeline:ListActionExecutions",
    "codepipeline:PutJobSuccessResult",
    "codepipeline:PutJobFailureResult",
]


def iam_action(operation: str) -> str:
    """The IAM action named like a botocore operation (`secrets-manager:GetSecretValue` -> `secretsmanager:...`).

    Raises:
        ValueError: not a `service:Operation` string.
    """
    match = _OPERATION.fullmatch(operation)
    if match is None:
        raise ValueError(f"expected 'service:Operation' as botocore names it, got {operation!r}")
    service, name = match.groups()
    return f"{IAM_PREFIXES.get(service, service)}:{name}"


def required_actions(operations: Iterable[str]) -> set[str]:
    """The IAM actions the function's role needs for these botocore operations (logs not included).

    Raises:
        ValueError: an operation is not a `service:Operation` string.
    """
    actions: set[str] = set()
    for operation in operations:
        action = iam_action(operation)
        actions |= IMPLIED_ACTIONS.get(action, frozenset({action}))
    return actions


def ungranted(policy: dict[str, Any], actions: Iterable[str]) -> set[str]:
    """The actions the policy does not grant (it names its actions without wildcards)."""
    return set(actions) - all_actions(policy)


def unused(policy: dict[str, Any], actions: Iterable[str]) -> set[str]:
    """The actions the policy grants that neither the operations nor the Lambda runtime need."""
    return all_actions(policy) - set(actions) - RUNTIME_ACTIONS


@pytest.fixture(scope="session")
def recorded_operations() -> set[str]:
    """Every operation the handler performed over the simulator's end-to-end scenarios."""
    try:
        from bluegreen_sim import recording
    except ImportError:
        pytest.skip("simulator not available: bluegreen_sim.recording cannot be imported")
    if not hasattr(recording, "recorded_operations"):
        pytest.skip("simulator not available: bluegreen_sim.recording has no recorded_operations()")
    operations = set(recording.recorded_operations())
    assert operations, "the simulator recorded no AWS operation"
    return operations


# --- the mapping ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("operation", "actions"),
    [
        ("ec2:DescribeInstances", {"ec2:DescribeInstances"}),
        ("codepipeline:PutJobFailureResult", {"codepipeline:PutJobFailureResult"}),
        (
            "codedeploy:CreateDeployment",
            {
                "codedeploy:CreateDeployment",
                "codedeploy:GetDeploymentConfig",
                "codedeploy:GetApplicationRevision",
                "codedeploy:RegisterApplicationRevision",
            },
        ),
        ("s3:HeadObject", {"s3:GetObject", "s3:GetObjectVersion", "s3:ListBucket"}),
        ("secrets-manager:GetSecretValue", {"secretsmanager:GetSecretValue", "kms:Decrypt"}),
        ("secretsmanager:GetSecretValue", {"secretsmanager:GetSecretValue", "kms:Decrypt"}),
        ("ssm:GetParameter", {"ssm:GetParameter", "kms:Decrypt"}),
    ],
)
def test_operation_maps_to_the_iam_actions_it_needs(operation, actions):
    assert required_actions([operation]) == actions


@pytest.mark.parametrize("operation", ["CreateDeployment", "codedeploy:create_deployment", "codedeploy:", ""])
def test_mapping_rejects_what_is_not_a_botocore_operation(operation):
    with pytest.raises(ValueError, match="service:Operation"):
        required_actions([operation])


def test_an_operation_outside_the_policy_is_reported(policy):
    assert ungranted(policy, required_actions(["iam:PassRole", "ec2:DescribeInstances"])) == {"iam:PassRole"}


def test_a_grant_no_operation_needs_is_reported(policy):
    needed = required_actions(op for op in HAND_WRITTEN_OPERATIONS if op != "codedeploy:StopDeployment")

    assert unused(policy, needed) == {"codedeploy:StopDeployment"}


# --- the policy against the calls ----------------------------------------------------------------------------


def test_policy_grants_every_hand_written_operation(policy):
    assert ungranted(policy, required_actions(HAND_WRITTEN_OPERATIONS) | RUNTIME_ACTIONS) == set()


def test_policy_grants_nothing_beyond_the_hand_written_operations(policy):
    assert unused(policy, required_actions(HAND_WRITTEN_OPERATIONS)) == set()


def test_policy_grants_every_recorded_operation(policy, recorded_operations):
    assert ungranted(policy, required_actions(recorded_operations)) == set()


def test_policy_grants_nothing_the_scenarios_never_use(policy, recorded_operations):
    assert unused(policy, required_actions(recorded_operations)) == set()


def test_recorded_operations_are_among_the_hand_written_ones(recorded_operations):
    """A new call shows up here first: add it to HAND_WRITTEN_OPERATIONS and to the policy."""
    normalised = {iam_action(op) for op in HAND_WRITTEN_OPERATIONS}

    assert {iam_action(op) for op in recorded_operations} - normalised == set()
