"""The flow's unit-test harness: a `Deployment` on the in-memory ports, one invocation after another."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

from bluegreen.authority import Authority
from bluegreen.domain import S3Revision
from bluegreen.flow import Deployment, InProgress, Outcome, Timing
from bluegreen.params import DeploymentParams, PlainToken, SpotToken
from tests.flow.fake_ports import APPLICATION, DEPLOYMENT_GROUP, GROUP_ID, FakeCloud

POLL = 15.0
MARGIN = 30.0
BUDGET = 900.0  # seconds of one Lambda invocation


def make_params(**changes: Any) -> DeploymentParams:
    params = DeploymentParams(
        token_source=PlainToken(SpotToken("unit-test-token")),
        account_id="act-12345678",
        group_id=GROUP_ID,
        application=APPLICATION,
        deployment_group=DEPLOYMENT_GROUP,
        timeout_seconds=3600,
        revision=S3Revision("artifacts", "builds/app.zip", "zip"),
    )
    return replace(params, **changes)


class Runner:
    """Runs invocations of the real state machine against the fake world, as the handler would."""

    def __init__(self, cloud: FakeCloud, params: DeploymentParams) -> None:
        self.cloud = cloud
        self.params = params
        self.budget = BUDGET
        self.deployments: list[Deployment] = []
        self.outcomes: list[Outcome] = []

    def deployment(self, budget: float | None = None) -> Deployment:
        clock = self.cloud.clock
        ends = clock.now() + (self.budget if budget is None else budget)
        remaining: Callable[[], float] = lambda: ends - clock.now()  # noqa: E731
        deployment = Deployment(
            self.params,
            spot=self.cloud.spot,
            aws=self.cloud.aws,
            clock=clock,
            timing=Timing(poll_interval=POLL, safety_margin=MARGIN),
            remaining_seconds=remaining,
            authority=Authority(),
        )
        self.deployments.append(deployment)
        return deployment

    def first(self, job_id: str = "job-1", budget: float | None = None) -> Outcome:
        deployment = self.deployment(budget)
        return self._record(deployment.run(deployment.begin(job_id)))

    def resume(self, outcome: Outcome, budget: float | None = None) -> Outcome:
        assert isinstance(outcome, InProgress), outcome
        self.cloud.clock.advance(1.0)  # CodePipeline calls again a moment after the in-progress report
        return self._record(self.deployment(budget).run(outcome.state))

    def to_the_end(self, job_id: str = "job-1", budget: float | None = None, limit: int = 200) -> Outcome:
        outcome = self.first(job_id, budget)
        while isinstance(outcome, InProgress):
            assert len(self.outcomes) < limit, "the run never ended"
            outcome = self.resume(outcome, budget)
        return outcome

    def give_up(self) -> Outcome:
        """What the handler's watchdog does when a call hangs: give the current invocation's run up."""
        return self.deployments[-1].abandon()

    def _record(self, outcome: Outcome) -> Outcome:
        self.outcomes.append(outcome)
        return outcome
