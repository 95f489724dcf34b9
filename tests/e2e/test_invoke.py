"""`bluegreen invoke`: one console-test invocation of the real handler, here against the simulated cloud."""

from __future__ import annotations

import json

from bluegreen_sim import cli
from bluegreen_sim.cloud import Cloud


def test_invoke_runs_a_dry_run_and_prints_the_console_result(tmp_path, monkeypatch, capsys):
    with Cloud() as cloud:
        params = {**cloud.add_pipeline(instances=2, revision="s3").params, "DRY_RUN": True}  # no input artifact
        for name, value in cloud.handler_environ().items():
            monkeypatch.setenv(name, value)
        path = tmp_path / "params.json"
        path.write_text(json.dumps(params))

        status = cli.main(["invoke", "--params", str(path), "--json"])

    out = capsys.readouterr()
    result = json.loads(out.out)
    assert status == 0
    assert result["status"] == "Succeeded"
    assert result["summary"].startswith("Dry run: all checks passed")
    assert params["API_TOKEN"] not in out.out + out.err


def test_invoke_refuses_params_that_are_not_an_object(tmp_path, capsys):
    path = tmp_path / "params.json"
    path.write_text("[1, 2]")

    status = cli.main(["invoke", "--params", str(path)])

    assert status == 1
    assert capsys.readouterr().err == "bluegreen invoke: --params must hold a JSON object of UserParameters keys\n"
