"""Fixtures for the packaging tests: the built zips, the policy file and the SAM template.

`build_zip.py` is a script at the repository root, not part of the installed package, so the root goes on
`sys.path` here. The builds use the registry through pip (and its cache); to run offline, point
`BLUEGREEN_WHEELHOUSE` at a folder filled by `python build_zip.py --lock --wheelhouse DIR`.
"""

from __future__ import annotations

import json
import os
import platform
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import build_zip  # noqa: E402

POLICY_FILE = ROOT / "LambdaPolicyDefinition.json"
TEMPLATE_FILE = ROOT / "template.yaml"
VENV_BIN = Path(sys.executable).parent


def wheelhouse() -> Path | None:
    value = os.environ.get("BLUEGREEN_WHEELHOUSE")
    return Path(value) if value else None


def host_arch() -> str:
    """The Lambda architecture name of this machine (for tests that load the compiled wheels)."""
    return {"x86_64": "x86_64", "amd64": "x86_64", "aarch64": "arm64", "arm64": "arm64"}.get(
        platform.machine().lower(), platform.machine()
    )


class _CloudFormationLoader(yaml.SafeLoader):
    """Reads CloudFormation short-form tags (`!Sub`, `!If`, ...) into their long JSON form."""


def _intrinsic(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> dict[str, Any]:
    if isinstance(node, yaml.ScalarNode):
        value: Any = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)  # type: ignore[arg-type]
    if suffix == "Ref":
        return {"Ref": value}
    if suffix == "GetAtt" and isinstance(value, str):
        value = value.split(".", 1)
    return {f"Fn::{suffix}": value}


_CloudFormationLoader.add_multi_constructor("!", _intrinsic)


def load_template(path: Path = TEMPLATE_FILE) -> dict[str, Any]:
    data = yaml.load(path.read_text(), Loader=_CloudFormationLoader)  # noqa: S506 - SafeLoader subclass
    assert isinstance(data, dict)
    return data


@pytest.fixture(scope="session")
def policy() -> dict[str, Any]:
    data = json.loads(POLICY_FILE.read_text())
    assert isinstance(data, dict)
    return data


@pytest.fixture(scope="session")
def template() -> dict[str, Any]:
    return load_template()


@pytest.fixture(scope="session")
def default_zip(tmp_path_factory: pytest.TempPathFactory) -> build_zip.BuildResult:
    out = tmp_path_factory.mktemp("default") / "lambda_package.zip"
    return build_zip.build(out, wheelhouse=wheelhouse())


@pytest.fixture(scope="session")
def boto_zip(tmp_path_factory: pytest.TempPathFactory) -> build_zip.BuildResult:
    out = tmp_path_factory.mktemp("boto") / "lambda_package.zip"
    return build_zip.build(out, bundle_boto3=True, wheelhouse=wheelhouse())
