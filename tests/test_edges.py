"""The run's edges through the real handler (issue 11): a worker that was given up changes nothing, the
deadline is honoured while a call hangs, a too-short Lambda timeout is refused, Spot's words and weighted groups
are read conservatively, twins follow each other, hostile ids never reach a report, and helper threads keep
the run's context.
"""

from __future__ import annotations

import json
import threading
from typing import Any

from bluegreen.flow import green_identifier
from bluegreen_sim.loopback import Stall
from tests.conftest import Cloud
from tests.fakes.clock import FakeLambdaContext
from tests.fakes.codedeploy import Script
from tests.fakes.spot import Fault, SpotDeploymentRecord

SAFETY_MARGIN = 5.0  # the watchdog keeps half of it for the report: 2.5 s
HANG_BUDGET = 3.0  # wall seconds the invocation has left once a call hangs
EMPTY_LIST = {"request": {"id": "spot-req-1"}, "response": {"status": {"code": 200}, "items": []}}


def _join_given_up_workers() -> None:
    """Wait for workers that a watchdog gave up: what they do once released is what these tests check."""
    for thread in threading.enumerate():
        if thread.name == "bluegreen-run":
            thread.join(timeout=30)
            assert not thread.is_alive(), "a given-up worker never finished"


# ---- 1. a worker that was given up never changes anything ---------------------------------------------------


def test_a_worker_given_up_while_spot_hangs_never_starts_a_deployment_once_released(cloud: Cloud) -> None:
    cloud.environ["BLUEGREEN_SAFETY_MARGIN"] = str(SAFETY_MARGIN)
    context = FakeLambdaContext(cloud.clock)
    released = threading.Event()

    def hang() -> None:
        context.expire_in(HANG_BUDGET)
        released.wait(timeout=30)

    cloud.spot.fail_next("GET", "deployments", Fault(200, before=hang, body=EMPTY_LIST))
    try:
        cloud.invoke(cloud.job_event(cloud.params(), "job-1"), context=context)
    finally:
        released.set()
    _join_given_up_workers()

    assert [r.kind for r in cloud.codepipeline.reports] == ["in_progress"]
    assert cloud.spot.calls_to("POST", "deployments") == 0, "the given-up worker started a Spot deployment"
    assert cloud.spot.deployments == []


def test_a_worker_given_up_while_deploying_creates_nothing_after_the_next_invocation_finished(cloud: Cloud) -> None:
    cloud.environ["BLUEGREEN_SAFETY_MARGIN"] = str(SAFETY_MARGIN)
    context = FakeLambdaContext(cloud.clock)
    released = threading.Event()
    cloud.codedeploy.fail_next("ListDeployments", Stall(released, on_stall=lambda: context.expire_in(HANG_BUDGET)))

    try:
        cloud.invoke(cloud.job_event(cloud.params(), "job-1"), context=context)
        handed_over = cloud.codepipeline.reports[0]
        assert handed_over.kind == "in_progress"
        final = cloud.invoke(cloud.job_event(cloud.params(), "job-2", handed_over.body["continuationToken"]))
        assert final is not None
        assert final["status"] == "Succeeded"
    finally:
        released.set()  # the old worker's call returns now, after the run already succeeded
    _join_given_up_workers()

    assert len(cloud.codedeploy.deployments) == 1, "the given-up worker created a second CodeDeploy deployment"
    assert not cloud.spot.deployments[0].stopped


# ---- 2. the run's deadline, and the Lambda's own timeout ----------------------------------------------------


def test_a_call_hanging_past_the_runs_deadline_fails_the_run_and_cleans_up(cloud: Cloud) -> None:
    cloud.environ["BLUEGREEN_SAFETY_MARGIN"] = str(SAFETY_MARGIN)
    cloud.codedeploy.script = Script(duration=10_000)
    context = FakeLambdaContext(cloud.clock, budget_seconds=100_000)
    released = threading.Event()

    def past_the_deadline() -> None:
        cloud.clock.advance(1_000)  # TIMEOUT=300 has passed while the call hangs
        context.expire_in(HANG_BUDGET)

    cloud.codedeploy.fail_next("GetDeployment", Stall(released, on_stall=past_the_deadline))
    try:
        cloud.invoke(cloud.job_event(cloud.params(TIMEOUT=300), "job-1"), context=context)
    finally:
        released.set()
    _join_given_up_workers()

    assert len(cloud.codepipeline.reports) == 1
    failure = cloud.codepipeline.reports[0].body["failureDetails"]
    assert failure["type"] == "JobFailed"
    assert "Timed out" in failure["message"]
    assert "Cleanup: stopped CodeDeploy deployment" in failure["message"]
    assert cloud.spot.deployments[0].stopped
    assert all(d.stopped for d in cloud.codedeploy.deployments.values())


