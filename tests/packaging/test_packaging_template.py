"""template.yaml: the SAM stack lints clean and grants what LambdaPolicyDefinition.json grants, narrowed."""

from __future__ import annotations

import json
import subprocess

import pytest

from bluegreen.handler import POLL_INTERVAL_RANGE
from tests.packaging.helpers import (
    TEMPLATE_FILE,
    actions_by_sid,
    all_actions,
    as_list,
    console_script,
    policy_statements,
)


def role_policy(template):
    policies = template["Resources"]["FunctionRole"]["Properties"]["Policies"]
    assert len(policies) == 1
    return policies[0]["PolicyDocument"]


def function_properties(template):
    function = template["Resources"]["Function"]
    assert function["Type"] == "AWS::Serverless::Function"
    return function["Properties"]


def test_cfn_lint_passes():
    completed = subprocess.run(  # noqa: S603 - the venv's own cfn-lint
        [console_script("cfn-lint"), str(TEMPLATE_FILE)], capture_output=True, text=True, check=False
    )

    assert completed.returncode == 0, completed.stdout + completed.stderr


def test_template_is_a_sam_template(template):
    assert template["Transform"] == "AWS::Serverless-2016-10-31"


def test_role_grants_the_same_actions_as_the_policy_file(template, policy):
    assert all_actions(role_policy(template)) == all_actions(policy)


def test_role_is_built_from_the_same_statements_as_the_policy_file(template, policy):
    assert actions_by_sid(role_policy(template)) == actions_by_sid(policy)


def test_role_uses_star_only_where_the_policy_file_does(template, policy):
    star_in_file = {s["Sid"] for s in policy_statements(policy) if as_list(s["Resource"]) == ["*"]}
    star_in_role = {s["Sid"] for s in policy_statements(role_policy(template)) if as_list(s["Resource"]) == ["*"]}

    assert star_in_role == star_in_file


@pytest.mark.parametrize(
    ("sid", "parameters"),
    [
        ("DeployToDeploymentGroup", {"ApplicationName", "DeploymentGroupName"}),
        ("RegisterApplicationRevisionForCreateDeployment", {"ApplicationName"}),
        ("CheckRevisionBundleInS3", {"RevisionBucketName"}),
        ("ListRevisionBucketSoMissingKeyIs404", {"RevisionBucketName"}),
        ("ReadSpotTokenFromParameterStore", {"SpotTokenParameterName"}),
        ("CreateFunctionLogGroup", {"FunctionName"}),
        ("WriteFunctionLogs", {"FunctionName"}),
    ],
)
def test_role_statements_are_narrowed_by_parameters(template, sid, parameters):
    statement = next(s for s in policy_statements(role_policy(template)) if s["Sid"] == sid)

    resource = statement["Resource"]["Fn::Sub"]
    assert all(f"${{{name}}}" in resource for name in parameters), resource
    assert "${AWS::Partition}" in resource


def test_secret_and_key_statements_name_the_parameters(template):
    statements = {s["Sid"]: s for s in policy_statements(role_policy(template))}

    # The signing key the stack creates, and the Spot token's secret when one is given.
    assert statements["ReadTokenKeyAndSpotTokenFromSecretsManager"]["Resource"] == [
        {"Ref": "TokenKeySecret"},
        {"Fn::If": ["HasSpotTokenSecret", {"Ref": "SpotTokenSecretArn"}, {"Ref": "AWS::NoValue"}]},
    ]
    assert statements["DecryptSpotTokenOnlyThroughSecretsManagerOrSsm"]["Resource"] == {"Ref": "SpotTokenKmsKeyArn"}


def test_optional_statements_are_conditional(template):
    statements = role_policy(template)["Statement"]
    conditions = {item["Fn::If"][0]: item["Fn::If"][1]["Sid"] for item in statements if "Fn::If" in item}

    # The Spot token's secret is an optional resource of the always-present secrets statement (see above).
    assert conditions.keys() >= {"HasSpotTokenParameter", "HasSpotTokenKmsKey"}
    assert set(template["Conditions"]) >= set(conditions)


def test_function_runs_the_packaged_handler(template):
    properties = function_properties(template)

    assert properties["Handler"] == "bluegreen.lambda_handler"
    assert properties["CodeUri"] == "lambda_package.zip"
    assert properties["Timeout"] == 900
    assert properties["MemorySize"] == 256
    assert properties["Runtime"] == {"Ref": "Runtime"}
    assert properties["Architectures"] == [{"Ref": "Architecture"}]
    assert properties["Role"] == {"Fn::GetAtt": ["FunctionRole", "Arn"]}


def test_runtime_and_architecture_parameters(template):
    parameters = template["Parameters"]

    assert sorted(parameters["Runtime"]["AllowedValues"]) == ["python3.12", "python3.13"]
    assert sorted(parameters["Architecture"]["AllowedValues"]) == ["arm64", "x86_64"]


