"""build_zip.py: a reproducible package with exactly the right files, within Lambda's limits."""

from __future__ import annotations

import importlib.metadata
import json
import os
import re
import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path
from typing import Any

import pytest

import build_zip
from tests.packaging.helpers import PYTHON312, PYTHON313, ROOT, host_arch, wheelhouse

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
    again = build_zip.build(tmp_path / "again.zip", bytecode_python=PYTHON312, wheelhouse=wheelhouse())

    assert again.sha256 == default_zip.sha256
    assert again.path.read_bytes() == default_zip.path.read_bytes()


def test_a_build_from_another_checkout_home_and_temp_folder_gives_the_same_sha256(default_zip, tmp_path):
    """What differs between two machines that this one can vary: where the sources are, the user's home, the
    temporary folder, the working directory, pip's cache (off), and the Python and pip that run the build
    (CPython 3.13 with its own pip when this machine has one)."""
    checkout = tmp_path / "elsewhere" / "checkout"
    shutil.copytree(ROOT / "bluegreen", checkout / "bluegreen", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(ROOT / "requirements", checkout / "requirements")
    shutil.copy2(ROOT / "build_zip.py", checkout / "build_zip.py")
    for name in ("home", "tmp", "cwd"):
        (tmp_path / name).mkdir()
    environ = {
        **os.environ,
        "HOME": str(tmp_path / "home"),
        "TMPDIR": str(tmp_path / "tmp"),
        "PIP_NO_CACHE_DIR": "1",
        "PYTHONHASHSEED": "12345",
    }
    command = [PYTHON313 or sys.executable, str(checkout / "build_zip.py"), "--output", str(tmp_path / "other.zip")]
    command += ["--bytecode-python", PYTHON312] if PYTHON312 else ["--no-bytecode"]
    if wheelhouse() is not None:
        command += ["--wheelhouse", str(wheelhouse())]

    completed = subprocess.run(  # noqa: S603 - this interpreter and build_zip.py
        command, cwd=tmp_path / "cwd", env=environ, capture_output=True, text=True, check=False, timeout=600
    )

    assert completed.returncode == 0, completed.stderr
    assert f"sha256:  {default_zip.sha256}" in completed.stdout


def test_a_deep_temporary_folder_builds_the_same_zip(default_zip, tmp_path):
    """A TMPDIR deeper than a Unix socket path may be (108 bytes): compiling bytecode must not need a socket there
    (compileall -j's forkserver failed with "AF_UNIX path too long")."""
    deep = tmp_path / ("t" * 60) / ("m" * 60)
    deep.mkdir(parents=True)
    command = [sys.executable, str(ROOT / "build_zip.py"), "--output", str(tmp_path / "deep.zip")]
    command += ["--bytecode-python", PYTHON312] if PYTHON312 else ["--no-bytecode"]
    if wheelhouse() is not None:
        command += ["--wheelhouse", str(wheelhouse())]

    completed = subprocess.run(  # noqa: S603 - this interpreter and build_zip.py
        command, env={**os.environ, "TMPDIR": str(deep)}, capture_output=True, text=True, check=False, timeout=600
    )

    assert completed.returncode == 0, completed.stderr
    assert f"sha256:  {default_zip.sha256}" in completed.stdout


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
    argv = ["--output", str(output), *(["--bytecode-python", PYTHON312] if PYTHON312 else ["--no-bytecode"])]
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


def needs_python312() -> str:
    if PYTHON312 is None:
        pytest.skip("no CPython 3.12 on this machine: the zips ship sources only")
    return PYTHON312


def test_bytecode_is_checked_hash_for_the_target_without_timestamps_or_build_paths(default_zip):
    needs_python312()
    with zipfile.ZipFile(default_zip.path) as zf:
        data = zf.read("bluegreen/__pycache__/handler.cpython-312.pyc")

    assert int.from_bytes(data[4:8], "little") == 0b11  # PEP 552: hash-based, and checked against the source
    assert b"/var/task/bluegreen/handler.py" in data
    assert str(default_zip.path.parent).encode() not in data


def test_every_shipped_module_has_bytecode_except_those_an_extension_shadows(default_zip):
    needs_python312()
    entries = set(names(default_zip))
    sources = {n for n in entries if n.endswith(".py")}
    compiled = {n.replace("__pycache__/", "").replace(".cpython-312.pyc", ".py") for n in entries if n.endswith(".pyc")}

    shadowed = sources - compiled
    assert shadowed  # charset_normalizer's md.py and cd.py: Python imports their compiled extensions
    assert all(any(e.startswith(n.removesuffix(".py") + ".") and e.endswith(".so") for e in entries) for n in shadowed)


def test_no_bytecode_gives_a_sources_only_zip(sources_zip):
    assert sources_zip.bytecode_by is None
    assert not any(name.endswith(".pyc") for name in names(sources_zip))


def test_a_missing_bytecode_interpreter_fails_the_build_and_says_what_to_pass(tmp_path, capsys):
    output = tmp_path / "x.zip"

    status = build_zip.main(["--output", str(output), "--bytecode-python", str(tmp_path / "python3.12")])

    error = capsys.readouterr().err
    assert status == 2
    assert "not found" in error
    assert "--bytecode-python" in error
    assert "--no-bytecode" in error
    assert not output.exists()


def test_a_bytecode_interpreter_of_another_version_fails_the_build(tmp_path):
    other = "3.13" if sys.version_info[:2] == (3, 12) else "3.12"

    with pytest.raises(build_zip.BuildError, match=rf"is cpython {sys.version_info.major}\.\d+.*not CPython {other}"):
        build_zip.build(tmp_path / "x.zip", bytecode_python=sys.executable, python=other, wheelhouse=wheelhouse())

    assert not (tmp_path / "x.zip").exists()


def test_the_default_bytecode_interpreter_is_python_version_on_path_and_nothing_else(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))  # an empty PATH: pyenv, /usr/bin and the like are not looked at

    status = build_zip.main(["--output", str(tmp_path / "x.zip")])

    assert status == 2
    assert "'python3.12' not found" in capsys.readouterr().err


