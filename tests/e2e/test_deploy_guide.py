"""docs/deploy.md, walked on the simulated cloud: its first-run event, its `bluegreen invoke` command and the
output it shows are what the code takes and prints, and the one step it names turns the dry run into a real run
that succeeds."""

from __future__ import annotations

import io
import json
import shlex
from pathlib import Path
from typing import Any

import pytest

from bluegreen.handler import create_handler
from bluegreen.params import validate_parameters
from bluegreen_sim import cli
from bluegreen_sim.cloud import Cloud
from bluegreen_sim.invoke import invoke
from tests.event_files import CONSOLE_TEST, load_event

ROOT = Path(__file__).resolve().parents[2]
GUIDE = (ROOT / "docs" / "deploy.md").read_text()
FIRST_RUN = GUIDE[GUIDE.index("## 3. First run") : GUIDE.index("## CodePipeline action")]
INSTANCES = 4


def blocks(text: str, language: str = "") -> list[str]:
    """The fenced code blocks of `text` whose info string is `language`."""
    found: list[str] = []
    current: list[str] | None = None
    info = ""
    for line in text.splitlines():
        if line.startswith("```"):
            if current is None:
                current, info = [], line[3:].strip()
            else:
                if info == language:
                    found.append("\n".join(current) + "\n")
                current = None
        elif current is not None:
            current.append(line)
    return found


def guide_event() -> dict[str, Any]:
    (event,) = (json.loads(b) for b in blocks(FIRST_RUN, "json"))
    return event


def guide_invoke_command() -> list[str]:
    lines = [line for b in blocks(FIRST_RUN) for line in b.splitlines() if "bluegreen invoke" in line]
    assert len(lines) == 1, lines
    words = shlex.split(lines[0], comments=True)
    return words[words.index(next(w for w in words if w.endswith("bluegreen"))) + 1 :]


def guide_dry_run_output() -> list[str]:
    (output,) = (b for b in blocks(FIRST_RUN) if b.startswith("Dry run:"))
    return output.splitlines()


def test_the_guide_shows_the_shipped_console_test_event():
    assert guide_event() == load_event(CONSOLE_TEST)


def test_the_guides_first_run_is_a_dry_run_the_function_accepts():
    event = guide_event()

    params = validate_parameters(event, default_secret=None)

    assert params.dry_run is True
    assert "API_TOKEN" not in event


def test_the_guides_invoke_command_parses():
    args = cli.build_parser().parse_args(guide_invoke_command())

    assert args.command == "invoke"
    assert args.params == "my-params.json"


def test_the_guide_names_the_step_that_makes_the_run_real():
    assert 'set `"DRY_RUN": false`' in FIRST_RUN
    assert guide_dry_run_output()[-1].startswith('Next: set "DRY_RUN": false in my-params.json')


@pytest.fixture(scope="module")
def walk(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Follow the guide on the simulated cloud: its event with the cloud's values, a dry run, then a real run."""
    with Cloud() as cloud:
        pipeline = cloud.add_pipeline(instances=INSTANCES, token_source="secret", revision="s3")  # a console test
        event = guide_event()
        mine = {**event, **{k: v for k, v in pipeline.params.items() if k not in ("TIMEOUT", "DRY_RUN")}}
        assert set(mine) == set(event), "the simulated pipeline takes exactly the guide's keys"
        placeholders = {str(event[k]): str(mine[k]) for k in event if event[k] != mine[k]}
        placeholders["(web)"] = f"({pipeline.group.name})"  # the group name in the guide's example output
        params_file = tmp_path_factory.mktemp("guide") / "my-params.json"

        def run() -> tuple[int, str]:
            out = io.StringIO()
            handler = create_handler(clock=cloud.clock, environ=cloud.handler_environ(), log_stream=io.StringIO())
            status = invoke(str(params_file), None, out=out, err=out, handler=handler)
            return status, out.getvalue().replace(str(params_file), "my-params.json")

        params_file.write_text(json.dumps(mine))
        dry = run()
        greens_after_dry_run = cloud.counts(pipeline)["greens"]
        params_file.write_text(json.dumps({**mine, "DRY_RUN": False}))  # the one step the guide names
        real = run()
        return {
            "dry": dry,
            "real": real,
            "placeholders": placeholders,
            "greens_after_dry_run": greens_after_dry_run,
            "started": cloud.groups.started,
        }


def test_the_dry_run_passes_and_prints_what_the_guide_shows(walk):
    status, output = walk["dry"]
    printed = output.splitlines()
    shown = guide_dry_run_output()

    assert status == 0
    assert len(printed) == len(shown)
    for line, documented in zip(printed, shown, strict=True):
        expected = documented
        for placeholder, value in walk["placeholders"].items():
            expected = expected.replace(placeholder, value)
        assert line.startswith(expected.removesuffix("...").rstrip()), (line, expected)


def test_the_dry_run_launches_nothing(walk):
    assert walk["greens_after_dry_run"] == 0


def test_the_real_run_the_guide_describes_succeeds_within_the_events_timeout(walk):
    status, output = walk["real"]

    assert status == 0, output
    assert output.startswith("SUCCEEDED: Deployed ")
    assert "GreenIdentifier" in output
    assert walk["started"] == 1
