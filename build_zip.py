"""Build a reproducible `lambda_package.zip` for the `bluegreen` Lambda function.

Usage:
    python build_zip.py [--python 3.12|3.13] [--arch x86_64|arm64] [--bundle-boto3]
                        [--bytecode-python PATH | --no-bytecode] [--output lambda_package.zip] [--wheelhouse DIR]
    python build_zip.py --lock    # regenerate requirements/*.txt from pyproject.toml (needs uv)

The package holds the `bluegreen/` sources (no tests, no simulator, no caches) plus the runtime dependencies
pinned with their sha256 in `requirements/lambda.txt`, installed by plain pip as platform wheels for the target
interpreter and architecture (`--platform --only-binary=:all: --require-hashes --no-deps`), never the build
machine's own compiled files. The boto set that the Lambda runtime already provides (boto3 and everything it
needs, `requirements/lambda-boto.txt`) is left out as a whole, or bundled as a whole with `--bundle-boto3`:
mixing the runtime's botocore with a bundled urllib3 (or the reverse) breaks imports. Both files are generated
by uv from pyproject.toml (`--lock`); a build needs only them and pip.

Of Powertools, the zip carries the modules that the function imports, found by reading the import statements
of `bluegreen/` and of the Powertools utilities the team uses (`POWERTOOLS_API`), not a hand-kept list.

Bytecode is compiled by the interpreter named with `--bytecode-python` (default: `python<version>` on PATH),
which must be CPython of the target version; without it the build fails and says so, unless `--no-bytecode`
asks for a sources-only zip. It is "checked-hash" bytecode: Python compares it with the source's hash on
import, so an edit made in the Lambda console's code editor takes effect.

The zip is byte-for-byte reproducible: sorted entries, 1980-01-01 timestamps, normalised permissions, a fixed
deflate level, source-hash bytecode with /var/task paths, and none of pip's machine-specific files (RECORD,
console scripts).

This module only defines functions on import; `main()` does the work.
"""

from __future__ import annotations

import argparse
import ast
import hashlib
import re
import shutil
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent
PACKAGE_DIR = ROOT / "bluegreen"
PYPROJECT = ROOT / "pyproject.toml"
REQUIREMENTS = ROOT / "requirements" / "lambda.txt"
BOTO_REQUIREMENTS = ROOT / "requirements" / "lambda-boto.txt"
DEFAULT_OUTPUT = ROOT / "lambda_package.zip"

PYTHON_VERSIONS = ("3.12", "3.13")
ARCHITECTURES = ("x86_64", "arm64")
PLATFORM_TAGS = {"x86_64": "manylinux2014_x86_64", "arm64": "manylinux2014_aarch64"}

# The distribution whose dependency closure the Python Lambda runtime ships: `--lock` puts that closure in
# BOTO_REQUIREMENTS and everything else pyproject needs in REQUIREMENTS.
BOTO_ROOT = "boto3"

# The Powertools utilities the function uses or may use (the team's rule: Logger, Metrics, the event data
# classes, parameters, and the typing of the Lambda context). The zip carries what these and `bluegreen/`
# import; a Powertools module outside that is not shipped.
POWERTOOLS = "aws_lambda_powertools"
POWERTOOLS_API = (
    "aws_lambda_powertools.logging",
    "aws_lambda_powertools.metrics",
    "aws_lambda_powertools.utilities.data_classes",
    "aws_lambda_powertools.utilities.parameters",
    "aws_lambda_powertools.utilities.typing",
)
# Imports made inside a function of a shipped Powertools module that lead to parts the function never uses.
# These edges are not followed. If Powertools ever imports one of them when a module loads, the build fails.
POWERTOOLS_LEFT_OUT = {
    "aws_lambda_powertools.event_handler": "shared.functions.pydantic_to_dict, for pydantic models (no dependency)",
}

# Lambda's hard limits (GetAccountSettings: CodeSizeZipped, CodeSizeUnzipped).
MAX_ZIPPED_BYTES = 52_428_800
MAX_UNZIPPED_BYTES = 262_144_000

ZIP_TIMESTAMP = (1980, 1, 1, 0, 0, 0)
ZIP_COMPRESSLEVEL = 9
FILE_MODE = 0o644
DIR_MODE = 0o755

