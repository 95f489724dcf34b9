"""What a step may change in the run's state: everything but the run's identity, each field with its own type."""

from __future__ import annotations

from dataclasses import fields
from typing import get_type_hints

from bluegreen.state import Progress, RunState

IDENTITY = {
    "green",
    "fingerprint",
    "started_at",
    "deadline",
    "artifact",
    "delivery",
    "pipeline_name",
    "pipeline_execution_id",
    "action_execution_id",
}


def test_a_step_may_change_every_field_of_the_run_state_except_the_runs_identity() -> None:
    assert set(Progress.__annotations__) == {f.name for f in fields(RunState)} - IDENTITY


def test_each_change_a_step_may_make_has_the_type_of_its_field() -> None:
    types = get_type_hints(RunState)

    assert {name: types[name] for name in Progress.__annotations__} == get_type_hints(Progress)


def test_advance_changes_the_fields_named_and_keeps_the_rest() -> None:
    state = RunState(phase="START", green="g" * 22, fingerprint="f", started_at=100, deadline=200, delivery="0a1b2c3d")

    moved = state.advance(phase="WAIT_GREEN", spot_deployment_id="cdbg-1", expected_greens=2)

    assert (moved.phase, moved.spot_deployment_id, moved.expected_greens) == ("WAIT_GREEN", "cdbg-1", 2)
    assert (moved.green, moved.deadline, moved.delivery, moved.invocation) == ("g" * 22, 200, "0a1b2c3d", 1)
    assert state.phase == "START"  # states are values: the old one is unchanged
