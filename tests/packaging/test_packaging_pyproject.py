"""pyproject.toml: an SPDX license the declared setuptools floor builds, and a tested lower bound on every
dependency."""

from __future__ import annotations

import os
import subprocess
import sys
import tomllib
import zipfile

import pytest
from packaging.requirements import Requirement
from packaging.version import Version

from tests.packaging.helpers import ROOT

PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())


def setuptools_floor() -> str:
    (requirement,) = (Requirement(r) for r in PYPROJECT["build-system"]["requires"] if r.startswith("setuptools"))
    (floor,) = (spec.version for spec in requirement.specifier if spec.operator == ">=")
    return floor


def test_the_license_is_an_spdx_expression_not_a_table():
    assert PYPROJECT["project"]["license"] == "Apache-2.0"


def test_the_setuptools_floor_is_one_that_reads_spdx_license_strings():
    # setuptools 77.0.0 implemented PEP 639 (project.license as an SPDX expression, project.license-files);
    # 77.0.0-77.0.2 were yanked.
    assert Version(setuptools_floor()) >= Version("77.0.3")


def test_the_package_builds_with_the_declared_setuptools_floor(tmp_path):
    """The build-system floor is a version that has built this project: pip's isolated build environment is
    constrained to exactly that setuptools."""
    constraints = tmp_path / "constraints.txt"
    constraints.write_text(f"setuptools=={setuptools_floor()}\n")
    # pip before 25.3 applies PIP_CONSTRAINT to isolated build environments; newer pip only applies build
    # constraints (PIP_BUILD_CONSTRAINT, --build-constraint). Set both, so the test holds for whichever pip runs it.
    environ = {**os.environ, "PIP_CONSTRAINT": str(constraints), "PIP_BUILD_CONSTRAINT": str(constraints)}

    completed = subprocess.run(  # noqa: S603 - this interpreter's pip
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--wheel-dir", str(tmp_path), str(ROOT)],
        capture_output=True,
        text=True,
        check=False,
        env=environ,
        timeout=600,
    )

    assert completed.returncode == 0, completed.stderr
    (wheel,) = tmp_path.glob("bluegreen-*.whl")
    with zipfile.ZipFile(wheel) as zf:
        metadata = zf.read("bluegreen-1.0.0.dist-info/METADATA").decode()
        generator = zf.read("bluegreen-1.0.0.dist-info/WHEEL").decode()
    assert f"Generator: setuptools ({setuptools_floor()})" in generator
    assert "License-Expression: Apache-2.0" in metadata.splitlines()


def requirements() -> list[Requirement]:
    project = PYPROJECT["project"]
    raw = [*project["dependencies"], *(r for extra in project["optional-dependencies"].values() for r in extra)]
    return [Requirement(r) for r in raw if Requirement(r).name != project["name"]]


@pytest.mark.parametrize("requirement", requirements(), ids=str)
def test_every_dependency_has_a_lower_bound(requirement):
    """An open range starts at a version nobody ran (the declared moto>=5.1 failed on 5.2.1): each bound is a
    version the suite has run (see the comment in pyproject.toml)."""
    assert [spec for spec in requirement.specifier if spec.operator in (">=", "==", "~=")], requirement