# pip writes these per machine: RECORD hashes the console scripts (their shebang is the build interpreter's
# path) and direct_url.json names a local path. Nothing at run time reads them.
_DROPPED_DIST_INFO_FILES = frozenset({"RECORD", "direct_url.json"})
_DROPPED_DIR_NAMES = frozenset({"__pycache__", "tests", "test"})
_DROPPED_SUFFIXES = (".pyc", ".pyo")


class BuildError(Exception):
    """The package cannot be built as asked (bad arguments, pip failure, no interpreter, over Lambda's limits)."""


class PackageTooLargeError(BuildError):
    """The package would exceed one of Lambda's code size limits."""


@dataclass(frozen=True)
class Interpreter:
    """The interpreter that compiles the shipped bytecode."""

    path: str
    version: str  # full version, `3.12.1`
    cache_tag: str  # `cpython-312`


@dataclass(frozen=True)
class BuildResult:
    """What `build` wrote."""

    path: Path
    size: int
    unpacked_size: int
    entries: int
    sha256: str
    bytecode_by: Interpreter | None = None


def canonical_name(name: str) -> str:
    """Normalise a distribution name as PEP 503 does (`Typing_Extensions` -> `typing-extensions`)."""
    return re.sub(r"[-_.]+", "-", name).lower()


def platform_tag(arch: str) -> str:
    """The manylinux platform tag pip should resolve wheels for on a Lambda architecture.

    Raises:
        BuildError: the architecture is not one Lambda offers.
    """
    try:
        return PLATFORM_TAGS[arch]
    except KeyError:
        expected = ", ".join(ARCHITECTURES)
        raise BuildError(f"unknown architecture {arch!r}; expected one of {expected}") from None


# --- requirements -------------------------------------------------------------------------------------------

_PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;\\]+)", re.MULTILINE)


def pins(text: str) -> dict[str, str]:
    """The `name==version` pins of a requirements file, by canonical name."""
    return {canonical_name(name): version for name, version in _PIN.findall(text)}


def requirement_files(*, bundle_boto3: bool) -> list[Path]:
    """The requirements files a build installs: the runtime set, plus the boto set when bundling it."""
    return [REQUIREMENTS, BOTO_REQUIREMENTS] if bundle_boto3 else [REQUIREMENTS]


def _uv(*args: str) -> str:
    command = [sys.executable, "-m", "uv", "pip", "compile", "--quiet", "--universal", *args]
    try:
        done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=False)
    except OSError as exc:
        raise BuildError(f"cannot run uv ({exc}); --lock needs it: pip install uv") from exc
    if "No module named uv" in done.stderr:
        raise BuildError(f"--lock needs uv, which {sys.executable} does not have: pip install uv")
    if done.returncode != 0:
        raise BuildError(f"uv failed (exit {done.returncode}): {' '.join(command)}\n{done.stderr.strip()}")
    return done.stdout


def generate_requirements(requirements: Path = REQUIREMENTS, boto_requirements: Path = BOTO_REQUIREMENTS) -> None:
    """Resolve pyproject's dependencies with uv for every Python the project supports, and write the two
    requirements files, each pin with the sha256 of every file PyPI has for it (all targets' wheels).

    Raises:
        BuildError: uv is not installed or fails, or the index changed between its runs.
    """
    full = pins(_uv("pyproject.toml", "--no-header", "--no-annotate"))
    with tempfile.TemporaryDirectory(prefix="bluegreen-lock-") as tmp:
        constraints = Path(tmp) / "constraints.txt"
        constraints.write_text("".join(f"{name}=={version}\n" for name, version in sorted(full.items())))
        roots = Path(tmp) / "boto.in"
        roots.write_text(f"{BOTO_ROOT}\n")
        boto = set(pins(_uv(str(roots), "-c", str(constraints), "--no-header", "--no-annotate")))
    header = ("--generate-hashes", "--custom-compile-command", "python build_zip.py --lock")
    for path, left_out in ((requirements, boto), (boto_requirements, set(full) - boto)):
        skip = [arg for name in sorted(left_out) for arg in ("--no-emit-package", name)]
        text = _uv("pyproject.toml", *header, *skip)
        written = pins(text)
        if written != {name: full[name] for name in full if name not in left_out}:
            raise BuildError(f"uv resolved other versions for {path.name} than for the whole set; run --lock again")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


