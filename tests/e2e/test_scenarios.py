"""Every scenario end to end: the real handler on the simulated cloud, driven as CodePipeline drives it."""

from __future__ import annotations

import json

import pytest

from bluegreen_sim import cli
from bluegreen_sim.runner import SimulationResult, run_scenario
from bluegreen_sim.scenarios import SCENARIOS

_cache: dict[str, SimulationResult] = {}


def result_of(name: str) -> SimulationResult:
    if name not in _cache:
        _cache[name] = run_scenario(name)
    return _cache[name]


ALL = sorted(SCENARIOS)
SUCCEEDING = [n for n in ALL if SCENARIOS[n].expected == "Succeeded"]
FAILING = [n for n in ALL if SCENARIOS[n].expected != "Succeeded" and not SCENARIOS[n].fails_after_deploy]
# Failing after CodeDeploy succeeded (an alarm during the bake): the greens are left serving, by design.
FAILING_AFTER_DEPLOY = [n for n in ALL if SCENARIOS[n].fails_after_deploy]
REPORTED = [n for n in ALL if not SCENARIOS[n].reclaims]  # CodePipeline waits for their final report
RECLAIMED = [n for n in ALL if SCENARIOS[n].reclaims]


@pytest.mark.parametrize("name", ALL)
def test_scenario_ends_with_its_expected_outcome(name):
    result = result_of(name)
    assert result.outcome == result.expected_outcome, result.final_message
    assert result.passed, {k: v for k, v in result.checks.items() if not v}


@pytest.mark.parametrize("name", REPORTED)
def test_exactly_one_final_report_per_run(name):
    result = result_of(name)
    finals = [
        r
        for r in result.reports
        if r["accepted"] and (r["operation"] == "PutJobFailureResult" or not r["request"].get("continuationToken"))
    ]
    assert len(finals) == len(result.executions) >= 1  # one per pipeline execution (three in `rollback`)
    assert finals[-1] == [r for r in result.reports if r["accepted"]][-1]


@pytest.mark.parametrize("name", ALL)
def test_canary_token_never_appears_in_logs_or_reports(name):
    result = result_of(name)
    text = "\n".join(result.log_lines) + json.dumps(result.reports)
    assert result.canaries
    for secret in result.canaries:
        assert secret not in text


@pytest.mark.parametrize("name", SUCCEEDING)
def test_blues_are_retired_after_success(name):
    result = result_of(name)
    assert result.blues_left_running == 0
    assert result.checks["greens serving"]


@pytest.mark.parametrize("name", FAILING)
def test_no_green_is_left_running_after_failure(name):
    result = result_of(name)
    assert result.greens_left_running == 0
    assert result.blues_left_running == result.instances


def test_deployment_failure_reports_error_information_and_the_script_log():
    result = result_of("deploy-fails")
    assert "HEALTH_CONSTRAINTS" in result.final_message
    assert "AfterInstall" in result.final_message
    assert "ScriptFailed" in result.final_message
    assert "codedeploy:BatchGetDeploymentTargets" in result.aws_operations


def test_timeout_stops_the_spot_deployment():
    result = result_of("timeout")
    assert result.spot_stops == 1
    assert "Timed out" in result.final_message


def test_slow_launch_hands_over_with_continuation_tokens():
    result = result_of("slow-launch")
    assert result.invocations >= 2
    in_progress = [r for r in result.reports if r["request"].get("continuationToken")]
    assert in_progress
    assert all(len(r["request"]["continuationToken"]) <= 2048 for r in in_progress)
    assert all(r["request"]["executionDetails"]["summary"] for r in in_progress)
    job_ids = [r["jobId"] for r in result.reports if r["accepted"]]
    assert len(set(job_ids)) == len(job_ids)  # every continuation is a new job


def test_rate_limited_run_absorbs_429s():
    result = result_of("rate-limited")
    assert result.spot_429s >= 1
    assert result.outcome == "Succeeded"