def test_default_zip_leaves_out_the_whole_boto_set(default_zip):
    entries = names(default_zip)

    assert [top for top in BOTO_TOP_LEVEL if has_top_level(entries, top)] == []


def test_default_zip_bundles_the_runtime_dependencies(default_zip):
    entries = names(default_zip)

    assert [top for top in RUNTIME_TOP_LEVEL if not has_top_level(entries, top)] == []


def test_default_zip_is_well_under_the_two_megabytes_it_used_to_be(default_zip):
    # 1.60 MB with bytecode at 65e40d9: the dependencies ~1.27 MB, our own package 263 KB compressed (sources and
    # bytecode; it grew with reclaim, the ports and the error table). The guard keeps ~100 KB of room under 1.7 MB.
    assert default_zip.size < 1_700_000 if default_zip.bytecode_by else default_zip.size < 900_000  # 0.82 MB now


def test_bundle_boto3_zip_includes_the_whole_boto_set(boto_zip):
    entries = names(boto_zip)

    assert [top for top in BOTO_TOP_LEVEL + RUNTIME_TOP_LEVEL if not has_top_level(entries, top)] == []


def test_the_zips_carry_exactly_the_pinned_distributions(default_zip, boto_zip):
    runtime = build_zip.pins(build_zip.REQUIREMENTS.read_text())
    boto = build_zip.pins(build_zip.BOTO_REQUIREMENTS.read_text())

    assert dist_infos(default_zip) == runtime
    assert dist_infos(boto_zip) == runtime | boto


def dist_infos(result: build_zip.BuildResult) -> dict[str, str]:
    found = {}
    for name in names(result):
        top = name.split("/", 1)[0]
        if top.endswith(".dist-info"):
            project, version = top.removesuffix(".dist-info").rsplit("-", 1)
            found[build_zip.canonical_name(project)] = version
    return found


def test_compiled_dependencies_are_platform_wheels_not_the_build_machine(tmp_path):
    result = build_zip.build(
        tmp_path / "arm.zip", bytecode_python=None, python="3.13", arch="arm64", wheelhouse=wheelhouse()
    )

    compiled = [n for n in names(result) if n.endswith(".so")]
    assert compiled
    assert all("cpython-313-aarch64-linux-gnu" in n for n in compiled), compiled


# --- Powertools: only what the function imports --------------------------------------------------------------


def test_default_zip_leaves_out_the_powertools_utilities_the_function_does_not_import(default_zip):
    entries = names(default_zip)

    for unused in ("event_handler/", "utilities/idempotency/", "utilities/batch/", "utilities/parser/"):
        assert not has_top_level(entries, f"aws_lambda_powertools/{unused}"), unused
    for used in ("logging/formatter.py", "metrics/metrics.py", "utilities/parameters/secrets.py", "py.typed"):
        assert f"aws_lambda_powertools/{used}" in entries, used


