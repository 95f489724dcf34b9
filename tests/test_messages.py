"""The run's words (bluegreen/messages.py), as pure functions of values: no clock, no Spot, no AWS."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import pytest

from bluegreen import messages
from bluegreen.aws import AlarmState, DeploymentGroupInfo, DeploymentProgress, InstanceHealth, TargetFailure
from bluegreen.errors import ServiceUnavailableError
from bluegreen.observation import Observation
from bluegreen.preflight import Preflight
from bluegreen.spot import SpotDeployment, SpotGroup
from bluegreen.state import RunState
from tests.flow.harness import make_params

GROUP = "sig-1234abcd"


def _state(**changes: Any) -> RunState:
    return replace(RunState(phase="START", green="G" * 22, fingerprint="f", started_at=1000, deadline=4600), **changes)


def _health(instance_id: str, state: str = "running", ok: bool = True, detail: str = "") -> InstanceHealth:
    return InstanceHealth(instance_id, state, status_checks_ok=ok, detail=detail)


def _alarm(name: str, state: str) -> AlarmState:
    return AlarmState(name, state, reason="Threshold crossed", changed_at=datetime(2026, 12, 2, 3, 0, tzinfo=UTC))


# ---- in progress ------------------------------------------------------------------------------------------------


def test_waiting_for_greens_counts_running_and_ready_apart_and_fills_the_first_half_of_the_bar() -> None:
    state = _state(phase="WAIT_GREEN", expected_greens=4, spot_deployment_id="dep-1")
    greens = [_health("i-1"), _health("i-2", ok=False), _health("i-3", state="pending", ok=False)]

    summary, percent = messages.progress_summary(make_params(), state, Observation(greens=tuple(greens)), now=2000)

    assert summary == "Waiting for green instances: 2/4 running, 1/4 passed status checks (Spot dep-1)"
    assert percent == 5 + 45 * 1 // 4


def test_codedeploy_progress_stops_one_short_of_its_share_until_the_run_reports_success() -> None:
    state = _state(phase="WAIT_DEPLOY", codedeploy_deployment_id="d-1")
    halfway = DeploymentProgress("d-1", "InProgress", succeeded=2, total=4)
    all_done = DeploymentProgress("d-1", "InProgress", succeeded=4, total=4)

    _, half = messages.progress_summary(make_params(), state, Observation(codedeploy=halfway), now=0)
    _, full = messages.progress_summary(make_params(), state, Observation(codedeploy=all_done), now=0)
    _, baking = messages.progress_summary(make_params(bake_seconds=600), state, Observation(codedeploy=all_done), now=0)

    assert (half, full, baking) == (75, 99, 89)  # a bake takes the last tenth of the bar


def test_codedeploy_progress_before_the_first_read_says_started_with_the_gate() -> None:
    state = _state(phase="WAIT_DEPLOY", codedeploy_deployment_id="d-1")
    params = make_params(alarms=("web-5xx",))

    summary, percent = messages.progress_summary(params, state, Observation(), now=0)

    assert (summary, percent) == ("CodeDeploy d-1: started, 1 alarm(s) not read yet", 50)


def test_baking_clamps_the_baked_time_to_the_bake_and_shows_the_alarms() -> None:
    params = make_params(alarms=("a", "b"), bake_seconds=300)
    state = _state(phase="BAKE", codedeploy_deployment_id="d-1", bake_started_at=1000)
    alarms = {"a": _alarm("a", "OK"), "b": _alarm("b", "OK")}

    summary, percent = messages.progress_summary(params, state, Observation(alarms=alarms), now=5000)

    assert summary == "Baking: 300/300 s, 2 alarms OK (CodeDeploy d-1 succeeded)"
    assert percent == 99


def test_alarm_summary_counts_by_state_in_order_and_names_an_alarm_cloudwatch_left_out() -> None:
    alarms = {"a": _alarm("a", "OK"), "b": _alarm("b", "INSUFFICIENT_DATA"), "c": _alarm("c", "OK")}

    assert messages.alarm_summary(("a", "b", "c", "d"), alarms) == (
        "1 alarm INSUFFICIENT_DATA, 2 alarms OK, 1 alarm missing"
    )
    assert messages.alarm_summary((), alarms) == "no alarms"


# ---- success ----------------------------------------------------------------------------------------------------


def test_success_names_the_gate_and_the_bake_only_when_the_run_had_them() -> None:
    state = _state(phase="WAIT_DEPLOY", expected_greens=2, spot_deployment_id="dep-1", codedeploy_deployment_id="d-1")
    plain = messages.success_summary(make_params(), state, {})
    baked = messages.success_summary(make_params(bake_seconds=60), state, {})

    assert plain == (
        "Deployed s3://artifacts/builds/app.zip (zip) to 2 green instance(s) of sig-1234abcd (CodeDeploy d-1, "
        f"Spot dep-1, GreenIdentifier={state.green}); Elastigroup now retires the blue instances"
    )
    assert "; no alarms after a 60 s bake; Elastigroup now retires" in baked


def test_deployment_description_carries_the_delivery_marker_and_the_pipeline_execution() -> None:
    state = _state(spot_deployment_id="dep-1", delivery="ab12cd34", pipeline_name="web", pipeline_execution_id="exec-9")
    console = _state(spot_deployment_id="dep-1")

    described = messages.deployment_description(make_params(), state)

    assert described.startswith("[BlueGreenDelivery=ab12cd34] bluegreen: ")
    assert described.endswith("(Spot deployment dep-1; pipeline web execution exec-9)")
    assert messages.deployment_description(make_params(), console).startswith("bluegreen: ")


def test_dry_run_summary_says_what_a_real_run_would_do_with_the_group_default_config() -> None:
    checked = Preflight(
        group=SpotGroup(GROUP, "", capacity_target=3, codedeploy_groups=()),
        expected_greens=3,
        deployment_group=DeploymentGroupInfo(blue_green=True, deployment_config=None, green_provisioning=None),
        existing=None,
    )

    text = messages.dry_run_summary(make_params(timeout_seconds=900), _state(), checked)

    assert "on Elastigroup sig-1234abcd (unnamed), wait for 3 green instance(s)" in text
    assert "(deployment config the group default), within TIMEOUT 900 s." in text
    assert "gated on" not in text
    assert "bake" not in text


# ---- failures ---------------------------------------------------------------------------------------------------


def test_a_failure_of_our_own_reads_as_its_message_and_anything_else_as_an_internal_error() -> None:
    assert messages.failure("DEPLOY", ServiceUnavailableError("CodeDeploy is down")) == "DEPLOY: CodeDeploy is down"
    assert messages.failure("BAKE", KeyError("x")) == "BAKE: internal error KeyError: 'x'"


def test_a_wait_green_timeout_lists_at_most_ten_greens_that_are_not_ready_with_their_detail() -> None:
    state = _state(phase="WAIT_GREEN", expected_greens=12)
    greens = [_health(f"i-{n:02}", ok=False, detail="initializing") for n in range(12)]

    text = messages.timeout(make_params(), state, Observation(greens=tuple(greens)), now=4600.9)

    assert text.startswith(
        f"Timed out after 3600 s (TIMEOUT 3600 s) in phase WAIT_GREEN: expected 12 green instance(s) tagged "
        f"GreenIdentifier={state.green}, 12 running, 0 passed status checks; not ready: i-00 (initializing), "
    )
    assert "i-09 (initializing)" in text
    assert "i-10" not in text


def test_a_wait_deploy_timeout_says_how_far_codedeploy_got() -> None:
    state = _state(phase="WAIT_DEPLOY")
    progress = DeploymentProgress("d-1", "InProgress", succeeded=1, total=3)

    text = messages.timeout(make_params(), state, Observation(codedeploy=progress), now=2000)

    assert text.endswith("in phase WAIT_DEPLOY: CodeDeploy d-1 was still InProgress (1/3 instance(s) deployed)")


def test_codedeploy_failure_shows_the_last_five_log_lines_of_each_failed_instance() -> None:
    progress = DeploymentProgress("d-1", "Failed", error_code="HEALTH_CONSTRAINTS", error_message="too few healthy")
    log = "\n".join(f"line {n}" for n in range(8)) + "\n\n"
    target = TargetFailure("i-1", "ApplicationStart", "ScriptFailed", "exit 1", log)

    text = messages.codedeploy_failure(progress, [target])

    assert text == (
        "CodeDeploy deployment d-1 Failed: HEALTH_CONSTRAINTS: too few healthy\n"
        "- i-1: ApplicationStart ScriptFailed: exit 1\n"
        "    line 3\n    line 4\n    line 5\n    line 6\n    line 7"
    )


def test_codedeploy_failure_says_why_the_failed_instances_are_not_shown() -> None:
    text = messages.codedeploy_failure(DeploymentProgress("d-1", "Stopped"), ServiceUnavailableError("throttled"))

    assert (
        text
        == "CodeDeploy deployment d-1 Stopped\n(the failed instances' lifecycle events could not be read: throttled)"
    )


def test_a_target_failure_without_an_error_drops_the_dangling_separator() -> None:
    assert messages.target_failure(TargetFailure("i-1", "BeforeInstall", "", "", "")) == "- i-1: BeforeInstall"


def test_a_spot_deployment_that_ended_early_names_its_words() -> None:
    spot = SpotDeployment("dep-1", GROUP, state="FAILED", status="stopped", tags=())

    assert messages.spot_ended(spot, "the green instances were ready") == (
        "Spot deployment dep-1 ended (FAILED/stopped) before the green instances were ready; see the Elastigroup's "
        "log in the Spot console"
    )


def test_missing_alarms_are_quoted_and_firing_ones_described() -> None:
    assert "did not return alarm(s) 'a', 'b' (deleted" in messages.alarms_unread(["a", "b"])
    assert messages.alarms_firing([_alarm("web-5xx", "ALARM")]) == (
        "health gate: CloudWatch alarm 'web-5xx' is in ALARM since 2026-12-02T03:00:00Z: Threshold crossed"
    )


# ---- cleanup ----------------------------------------------------------------------------------------------------


def test_cleanup_account_puts_what_is_not_ours_first_and_what_is_left_to_a_person_last() -> None:
    parts = messages.cleanup(done=["stopped x"], by_hand=["stop y"], left=["z"], not_ours=["w (why)"])

    assert parts == [
        "Not stopped, because not this run's: w (why).",
        "Cleanup: stopped x.",
        "Left to the twin delivery of this job that started it: z.",
        "Cleanup FAILED, do this by hand: stop y.",
    ]
    assert messages.cleanup(done=[], by_hand=[], left=[], not_ours=[]) == []


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({}, ""),
        (
            {"codedeploy_deployment_id": "d-1", "spot_deployment_id": "dep-1"},
            " Cleanup FAILED, do this by hand: stop CodeDeploy deployment d-1; stop Spot deployment dep-1 of "
            f"{GROUP} and terminate instances tagged GreenIdentifier={'G' * 22}.",
        ),
        (
            {"codedeploy_deployment_id": "d-1", "codedeploy_adopted": True, "spot_deployment_id": "dep-1"},
            f" Cleanup FAILED, do this by hand: stop Spot deployment dep-1 of {GROUP} and terminate instances "
            f"tagged GreenIdentifier={'G' * 22}.",
        ),
        ({"spot_deployment_id": "dep-1", "spot_adopted": True}, ""),
    ],
    ids=["nothing-started", "both-ours", "codedeploy-a-twins", "spot-a-twins"],
)
def test_steps_by_hand_name_only_this_deliverys_own_deployments(changes: dict[str, Any], expected: str) -> None:
    assert messages.by_hand(GROUP, _state(**changes)) == expected


def test_an_unfinished_cleanup_of_a_failing_run_keeps_its_failure_first() -> None:
    state = _state(spot_deployment_id="dep-1")

    text = messages.cleanup_unfinished("WAIT_GREEN: boom", GROUP, state)

    assert text.startswith("WAIT_GREEN: boom\nCleanup did not finish before the invocation's deadline: check that ")
    assert text.endswith(f"Cleanup FAILED, do this by hand: {messages.stop_spot_by_hand(GROUP, state)}.")
    assert messages.cleanup_unfinished("x", GROUP, None).endswith("named above are stopped.")


def test_a_spot_stop_says_whether_it_stopped_the_deployment_or_found_it_ended() -> None:
    state = _state(spot_deployment_id="dep-1")

    assert messages.spot_stopped(state, stopped=True) == (
        "stopped Spot deployment dep-1; Elastigroup terminates the green instances tagged "
        f"GreenIdentifier={state.green}"
    )
    assert messages.spot_stopped(state, stopped=False) == "Spot deployment dep-1 had already ended"