def test_a_lambda_timeout_of_three_seconds_is_refused_naming_the_900_s_setting(cloud: Cloud) -> None:
    cloud.invoke(cloud.job_event(cloud.params(), "job-1"), budget=3.0)

    failure = cloud.codepipeline.reports[0].body["failureDetails"]
    assert failure["type"] == "ConfigurationError"
    assert "this invocation has 3 s" in failure["message"]
    assert "set the function's timeout to 900 s" in failure["message"]
    assert cloud.spot.calls == []


# ---- 4. 5. Spot's words and weighted groups -------------------------------------------------------------------


def test_past_deployments_with_words_nobody_published_do_not_block_a_new_run(cloud: Cloud) -> None:
    words = ("COMPLETE", "ROLLED_BACK", "FINISHED_ERROR", "", "RETIRED_EDGES_TEST")
    for number, word in enumerate(words, start=1):
        cloud.spot.deployments.append(
            SpotDeploymentRecord(f"cdbg-0000dea{number}", f"old-{number}", 0.0, state=word, status="", launched=True)
        )

    report = cloud.run_pipeline(cloud.params())

    assert report.kind == "success", report.body
    warning = next(json.loads(line) for line in cloud.logs.splitlines() if "RETIRED_EDGES_TEST" in line)
    assert "read the deployment as ended" in warning["message"]


def test_a_weighted_group_waits_for_as_many_greens_as_it_runs_instances(cloud: Cloud) -> None:
    cloud.spot.capacity_unit = "weight"
    cloud.spot.capacity = 16  # a weight sum, not a count
    cloud.spot.status_instances = 1

    report = cloud.run_pipeline(cloud.params(TIMEOUT=600))

    assert report.kind == "success", report.body
    assert len(cloud.green_instances()) == 1


# ---- 8. twins ---------------------------------------------------------------------------------------------------


def _twin_creates_its_deployment(cloud: Cloud, green: str) -> None:
    """The twin delivery's CreateDeployment for the same green fleet, played just before ours."""
    cloud.codedeploy.handle(
        "CreateDeployment",
        {
            "applicationName": "App",
            "deploymentGroupName": "DG",
            "targetInstances": {"tagFilters": [{"Key": "GreenIdentifier", "Value": green, "Type": "KEY_AND_VALUE"}]},
            "description": f"[GreenIdentifier={green}] the twin delivery's deployment",
        },
    )


def test_a_twin_that_created_the_codedeploy_deployment_first_is_followed_not_stopped(cloud: Cloud) -> None:
    green = green_identifier(cloud.action.action_execution_id)

    cloud.codedeploy.before_create.append(lambda: _twin_creates_its_deployment(cloud, green))

    report = cloud.run_pipeline(cloud.params())

    assert report.kind == "success", report.body
    assert len(cloud.codedeploy.deployments) == 1
    assert report.body["outputVariables"]["CodeDeployDeploymentId"] == next(iter(cloud.codedeploy.deployments))
    assert not cloud.spot.deployments[0].stopped
    assert cloud.spot.calls_to("PUT", "stop") == 0


def test_a_twins_deployment_is_found_whatever_order_and_pages_codedeploy_lists_a_busy_group_in(cloud: Cloud) -> None:
    """AWS documents no order and no page size for ListDeployments: with 40 earlier deployments of the group listed
    oldest first, 10 a page, the twin's deployment is the last id of the fifth page, and is still followed."""
    green = green_identifier(cloud.action.action_execution_id)
    for n in range(40):
        cloud.codedeploy.record(
            f"d-EARLY{n:04d}",
            {"applicationName": "App", "deploymentGroupName": "DG", "description": f"release {n}"},
            status="Succeeded",
            created_at=cloud.clock.now() - 4000 + n,
        )
    cloud.codedeploy.model.list_newest_first = False
    cloud.codedeploy.model.list_page_size = 10

    cloud.codedeploy.before_create.append(lambda: _twin_creates_its_deployment(cloud, green))

    report = cloud.run_pipeline(cloud.params())

    assert report.kind == "success", report.body
    (twins,) = [d for d in cloud.codedeploy.deployments if not d.startswith("d-EARLY")]
    assert report.body["outputVariables"]["CodeDeployDeploymentId"] == twins


