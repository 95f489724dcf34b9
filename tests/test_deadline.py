"""A call that hangs past the invocation's time still ends in a report before Lambda would kill it."""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable, Iterator

import pytest

from bluegreen_sim.loopback import Stall
from tests.conftest import Cloud
from tests.fakes.clock import FakeLambdaContext
from tests.fakes.codedeploy import Script

SAFETY_MARGIN = 5.0  # the watchdog keeps half of it for the report: 2.5 s
HANG_BUDGET = 3.0  # wall seconds the invocation has left once a call hangs


class StalledEndpoint:
    """A loopback HTTP endpoint that accepts connections and never answers; `on_connect` runs at each one."""

    def __init__(self) -> None:
        self.on_connect: Callable[[], None] = lambda: None
        self._server = socket.socket()
        self._server.bind(("127.0.0.1", 0))
        self._server.listen(8)
        self._held: list[socket.socket] = []
        self.url = f"http://127.0.0.1:{self._server.getsockname()[1]}"
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                connection, _ = self._server.accept()
            except OSError:
                return
            self._held.append(connection)
            self.on_connect()

    def close(self) -> None:
        self._server.close()
        for connection in self._held:
            connection.close()


@pytest.fixture
def stalled_endpoint() -> Iterator[StalledEndpoint]:
    endpoint = StalledEndpoint()
    yield endpoint
    endpoint.close()


def test_a_spot_call_hanging_at_the_start_hands_over_with_a_continuation_token(
    cloud: Cloud, stalled_endpoint: StalledEndpoint
) -> None:
    cloud.environ.update(BLUEGREEN_SAFETY_MARGIN=str(SAFETY_MARGIN), SPOT_API_URL=stalled_endpoint.url)
    context = FakeLambdaContext(cloud.clock)
    stalled_endpoint.on_connect = lambda: context.expire_in(HANG_BUDGET)

    cloud.invoke(cloud.job_event(cloud.params(), "job-1"), context=context)

    assert len(cloud.codepipeline.reports) == 1
    report = cloud.codepipeline.reports[0]
    assert report.kind == "in_progress"
    assert "did not answer in time" in report.body["executionDetails"]["summary"]
    assert context.get_remaining_time_in_millis() > 0, "reported before the invocation ran out"

    # CodePipeline calls again; Spot answers now, and the run resumes from the token.
    del cloud.environ["SPOT_API_URL"]
    final = cloud.invoke(cloud.job_event(cloud.params(), "job-2", report.body["continuationToken"]))

    assert final is not None
    assert final["status"] == "Succeeded"
    assert len(cloud.spot.deployments) == 1


def test_a_codedeploy_call_hanging_while_deploying_hands_over_and_the_next_invocation_finishes(cloud: Cloud) -> None:
    cloud.environ["BLUEGREEN_SAFETY_MARGIN"] = str(SAFETY_MARGIN)
    context = FakeLambdaContext(cloud.clock)
    released = threading.Event()
    cloud.codedeploy.fail_next("GetDeployment", Stall(released, on_stall=lambda: context.expire_in(HANG_BUDGET)))

    try:
        cloud.invoke(cloud.job_event(cloud.params(), "job-1"), context=context)
    finally:
        released.set()

    report = cloud.codepipeline.reports[0]
    assert report.kind == "in_progress"
    assert report.body["executionDetails"]["externalExecutionId"].startswith("d-FAKE")
    final = cloud.invoke(cloud.job_event(cloud.params(), "job-2", report.body["continuationToken"]))
    assert final is not None
    assert final["status"] == "Succeeded"
    assert len(cloud.codedeploy.deployments) == 1


def test_a_call_hanging_during_cleanup_reports_the_failure_and_the_unfinished_cleanup(cloud: Cloud) -> None:
    cloud.environ["BLUEGREEN_SAFETY_MARGIN"] = str(SAFETY_MARGIN)
    cloud.codedeploy.script = Script(duration=10_000)
    context = FakeLambdaContext(cloud.clock)
    released = threading.Event()
    cloud.codedeploy.fail_next("StopDeployment", Stall(released, on_stall=lambda: context.expire_in(HANG_BUDGET)))

    try:
        cloud.invoke(cloud.job_event(cloud.params(TIMEOUT=600), "job-1"), context=context)
    finally:
        released.set()

    assert len(cloud.codepipeline.reports) == 1
    failure = cloud.codepipeline.reports[0].body["failureDetails"]
    assert failure["type"] == "JobFailed"
    assert "Timed out" in failure["message"]
    assert "Cleanup did not finish before the invocation's deadline" in failure["message"]


def test_the_handler_runs_the_flow_in_a_thread_the_clock_starts(cloud: Cloud) -> None:
    result = cloud.invoke(cloud.job_event(cloud.params(DRY_RUN=True), "job-1"))

    assert result is not None
    assert cloud.codepipeline.reports[0].kind == "success"
    # the watchdog's worker first, then the preflight's threads it starts: all through the clock the handler got
    assert cloud.clock.threads_started[0] == "bluegreen-run"
    assert cloud.clock.threads_started[1:] == ["preflight_0", "preflight_1", "preflight_2"]
