"""build_zip.py: a reproducible package with exactly the right files, within Lambda's limits."""

from __future__ import annotations

import importlib.metadata
import json
import os
import re
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import pytest

import build_zip
from tests.packaging.helpers import ROOT, host_arch, wheelhouse

BOTO_TOP_LEVEL = ("boto3/", "botocore/", "s3transfer/", "jmespath/", "urllib3/", "dateutil/", "six.py")
RUNTIME_TOP_LEVEL = (
    "requests/",
    "certifi/",
    "charset_normalizer/",
    "idna/",
    "aws_lambda_powertools/",
    "typing_extensions.py",
)


def names(result: build_zip.BuildResult) -> list[str]:
    with zipfile.ZipFile(result.path) as zf:
        return zf.namelist()


def infos(result: build_zip.BuildResult) -> list[zipfile.ZipInfo]:
    with zipfile.ZipFile(result.path) as zf:
        return zf.infolist()


def has_top_level(entries: list[str], top: str) -> bool:
    return any(name == top or name.startswith(top) for name in entries)


# --- reproducibility -----------------------------------------------------------------------------------------


def test_building_twice_gives_the_same_sha256(default_zip, tmp_path):
    again = build_zip.build(tmp_path / "again.zip", wheelhouse=wheelhouse())

    assert again.sha256 == default_zip.sha256
    assert again.path.read_bytes() == default_zip.path.read_bytes()


def test_entries_are_sorted_with_1980_timestamps(default_zip):
    entries = infos(default_zip)

    assert [i.filename for i in entries] == sorted(i.filename for i in entries)
    assert {i.date_time for i in entries} == {(1980, 1, 1, 0, 0, 0)}


def test_permissions_are_normalised(default_zip):
    for info in infos(default_zip):
        mode = info.external_attr >> 16
        expected = 0o040755 if info.is_dir() else 0o100644
        assert mode == expected, f"{info.filename}: {oct(mode)}"
        assert info.create_system == 3


def test_files_are_deflated(default_zip):
    assert {i.compress_type for i in infos(default_zip) if not i.is_dir()} == {zipfile.ZIP_DEFLATED}


def test_build_prints_path_size_entries_and_sha256(tmp_path, capsys):
    output = tmp_path / "out.zip"
    argv = ["--output", str(output)]
    if wheelhouse() is not None:
        argv += ["--wheelhouse", str(wheelhouse())]

    assert build_zip.main(argv) == 0

    printed = capsys.readouterr().out
    assert str(output) in printed
    assert re.search(r"size:\s+\d+ bytes \(\d+\.\d\d MB\)", printed)
    assert re.search(r"entries:\s+\d+", printed)
    assert f"sha256:  {build_zip.sha256_file(output)}" in printed


# --- contents ------------------------------------------------------------------------------------------------


def test_zip_contains_the_bluegreen_package(default_zip):
    entries = names(default_zip)

    assert "bluegreen/__init__.py" in entries
    for source in sorted((ROOT / "bluegreen").glob("*.py")):
        assert f"bluegreen/{source.name}" in entries


def test_zip_leaves_out_tests_simulator_scripts_and_foreign_bytecode(default_zip):
    entries = names(default_zip)
    for name in entries:
        assert not name.startswith(("tests/", "bluegreen_sim/", "bin/")), name
        assert not name.endswith(".pyo"), name
        assert not name.endswith(".dist-info/RECORD"), name
        if name.endswith(".pyc"):  # only the target interpreter's bytecode, beside its source
            folder, _, file = name.rpartition("__pycache__/")
            module = file.removesuffix(".cpython-312.pyc")
            assert module != file, name
            assert f"{folder}{module}.py" in entries, name


def test_bytecode_is_compiled_for_the_target_without_timestamps_or_build_paths(tmp_path):
    if build_zip.find_interpreter("3.12") is None:
        pytest.skip("no python3.12 on this machine: the zip ships sources only")
    package = build_zip.build(tmp_path / "pkg.zip", python="3.12", arch=host_arch(), wheelhouse=wheelhouse())

    with zipfile.ZipFile(package.path) as zf:
        data = zf.read("bluegreen/__pycache__/handler.cpython-312.pyc")

    assert int.from_bytes(data[4:8], "little") == 0b01  # PEP 552: hash-based, source not checked
    assert b"/var/task/bluegreen/handler.py" in data
    assert str(tmp_path).encode() not in data


