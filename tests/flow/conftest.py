"""Fixtures of the flow's unit tests: a fake clock, the in-memory world and a runner of invocations."""

from __future__ import annotations

import pytest

from tests.fakes.clock import FakeClock
from tests.flow.fake_ports import FakeCloud
from tests.flow.harness import Runner, make_params


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def cloud(clock: FakeClock) -> FakeCloud:
    return FakeCloud(clock)


@pytest.fixture
def runner(cloud: FakeCloud) -> Runner:
    return Runner(cloud, make_params())