def test_duplicate_delivery_starts_one_spot_deployment():
    result = result_of("duplicate-delivery")
    assert result.spot_deployments_started == 1
    assert result.spot_calls["POST /aws/ec2/group/{groupId}/codeDeploy/blueGreenDeployment"] == 1
    assert result.aws_calls["codedeploy:CreateDeployment"] == 1


def test_bad_token_fails_with_permission_error_before_launching():
    result = result_of("bad-token")
    assert result.outcome == "Failed:PermissionError"
    assert result.spot_deployments_started == 0


def test_spot_interruption_is_replaced_and_deployed():
    result = result_of("spot-interruption")
    assert result.outcome == "Succeeded"
    assert result.timeline["WAIT_GREEN"] > result_of("happy").timeline["WAIT_GREEN"]


def test_happy_path_records_the_handlers_aws_operations():
    # How fast it runs is measured by benchmarks/run.py and shown by `bluegreen simulate --json` (wall_seconds), not
    # asserted here: a wall-time bound in a test fails on a loaded CI machine without anything being wrong.
    result = result_of("happy")
    assert {"codedeploy:CreateDeployment", "ec2:DescribeInstances", "codepipeline:PutJobSuccessResult"} <= (
        result.aws_operations
    )
    assert not any(op.startswith(("sts:", "iam:")) for op in result.aws_operations)
    assert list(result.timeline)[:4] == ["START", "WAIT_GREEN", "DEPLOY", "WAIT_DEPLOY"]


def test_happy_path_deploys_the_build_the_pipeline_made_read_with_the_artifact_credentials():
    result = result_of("happy")
    (execution,) = result.executions
    assert result.revision == "artifact"
    assert result.deployed_revisions == [execution["artifact"]]
    assert execution["artifact"].startswith("s3://codepipeline-us-east-1-")
    assert result.artifact_calls["s3:HeadObject"] == 1
    assert not any(op.startswith("s3:") for op in result.aws_operations)  # the function's role reads no S3
    final = next(r for r in reversed(result.reports) if r["accepted"])
    variables = final["request"]["outputVariables"]
    assert variables["DeployedRevision"] == execution["artifact"]
    assert variables["SourceRevision"] == execution["source_revision"]
    assert "input artifact BuildArtifact" in result.final_message


def test_a_fixed_s3_revision_is_read_with_the_functions_role():
    result = run_scenario("happy", revision="s3", instances=2)
    assert result.passed
    assert result.aws_operations >= {"s3:HeadObject"}
    assert result.artifact_calls == {}
    assert result.deployed_revisions == ["s3://bluegreen-sim-artifacts/releases/app-1.4.2.zip"]


def test_github_revision_succeeds():
    result = run_scenario("happy", revision="github", instances=2)
    assert result.passed
    assert "s3:HeadObject" not in result.aws_operations
    assert result.artifact_calls == {}


def test_rollback_redeploys_the_first_executions_build_after_the_second_fails():
    result = result_of("rollback")
    first, second, rollback = result.executions
    assert [e["outcome"] for e in result.executions] == ["Succeeded", "Failed:JobFailed", "Succeeded"]
    assert first["artifact"] != second["artifact"]
    assert result.deployed_revisions == [first["artifact"], second["artifact"], first["artifact"]]
    assert rollback["artifact"] == first["artifact"]
    assert rollback["source_revision"] == first["source_revision"]
    assert rollback["started"] > second["ended"] > second["started"] > first["ended"]
    assert all(list(e["timeline"])[:4] == ["START", "WAIT_GREEN", "DEPLOY", "WAIT_DEPLOY"] for e in result.executions)
    assert result.spot_deployments_started == 3
    assert result.blues_left_running == 0


def test_rollback_needs_the_input_artifact_path():
    with pytest.raises(ValueError, match="needs revision 'artifact'"):
        run_scenario("rollback", revision="s3")