def test_no_bytecode_gives_a_sources_only_zip(tmp_path):
    package = build_zip.build(
        tmp_path / "pkg.zip", python="3.12", arch=host_arch(), wheelhouse=wheelhouse(), bytecode=False
    )

    assert package.bytecode_by is None
    assert not any(name.endswith(".pyc") for name in names(package))


def test_default_zip_leaves_out_the_whole_boto_set(default_zip):
    entries = names(default_zip)

    assert [top for top in BOTO_TOP_LEVEL if has_top_level(entries, top)] == []


def test_default_zip_bundles_the_runtime_dependencies(default_zip):
    entries = names(default_zip)

    assert [top for top in RUNTIME_TOP_LEVEL if not has_top_level(entries, top)] == []


def test_bundle_boto3_zip_includes_the_whole_boto_set(boto_zip):
    entries = names(boto_zip)

    assert [top for top in BOTO_TOP_LEVEL + RUNTIME_TOP_LEVEL if not has_top_level(entries, top)] == []


def test_bundled_boto_set_is_pinned_to_the_lock(boto_zip):
    entries = names(boto_zip)
    lock = build_zip.parse_lock(build_zip.LOCK_FILE.read_text())

    for entry in lock:
        dist_info = f"{entry.name.replace('-', '_')}-{entry.version}.dist-info/".lower()
        assert any(name.lower() == dist_info for name in entries), dist_info


def test_compiled_dependencies_are_platform_wheels_not_the_build_machine(tmp_path):
    result = build_zip.build(tmp_path / "arm.zip", python="3.13", arch="arm64", wheelhouse=wheelhouse())

    compiled = [n for n in names(result) if n.endswith(".so")]
    assert compiled
    assert all("cpython-313-aarch64-linux-gnu" in n for n in compiled), compiled


def test_a_dependency_may_not_overwrite_package_files():
    with pytest.raises(build_zip.BuildError, match="overwrite"):
        build_zip.merge_files({"bluegreen/a.py": Path("x")}, {"bluegreen/a.py": Path("y")})


@pytest.mark.parametrize(
    ("path", "from_dependencies", "excluded"),
    [
        ("bluegreen/__init__.py", False, False),
        ("bluegreen/__pycache__/x.cpython-311.pyc", False, True),
        ("bluegreen/tests/test_x.py", False, True),
        ("bluegreen/test_x.py", False, True),
        ("bluegreen/.x.swp", False, True),
        ("bin/normalizer", True, True),
        ("requests-2.0.dist-info/RECORD", True, True),
        ("requests-2.0.dist-info/METADATA", True, False),
        ("botocore/data/x.json", True, False),
        ("six.pyc", True, True),
    ],
)
def test_file_selection(path, from_dependencies, excluded):
    assert build_zip.is_excluded(Path(path), from_dependencies=from_dependencies) is excluded


# --- limits --------------------------------------------------------------------------------------------------


def test_size_check_accepts_a_package_at_the_limits():
    build_zip.check_size_limits(build_zip.MAX_ZIPPED_BYTES, build_zip.MAX_UNZIPPED_BYTES)


def test_size_check_refuses_a_zip_over_50_mb():
    with pytest.raises(build_zip.PackageTooLargeError, match="direct upload"):
        build_zip.check_size_limits(build_zip.MAX_ZIPPED_BYTES + 1, 1000)


def test_size_check_refuses_a_package_unpacking_over_250_mb():
    with pytest.raises(build_zip.PackageTooLargeError, match="unzipped"):
        build_zip.check_size_limits(None, build_zip.MAX_UNZIPPED_BYTES + 1)


