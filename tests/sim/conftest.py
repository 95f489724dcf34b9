"""A simulated cloud shared by the emulator wire-format tests of one module."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from bluegreen_sim.cloud import Cloud


@pytest.fixture(scope="module")
def cloud() -> Iterator[Cloud]:
    with Cloud(spot_budget=5) as sim:
        yield sim