def test_cli_shows_the_three_executions_of_the_rollback(capsys):
    status = cli.main(["simulate", "--scenario", "rollback", "--speed", "0", "--instances", "1"])
    out = capsys.readouterr().out
    assert status == 0
    for needle in ("execution 1: build A", "execution 2: build B", "rollback to execution 1: build A"):
        assert needle in out


def test_cli_json_output_is_one_document_without_secrets(capsys):
    expected = result_of("bad-token")
    status = cli.main(["simulate", "--scenario", "bad-token", "--speed", "0", "--json"])
    out = capsys.readouterr().out
    doc = json.loads(out)
    assert status == 0
    assert doc["outcome"] == "Failed:PermissionError"
    assert doc["passed"] is True
    for secret in expected.canaries:
        assert secret not in out


def test_cli_text_output_shows_phases_result_and_timeline(capsys):
    status = cli.main(["simulate", "--speed", "0", "--instances", "2"])
    out = capsys.readouterr().out
    assert status == 0
    for needle in ("WAIT_GREEN", "WAIT_DEPLOY", "Result: Succeeded", "Timeline", "API calls", "invocation"):
        assert needle in out
    for secret in result_of("happy").canaries:
        assert secret not in out


def test_deploy_timeout_stops_the_codedeploy_deployment_with_rollback():
    result = result_of("deploy-timeout")
    assert "Timed out" in result.final_message
    assert "WAIT_DEPLOY" in result.final_message
    assert result.aws_calls["codedeploy:StopDeployment"] == 1
    assert "stopped CodeDeploy deployment" in result.final_message


def test_misconfigured_deployment_group_fails_in_preflight_without_launching_anything():
    result = result_of("misconfigured")
    assert "in-place deployment group" in result.final_message
    assert result.spot_deployments_started == 0
    assert result.greens_left_running == 0
    assert "codedeploy:CreateDeployment" not in result.aws_operations


@pytest.mark.parametrize("name", FAILING_AFTER_DEPLOY)
def test_a_failure_after_codedeploy_succeeded_leaves_the_spot_deployment_and_the_greens_serving(name):
    result = result_of(name)
    assert result.spot_stops == 0
    assert "codedeploy:StopDeployment" not in result.aws_operations
    assert result.checks["greens serving"]
    assert "onFailure: ROLLBACK" in result.final_message


def test_an_alarm_during_the_deployment_stops_it_with_rollback_and_names_the_alarm():
    result = result_of("alarm-during-deploy")
    assert "health gate: CloudWatch alarm 'storefront-1-5xx' is in ALARM since " in result.final_message
    assert "Threshold Crossed" in result.final_message
    assert "(with rollback)" in result.final_message
    assert result.aws_calls["codedeploy:StopDeployment"] == 1
    assert "BAKE" not in result.timeline


def test_an_alarm_during_the_bake_fails_the_job_without_any_success_report():
    result = result_of("alarm-during-bake")
    assert result.final_message.startswith("JobFailed: BAKE: health gate: CloudWatch alarm 'storefront-1-5xx'")
    assert not any(
        r["operation"] == "PutJobSuccessResult" and not r["request"].get("continuationToken") for r in result.reports
    )
    assert result.timeline["BAKE"] >= 300


def test_a_healthy_bake_succeeds_after_bake_time_across_a_hand_over():
    result = result_of("healthy-bake")
    assert result.outcome == "Succeeded"
    assert result.invocations >= 2
    assert result.timeline["BAKE"] >= 1200
    baking = [
        r["request"]["executionDetails"]["summary"]
        for r in result.reports
        if r["request"].get("continuationToken") and r["request"]["executionDetails"]["summary"].startswith("Baking: ")
    ]
    assert baking
    assert "2 alarms OK" in baking[0]
    assert result.metrics["BakeSeconds"] >= 1200
    assert "2 alarms OK after a 1200 s bake" in result.final_message