def test_a_failing_delivery_leaves_the_spot_deployment_its_twin_started(cloud: Cloud) -> None:
    green = green_identifier(cloud.action.action_execution_id)
    cloud.spot.start(green)  # the twin delivery started it
    cloud.codedeploy.script = Script(duration=30, outcome="Failed")

    report = cloud.run_pipeline(cloud.params())

    assert report.kind == "failure"
    message = report.body["failureDetails"]["message"]
    assert "Left to the twin delivery of this job that started it: Spot deployment cdbg-00000001" in message
    assert cloud.spot.calls_to("PUT", "stop") == 0


# ---- 9. hostile shapes ------------------------------------------------------------------------------------------


def test_a_2100_character_spot_id_is_refused_at_the_boundary_and_the_run_reported(cloud: Cloud) -> None:
    hostile = "cdbg-" + "f" * 2095
    item: dict[str, Any] = {"id": hostile, "state": "STARTING", "config": {"tags": []}}
    cloud.spot.fail_next(
        "POST", "deployments", Fault(200, {"request": {"id": "r"}, "response": {"status": {}, "items": [item]}})
    )

    cloud.invoke(cloud.job_event(cloud.params(), "job-1"))

    assert len(cloud.codepipeline.reports) == 1
    failure = cloud.codepipeline.reports[0].body["failureDetails"]
    assert failure["type"] == "SystemUnavailable"
    assert "POST start blue/green deployment" in failure["message"]
    assert hostile not in json.dumps(cloud.codepipeline.reports[0].body)
    assert hostile not in cloud.logs


# ---- 10. threads ----------------------------------------------------------------------------------------------


def test_preflight_uses_the_spot_session_from_one_thread_and_keeps_the_runs_log_keys(cloud: Cloud) -> None:
    cloud.spot.deployments.append(
        SpotDeploymentRecord("cdbg-0000dea1", "old-run", 0.0, state="SOME_NEW_WORD", status="", launched=True)
    )

    cloud.invoke(cloud.job_event(cloud.params(DRY_RUN=True), "job-1"))

    preflight_threads = {
        thread for call, thread in zip(cloud.spot.calls, cloud.spot.threads, strict=True) if call[0] == "GET"
    }
    assert len(preflight_threads) == 1, preflight_threads
    warning = next(json.loads(line) for line in cloud.logs.splitlines() if "SOME_NEW_WORD" in line)
    assert warning["job_id"] == "job-1"
    assert warning["green_identifier"] == green_identifier(cloud.action.action_execution_id)


def test_a_run_resumed_after_its_start_hung_knows_the_spot_deployment_as_its_own_and_stops_it(cloud: Cloud) -> None:
    cloud.environ["BLUEGREEN_SAFETY_MARGIN"] = str(SAFETY_MARGIN)
    cloud.codedeploy.script = Script(duration=30, outcome="Failed")
    context = FakeLambdaContext(cloud.clock)
    released = threading.Event()

    def reply_hangs() -> None:
        context.expire_in(HANG_BUDGET)
        released.wait(timeout=30)

    cloud.spot.after_next("POST", "deployments", reply_hangs)  # Spot starts it; its answer does not come back
    try:
        cloud.invoke(cloud.job_event(cloud.params(), "job-1"), context=context)
    finally:
        released.set()
    _join_given_up_workers()
    handed_over = cloud.codepipeline.reports[0]
    assert handed_over.kind == "in_progress"

    final = cloud.invoke(cloud.job_event(cloud.params(), "job-2", handed_over.body["continuationToken"]))

    assert final is not None
    assert final["status"] == "Failed"
    assert len(cloud.spot.deployments) == 1
    assert cloud.spot.deployments[0].stopped, final["summary"]
    assert "Left to the twin" not in final["summary"]
