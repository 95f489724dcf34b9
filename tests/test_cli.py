"""The `bluegreen` command itself: it stands on the runtime dependencies and rejects bad options by name."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from bluegreen_sim import cli
from tests.conftest import CANARY_TOKEN, user_parameters

EVENTS = Path(__file__).resolve().parent.parent / "events"

# Runs in a fresh interpreter where the simulator's dependencies cannot be imported, as after `pip install .`.
WITHOUT_SIMULATOR = textwrap.dedent(
    """
    import sys

    class NoSimulatorDependencies:
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in ("moto", "flask", "werkzeug"):
                raise ModuleNotFoundError(f"No module named {name!r}", name=name)
            return None

    sys.meta_path.insert(0, NoSimulatorDependencies())
    from bluegreen_sim import cli

    for argv in (["--help"], ["invoke", "--help"], ["simulate", "--help"]):
        try:
            cli.main(argv)
        except SystemExit as exc:
            assert exc.code == 0, (argv, exc.code)
    loaded = sorted(m for m in sys.modules if m.startswith(("moto", "bluegreen.handler", "boto3", "bluegreen_sim.")))
    print("loaded:", loaded, file=sys.stderr)
    sys.exit(cli.main(["simulate"]))
    """
)


def run_without_simulator() -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603 - our own interpreter on our own script
        [sys.executable, "-c", WITHOUT_SIMULATOR], capture_output=True, text=True, check=False, timeout=60
    )


def test_help_loads_neither_the_simulator_nor_the_handler():
    loaded = next(line for line in run_without_simulator().stderr.splitlines() if line.startswith("loaded:"))

    assert loaded == "loaded: ['bluegreen_sim.behaviour', 'bluegreen_sim.cli', 'bluegreen_sim.scenarios']"


def test_simulate_without_the_sim_extra_says_in_one_line_what_to_install():
    completed = run_without_simulator()
    message = [line for line in completed.stderr.splitlines() if not line.startswith("loaded:")]

    assert completed.returncode == 2
    assert message == [
        "bluegreen simulate needs the simulator's dependencies (moto is not installed): "
        "pip install -e '.[sim]' in your clone of bluegreen"
    ]


@pytest.mark.parametrize("value", ["nan", "inf", "-inf", "-1", "fast", ""])
def test_simulate_rejects_a_speed_that_is_not_a_finite_non_negative_number(value, capsys):
    with pytest.raises(SystemExit) as exited:
        cli.main(["simulate", f"--speed={value}"])

    assert exited.value.code == 2
    assert f"argument --speed: expected 0 or a positive number of simulated seconds per wall second, got {value!r}" in (
        capsys.readouterr().err
    )


@pytest.mark.parametrize("value", ["0", "-3", "2.5", str(cli.MAX_INSTANCES + 1)])
def test_simulate_rejects_an_instance_count_outside_its_range(value, capsys):
    with pytest.raises(SystemExit) as exited:
        cli.main(["simulate", f"--instances={value}"])

    assert exited.value.code == 2
    assert f"argument --instances: expected a whole number from 1 to {cli.MAX_INSTANCES}" in capsys.readouterr().err


def test_every_subcommand_is_listed_in_the_help(capsys):
    with pytest.raises(SystemExit):
        cli.main(["--help"])

    out = capsys.readouterr().out
    assert "simulate" in out
    assert "invoke" in out


@pytest.mark.usefixtures("no_aws_setup")
def test_invoke_prints_one_line_and_fails_when_even_the_codepipeline_report_fails(tmp_path, capsys):
    params = tmp_path / "params.json"
    params.write_text(json.dumps(user_parameters()))

    status = cli.main(["invoke", "--params", str(params), "--event", str(EVENTS / "codepipeline-s3.json")])

    err = capsys.readouterr().err
    assert status == 1
    assert err.startswith(
        "bluegreen invoke: failed: ReportFailedError: reporting to CodePipeline failed: "
        "AWS codepipeline:PutJobFailureResult failed: NoRegionError"
    )
    assert err.count("\n") == 1
    assert CANARY_TOKEN not in err


@pytest.mark.usefixtures("no_aws_setup")
def test_invoke_without_aws_credentials_says_which_variables_to_set(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("BLUEGREEN_TOKEN_KEY_SECRET", "bluegreen-token-key")  # settings pass: AWS set-up is checked
    params = tmp_path / "params.json"
    params.write_text(json.dumps({**user_parameters(), "DRY_RUN": True}))

    status = cli.main(["invoke", "--params", str(params)])

    out = capsys.readouterr().out
    assert status == 1
    assert out.startswith("FAILED ConfigurationError: AWS region: none is configured; set AWS_REGION or AWS_DEFAULT_")
    assert "AWS credentials: none found; set AWS_PROFILE" in out
    assert out.count("\n") == 1