def test_a_package_over_the_limit_is_not_written(tmp_path):
    output = tmp_path / "big.zip"

    with pytest.raises(build_zip.PackageTooLargeError, match="limit for a direct upload"):
        build_zip.build(output, wheelhouse=wheelhouse(), limits=build_zip.SizeLimits(zipped=1000))

    assert not output.exists()


def test_a_build_error_exits_non_zero_with_the_reason(tmp_path, capsys):
    lock = tmp_path / "broken.lock"
    lock.write_text("# group: runtime\nrequests==2.0\n")

    assert build_zip.main(["--lock-file", str(lock), "--output", str(tmp_path / "x.zip")]) == 2

    assert "no --hash" in capsys.readouterr().err
    assert not (tmp_path / "x.zip").exists()


# --- lock ----------------------------------------------------------------------------------------------------


def test_lock_pins_exactly_the_runtime_and_boto_sets():
    lock = build_zip.parse_lock(build_zip.LOCK_FILE.read_text())

    assert {e.name for e in lock if e.group == "runtime"} == set(build_zip.RUNTIME_SET)
    assert {e.name for e in lock if e.group == "boto"} == set(build_zip.BOTO_SET)


def test_lock_pins_boto3_and_botocore_to_the_development_environment():
    pins = {e.name: e.version for e in build_zip.parse_lock(build_zip.LOCK_FILE.read_text())}

    assert pins["boto3"] == importlib.metadata.version("boto3")
    assert pins["botocore"] == importlib.metadata.version("botocore")


def test_lock_is_closed_under_dependencies():
    """--no-deps installs only what the lock names, so every dependency must be pinned there."""
    from packaging.requirements import Requirement

    locked = {e.name for e in build_zip.parse_lock(build_zip.LOCK_FILE.read_text())}
    environment = {
        "python_version": "3.12",
        "python_full_version": "3.12.0",
        "extra": "",
        "sys_platform": "linux",
        "platform_system": "Linux",
        "platform_machine": "x86_64",
        "implementation_name": "cpython",
        "platform_python_implementation": "CPython",
        "os_name": "posix",
    }
    missing = set()
    for name in locked:
        for raw in importlib.metadata.requires(name) or []:
            requirement = Requirement(raw)
            if requirement.marker is None or requirement.marker.evaluate(environment):
                missing |= {build_zip.canonical_name(requirement.name)} - locked
    assert missing == set()


def test_lock_refuses_a_partial_boto_set():
    text = "# group: runtime\n" + "".join(f"{n}==1 --hash=sha256:{'0' * 64}\n" for n in build_zip.RUNTIME_SET)
    text += "# group: boto\nboto3==1 --hash=sha256:" + "0" * 64 + "\n"

    with pytest.raises(build_zip.BuildError, match="group boto must be exactly"):
        build_zip.parse_lock(text)


def test_lock_refuses_a_pin_without_hash():
    with pytest.raises(build_zip.BuildError, match="no --hash"):
        build_zip.parse_lock("# group: runtime\nrequests==2.0\n")


def test_lock_round_trips_through_render():
    lock = build_zip.parse_lock(build_zip.LOCK_FILE.read_text())
    versions = {e.name: e.version for e in lock}
    hashes = {e.name: e.hashes for e in lock}

    assert build_zip.render_lock(versions, hashes) == build_zip.LOCK_FILE.read_text()


def test_select_entries_takes_all_or_none_of_the_boto_set():
    lock = build_zip.parse_lock(build_zip.LOCK_FILE.read_text())

    assert {e.name for e in build_zip.select_entries(lock, bundle_boto3=False)} == set(build_zip.RUNTIME_SET)
    assert {e.name for e in build_zip.select_entries(lock, bundle_boto3=True)} == (
        set(build_zip.RUNTIME_SET) | set(build_zip.BOTO_SET)
    )


@pytest.mark.parametrize(
    ("arch", "platform_tag"), [("x86_64", "manylinux2014_x86_64"), ("arm64", "manylinux2014_aarch64")]
)
def test_pip_installs_hash_checked_platform_wheels_without_compiling(arch, platform_tag):
    command = build_zip.pip_install_command(Path("req.txt"), Path("target"), "3.13", arch)

    for flag in ("--only-binary=:all:", "--require-hashes", "--no-deps", "--no-compile"):
        assert flag in command
    assert command[command.index("--platform") + 1] == platform_tag
    assert command[command.index("--python-version") + 1] == "3.13"
    assert command[command.index("--implementation") + 1] == "cp"


