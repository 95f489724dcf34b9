"""Build a reproducible `lambda_package.zip` for the `bluegreen` Lambda function.

Usage:
    python build_zip.py [--python 3.12|3.13] [--arch x86_64|arm64] [--bundle-boto3]
                        [--output lambda_package.zip] [--wheelhouse DIR]
    python build_zip.py --lock [--wheelhouse DIR]   # rewrite lambda-requirements.lock

The package holds the `bluegreen/` sources (no tests, no simulator, no caches) plus the runtime dependencies
pinned in `lambda-requirements.lock`, installed by pip as platform wheels for the target interpreter and
architecture (never the build machine's own compiled files). By default the boto set that the Lambda runtime
already provides is left out as a whole; `--bundle-boto3` bundles all of it. Never a part of it: mixing the
runtime's botocore with a bundled urllib3 (or the reverse) breaks imports.

The zip is byte-for-byte reproducible: sorted entries, 1980-01-01 timestamps, normalised permissions, a fixed
deflate level, and none of pip's machine-specific files (RECORD, console scripts, bytecode).

This module only defines functions on import; `main()` does the work.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.metadata
import re
import shutil
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

ROOT = Path(__file__).resolve().parent
PACKAGE_DIR = ROOT / "bluegreen"
LOCK_FILE = ROOT / "lambda-requirements.lock"
DEFAULT_OUTPUT = ROOT / "lambda_package.zip"

PYTHON_VERSIONS = ("3.12", "3.13")
ARCHITECTURES = ("x86_64", "arm64")
PLATFORM_TAGS = {"x86_64": "manylinux2014_x86_64", "arm64": "manylinux2014_aarch64"}

Group = Literal["runtime", "boto"]
GROUPS: tuple[Group, ...] = ("runtime", "boto")
_GROUP_NAMES: dict[str, Group] = {"runtime": "runtime", "boto": "boto"}

# What the function needs that the Lambda runtime does not provide. urllib3 (needed by requests) and jmespath
# (needed by Powertools) come from the boto set, which is either the runtime's or bundled whole.
RUNTIME_SET = (
    "aws-lambda-powertools",
    "certifi",
    "charset-normalizer",
    "idna",
    "requests",
    "typing-extensions",
)
# The set the Python Lambda runtime ships; bundled all together or not at all.
BOTO_SET = ("boto3", "botocore", "jmespath", "python-dateutil", "s3transfer", "six", "urllib3")

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
    """The package cannot be built as asked (bad lock, pip failure, package over Lambda's limits)."""


class PackageTooLargeError(BuildError):
    """The package would exceed one of Lambda's code size limits."""


@dataclass(frozen=True)
class LockEntry:
    """One pinned distribution of the lock file."""

    name: str
    version: str
    hashes: tuple[str, ...]
    group: Group


@dataclass(frozen=True)
class BuildResult:
    """What `build` wrote."""

    path: Path
    size: int
    unpacked_size: int
    entries: int
    sha256: str
    bytecode_by: str | None = None  # the interpreter that compiled the shipped bytecode, if any


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


# --- lock file ----------------------------------------------------------------------------------------------

_GROUP_MARKER = re.compile(r"^#\s*group:\s*(\S+)\s*$")
_PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==(\S+)$")
_HASH = re.compile(r"^--hash=sha256:([0-9a-f]{64})$")


def logical_lines(text: str) -> list[str]:
    """Join backslash continuations and drop blank lines and comments, except `# group:` markers.

    Raises:
        BuildError: the text ends inside a continuation.
    """
    lines: list[str] = []
    current = ""
    for raw in text.splitlines():
        line = raw.strip()
        if line.startswith("#"):
            if _GROUP_MARKER.match(line) and not current:
                lines.append(line)
            continue
        if line.endswith("\\"):
            current += line[:-1] + " "
            continue
        if current or line:
            lines.append((current + line).strip())
        current = ""
    if current:
        raise BuildError("lock: the last requirement ends with a line continuation")
    return lines


def parse_lock(text: str) -> list[LockEntry]:
    """Parse the lock: `# group: <runtime|boto>` markers, then `name==version --hash=sha256:...` requirements.

    Raises:
        BuildError: the text is not a well-formed lock, or a group is not exactly its expected set.
    """
    entries: list[LockEntry] = []
    group: Group | None = None
    for line in logical_lines(text):
        marker = _GROUP_MARKER.match(line)
        if marker:
            name = marker.group(1)
            if name not in _GROUP_NAMES:
                raise BuildError(f"lock: unknown group {name!r}; expected one of {', '.join(GROUPS)}")
            group = _GROUP_NAMES[name]
            continue
        tokens = line.split()
        pin = _PIN.match(tokens[0])
        if pin is None:
            raise BuildError(f"lock: expected 'name==version', got {tokens[0]!r}")
        if group is None:
            raise BuildError(f"lock: {tokens[0]} comes before any '# group:' marker")
        hashes: list[str] = []
        for token in tokens[1:]:
            digest = _HASH.match(token)
            if digest is None:
                raise BuildError(f"lock: {tokens[0]}: expected '--hash=sha256:<64 hex>', got {token!r}")
            hashes.append(digest.group(1))
        if not hashes:
            raise BuildError(f"lock: {tokens[0]} has no --hash (hash-checking mode needs one per wheel)")
        entries.append(LockEntry(canonical_name(pin.group(1)), pin.group(2), tuple(hashes), group))
    check_lock_groups(entries)
    return entries


def check_lock_groups(entries: Iterable[LockEntry]) -> None:
    """Check that each group holds exactly its expected distributions, once each.

    Raises:
        BuildError: a distribution is missing, repeated, unexpected, or in the wrong group.
    """
    expected = {"runtime": set(RUNTIME_SET), "boto": set(BOTO_SET)}
    seen: dict[str, list[str]] = {"runtime": [], "boto": []}
    for entry in entries:
        seen[entry.group].append(entry.name)
    for group, names in seen.items():
        if len(names) != len(set(names)):
            raise BuildError(f"lock: group {group} pins a distribution twice: {sorted(names)}")
        if set(names) != expected[group]:
            missing = sorted(expected[group] - set(names))
            extra = sorted(set(names) - expected[group])
            raise BuildError(
                f"lock: group {group} must be exactly {sorted(expected[group])}; missing {missing}, unexpected {extra}"
            )


def select_entries(entries: Iterable[LockEntry], *, bundle_boto3: bool) -> list[LockEntry]:
    """The pins to install: the runtime group, plus the whole boto group when bundling it."""
    wanted: set[str] = {"runtime", "boto"} if bundle_boto3 else {"runtime"}
    return sorted((e for e in entries if e.group in wanted), key=lambda e: e.name)


def render_requirements(entries: Iterable[LockEntry]) -> str:
    """Render pins as a pip requirements file in hash-checking form."""
    lines = []
    for entry in entries:
        hashes = " ".join(f"--hash=sha256:{digest}" for digest in entry.hashes)
        lines.append(f"{entry.name}=={entry.version} {hashes}")
    return "\n".join(lines) + "\n"


def render_lock(versions: Mapping[str, str], hashes: Mapping[str, Iterable[str]]) -> str:
    """Render the lock file: the pins, and the sha256 of every wheel that any supported target uses."""
    targets = ", ".join(f"{py}/{arch}" for py in PYTHON_VERSIONS for arch in ARCHITECTURES)
    out = [
        "# lambda-requirements.lock: the runtime dependencies of lambda_package.zip, read by build_zip.py.",
        "#",
        "# Generated by `python build_zip.py --lock`, run with the project's virtualenv",
        "# (`.venv/bin/python build_zip.py --lock`): it pins the versions installed in that environment and",
        "# lists the sha256 of every wheel pip picks for CPython " + targets + ".",
        "# To upgrade: upgrade the packages in the virtualenv, run the command again, commit the result.",
        "# Do not edit by hand. Group 'boto' is what the Lambda runtime ships; it is bundled whole",
        "# (build_zip.py --bundle-boto3) or not at all.",
    ]
    for group, names in (("runtime", RUNTIME_SET), ("boto", BOTO_SET)):
        out.append("")
        out.append(f"# group: {group}")
        for name in sorted(names):
            out.append(f"{name}=={versions[name]} \\")
            digests = sorted(set(hashes[name]))
            for i, digest in enumerate(digests):
                tail = " \\" if i < len(digests) - 1 else ""
                out.append(f"    --hash=sha256:{digest}{tail}")
    return "\n".join(out) + "\n"


def installed_versions(names: Iterable[str]) -> dict[str, str]:
    """Versions of the named distributions installed in the running interpreter's environment.

    Raises:
        BuildError: one of them is not installed.
    """
    versions = {}
    for name in names:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            raise BuildError(
                f"--lock pins what is installed, but {name} is not installed here ({sys.executable})"
            ) from None
    return versions


def wheel_project(filename: str) -> str:
    """The canonical project name of a wheel file name (`typing_extensions-4.1-py3-none-any.whl`)."""
    return canonical_name(filename.split("-", 1)[0])


def sha256_file(path: Path) -> str:
    """Hex sha256 of a file's bytes."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _pip(verb: str, python: str, arch: str) -> list[str]:
    """pip `verb` for the Lambda target's platform wheels only, never this machine's, and no dependency resolution
    (the lock is complete)."""
    return [
        sys.executable,
        "-m",
        "pip",
        verb,
        "--quiet",
        "--disable-pip-version-check",
        "--no-input",
        "--no-deps",
        "--only-binary=:all:",
        "--platform",
        platform_tag(arch),
        "--python-version",
        python,
        "--implementation",
        "cp",
    ]


def pip_download_command(requirements: Path, dest: Path, python: str, arch: str) -> list[str]:
    """The pip command that downloads the wheels of pinned requirements for one target."""
    return [*_pip("download", python, arch), "--dest", str(dest), "-r", str(requirements)]


def generate_lock(lock_file: Path, wheelhouse: Path | None = None) -> str:
    """Pin the installed versions, download every target's wheels, and write the lock file.

    Raises:
        BuildError: a distribution is not installed, or pip cannot download a wheel.
    """
    versions = installed_versions((*RUNTIME_SET, *BOTO_SET))
    hashes: dict[str, set[str]] = {name: set() for name in versions}
    with tempfile.TemporaryDirectory(prefix="bluegreen-lock-") as tmp:
        requirements = Path(tmp) / "pins.txt"
        requirements.write_text("".join(f"{n}=={v}\n" for n, v in sorted(versions.items())))
        for python in PYTHON_VERSIONS:
            for arch in ARCHITECTURES:
                dest = Path(tmp) / f"{python}-{arch}"
                run_pip(pip_download_command(requirements, dest, python, arch))
                for wheel in sorted(dest.glob("*.whl")):
                    project = wheel_project(wheel.name)
                    if project not in hashes:
                        raise BuildError(f"pip downloaded an unexpected wheel {wheel.name}")
                    hashes[project].add(sha256_file(wheel))
                    if wheelhouse is not None:
                        wheelhouse.mkdir(parents=True, exist_ok=True)
                        shutil.copy2(wheel, wheelhouse / wheel.name)
    missing = sorted(name for name, found in hashes.items() if not found)
    if missing:
        raise BuildError(f"no wheel downloaded for {missing}")
    text = render_lock(versions, hashes)
    parse_lock(text)  # never write a lock the build would refuse
    lock_file.write_text(text)
    return text


# --- dependencies -------------------------------------------------------------------------------------------


def pip_install_command(
    requirements: Path, target: Path, python: str, arch: str, wheelhouse: Path | None = None
) -> list[str]:
    """The pip command that installs pinned, hash-checked platform wheels into `target`, uncompiled."""
    command = [*_pip("install", python, arch), "--target", str(target), "--require-hashes", "--no-compile"]
    if wheelhouse is not None:
        command += ["--no-index", "--find-links", str(wheelhouse)]
    return [*command, "-r", str(requirements)]


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
    entries: Sequence[LockEntry], target: Path, python: str, arch: str, wheelhouse: Path | None = None
) -> None:
    """Install the pinned wheels for the target interpreter and architecture into `target`.

    Raises:
        BuildError: pip failed (a hash mismatch, no wheel for the target, no index reachable).
    """
    target.mkdir(parents=True, exist_ok=True)
    if not entries:
        return
    requirements = target.parent / "requirements.txt"
    requirements.write_text(render_requirements(entries))
    run_pip(pip_install_command(requirements, target, python, arch, wheelhouse))


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
    """A size in MiB for messages (`3.42 MB`)."""
    return f"{size / (1024 * 1024):.2f} MB"


# --- bytecode -----------------------------------------------------------------------------------------------
#
# Lambda's code directory is read-only, so a package without bytecode is compiled again on every cold start
# (~130 ms for this one). Shipping `__pycache__` compiled by the target interpreter saves that. The bytecode is
# "unchecked-hash" (no source timestamps) and its file names are rewritten to /var/task, so the same sources
# and interpreter give the same bytes.

LAMBDA_TASK_ROOT = "/var/task"
# What a run imports (measured with `-X importtime`): compiling only these keeps the default zip small. The
# rest of Powertools (event handlers, idempotency, ...) is never imported by the function.
BYTECODE_PREFIXES = (
    "bluegreen/",
    "requests/",
    "charset_normalizer/",
    "idna/",
    "certifi/",
    "typing_extensions.py",
    "urllib3/",
    "boto3/",
    "botocore/",
    "s3transfer/",
    "jmespath/",
    "dateutil/",
    "six.py",
    "aws_lambda_powertools/__init__.py",
    "aws_lambda_powertools/exceptions/",
    "aws_lambda_powertools/logging/",
    "aws_lambda_powertools/metrics/",
    "aws_lambda_powertools/package_logger.py",
    "aws_lambda_powertools/shared/",
    "aws_lambda_powertools/tracing/",
    "aws_lambda_powertools/warnings/",
    "aws_lambda_powertools/utilities/__init__.py",
    "aws_lambda_powertools/utilities/jmespath_utils/",
    "aws_lambda_powertools/utilities/parameters/",
)


def find_interpreter(version: str) -> str | None:
    """A working `python<version>` on this machine (PATH, pyenv, /usr), or None."""
    home = Path.home()
    candidates = [shutil.which(f"python{version}")]
    candidates += sorted(
        (str(p) for p in (home / ".pyenv" / "versions").glob(f"{version}*/bin/python{version}")), reverse=True
    )
    candidates += [f"/usr/bin/python{version}", f"/usr/local/bin/python{version}"]
    for candidate in candidates:
        if not candidate or not Path(candidate).exists():
            continue
        probe = subprocess.run(
            [candidate, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
            capture_output=True,
            text=True,
            check=False,
        )
        if probe.returncode == 0 and probe.stdout.strip() == version:
            return candidate
    return None


def compile_bytecode(files: Mapping[str, Path], staging: Path, interpreter: str) -> dict[str, Path]:
    """Compile the package's `.py` files with `interpreter`; return the `__pycache__` entries to add.

    Raises:
        BuildError: the interpreter failed to compile a file.
    """
    for name, source in files.items():
        if name.endswith(".py") and name.startswith(BYTECODE_PREFIXES):
            target = staging / name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, target)
    command = [
        interpreter,
        "-I",
        "-m",
        "compileall",
        "-q",
        "-j",
        "1",
        "--invalidation-mode",
        "unchecked-hash",
        "-s",
        str(staging),
        "-p",
        LAMBDA_TASK_ROOT,
        str(staging),
    ]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise BuildError(f"compiling bytecode with {interpreter} failed: {(done.stdout + done.stderr)[-2000:]}")
    return {path.relative_to(staging).as_posix(): path for path in sorted(staging.rglob("*.pyc"))}


# --- build --------------------------------------------------------------------------------------------------


def build(
    output: Path,
    *,
    python: str = "3.12",
    arch: str = "x86_64",
    bundle_boto3: bool = False,
    lock_file: Path = LOCK_FILE,
    package_dir: Path = PACKAGE_DIR,
    wheelhouse: Path | None = None,
    limits: SizeLimits = SizeLimits(),
    bytecode: bool = True,
) -> BuildResult:
    """Build the Lambda package at `output`; nothing is written there unless the package is within limits.

    With `bytecode` and a `python<python>` interpreter on this machine, the package ships its bytecode.

    Raises:
        BuildError: bad arguments or lock, pip failure, or a package over Lambda's limits.
    """
    if python not in PYTHON_VERSIONS:
        raise BuildError(f"unsupported python {python!r}; expected one of {', '.join(PYTHON_VERSIONS)}")
    platform_tag(arch)
    if not (package_dir / "__init__.py").is_file():
        raise BuildError(f"{package_dir} is not a Python package")
    entries = select_entries(parse_lock(lock_file.read_text()), bundle_boto3=bundle_boto3)
    output = output.resolve()
    output.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="bluegreen-build-") as tmp:
        target = Path(tmp) / "deps"
        install_dependencies(entries, target, python, arch, wheelhouse)
        files = merge_files(
            collect_files(package_dir, package_dir.name, from_dependencies=False),
            collect_files(target, from_dependencies=True),
        )
        interpreter = find_interpreter(python) if bytecode else None
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


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """Parse the command line."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0] if __doc__ else None)
    parser.add_argument("--python", choices=PYTHON_VERSIONS, default="3.12", help="Lambda Python runtime")
    parser.add_argument("--arch", choices=ARCHITECTURES, default="x86_64", help="Lambda architecture")
    parser.add_argument(
        "--bundle-boto3", action="store_true", help="bundle the whole boto3/botocore set instead of using the runtime's"
    )
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT, help="zip to write")
    parser.add_argument(
        "--no-bytecode",
        action="store_true",
        help="do not ship bytecode (by default it is compiled when python<version> is installed)",
    )
    parser.add_argument("--lock-file", type=Path, default=LOCK_FILE, help="pins and hashes to build from")
    parser.add_argument(
        "--wheelhouse",
        type=Path,
        default=None,
        help="install only from this folder of wheels (offline builds); with --lock, save the downloaded wheels there",
    )
    parser.add_argument(
        "--lock", action="store_true", help="rewrite the lock file from the versions installed here, then exit"
    )
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point; returns the exit status."""
    args = parse_args(argv)
    try:
        if args.lock:
            generate_lock(args.lock_file, args.wheelhouse)
            print(f"wrote {args.lock_file}")
            return 0
        result = build(
            args.output,
            python=args.python,
            arch=args.arch,
            bundle_boto3=args.bundle_boto3,
            lock_file=args.lock_file,
            wheelhouse=args.wheelhouse,
            bytecode=not args.no_bytecode,
        )
    except BuildError as exc:
        print(f"build_zip.py: error: {exc}", file=sys.stderr)
        return 2
    boto = "bundled" if args.bundle_boto3 else "from the Lambda runtime"
    print(f"path:    {result.path}")
    print(f"target:  python{args.python} {args.arch}, boto3 {boto}")
    print(
        f"size:    {result.size} bytes ({mb(result.size)}); unpacked {result.unpacked_size} bytes "
        f"({mb(result.unpacked_size)})"
    )
    print(f"entries: {result.entries}")
    if result.bytecode_by:
        print(f"bytecode: compiled by {result.bytecode_by}")
    elif not args.no_bytecode:
        print(f"bytecode: none (no python{args.python} on this machine; cold starts compile the sources)")
    print(f"sha256:  {result.sha256}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