@pytest.mark.parametrize("name", ["happy", "deploy-fails", "healthy-bake", "alarm-during-bake"])
def test_the_run_emits_its_metrics_as_emf_in_the_captured_log(name):
    result = result_of(name)
    emf = [line for line in result.log_lines if '"_aws"' in line]
    assert len(emf) == 1
    assert result.metrics["namespace"] == "bluegreen"
    assert result.metrics["Outcome"] == ("Succeeded" if result.outcome == "Succeeded" else "JobFailed")
    assert result.metrics["TotalSeconds"] > 0


@pytest.mark.parametrize("instances", [1, 4, 40, cli.MAX_INSTANCES])
def test_a_scenario_meant_to_time_out_still_does_at_any_size(instances):
    scenario = SCENARIOS["deploy-timeout"]
    one_instance = sum(seconds for _, seconds in scenario.deploy.lifecycle)

    assert scenario.timeout_for(instances) < instances * one_instance


@pytest.mark.parametrize("instances", [4, 40, cli.MAX_INSTANCES])
def test_a_succeeding_scenario_keeps_its_margin_over_the_deployment_at_any_size(instances):
    scenario = SCENARIOS["happy"]
    one_instance = sum(seconds for _, seconds in scenario.deploy.lifecycle)

    margin = scenario.timeout_for(instances) - instances * one_instance

    assert margin == scenario.timeout - 4 * one_instance


def test_forty_instances_succeed_within_the_scaled_timeout():
    result = run_scenario("happy", instances=40)

    assert result.passed, (result.final_message, {k: v for k, v in result.checks.items() if not v})
    assert result.checks["greens serving"]


def test_the_default_speed_grows_with_the_group():
    assert cli.default_speed(1) == cli.default_speed(4) == cli.DEFAULT_SPEED
    assert cli.default_speed(40) == 10 * cli.DEFAULT_SPEED


def test_an_interruption_is_in_the_result_with_its_replacement_and_checked():
    result = result_of("spot-interruption")

    (event,) = result.interruptions
    assert event["reclaimed"] != event["replacement"]
    assert event["replacement"].startswith("i-")
    assert result.checks["CodeDeploy deployed to the replacement, not the reclaimed green"]


def test_an_interruption_is_shown_in_the_live_view_and_the_json(capsys):
    cli.main(["simulate", "--scenario", "spot-interruption", "--speed", "0"])
    text = capsys.readouterr().out
    cli.main(["simulate", "--scenario", "spot-interruption", "--speed", "0", "--json"])
    doc = json.loads(capsys.readouterr().out)

    live = [line for line in text.splitlines() if "Spot reclaimed green" in line]
    assert len(live) == 2  # as it happens, and in the closing summary with its replacement
    assert "Elastigroup launches a replacement" in live[0]
    assert f"replaced by {doc['interruptions'][0]['replacement'][:2]}" in live[1]
    assert len(doc["interruptions"]) == 1


def test_after_a_hand_over_the_progress_line_shows_the_current_phase_not_the_old_summary(capsys):
    cli.main(["simulate", "--scenario", "slow-launch", "--speed", "0"])
    lines = capsys.readouterr().out.splitlines()

    handed_over = next(n for n, line in enumerate(lines) if "continuation token" in line)
    phase = None
    ticks_after = 0
    for line in lines[handed_over + 1 :]:
        fields = line.split()
        if len(fields) > 2 and fields[0].startswith("[") and fields[1].isupper():
            phase = fields[1]
        elif line.lstrip()[:1] in "|/-\\" and "greens" in line and phase is not None:
            ticks_after += 1
            assert line.endswith(f"; {phase}"), line
    assert ticks_after > 0


def test_the_duplicate_delivery_check_label_says_which_rejection_is_allowed():
    checks = result_of("duplicate-delivery").checks

    assert "no report rejected by CodePipeline" not in checks
    assert checks["CodePipeline rejected no report but the duplicate delivery's late one (InvalidJobStateException)"]