def test_importing_build_zip_has_no_side_effects():
    completed = subprocess.run(
        [sys.executable, "-c", "import build_zip"], cwd=ROOT, capture_output=True, text=True, check=False
    )
    assert (completed.returncode, completed.stdout, completed.stderr) == (0, "", "")


# --- the package on the Lambda interpreter -------------------------------------------------------------------


@pytest.fixture(scope="module")
def lambda_on_python312(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Path, Path]:
    """The default zip unpacked as Lambda's /var/task, and the boto set the runtime provides, for python3.12."""
    python = build_zip.find_interpreter("3.12")
    if python is None:
        pytest.skip("no python3.12 interpreter on this machine")
    tmp_path = tmp_path_factory.mktemp("python312")
    package = build_zip.build(tmp_path / "pkg.zip", python="3.12", arch=host_arch(), wheelhouse=wheelhouse())
    task = tmp_path / "task"
    with zipfile.ZipFile(package.path) as zf:
        zf.extractall(task)
    # What the Lambda runtime provides: the boto set, and nothing else.
    runtime = tmp_path / "runtime"
    boto = [e for e in build_zip.parse_lock(build_zip.LOCK_FILE.read_text()) if e.group == "boto"]
    build_zip.install_dependencies(boto, runtime, "3.12", host_arch(), wheelhouse())
    return python, task, runtime


def _run_isolated(
    python: str, script: str, task: Path, runtime: Path, **kwargs: Any
) -> subprocess.CompletedProcess[str]:
    # -I -S: no site-packages, no PYTHON* variables, no current directory: only the zip, the boto set and stdlib.
    return subprocess.run(  # noqa: S603 - a local interpreter found above
        [python, "-I", "-S", "-c", script, str(task), str(runtime)],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
        **kwargs,
    )


def test_package_imports_on_python_312_with_only_the_boto_set_beside_it(lambda_on_python312):
    python, task, runtime = lambda_on_python312
    script = (
        "import sys; sys.path[:0] = sys.argv[1:3]\n"
        "import bluegreen, requests, charset_normalizer.md\n"
        "from aws_lambda_powertools.logging.formatter import LambdaPowertoolsFormatter\n"
        "assert callable(bluegreen.lambda_handler)\n"
        "assert bluegreen.__file__.startswith(sys.argv[1]), bluegreen.__file__\n"
        "print('ok')\n"
    )

    completed = _run_isolated(python, script, task, runtime)

    assert completed.returncode == 0, completed.stderr
    assert completed.stdout.strip() == "ok"


def test_console_test_from_the_zip_runs_on_python_312_against_the_simulated_cloud(lambda_on_python312):
    from bluegreen_sim.cloud import Cloud

    python, task, runtime = lambda_on_python312
    script = (
        "import json, sys; sys.path[:0] = sys.argv[1:3]\n"
        "import bluegreen\n"
        "class Context:\n"
        "    aws_request_id = 'console-test'\n"
        "    def get_remaining_time_in_millis(self): return 44_000  # START, one poll, then the hand-over\n"
        "event = json.loads(sys.stdin.read())\n"
        "print(json.dumps(bluegreen.lambda_handler(event, Context())))\n"
    )
    with Cloud() as cloud:
        params = dict(cloud.add_pipeline(instances=2).params)
        environ = {**os.environ, **cloud.handler_environ()}

        completed = _run_isolated(python, script, task, runtime, input=json.dumps(params), env=environ)

    assert completed.returncode == 0, completed.stderr
    result = json.loads(completed.stdout.strip().splitlines()[-1])
    assert result["status"] == "InProgress", result
    assert result["phase"] == "WAIT_GREEN"
    assert result["spotDeploymentId"].startswith("cdbg-")
    assert result["continuationToken"]