# --- dependencies -------------------------------------------------------------------------------------------


def _pip(verb: str, python: str, arch: str) -> list[str]:
    """pip `verb` for the Lambda target's platform wheels only, never this machine's, hash-checked, and no
    dependency resolution (the requirements files are complete)."""
    return [
        sys.executable,
        "-m",
        "pip",
        verb,
        "--quiet",
        "--disable-pip-version-check",
        "--no-input",
        "--no-deps",
        "--require-hashes",
        "--only-binary=:all:",
        "--platform",
        platform_tag(arch),
        "--python-version",
        python,
        "--implementation",
        "cp",
    ]


def _requirement_args(requirements: Iterable[Path]) -> list[str]:
    return [arg for path in requirements for arg in ("-r", str(path))]


def pip_download_command(requirements: Sequence[Path], dest: Path, python: str, arch: str) -> list[str]:
    """The pip command that downloads the pinned wheels for one target (for offline builds: `--wheelhouse`)."""
    return [*_pip("download", python, arch), "--dest", str(dest), *_requirement_args(requirements)]


def pip_install_command(
    requirements: Sequence[Path], target: Path, python: str, arch: str, wheelhouse: Path | None = None
) -> list[str]:
    """The pip command that installs pinned, hash-checked platform wheels into `target`, uncompiled."""
    command = [*_pip("install", python, arch), "--target", str(target), "--no-compile"]
    if wheelhouse is not None:
        command += ["--no-index", "--find-links", str(wheelhouse)]
    return [*command, *_requirement_args(requirements)]


def run_pip(command: Sequence[str]) -> None:
    """Run pip, turning a failure into a BuildError that carries pip's own output.

    Raises:
        BuildError: pip exited non-zero.
    """
    completed = subprocess.run(command, capture_output=True, text=True, check=False)
    if completed.returncode != 0:
        output = (completed.stdout + completed.stderr).strip()
        raise BuildError(f"pip failed (exit {completed.returncode}): {' '.join(command)}\n{output}")


def install_dependencies(
    requirements: Sequence[Path], target: Path, python: str, arch: str, wheelhouse: Path | None = None
) -> None:
    """Install the pinned wheels for the target interpreter and architecture into `target`.

    Raises:
        BuildError: pip failed (a missing or wrong hash, no wheel for the target, no index reachable).
    """
    target.mkdir(parents=True, exist_ok=True)
    run_pip(pip_install_command(requirements, target, python, arch, wheelhouse))


# --- what of Powertools is shipped --------------------------------------------------------------------------


def module_names(files: Iterable[str]) -> dict[str, str]:
    """Module name -> zip entry, for every `.py` entry (`a/b/__init__.py` is module `a.b`)."""
    modules: dict[str, str] = {}
    for name in files:
        if name.endswith(".py"):
            parts = name[: -len(".py")].split("/")
            if parts[-1] == "__init__":
                parts.pop()
            if parts and all(part.isidentifier() for part in parts):
                modules[".".join(parts)] = name
    return modules


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def imported_names(source: str, module: str, *, is_package: bool) -> Iterator[tuple[str, bool]]:
    """Every module name an import statement of `module` may load, with whether it runs inside a function
    (lazily) rather than when the module loads. `if TYPE_CHECKING:` blocks are skipped: they never run.

    `from a import b` yields `a` and `a.b` (b may be a submodule); relative imports are resolved.

    Raises:
        SyntaxError: the source does not parse.
    """
    package = module if is_package else module.rpartition(".")[0]

    def visit(nodes: Iterable[ast.AST], lazy: bool) -> Iterator[tuple[str, bool]]:
        for node in nodes:
            if isinstance(node, ast.Import):
                yield from ((alias.name, lazy) for alias in node.names)
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                    base = ".".join([*parts, *([node.module] if node.module else [])])
                yield base, lazy
                yield from ((f"{base}.{alias.name}", lazy) for alias in node.names if alias.name != "*")
            elif isinstance(node, ast.If) and _is_type_checking(node.test):
                yield from visit(node.orelse, lazy)
            elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
                yield from visit(ast.iter_child_nodes(node), True)
            else:
                yield from visit(ast.iter_child_nodes(node), lazy)

    yield from visit(ast.parse(source).body, False)


