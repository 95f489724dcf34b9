"""docs/deploy.md: the Deploy guide names the real files, handler and settings, and its snippets parse."""

from __future__ import annotations

import json
import re

import botocore.session
import pytest
import yaml
from botocore.validate import ParamValidator

import build_zip
from tests.packaging.helpers import ROOT, load_template

DEPLOY = ROOT / "docs" / "deploy.md"


def guide() -> str:
    return DEPLOY.read_text()


def code_blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", guide(), flags=re.DOTALL)


@pytest.mark.parametrize(
    "needle",
    [
        "python build_zip.py",
        "--bundle-boto3",
        "lambda_package.zip",
        "LambdaPolicyDefinition.json",
        "bluegreen.lambda_handler",
        "Python 3.12",
        "15 min",
        "Retry attempts **2**",
        "sam deploy --template-file template.yaml",
        "aws cloudformation package",
        "aws cloudformation deploy",
        "lambda:InvokeFunction",
        "GreenIdentifier",
        "SpotDeploymentId",
        "CodeDeployDeploymentId",
        "DeployedRevision",
        "SourceRevision",
        "REVISION_ARTIFACT",
        "artifactCredentials",
        "kms:Decrypt",
        "UserParameters",
        "events/console-test.json",
    ],
)
def test_guide_mentions(needle):
    assert needle in guide()


def test_every_template_parameter_is_documented():
    documented = set(re.findall(r"^\| `(\w+)`", guide(), flags=re.MULTILINE))
    documented |= {name for row in re.findall(r"^\| `(\w+)`, `(\w+)`", guide(), flags=re.MULTILINE) for name in row}

    assert set(load_template()["Parameters"]) - documented == set()


def test_json_snippets_parse_and_the_pipeline_action_has_valid_user_parameters():
    blocks = [json.loads(block) for block in code_blocks("json")]
    action = next(b for b in blocks if "actions" in b)["actions"][0]

    assert action["actionTypeId"] == {"category": "Invoke", "owner": "AWS", "provider": "Lambda", "version": "1"}
    assert action["namespace"]
    parameters = json.loads(action["configuration"]["UserParameters"])
    assert {"ACCOUNT_ID", "GROUP_ID", "APP_NAME", "DEPLOYMENT_GROUP"} <= set(parameters)
    assert len(action["configuration"]["UserParameters"]) <= 1000


REVISION_KEYS = {"S3_BUCKET", "S3_KEY", "S3_BUNDLE", "S3_VERSION", "S3_ETAG", "GITHUB_REPO", "COMMIT_ID"}


def _v2_pipeline() -> dict:
    return next(b for b in (json.loads(block) for block in code_blocks("json")) if "pipeline" in b)


def test_the_v2_pipeline_definition_is_valid_for_create_pipeline():
    model = botocore.session.get_session().get_service_model("codepipeline")
    shape = model.operation_model("CreatePipeline").input_shape

    report = ParamValidator().validate(_v2_pipeline(), shape)

    assert not report.has_errors(), report.generate_report()


def test_the_v2_pipeline_deploys_the_build_output_and_rolls_the_stage_back_on_failure():
    pipeline = _v2_pipeline()["pipeline"]
    result_enum = botocore.session.get_session().get_service_model("codepipeline").shape_for("Result").enum
    source, build, deploy = pipeline["stages"]
    (build_action,) = build["actions"]
    (action,) = deploy["actions"]

    assert pipeline["pipelineType"] == "V2"  # stage rollback is a V2 feature
    assert source["actions"][0]["actionTypeId"]["category"] == "Source"
    assert build_action["inputArtifacts"] == source["actions"][0]["outputArtifacts"]
    assert action["actionTypeId"]["provider"] == "Lambda"
    assert action["inputArtifacts"] == build_action["outputArtifacts"]
    assert deploy["onFailure"] == {"result": "ROLLBACK"}
    assert "ROLLBACK" in result_enum
    assert not set(json.loads(action["configuration"]["UserParameters"])) & REVISION_KEYS


def test_the_pinned_revision_example_wires_the_s3_source_variables():
    pinned = next(b for b in (json.loads(block) for block in code_blocks("json")) if "S3_VERSION" in b)

    assert pinned["S3_VERSION"] == "#{SourceVariables.VersionId}"
    assert pinned["S3_ETAG"] == "#{SourceVariables.ETag}"
    assert "#{SourceVariables.CommitId}" in guide()


def test_yaml_snippet_parses_and_uses_the_action_namespace():
    (block,) = code_blocks("yaml")
    stage = yaml.safe_load(block.replace("!Sub ", ""))[0]
    action = stage["Actions"][0]

    assert action["ActionTypeId"]["Provider"] == "Lambda"
    assert json.loads(action["Configuration"]["UserParameters"])["APP_NAME"]
    assert f"#{{{action['Namespace']}.GreenIdentifier}}" in block


def test_guide_quotes_the_build_defaults():
    defaults = build_zip.parse_args([])

    assert f"python{defaults.python}, {defaults.arch}" in guide()


def before_you_start() -> str:
    text = guide()
    return text[text.index("## Before you start") : text.index("## 1. Build")]


@pytest.mark.parametrize(
    "needle",
    [
        "aws secretsmanager create-secret",
        "aws ssm put-parameter",
        "SecureString",
        "Settings → API",
        "Blue/green",
        "Manually provision instances",
        "DISCOVER_EXISTING",
        "aws deploy get-deployment-group",
        "Integrations → CodeDeploy",
        "thirdPartiesIntegration",
        "codedeploy-agent",
        "api.spotinst.io",
        "NAT gateway",
        '"DRY_RUN": true',
    ],
)
def test_before_you_start_names_each_prerequisite_and_how_to_check_it(needle):
    assert needle in before_you_start()


def test_the_secret_formats_the_guide_shows_are_the_ones_the_function_reads():
    from bluegreen.params import SecretToken
    from bluegreen.token import TokenResolver

    stored = re.findall(r"--secret-string '([^']+)'", before_you_start())
    raw = re.findall(r"--value '([^']+)'", before_you_start())

    class StoredSecret:  # Powertools' provider at its boundary: it returns what Secrets Manager holds
        def __init__(self, value: str) -> None:
            self.value = value

        def get(self, name: str, **options: object) -> str:
            return self.value

    assert stored
    assert raw
    for value in [*stored, *raw]:
        resolver = TokenResolver(secrets=lambda v=value: StoredSecret(v), ssm=lambda v=value: StoredSecret(v))
        assert resolver.resolve(SecretToken("spot-token")).reveal() == "YOUR-SPOT-API-TOKEN"


def overrides(command: str) -> set[str]:
    """The template parameters the guide's `command` line sets (up to the end of its code block)."""
    text = guide()
    start = text.index(command)
    line = text[start : text.index("```", start)]
    return set(re.findall(r"\b(\w+)=", line[line.index("--parameter-overrides") :]))


def test_the_aws_cli_route_passes_the_same_overrides_as_the_sam_route():
    sam = overrides("sam deploy")

    assert {"RevisionBucketName", "SpotTokenSecretArn"} <= sam
    assert overrides("aws cloudformation deploy") == sam