def powertools_files(*modules: str) -> dict[str, Path]:
    """A files map of the installed Powertools, as the build sees its dependencies."""
    import aws_lambda_powertools

    root = Path(aws_lambda_powertools.__file__).parent.parent
    files = build_zip.collect_files(root / "aws_lambda_powertools", "aws_lambda_powertools", from_dependencies=True)
    return {**files, **{m: root / m for m in modules}}


def test_a_powertools_module_the_package_imports_is_shipped_with_what_it_imports(tmp_path):
    ours = tmp_path / "bluegreen" / "metrics_use.py"
    ours.parent.mkdir()
    ours.write_text("def emit():\n    from aws_lambda_powertools.event_handler import APIGatewayRestResolver\n")
    files = {**powertools_files(), "bluegreen/metrics_use.py": ours}

    kept = build_zip.prune_powertools(files, ["bluegreen.metrics_use"])

    assert "aws_lambda_powertools/event_handler/api_gateway.py" in kept
    assert "aws_lambda_powertools/__init__.py" in kept
    assert "aws_lambda_powertools/utilities/idempotency/idempotency.py" not in kept


def test_a_lazy_powertools_import_into_a_left_out_part_is_not_followed():
    kept = build_zip.prune_powertools(powertools_files(), ["aws_lambda_powertools.shared.functions"])

    assert "aws_lambda_powertools/shared/functions.py" in kept
    assert not any(name.startswith("aws_lambda_powertools/event_handler/") for name in kept)


def test_powertools_importing_a_left_out_part_when_it_loads_fails_the_build(tmp_path):
    module = tmp_path / "aws_lambda_powertools" / "uses_event_handler.py"
    module.parent.mkdir()
    module.write_text("from aws_lambda_powertools.event_handler import api_gateway\n")
    files = {**powertools_files(), "aws_lambda_powertools/uses_event_handler.py": module}

    with pytest.raises(build_zip.BuildError, match=r"imports aws_lambda_powertools\.event_handler.* when it loads"):
        build_zip.prune_powertools(files, ["aws_lambda_powertools.uses_event_handler"])


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("import a.b", {("a.b", False)}),
        ("from a import b, c", {("a", False), ("a.b", False), ("a.c", False)}),
        ("from . import x", {("pkg", False), ("pkg.x", False)}),
        ("from ..y import z", {("y", False), ("y.z", False)}),
        ("def f():\n    import a", {("a", True)}),
        ("class C:\n    import a", {("a", False)}),
        ("try:\n    import a\nexcept ImportError:\n    a = None", {("a", False)}),
        (
            "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import a\nelse:\n    import b",
            {("typing", False), ("typing.TYPE_CHECKING", False), ("b", False)},
        ),
    ],
)
def test_imported_names_reads_import_statements(source, expected):
    assert set(build_zip.imported_names(source, "pkg.mod", is_package=False)) == expected


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
        build_zip.build(output, bytecode_python=None, wheelhouse=wheelhouse(), limits=build_zip.SizeLimits(zipped=1000))

    assert not output.exists()


# --- requirements --------------------------------------------------------------------------------------------


def test_requirements_without_hashes_are_refused(tmp_path):
    unhashed = tmp_path / "requirements.txt"
    unhashed.write_text("requests==2.34.2\n")

    with pytest.raises(build_zip.BuildError, match=r"(?i)hashes are required"):
        build_zip.build(tmp_path / "x.zip", bytecode_python=None, requirements=[unhashed], wheelhouse=wheelhouse())

    assert not (tmp_path / "x.zip").exists()


def test_a_wheel_whose_hash_differs_from_the_pin_is_refused(tmp_path):
    pinned = build_zip.REQUIREMENTS.read_text()
    version = build_zip.pins(pinned)["idna"]
    tampered = tmp_path / "requirements.txt"
    tampered.write_text(f"idna=={version} --hash=sha256:{'0' * 64}\n")

    with pytest.raises(build_zip.BuildError, match=r"(?i)do not match the hashes"):
        build_zip.build(tmp_path / "x.zip", bytecode_python=None, requirements=[tampered], wheelhouse=wheelhouse())