def import_closure(files: Mapping[str, Path], entries: Iterable[str]) -> set[str]:
    """The modules of `files` that importing `entries` may load: every import statement of theirs is followed
    (with its parent packages), except the lazy imports of Powertools into `POWERTOOLS_LEFT_OUT`.

    Raises:
        BuildError: a source does not parse, or Powertools imports a left-out module when it loads.
    """
    modules = module_names(files)
    found: set[str] = set()
    pending = list(entries)
    while pending:
        name = pending.pop()
        parts = name.split(".")
        for depth in range(1, len(parts) + 1):
            module = ".".join(parts[:depth])
            if module in found or module not in modules:
                continue
            found.add(module)
            entry = modules[module]
            try:
                source = files[entry].read_text(encoding="utf-8")
                imports = list(imported_names(source, module, is_package=entry.endswith("/__init__.py")))
            except (SyntaxError, UnicodeDecodeError) as exc:
                raise BuildError(f"cannot read the imports of {entry}: {exc}") from exc
            for target, lazy in imports:
                left_out = next((p for p in POWERTOOLS_LEFT_OUT if target == p or target.startswith(p + ".")), None)
                inside = left_out is not None and (module == left_out or module.startswith(left_out + "."))
                if left_out is not None and module.startswith(POWERTOOLS + ".") and not inside:
                    if lazy:
                        continue
                    raise BuildError(
                        f"{module} imports {target} when it loads, but the build leaves {left_out} out "
                        f"({POWERTOOLS_LEFT_OUT[left_out]}); remove it from POWERTOOLS_LEFT_OUT in build_zip.py"
                    )
                pending.append(target)
    return found


def prune_powertools(files: Mapping[str, Path], entries: Iterable[str]) -> dict[str, Path]:
    """`files` with only the Powertools modules that `entries` import; its other files (py.typed, metadata)
    stay where their folder holds a shipped module."""
    closure = import_closure(files, entries)
    modules = module_names(files)
    shipped = {modules[m] for m in closure}
    folders = {entry.rpartition("/")[0] for entry in shipped}
    kept: dict[str, Path] = {}
    for name, path in files.items():
        if name.startswith(POWERTOOLS + "/"):
            if name.endswith(".py") and name not in shipped:
                continue
            if not name.endswith(".py") and name.rpartition("/")[0] not in folders:
                continue
        kept[name] = path
    return kept


# --- file selection -----------------------------------------------------------------------------------------


def is_excluded(relative: Path, *, from_dependencies: bool) -> bool:
    """Whether a file (path relative to the zip root) stays out of the package.

    Always out: bytecode and `__pycache__`, hidden files, pip's per-machine dist-info files. From the
    dependencies also `bin/` (console scripts with the build interpreter's shebang); from our own package also
    test directories.
    """
    parts = relative.parts
    if any(part.startswith(".") for part in parts):
        return True
    if "__pycache__" in parts or relative.suffix in _DROPPED_SUFFIXES:
        return True
    if from_dependencies:
        if parts[0] == "bin":
            return True
        return len(parts) == 2 and parts[0].endswith(".dist-info") and parts[1] in _DROPPED_DIST_INFO_FILES
    return any(part in _DROPPED_DIR_NAMES for part in parts[:-1]) or relative.name.startswith("test_")


def collect_files(root: Path, prefix: str = "", *, from_dependencies: bool) -> dict[str, Path]:
    """Map zip entry names (`prefix` + path relative to `root`, POSIX separators) to the files to store."""
    files: dict[str, Path] = {}
    for path in sorted(root.rglob("*")):
        if not path.is_file():
            continue
        relative = path.relative_to(root)
        if prefix:
            relative = Path(prefix) / relative
        if is_excluded(relative, from_dependencies=from_dependencies):
            continue
        files[relative.as_posix()] = path
    return files


def merge_files(ours: Mapping[str, Path], dependencies: Mapping[str, Path]) -> dict[str, Path]:
    """Combine our package's files with the dependencies', refusing any name both provide.

    Raises:
        BuildError: a dependency would overwrite one of our files.
    """
    clash = sorted(set(ours) & set(dependencies))
    if clash:
        raise BuildError(f"dependencies would overwrite package files: {clash[:5]}")
    return {**dependencies, **ours}