def test_twin_delivery_follows_the_twins_codedeploy_deployment_and_stops_nothing():
    result = result_of("twin-delivery")
    assert result.checks["one CodeDeploy deployment"]
    assert result.checks["nothing stopped"]
    assert any("of a twin delivery targets this green fleet: following it" in line for line in result.log_lines)


def test_spot_history_with_unpublished_words_is_read_as_ended():
    result = result_of("spot-history")
    assert result.outcome == "Succeeded"
    assert any("'ARCHIVED', 'RETIRED'" in line and "read the deployment as ended" in line for line in result.log_lines)


def test_weighted_group_waits_for_as_many_greens_as_the_group_runs_instances():
    result = result_of("weighted-group")
    assert result.checks["greens serving"]
    assert result.spot_calls["GET /aws/ec2/group/{groupId}/status"] == 1


def test_short_lambda_timeout_is_refused_naming_the_900_s_setting_before_anything_starts():
    result = result_of("short-lambda-timeout")
    assert "set the function's timeout to 900 s" in result.final_message
    assert result.checks["nothing launched"]
    assert result.invocations == 1


# ---- reclaim: CodePipeline stops waiting for the run -----------------------------------------------------------


@pytest.mark.parametrize("name", RECLAIMED)
def test_nothing_of_a_run_codepipeline_stopped_waiting_for_outlives_it(name):
    result = result_of(name)
    assert result.greens_left_running == 0
    assert result.checks["no Spot deployment of the run in progress"]
    assert result.checks["no CodeDeploy deployment of the run in progress"]
    assert result.checks["no success reported for a stopped run"]
    assert result.checks["at most one CodeDeploy deployment"]
    assert not any(r["accepted"] and r["operation"] == "PutJobSuccessResult" and not r["request"].get(
        "continuationToken") for r in result.reports)  # fmt: skip


@pytest.mark.parametrize("name", RECLAIMED)
def test_the_timeline_shows_what_was_reclaimed_and_when(name):
    result = result_of(name)
    when_lost = result.reclaimed[0]
    assert when_lost["message"] in (
        "a person stopped and abandoned the execution",
        "the invocation died after the Spot start",
    )
    reclaims = result.reclaimed[1:]
    assert reclaims
    assert all(r["elapsed"] >= when_lost["elapsed"] for r in reclaims)
    assert any("stopped" in r["message"] for r in reclaims), reclaims


def test_a_stop_while_codedeploy_deploys_stops_the_codedeploy_deployment_with_rollback():
    result = result_of("pipeline-stopped-deploying")
    assert any("stopped CodeDeploy deployment" in r["message"] for r in result.reclaimed)
    assert result.aws_calls["codedeploy:CreateDeployment"] == 1


def test_a_stop_between_invocations_is_reclaimed_by_codepipelines_event():
    result = result_of("pipeline-stopped-between")
    assert result.invocation_details[-1]["name"].endswith("#event")
    assert any("Spot deployment" in r["message"] and "stopped" in r["message"] for r in result.reclaimed[1:])


def test_an_invocation_killed_after_the_start_is_reclaimed_when_codepipeline_fails_the_action():
    result = result_of("invocation-killed")
    killed, *reclaims = result.reclaimed
    assert reclaims[0]["elapsed"] >= killed["elapsed"] + 1200  # CodePipeline's 20 minutes without a reply
    assert "stopped Spot deployment" in reclaims[0]["message"]


def test_a_lost_failure_report_is_reported_again_with_codedeploys_cause():
    result = result_of("report-lost")
    assert result.invocations == 2
    assert result.invocation_details[0]["raised"]  # the report was lost: raised so Lambda retries
    assert "HEALTH_CONSTRAINTS" in result.final_message
    assert "Spot deployment ended" not in result.final_message
    assert result.spot_deployments_started == 1
    assert result.aws_calls["codedeploy:CreateDeployment"] == 1
