"""Helpers shared by the packaging tests: repository paths, the SAM template reader, policy statement walkers."""

from __future__ import annotations

import os
import platform
import shutil
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

import build_zip

ROOT = Path(__file__).resolve().parents[2]
POLICY_FILE = ROOT / "LambdaPolicyDefinition.json"
TEMPLATE_FILE = ROOT / "template.yaml"
VENV_BIN = Path(sys.executable).parent
# CPython interpreters of the Lambda runtimes found on this machine (None: the tests that need one skip).
PYTHON312 = build_zip.find_interpreter("3.12")
PYTHON313 = build_zip.find_interpreter("3.13")


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


def console_script(name: str) -> str:
    """The path of a dev tool installed beside the running interpreter (cfn-lint, parliament)."""
    beside = VENV_BIN / name
    if beside.exists():
        return str(beside)
    found = shutil.which(name)
    if found is None:
        pytest.fail(f"{name} is not installed (it is a dev dependency: pip install -e '.[dev]')")
    return found


def policy_statements(document: dict[str, Any]) -> list[dict[str, Any]]:
    """The statements of a policy document, with CloudFormation `Fn::If` branches flattened.

    Both branches of a condition count (the template grants an action when its condition holds); the
    `AWS::NoValue` branch contributes nothing.
    """
    out: list[dict[str, Any]] = []

    def visit(item: Any) -> None:
        if isinstance(item, dict) and "Fn::If" in item:
            for branch in item["Fn::If"][1:]:
                visit(branch)
        elif isinstance(item, dict) and item.get("Ref") == "AWS::NoValue":
            return
        elif isinstance(item, dict):
            out.append(item)
        else:
            raise AssertionError(f"unexpected statement {item!r}")

    statements = document["Statement"]
    for statement in statements if isinstance(statements, list) else [statements]:
        visit(statement)
    return out


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def actions_by_sid(document: dict[str, Any]) -> dict[str, set[str]]:
    return {s["Sid"]: set(as_list(s["Action"])) for s in policy_statements(document)}


def all_actions(document: dict[str, Any]) -> set[str]:
    return {a for actions in actions_by_sid(document).values() for a in actions}
