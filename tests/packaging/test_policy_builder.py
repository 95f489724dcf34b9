"""`bluegreen policy`: one builder for the shipped file, the printed policy and the SAM template's role."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import parliament
import pytest

from bluegreen.policy import PolicyScope, build_policy, render
from tests.packaging.helpers import POLICY_FILE, as_list, policy_statements
from tests.packaging.test_packaging_template import role_policy

ACCOUNT = "111122223333"
REGION = "eu-west-1"
SCOPABLE_SIDS = {
    "DeployToDeploymentGroup",
    "ReadDeploymentConfigForCreateDeployment",
    "RegisterApplicationRevisionForCreateDeployment",
    "CheckRevisionBundleInS3",
    "ListRevisionBucketSoMissingKeyIs404",
    "ReadTokenKeyAndSpotTokenFromSecretsManager",
    "ReadSpotTokenFromParameterStore",
    "DecryptSpotTokenOnlyThroughSecretsManagerOrSsm",
    "CreateFunctionLogGroup",
    "WriteFunctionLogs",
}


def run_command(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603 - this interpreter, our own module
        [sys.executable, "-m", "bluegreen.policy", *args], capture_output=True, text=True, check=False
    )


def printed_policy(*args: str) -> dict[str, Any]:
    completed = run_command(*args)
    assert completed.returncode == 0, completed.stderr
    document = json.loads(completed.stdout)
    assert isinstance(document, dict)
    return document


def parliament_findings(document: dict[str, Any]) -> list[tuple[str, Any]]:
    analysed = parliament.analyze_policy_string(json.dumps(document), include_community_auditors=True)
    return [(f.issue, f.detail) for f in analysed.findings]


def statements_by_sid(document: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {s["Sid"]: s for s in policy_statements(document)}


# --- the shipped file --------------------------------------------------------------------------------------


def test_shipped_file_is_the_builder_with_placeholders():
    """To add an action: edit bluegreen/policy.py, then
    `python -m bluegreen.policy --placeholders > LambdaPolicyDefinition.json`, and the template's statement."""
    assert POLICY_FILE.read_text() == render(build_policy(PolicyScope.placeholders()))


@pytest.mark.parametrize(
    ("sid", "placeholder"),
    [
        ("DeployToDeploymentGroup", "deploymentgroup:APP_NAME/DEPLOYMENT_GROUP"),
        ("RegisterApplicationRevisionForCreateDeployment", "application:APP_NAME"),
        ("CheckRevisionBundleInS3", "REVISION_BUCKET/*"),
        ("ListRevisionBucketSoMissingKeyIs404", "REVISION_BUCKET"),
        ("ReadTokenKeyAndSpotTokenFromSecretsManager", "secret:SPOT_TOKEN_SECRET_NAME-??????"),
        ("ReadTokenKeyAndSpotTokenFromSecretsManager", "secret:TOKEN_KEY_SECRET_NAME-??????"),
        ("ReadSpotTokenFromParameterStore", "parameter/SPOT_TOKEN_PARAMETER_NAME"),
        ("DecryptSpotTokenOnlyThroughSecretsManagerOrSsm", "key/KMS_KEY_ID"),
        ("WriteFunctionLogs", "/aws/lambda/FUNCTION_NAME:"),
    ],
)
def test_shipped_file_names_each_resource_by_a_placeholder(policy, sid, placeholder):
    assert any(placeholder in resource for resource in as_list(statements_by_sid(policy)[sid]["Resource"]))


def test_shipped_file_grants_no_name_wildcard(policy):
    """Only the region and account are left as `*` (to fill in); no statement reaches every group or bucket."""
    for sid in SCOPABLE_SIDS - {"ReadDeploymentConfigForCreateDeployment", "WriteFunctionLogs"}:
        for resource in as_list(statements_by_sid(policy)[sid]["Resource"]):
            assert not resource.endswith((":*", "/*/*", ":::*", "/*")) or sid == "CheckRevisionBundleInS3", resource


