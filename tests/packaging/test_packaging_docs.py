"""docs/deploy.md: the Deploy guide names the real files, handler and settings, and its snippets parse."""

from __future__ import annotations

import json
import re

import pytest
import yaml

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
        "Retry attempts **0**",
        "sam deploy --template-file template.yaml",
        "aws cloudformation package",
        "aws cloudformation deploy",
        "lambda:InvokeFunction",
        "GreenIdentifier",
        "SpotDeploymentId",
        "CodeDeployDeploymentId",
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
