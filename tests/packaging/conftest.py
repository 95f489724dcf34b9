"""Fixtures for the packaging tests: the built zips, the policy file and the SAM template.

`build_zip.py` is a script at the repository root, not part of the installed package, so the root goes on
`sys.path` here (the tests import `build_zip` and `tests.packaging.helpers` from it). The builds use the
registry through pip (and its cache); to run offline, point `BLUEGREEN_WHEELHOUSE` at a folder filled by
`pip download` of the requirements files (see docs/deploy.md). The zips carry bytecode when this machine has a
CPython 3.12 (`PYTHON312`), and the tests that need it skip otherwise.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import build_zip  # noqa: E402
from tests.packaging.helpers import POLICY_FILE, PYTHON312, load_template, wheelhouse  # noqa: E402


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
    return build_zip.build(out, bytecode_python=PYTHON312, wheelhouse=wheelhouse())


@pytest.fixture(scope="session")
def sources_zip(tmp_path_factory: pytest.TempPathFactory) -> build_zip.BuildResult:
    out = tmp_path_factory.mktemp("sources") / "lambda_package.zip"
    return build_zip.build(out, bytecode_python=None, wheelhouse=wheelhouse())


@pytest.fixture(scope="session")
def boto_zip(tmp_path_factory: pytest.TempPathFactory) -> build_zip.BuildResult:
    out = tmp_path_factory.mktemp("boto") / "lambda_package.zip"
    return build_zip.build(out, bytecode_python=PYTHON312, bundle_boto3=True, wheelhouse=wheelhouse())