# --- the printed policy ------------------------------------------------------------------------------------


def test_command_scopes_every_statement_to_the_names_given():
    document = printed_policy(
        "--app", "Shop", "--deployment-group", "Prod", "--bucket", "shop-revisions", "--secret", "spot/token",
        "--kms-key", f"arn:aws:kms:{REGION}:{ACCOUNT}:key/0f0e", "--region", REGION, "--account", ACCOUNT,
        "--function-name", "shop-bluegreen",
    )  # fmt: skip
    resources = {sid: s["Resource"] for sid, s in statements_by_sid(document).items()}

    assert resources["DeployToDeploymentGroup"] == f"arn:aws:codedeploy:{REGION}:{ACCOUNT}:deploymentgroup:Shop/Prod"
    assert resources["RegisterApplicationRevisionForCreateDeployment"] == (
        f"arn:aws:codedeploy:{REGION}:{ACCOUNT}:application:Shop"
    )
    assert resources["CheckRevisionBundleInS3"] == "arn:aws:s3:::shop-revisions/*"
    assert resources["ListRevisionBucketSoMissingKeyIs404"] == "arn:aws:s3:::shop-revisions"
    assert resources["ReadTokenKeyAndSpotTokenFromSecretsManager"] == [
        f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:bluegreen/token-key-??????",
        f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:spot/token-??????",
    ]
    assert resources["DecryptSpotTokenOnlyThroughSecretsManagerOrSsm"] == f"arn:aws:kms:{REGION}:{ACCOUNT}:key/0f0e"
    assert resources["WriteFunctionLogs"] == (
        f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:/aws/lambda/shop-bluegreen:log-stream:*"
    )
    assert "ReadSpotTokenFromParameterStore" not in resources
    assert resources["DeployToDeploymentGroup"] != "*"
    decrypt = statements_by_sid(document)["DecryptSpotTokenOnlyThroughSecretsManagerOrSsm"]
    assert decrypt["Condition"] == {
        "StringEquals": {"kms:ViaService": [f"secretsmanager.{REGION}.amazonaws.com", f"ssm.{REGION}.amazonaws.com"]}
    }


def test_command_leaves_out_what_is_not_named():
    document = printed_policy("--app", "Shop", "--deployment-group", "Prod", "--region", REGION, "--account", ACCOUNT)
    sids = set(statements_by_sid(document))

    assert not sids & {
        "CheckRevisionBundleInS3",
        "ListRevisionBucketSoMissingKeyIs404",
        "ReadSpotTokenFromParameterStore",
        "DecryptSpotTokenOnlyThroughSecretsManagerOrSsm",
    }
    # Only the continuation tokens' signing key remains readable.
    assert statements_by_sid(document)["ReadTokenKeyAndSpotTokenFromSecretsManager"]["Resource"] == [
        f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:bluegreen/token-key-??????"
    ]


def test_command_keeps_a_full_secret_arn_and_a_parameter_path():
    arn = f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:spot-AbC123"
    with_secret = printed_policy("--app", "A", "--deployment-group", "G", "--secret", arn, "--region", REGION)
    with_parameter = printed_policy("--app", "A", "--deployment-group", "G", "--parameter", "/spot/token")

    assert statements_by_sid(with_secret)["ReadTokenKeyAndSpotTokenFromSecretsManager"]["Resource"][1] == arn
    assert statements_by_sid(with_parameter)["ReadSpotTokenFromParameterStore"]["Resource"].endswith(
        ":parameter/spot/token"
    )


@pytest.mark.parametrize(
    "extra",
    [
        [],
        ["--bucket", "shop-revisions", "--secret", "spot"],
        ["--parameter", "/spot/token", "--kms-key", f"arn:aws:kms:{REGION}:{ACCOUNT}:key/0f0e"],
    ],
)
def test_printed_policy_is_clean_for_parliament(extra):
    document = printed_policy(
        "--app", "Shop", "--deployment-group", "Prod", "--region", REGION, "--account", ACCOUNT, *extra
    )

    assert parliament_findings(document) == []