def directory_entries(names: Iterable[str]) -> set[str]:
    """Every parent directory (as `a/b/`) of the given entry names."""
    dirs: set[str] = set()
    for name in names:
        parts = name.split("/")[:-1]
        for i in range(1, len(parts) + 1):
            dirs.add("/".join(parts[:i]) + "/")
    return dirs


# --- zip ----------------------------------------------------------------------------------------------------


def zip_info(name: str) -> zipfile.ZipInfo:
    """A ZipInfo with a fixed timestamp, Unix permissions normalised, and a fixed compression."""
    info = zipfile.ZipInfo(name, date_time=ZIP_TIMESTAMP)
    info.create_system = 3  # Unix, so unzip applies the permission bits below
    if name.endswith("/"):
        info.external_attr = ((0o040000 | DIR_MODE) << 16) | 0x10  # S_IFDIR, and the MS-DOS directory flag
        info.compress_type = zipfile.ZIP_STORED
    else:
        info.external_attr = (0o100000 | FILE_MODE) << 16  # S_IFREG
        info.compress_type = zipfile.ZIP_DEFLATED
    return info


def write_zip(files: Mapping[str, Path], output: Path) -> int:
    """Write a deterministic zip of `files` (entry name -> file) and their folders; return the entry count."""
    names = sorted({*files, *directory_entries(files)})
    with zipfile.ZipFile(output, "w", zipfile.ZIP_DEFLATED, compresslevel=ZIP_COMPRESSLEVEL) as zf:
        for name in names:
            info = zip_info(name)
            data = b"" if name.endswith("/") else files[name].read_bytes()
            zf.writestr(info, data, compress_type=info.compress_type, compresslevel=ZIP_COMPRESSLEVEL)
    return len(names)


@dataclass(frozen=True)
class SizeLimits:
    """Code size limits in bytes; the defaults are Lambda's."""

    zipped: int = MAX_ZIPPED_BYTES
    unzipped: int = MAX_UNZIPPED_BYTES


def check_size_limits(zipped_bytes: int | None, unpacked_bytes: int, limits: SizeLimits = SizeLimits()) -> None:
    """Refuse a package over Lambda's code size limits (`zipped_bytes` None: not zipped yet).

    Raises:
        PackageTooLargeError: naming the limit exceeded and by how much.
    """
    if unpacked_bytes > limits.unzipped:
        raise PackageTooLargeError(
            f"the package unpacks to {unpacked_bytes} bytes ({mb(unpacked_bytes)}), over Lambda's "
            f"{limits.unzipped}-byte ({mb(limits.unzipped)}) limit for unzipped code; "
            "drop --bundle-boto3 or trim dependencies"
        )
    if zipped_bytes is not None and zipped_bytes > limits.zipped:
        raise PackageTooLargeError(
            f"the zip is {zipped_bytes} bytes ({mb(zipped_bytes)}), over Lambda's {limits.zipped}-byte "
            f"({mb(limits.zipped)}) limit for a direct upload; drop --bundle-boto3 or trim dependencies"
        )


def mb(size: int) -> str:
    """A size in decimal megabytes for messages (`3.42 MB`), the unit the README and the benchmark use."""
    return f"{size / 1e6:.2f} MB"


# --- bytecode -----------------------------------------------------------------------------------------------
#
# Lambda's code directory is read-only, so a package without bytecode is compiled again on every cold start
# (~150 ms for this one). Shipping `__pycache__` compiled by the target interpreter saves that. The bytecode is
# "checked-hash": it carries the source's hash, not its timestamp, so the same sources and interpreter give
# the same bytes, and Python recompiles (in memory) a source edited after the build. Its file names are
# rewritten to /var/task.

LAMBDA_TASK_ROOT = "/var/task"
_PROBE = "import sys; print(sys.implementation.name, '%d.%d.%d' % sys.version_info[:3], sys.implementation.cache_tag)"