def requirement_blocks(path: Path) -> dict[str, str]:
    """Each pin of a requirements file with the text that follows it (its hashes and annotations)."""
    text = path.read_text()
    starts = [(m.start(), build_zip.canonical_name(m.group(1))) for m in build_zip._PIN.finditer(text)]
    ends = [start for start, _ in starts[1:]] + [len(text)]
    return {name: text[start:end] for (start, name), end in zip(starts, ends, strict=True)}


@pytest.mark.parametrize("path", [build_zip.REQUIREMENTS, build_zip.BOTO_REQUIREMENTS], ids=lambda p: p.name)
def test_requirements_files_are_uv_generated_with_a_hash_for_every_pin(path):
    text = path.read_text()

    assert text.startswith(
        "# This file was autogenerated by uv via the following command:\n#    python build_zip.py --lock\n"
    )
    blocks = requirement_blocks(path)
    assert blocks
    for name, block in blocks.items():
        assert re.search(r"--hash=sha256:[0-9a-f]{64}", block), name


def test_the_runtime_and_boto_sets_are_disjoint_and_pin_every_dependency_of_pyproject():
    from packaging.requirements import Requirement

    runtime = build_zip.pins(build_zip.REQUIREMENTS.read_text())
    boto = build_zip.pins(build_zip.BOTO_REQUIREMENTS.read_text())
    declared = [Requirement(r) for r in tomllib.loads(build_zip.PYPROJECT.read_text())["project"]["dependencies"]]

    assert set(runtime) & set(boto) == set()
    for requirement in declared:
        name = build_zip.canonical_name(requirement.name)
        version = runtime.get(name) or boto.get(name)
        assert version is not None, requirement
        assert requirement.specifier.contains(version, prereleases=True), requirement
    assert build_zip.BOTO_ROOT in boto


def requires(result: build_zip.BuildResult) -> dict[str, set[str]]:
    """Each distribution of a zip and the distributions its metadata requires on Lambda's Python 3.12."""
    from packaging.requirements import Requirement

    environment = {"python_version": "3.12", "python_full_version": "3.12.0", "extra": "", "sys_platform": "linux"}
    environment |= {"platform_system": "Linux", "platform_machine": "x86_64", "implementation_name": "cpython"}
    environment |= {"platform_python_implementation": "CPython", "os_name": "posix"}
    graph: dict[str, set[str]] = {}
    with zipfile.ZipFile(result.path) as zf:
        for name in zf.namelist():
            if name.endswith(".dist-info/METADATA"):
                project = build_zip.canonical_name(name.split("/")[0].removesuffix(".dist-info").rsplit("-", 1)[0])
                metadata = zf.read(name).decode()
                needs = [
                    Requirement(line.split(":", 1)[1])
                    for line in metadata.splitlines()
                    if line.startswith("Requires-Dist:")
                ]
                graph[project] = {
                    build_zip.canonical_name(r.name)
                    for r in needs
                    if r.marker is None or r.marker.evaluate(environment)
                }
    return graph


def test_the_pinned_sets_are_closed_under_their_dependencies_and_boto_is_exactly_what_boto3_needs(boto_zip):
    """pip installs with --no-deps, so every dependency must be pinned; the boto set is all of boto3's closure
    (what the Lambda runtime ships as one) and nothing else."""
    graph = requires(boto_zip)
    boto = set(build_zip.pins(build_zip.BOTO_REQUIREMENTS.read_text()))

    assert {needed for needs in graph.values() for needed in needs} - set(graph) == set()
    closure, pending = set(), [build_zip.BOTO_ROOT]
    while pending:
        name = pending.pop()
        if name not in closure:
            closure.add(name)
            pending.extend(graph[name])
    assert closure == boto


def test_requirements_pin_boto3_and_botocore_to_the_development_environment():
    pins = build_zip.pins(build_zip.BOTO_REQUIREMENTS.read_text())

    assert pins["boto3"] == importlib.metadata.version("boto3")
    assert pins["botocore"] == importlib.metadata.version("botocore")