def test_command_says_to_replace_the_region_and_account_it_was_not_given():
    completed = run_command("--app", "Shop", "--deployment-group", "Prod")

    assert completed.returncode == 0
    assert ":REGION:ACCOUNT_ID:" in completed.stdout
    assert "replace the placeholders of --region and --account" in completed.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--deployment-group", "G"], "--app: required"),
        (["--app", "A", "--deployment-group", "G", "--account", "12"], "--account: expected a 12-digit AWS account id"),
        (["--app", "A", "--deployment-group", "G", "--region", "Mars"], "--region: expected an AWS region"),
        (["--app", "My App", "--deployment-group", "G"], "--app: expected a CodeDeploy application name"),
        (["--app", "A", "--deployment-group", "G", "--bucket", "Bad_Bucket"], "--bucket: expected an S3 bucket name"),
        (
            ["--app", "A", "--deployment-group", "G", "--kms-key", "arn:aws:kms:eu-west-1:111122223333:key/x"],
            "--kms-key: only needed",
        ),
    ],
)
def test_command_refuses_a_malformed_value_naming_the_option(args, message):
    completed = run_command(*args)

    assert completed.returncode == 2
    assert message in completed.stderr
    assert completed.stdout == ""


def test_policy_module_needs_neither_the_simulator_nor_the_dev_tools():
    probe = (
        "import sys, bluegreen.policy; "
        "print(sorted(m for m in ('moto', 'bluegreen_sim', 'parliament') if m in sys.modules))"
    )
    completed = subprocess.run(  # noqa: S603
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    )

    assert completed.stdout.strip() == "[]"


def test_bluegreen_command_prints_the_policy(capsys):
    from bluegreen_sim.cli import main

    code = main(["policy", "--app", "Shop", "--deployment-group", "Prod", "--region", REGION, "--account", ACCOUNT])

    assert code == 0
    document = json.loads(capsys.readouterr().out)
    assert statements_by_sid(document)["DeployToDeploymentGroup"]["Resource"].endswith(":deploymentgroup:Shop/Prod")


def test_bluegreen_command_refuses_what_the_policy_does_not_take(capsys):
    from bluegreen_sim.cli import main

    code = main(["policy", "--app", "Shop", "--deployment-group", "Prod", "--account", "12"])

    assert code == 2
    assert "--account: expected a 12-digit AWS account id" in capsys.readouterr().err


# --- the SAM template --------------------------------------------------------------------------------------

_PSEUDO = {"AWS::Partition": "aws", "AWS::Region": REGION, "AWS::AccountId": ACCOUNT}


def resolve(node: Any, parameters: dict[str, str], conditions: dict[str, Any]) -> Any:
    """The value CloudFormation gives `node` for these parameters (the intrinsics template.yaml uses)."""
    if isinstance(node, list):
        return [v for v in (resolve(item, parameters, conditions) for item in node) if v is not _NO_VALUE]
    if not isinstance(node, dict):
        return node
    if "Ref" in node:
        name = node["Ref"]
        return _NO_VALUE if name == "AWS::NoValue" else {**_PSEUDO, **parameters}[name]
    if "Fn::Sub" in node:
        text = node["Fn::Sub"]
        for name, value in {**_PSEUDO, **parameters}.items():
            text = text.replace(f"${{{name}}}", value)
        assert "${" not in text, text
        return text
    if "Fn::If" in node:
        name, then, otherwise = node["Fn::If"]
        chosen = then if resolve(conditions[name], parameters, conditions) else otherwise
        return resolve(chosen, parameters, conditions)
    if "Fn::Not" in node:
        return not resolve(node["Fn::Not"][0], parameters, conditions)
    if "Fn::Equals" in node:
        left, right = (resolve(v, parameters, conditions) for v in node["Fn::Equals"])
        return left == right
    return {k: v for k, v in ((k, resolve(v, parameters, conditions)) for k, v in node.items()) if v is not _NO_VALUE}