def check_interpreter(interpreter: str, version: str) -> Interpreter:
    """The interpreter `interpreter` (a path, or a name looked up on PATH), checked to be CPython `version`.

    Raises:
        BuildError: it is missing, does not run, or is another implementation or version.
    """
    hint = (
        f"pass --bytecode-python with the path of a CPython {version} interpreter, or --no-bytecode to build "
        "without bytecode (every cold start then compiles the sources)"
    )
    found = shutil.which(interpreter)
    if found is None:
        raise BuildError(f"bytecode interpreter {interpreter!r} not found; {hint}")
    try:
        probe = subprocess.run([found, "-I", "-c", _PROBE], capture_output=True, text=True, check=False, timeout=60)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise BuildError(f"bytecode interpreter {found} does not run ({exc}); {hint}") from exc
    words = probe.stdout.split()
    if probe.returncode != 0 or len(words) != 3:
        detail = (probe.stderr.strip().splitlines() or ["no output"])[0]
        raise BuildError(f"bytecode interpreter {found} does not run ({detail}); {hint}")
    implementation, full_version, cache_tag = words
    if implementation != "cpython" or full_version.rpartition(".")[0] != version:
        raise BuildError(
            f"bytecode interpreter {found} is {implementation} {full_version}, not CPython {version}; {hint}"
        )
    return Interpreter(found, full_version, cache_tag)


def find_interpreter(version: str) -> str | None:
    """A working CPython `version` on this machine (PATH, pyenv, /usr), or None: for a person or a test to pass
    to `--bytecode-python`; the build itself never looks for one."""
    home = Path.home()
    candidates = [f"python{version}"]
    candidates += sorted(
        (str(p) for p in (home / ".pyenv" / "versions").glob(f"{version}*/bin/python{version}")), reverse=True
    )
    candidates += [f"/usr/bin/python{version}", f"/usr/local/bin/python{version}"]
    for candidate in candidates:
        try:
            return check_interpreter(candidate, version).path
        except BuildError:
            continue
    return None


def bytecode_sources(files: Iterable[str]) -> list[str]:
    """The `.py` entries to compile: all of them, except those an extension module of the same name shadows
    (`md.py` beside `md.cpython-312-x86_64-linux-gnu.so`: Python imports the extension)."""
    names = set(files)
    extensions = {name.split(".", 1)[0] for name in names if name.endswith(".so")}
    return sorted(name for name in names if name.endswith(".py") and name[: -len(".py")] not in extensions)


def compile_bytecode(files: Mapping[str, Path], staging: Path, interpreter: Interpreter) -> dict[str, Path]:
    """Compile the package's `.py` files with `interpreter`; return the `__pycache__` entries to add.

    Raises:
        BuildError: the interpreter failed to compile a file.
    """
    for name in bytecode_sources(files):
        target = staging / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(files[name], target)
    command = [
        interpreter.path,
        "-I",
        "-m",
        "compileall",
        "-q",
        # One process: compileall -j starts multiprocessing's forkserver, whose socket lives in TMPDIR and fails
        # with "AF_UNIX path too long" when TMPDIR is deep (seen in CI); the package compiles in about a second.
        "-j",
        "1",
        "--invalidation-mode",
        "checked-hash",
        "-s",
        str(staging),
        "-p",
        LAMBDA_TASK_ROOT,
        str(staging),
    ]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise BuildError(f"compiling bytecode with {interpreter.path} failed: {(done.stdout + done.stderr)[-2000:]}")
    return {path.relative_to(staging).as_posix(): path for path in sorted(staging.rglob("*.pyc"))}


# --- build --------------------------------------------------------------------------------------------------


