"""LambdaPolicyDefinition.json: least privilege, each action scoped as far as IAM allows, lint-clean."""

from __future__ import annotations

import json
import subprocess
from functools import cache
from pathlib import Path
from typing import Any

import parliament
import pytest

from tests.packaging.helpers import POLICY_FILE, all_actions, as_list, console_script, policy_statements

EXPECTED_ACTIONS = {
    "codepipeline:GetJobDetails",
    "codepipeline:GetPipelineExecution",
    "codepipeline:ListActionExecutions",
    "codepipeline:PutJobSuccessResult",
    "codepipeline:PutJobFailureResult",
    "codedeploy:GetDeploymentGroup",
    "codedeploy:ListDeployments",
    "codedeploy:BatchGetDeployments",
    "codedeploy:CreateDeployment",
    "codedeploy:GetDeployment",
    "codedeploy:StopDeployment",
    "codedeploy:ListDeploymentTargets",
    "codedeploy:BatchGetDeploymentTargets",
    "codedeploy:GetDeploymentConfig",
    "codedeploy:GetApplicationRevision",
    "codedeploy:RegisterApplicationRevision",
    "ec2:DescribeInstances",
    "ec2:DescribeInstanceStatus",
    "cloudwatch:DescribeAlarms",
    "s3:GetObject",
    "s3:GetObjectVersion",
    "s3:ListBucket",
    "secretsmanager:GetSecretValue",
    "ssm:GetParameter",
    "kms:Decrypt",
    "logs:CreateLogGroup",
    "logs:CreateLogStream",
    "logs:PutLogEvents",
}


@cache
def iam_definitions() -> list[dict[str, Any]]:
    return json.loads((Path(parliament.__file__).parent / "iam_definition.json").read_text())


def iam_resource_types(action: str) -> set[str]:
    """Resource types IAM accepts for an action, from parliament's copy of the service authorization reference.

    An empty set means the action supports no resource-level permissions (Resource must be "*").
    """
    prefix, name = action.split(":")
    service = next(s for s in iam_definitions() if s["prefix"] == prefix)
    privilege = next(p for p in service["privileges"] if p["privilege"] == name)
    return {r["resource_type"].rstrip("*") for r in privilege["resource_types"]} - {""}


def test_policy_is_a_2012_10_17_document_of_allow_statements(policy):
    assert policy["Version"] == "2012-10-17"
    assert {s["Effect"] for s in policy_statements(policy)} == {"Allow"}


def test_every_statement_has_a_unique_sid(policy):
    sids = [s.get("Sid") for s in policy_statements(policy)]

    assert all(sids)
    assert len(sids) == len(set(sids))


def test_no_action_is_a_wildcard(policy):
    assert [a for a in all_actions(policy) if "*" in a] == []


def test_policy_grants_exactly_the_actions_the_function_needs(policy):
    assert all_actions(policy) == EXPECTED_ACTIONS


def test_each_action_is_granted_once(policy):
    granted = [a for s in policy_statements(policy) for a in as_list(s["Action"])]

    assert len(granted) == len(set(granted))


@pytest.mark.parametrize("action", sorted(EXPECTED_ACTIONS))
def test_resource_is_star_exactly_when_iam_cannot_scope_the_action(policy, action):
    statement = next(s for s in policy_statements(policy) if action in as_list(s["Action"]))
    resources = as_list(statement["Resource"])

    if iam_resource_types(action):
        assert "*" not in resources, f"{action} can be scoped to {iam_resource_types(action)}"
    else:
        assert resources == ["*"]


def test_kms_decrypt_only_through_secrets_manager_or_ssm(policy):
    statement = next(s for s in policy_statements(policy) if "kms:Decrypt" in as_list(s["Action"]))

    services = statement["Condition"]["StringLike"]["kms:ViaService"]
    assert sorted(services) == ["secretsmanager.*.amazonaws.com", "ssm.*.amazonaws.com"]


def test_logs_are_limited_to_lambda_log_groups(policy):
    for statement in policy_statements(policy):
        if any(a.startswith("logs:") for a in as_list(statement["Action"])):
            assert all(r.startswith("arn:aws:logs:*:*:log-group:/aws/lambda/") for r in as_list(statement["Resource"]))


def test_parliament_finds_nothing_through_its_api():
    policy = parliament.analyze_policy_string(
        POLICY_FILE.read_text(), filepath=str(POLICY_FILE), include_community_auditors=True
    )

    assert [(f.issue, f.detail) for f in policy.findings] == []


def test_parliament_cli_finds_nothing():
    # --files, not --file: parliament refuses --file whenever stdin is not a terminal, as under pytest.
    completed = subprocess.run(  # noqa: S603 - the venv's own parliament
        [
            console_script("parliament"),
            "--minimum_severity",
            "INFO",
            "--include-community-auditors",
            "--files",
            str(POLICY_FILE),
        ],
        capture_output=True,
        text=True,
        check=False,
        stdin=subprocess.DEVNULL,
    )

    assert (completed.returncode, completed.stdout) == (0, ""), completed.stderr