_NO_VALUE = object()

_KEY = f"arn:aws:kms:{REGION}:{ACCOUNT}:key/0f0e"
_SECRET = f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:spot-AbC123"
_TOKEN_KEY = f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:TokenKeySecret-XyZ789"


@pytest.mark.parametrize(
    ("parameters", "scope"),
    [
        ({}, {}),
        ({"RevisionBucketName": "shop-revisions"}, {"bucket": "shop-revisions"}),
        ({"SpotTokenSecretArn": _SECRET, "SpotTokenKmsKeyArn": _KEY}, {"secret_arn": _SECRET, "kms_key_arn": _KEY}),
        ({"SpotTokenParameterName": "/spot/token"}, {"parameter": "/spot/token"}),
        ({"PipelineName": "shop-release"}, {"pipeline": "shop-release"}),
    ],
    ids=["minimal", "bucket", "secret-and-key", "parameter", "pipeline"],
)
def test_template_builds_the_same_policy_as_the_command(template, parameters, scope):
    given = {
        "FunctionName": "shop-bluegreen",
        "ApplicationName": "Shop",
        "DeploymentGroupName": "Prod",
        "RevisionBucketName": "",
        "SpotTokenSecretArn": "",
        "SpotTokenParameterName": "",
        "SpotTokenKmsKeyArn": "",
        "TokenKeySecret": _TOKEN_KEY,  # what !Ref gives for the secret the stack creates: its ARN
        "PipelineName": "*",
        **parameters,
    }
    expected = build_policy(
        PolicyScope(
            application="Shop",
            deployment_group="Prod",
            region=REGION,
            account=ACCOUNT,
            function_name="shop-bluegreen",
            token_key_secret_arn=_TOKEN_KEY,
            **scope,
        )
    )

    built = resolve(role_policy(template), given, template["Conditions"])

    assert _normalised(built) == _normalised(expected)


def _normalised(document: dict[str, Any]) -> list[dict[str, Any]]:
    def one(statement: dict[str, Any]) -> dict[str, Any]:
        return {**statement, "Action": sorted(as_list(statement["Action"])), "Resource": as_list(statement["Resource"])}

    return sorted((one(s) for s in document["Statement"]), key=lambda s: s["Sid"])


def test_the_health_gate_reads_every_alarm_unless_the_command_names_them():
    every = printed_policy("--app", "Shop", "--deployment-group", "Prod", "--region", REGION, "--account", ACCOUNT)
    named = printed_policy(
        "--app", "Shop", "--deployment-group", "Prod", "--region", REGION, "--account", ACCOUNT,
        "--alarm", "shop-5xx", "--alarm", "shop p99",
    )  # fmt: skip

    assert statements_by_sid(every)["ReadHealthGateAlarms"]["Resource"] == (
        f"arn:aws:cloudwatch:{REGION}:{ACCOUNT}:alarm:*"
    )
    assert statements_by_sid(named)["ReadHealthGateAlarms"]["Resource"] == [
        f"arn:aws:cloudwatch:{REGION}:{ACCOUNT}:alarm:shop-5xx",
        f"arn:aws:cloudwatch:{REGION}:{ACCOUNT}:alarm:shop p99",
    ]
    assert statements_by_sid(named)["ReadHealthGateAlarms"]["Action"] == "cloudwatch:DescribeAlarms"


def test_command_scopes_reclaim_reads_to_the_pipeline_named():
    document = printed_policy(
        "--app", "Shop", "--deployment-group", "Prod", "--pipeline", "shop-release", "--region", REGION,
        "--account", ACCOUNT,
    )  # fmt: skip
    statement = statements_by_sid(document)["AskWhetherThePipelineStillWaitsForTheRun"]

    assert statement["Resource"] == f"arn:aws:codepipeline:{REGION}:{ACCOUNT}:shop-release"
    assert sorted(statement["Action"]) == ["codepipeline:GetPipelineExecution", "codepipeline:ListActionExecutions"]