def build(
    output: Path,
    *,
    bytecode_python: str | None,
    python: str = "3.12",
    arch: str = "x86_64",
    bundle_boto3: bool = False,
    requirements: Sequence[Path] | None = None,
    package_dir: Path = PACKAGE_DIR,
    wheelhouse: Path | None = None,
    limits: SizeLimits = SizeLimits(),
) -> BuildResult:
    """Build the Lambda package at `output`; nothing is written there unless the package is within limits.

    `bytecode_python` names the interpreter (CPython `python`) that compiles the shipped bytecode; None ships
    sources only. `requirements` defaults to the files `requirement_files` names.

    Raises:
        BuildError: bad arguments, no such interpreter, pip failure, or a package over Lambda's limits.
    """
    if python not in PYTHON_VERSIONS:
        raise BuildError(f"unsupported python {python!r}; expected one of {', '.join(PYTHON_VERSIONS)}")
    platform_tag(arch)
    if not (package_dir / "__init__.py").is_file():
        raise BuildError(f"{package_dir} is not a Python package")
    interpreter = None if bytecode_python is None else check_interpreter(bytecode_python, python)
    if requirements is None:
        requirements = requirement_files(bundle_boto3=bundle_boto3)
    output = output.resolve()
    output.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="bluegreen-build-") as tmp:
        target = Path(tmp) / "deps"
        install_dependencies(requirements, target, python, arch, wheelhouse)
        ours = collect_files(package_dir, package_dir.name, from_dependencies=False)
        files = merge_files(ours, collect_files(target, from_dependencies=True))
        files = prune_powertools(files, [*module_names(ours), *POWERTOOLS_API])
        if interpreter is not None:
            files.update(compile_bytecode(files, Path(tmp) / "bytecode", interpreter))
        unpacked = sum(path.stat().st_size for path in files.values())
        check_size_limits(None, unpacked, limits)
        partial = Path(tmp) / output.name
        count = write_zip(files, partial)
        size = partial.stat().st_size
        check_size_limits(size, unpacked, limits)
        shutil.move(partial, output)
    return BuildResult(output, size, unpacked, count, sha256_file(output), interpreter)


def sha256_file(path: Path) -> str:
    """Hex sha256 of a file's bytes."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """Parse the command line."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0] if __doc__ else None)
    parser.add_argument("--python", choices=PYTHON_VERSIONS, default="3.12", help="Lambda Python runtime")
    parser.add_argument("--arch", choices=ARCHITECTURES, default="x86_64", help="Lambda architecture")
    parser.add_argument(
        "--bundle-boto3", action="store_true", help="bundle the whole boto3/botocore set instead of using the runtime's"
    )
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT, help="zip to write")
    bytecode = parser.add_mutually_exclusive_group()
    bytecode.add_argument(
        "--bytecode-python",
        metavar="PATH",
        default=None,
        help="CPython of the target version that compiles the shipped bytecode (default: python<version> on PATH)",
    )
    bytecode.add_argument("--no-bytecode", action="store_true", help="ship sources only")
    parser.add_argument(
        "--wheelhouse", type=Path, default=None, help="install only from this folder of wheels (offline builds)"
    )
    parser.add_argument(
        "--lock", action="store_true", help="regenerate requirements/*.txt from pyproject.toml with uv, then exit"
    )
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point; returns the exit status."""
    args = parse_args(argv)
    bytecode_python = None if args.no_bytecode else (args.bytecode_python or f"python{args.python}")
    try:
        if args.lock:
            generate_requirements()
            print(f"wrote {REQUIREMENTS.relative_to(ROOT)} and {BOTO_REQUIREMENTS.relative_to(ROOT)}")
            return 0
        result = build(
            args.output,
            bytecode_python=bytecode_python,
            python=args.python,
            arch=args.arch,
            bundle_boto3=args.bundle_boto3,
            wheelhouse=args.wheelhouse,
        )
    except BuildError as exc:
        print(f"build_zip.py: error: {exc}", file=sys.stderr)
        if bytecode_python is not None and args.bytecode_python is None and not args.lock:
            found = find_interpreter(args.python)
            if found is not None:
                print(f"build_zip.py: a CPython {args.python} is at {found}", file=sys.stderr)
        return 2
    boto = "bundled" if args.bundle_boto3 else "from the Lambda runtime"
    print(f"path:    {result.path}")
    print(f"target:  python{args.python} {args.arch}, boto3 {boto}")
    print(
        f"size:    {result.size} bytes ({mb(result.size)}); unpacked {result.unpacked_size} bytes "
        f"({mb(result.unpacked_size)})"
    )
    print(f"entries: {result.entries}")
    if result.bytecode_by is not None:
        by = result.bytecode_by
        print(
            f"bytecode: {by.cache_tag}, checked-hash, compiled by CPython {by.version} ({by.path}); "
            f"deploy on the python{args.python} runtime (on another, every cold start compiles the sources)"
        )
    else:
        print("bytecode: none (--no-bytecode); every cold start compiles the sources")
    print(f"sha256:  {result.sha256}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