def test_lambda_retries_an_async_invocation_twice_so_a_lost_report_is_made_again(template):
    assert function_properties(template)["EventInvokeConfig"]["MaximumRetryAttempts"] == 2


def test_environment_names_the_secret_only_when_given(template):
    variables = function_properties(template)["Environment"]["Variables"]

    assert variables["SPOT_API_TOKEN_SECRET"] == {
        "Fn::If": ["HasSpotTokenSecret", {"Ref": "SpotTokenSecretArn"}, {"Ref": "AWS::NoValue"}]
    }
    assert variables["BLUEGREEN_POLL_INTERVAL"] == {"Ref": "PollIntervalSeconds"}


def test_poll_interval_parameter_takes_the_range_the_function_accepts(template):
    parameter = template["Parameters"]["PollIntervalSeconds"]

    assert (parameter["MinValue"], parameter["MaxValue"]) == POLL_INTERVAL_RANGE
    assert "Spot is not polled" in parameter["Description"]


def test_the_stack_generates_the_token_signing_key_and_names_it_to_the_function(template):
    secret = template["Resources"]["TokenKeySecret"]

    assert secret["Type"] == "AWS::SecretsManager::Secret"
    assert secret["Properties"]["GenerateSecretString"]["PasswordLength"] >= 32
    variables = function_properties(template)["Environment"]["Variables"]
    assert variables["BLUEGREEN_TOKEN_KEY_SECRET"] == {"Ref": "TokenKeySecret"}


def test_log_group_is_the_functions_with_retention(template):
    log_group = template["Resources"]["FunctionLogGroup"]

    assert log_group["Type"] == "AWS::Logs::LogGroup"
    assert log_group["Properties"]["LogGroupName"] == {"Fn::Sub": "/aws/lambda/${FunctionName}"}
    assert log_group["Properties"]["RetentionInDays"] == {"Ref": "LogRetentionInDays"}
    assert function_properties(template)["FunctionName"] == {"Ref": "FunctionName"}


def test_outputs_give_function_arn_and_name(template):
    outputs = template["Outputs"]

    assert outputs["FunctionArn"]["Value"] == {"Fn::GetAtt": ["Function", "Arn"]}
    assert outputs["FunctionName"]["Value"] == {"Ref": "Function"}


def test_the_failed_deployment_alarm_and_dashboard_exist_only_when_asked_for(template):
    resources = template["Resources"]
    alarm, dashboard = resources["FailedDeploymentsAlarm"], resources["DeploymentsDashboard"]

    assert alarm["Condition"] == dashboard["Condition"] == "WantsFailedDeploymentAlarm"
    assert template["Parameters"]["FailedDeploymentAlarm"]["Default"] == "false"
    # The metric bluegreen/metrics.py emits, with its dimensions (tests/test_metrics.py checks the EMF line).
    properties = alarm["Properties"]
    assert (properties["Namespace"], properties["MetricName"]) == ("bluegreen", "DeploymentFailed")
    assert {d["Name"]: d["Value"] for d in properties["Dimensions"]} == {
        "Application": {"Ref": "ApplicationName"},
        "DeploymentGroup": {"Ref": "DeploymentGroupName"},
    }
    assert (properties["Statistic"], properties["Threshold"], properties["TreatMissingData"]) == (
        "Sum",
        1,
        "notBreaching",
    )
    body, names = dashboard["Properties"]["DashboardBody"]["Fn::Sub"]
    filled = body.replace("${AWS::Region}", "us-east-1")
    for name in names:
        filled = filled.replace(f"${{{name}}}", "x")
    widgets = json.loads(filled)["widgets"]
    shown = {m[1] for w in widgets for m in w["properties"]["metrics"]}
    assert shown == {"DeploymentSucceeded", "DeploymentFailed", "GreenLaunchSeconds", "DeploySeconds",
                     "BakeSeconds", "TotalSeconds"}  # fmt: skip


def test_codepipeline_state_changes_invoke_the_function_to_reclaim_runs(template):
    resources = template["Resources"]
    rule = resources["ReclaimRule"]["Properties"]
    pattern = rule["EventPattern"]

    assert pattern["source"] == ["aws.codepipeline"]
    assert set(pattern["detail-type"]) == {
        "CodePipeline Pipeline Execution State Change",
        "CodePipeline Action Execution State Change",
    }
    assert set(pattern["detail"]["state"]) >= {"STOPPED", "CANCELED", "SUPERSEDED", "FAILED", "ABANDONED"}
    assert "STARTED" not in pattern["detail"]["state"]
    assert rule["Targets"][0]["Arn"] == {"Fn::GetAtt": ["Function", "Arn"]}
    permission = resources["ReclaimRulePermission"]["Properties"]
    assert permission["Principal"] == "events.amazonaws.com"
    assert permission["SourceArn"] == {"Fn::GetAtt": ["ReclaimRule", "Arn"]}