@pytest.mark.parametrize(
    ("arch", "platform_tag"), [("x86_64", "manylinux2014_x86_64"), ("arm64", "manylinux2014_aarch64")]
)
def test_pip_installs_hash_checked_platform_wheels_without_compiling(arch, platform_tag):
    command = build_zip.pip_install_command([Path("a.txt"), Path("b.txt")], Path("target"), "3.13", arch)

    for flag in ("--only-binary=:all:", "--require-hashes", "--no-deps", "--no-compile"):
        assert flag in command
    assert command[command.index("--platform") + 1] == platform_tag
    assert command[command.index("--python-version") + 1] == "3.13"
    assert command[command.index("--implementation") + 1] == "cp"
    assert command[-4:] == ["-r", "a.txt", "-r", "b.txt"]


def test_importing_build_zip_has_no_side_effects():
    completed = subprocess.run(
        [sys.executable, "-c", "import build_zip"], cwd=ROOT, capture_output=True, text=True, check=False
    )
    assert (completed.returncode, completed.stdout, completed.stderr) == (0, "", "")


# --- the package on the Lambda interpreter -------------------------------------------------------------------


@pytest.fixture(scope="module")
def lambda_runtime(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """What the Lambda runtime provides beside the zip: the boto set, and nothing else."""
    needs_python312()
    runtime = tmp_path_factory.mktemp("runtime")
    build_zip.install_dependencies([build_zip.BOTO_REQUIREMENTS], runtime, "3.12", host_arch(), wheelhouse())
    return runtime


def unpack(result: build_zip.BuildResult, folder: Path) -> Path:
    with zipfile.ZipFile(result.path) as zf:
        zf.extractall(folder)
    return folder


@pytest.fixture(scope="module")
def lambda_on_python312(
    tmp_path_factory: pytest.TempPathFactory, default_zip, lambda_runtime
) -> tuple[str, Path, Path]:
    """The default zip for python3.12 unpacked as Lambda's /var/task, and the runtime's boto set."""
    python = needs_python312()
    tmp_path = tmp_path_factory.mktemp("python312")
    package = default_zip
    if host_arch() != "x86_64":  # the default zip's compiled wheels are x86_64 ones
        package = build_zip.build(
            tmp_path / "pkg.zip", bytecode_python=python, arch=host_arch(), wheelhouse=wheelhouse()
        )
    return python, unpack(package, tmp_path / "task"), lambda_runtime


def _run_isolated(
    python: str, script: str, task: Path, runtime: Path, **kwargs: Any
) -> subprocess.CompletedProcess[str]:
    # -I -S: no site-packages, no PYTHON* variables, no current directory: only the zip, the boto set and stdlib.
    # -B: nothing is written, as in Lambda's read-only /var/task.
    return subprocess.run(  # noqa: S603 - a local interpreter found above
        [python, "-I", "-S", "-B", "-c", script, str(task), str(runtime)],
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


POWERTOOLS_USE = """
import io, json, os, sys
sys.path[:0] = sys.argv[1:3]
os.environ.update(AWS_DEFAULT_REGION="us-east-1", AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing")
import bluegreen.handler
from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.data_classes import CodePipelineJobEvent
from aws_lambda_powertools.utilities.parameters import SecretsProvider, SSMProvider
from aws_lambda_powertools.utilities.typing import LambdaContext

stream = io.StringIO()
logger = Logger(service="bluegreen", logger_formatter=None, stream=stream)
logger.append_keys(job_id="job-1")
try:
    raise ValueError("boom")
except ValueError:
    logger.exception("failed")
record = json.loads(stream.getvalue().splitlines()[-1])
assert record["job_id"] == "job-1" and "boom" in record["exception"], record

metrics = Metrics(namespace="bluegreen", service="bluegreen")
metrics.add_dimension(name="phase", value="DEPLOY")
metrics.add_metric(name="DeploymentSucceeded", unit=MetricUnit.Count, value=1)
emf = metrics.serialize_metric_set()
assert emf["DeploymentSucceeded"] == [1.0] and emf["_aws"]["CloudWatchMetrics"][0]["Namespace"] == "bluegreen", emf

event = CodePipelineJobEvent(json.loads(open(sys.argv[3]).read()))
assert event.get_id and event.user_parameters is not None

import boto3
SecretsProvider(boto3_client=boto3.client("secretsmanager"))
SSMProvider(boto3_client=boto3.client("ssm"))
assert LambdaContext and Tracer
print("ok")
"""


def test_the_powertools_the_team_uses_works_from_the_zip_on_python_312(lambda_on_python312):
    """Logger, Metrics (EMF), the CodePipeline event data class, the parameters providers and LambdaContext, from
    the unpacked zip only: a Powertools module the build left out would fail here with ModuleNotFoundError."""
    python, task, runtime = lambda_on_python312
    event = ROOT / "events" / "codepipeline-s3.json"

    completed = subprocess.run(  # noqa: S603 - a local interpreter found above
        [python, "-I", "-S", "-B", "-c", POWERTOOLS_USE, str(task), str(runtime), str(event)],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )

    assert completed.returncode == 0, completed.stderr
    assert completed.stdout.strip().splitlines()[-1] == "ok"


def test_a_source_edited_after_the_build_takes_effect_as_in_the_lambda_console_editor(
    tmp_path, default_zip, lambda_runtime
):
    python = needs_python312()
    task = unpack(default_zip, tmp_path / "task")
    source = task / "bluegreen" / "clock.py"
    source.write_text(source.read_text() + "\nEDITED_IN_THE_CONSOLE = True\n")

    completed = _run_isolated(
        python,
        "import sys; sys.path[:0] = sys.argv[1:3]\n"
        "import bluegreen.clock\n"
        "print(bluegreen.clock.EDITED_IN_THE_CONSOLE)",
        task,
        lambda_runtime,
    )

    assert completed.returncode == 0, completed.stderr
    assert completed.stdout.strip() == "True"


COLD_START = """
import json, sys
sys.path[:0] = sys.argv[1:3]
import bluegreen
class Context:
    aws_request_id = "cold-start"
    def get_remaining_time_in_millis(self): return 60_000
print(json.dumps(bluegreen.lambda_handler([], Context())))
"""


def first_log_record(completed: subprocess.CompletedProcess[str]) -> dict[str, Any] | None:
    assert completed.returncode == 0, completed.stderr
    lines = completed.stdout.strip().splitlines()
    assert json.loads(lines[-1])["status"] == "Failed"  # the console test of a non-object event
    return json.loads(lines[0]) if len(lines) > 1 else None


def test_a_zip_for_python_312_on_a_python_313_function_warns_in_its_first_log_line(lambda_on_python312, lambda_runtime):
    if PYTHON313 is None:
        pytest.skip("no CPython 3.13 on this machine")
    _, task, _ = lambda_on_python312

    record = first_log_record(_run_isolated(PYTHON313, COLD_START, task, lambda_runtime))

    assert record is not None
    assert record["level"] == "WARNING"
    assert "bytecode is for cpython-312, but the function runs Python 3.13" in record["message"]
    assert "build_zip.py --python 3.13" in record["message"]


def test_a_zip_on_the_python_it_was_built_for_logs_no_warning(lambda_on_python312):
    python, task, runtime = lambda_on_python312

    assert first_log_record(_run_isolated(python, COLD_START, task, runtime)) is None


def test_a_zip_built_without_bytecode_logs_no_warning(tmp_path, sources_zip, lambda_runtime):
    python = needs_python312()
    task = unpack(sources_zip, tmp_path / "task")

    assert first_log_record(_run_isolated(python, COLD_START, task, lambda_runtime)) is None


def test_console_test_from_the_zip_runs_on_python_312_against_the_simulated_cloud(lambda_on_python312):
    from bluegreen_sim.cloud import Cloud

    python, task, runtime = lambda_on_python312
    script = (
        "import json, sys; sys.path[:0] = sys.argv[1:3]\n"
        "import bluegreen\n"
        "class Context:\n"
        "    aws_request_id = 'console-test'\n"
        "    looks = iter([900_000])  # a 900 s function at its start; then 44 s: START, one poll, the hand-over\n"
        "    def get_remaining_time_in_millis(self): return next(self.looks, 44_000)\n"
        "event = json.loads(sys.stdin.read())\n"
        "print(json.dumps(bluegreen.lambda_handler(event, Context())))\n"
    )
    with Cloud() as cloud:
        params = dict(cloud.add_pipeline(instances=2, revision="s3").params)  # a console test: no input artifact
        environ = {**os.environ, **cloud.handler_environ()}

        completed = _run_isolated(python, script, task, runtime, input=json.dumps(params), env=environ)

    assert completed.returncode == 0, completed.stderr
    result = json.loads(completed.stdout.strip().splitlines()[-1])
    assert result["status"] == "InProgress", result
    assert result["phase"] == "WAIT_GREEN"
    assert result["spotDeploymentId"].startswith("cdbg-")
    assert result["continuationToken"]
