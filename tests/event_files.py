"""Loader for the canonical event files under `events/` (the same files users paste into the Lambda console).

Tests load these rather than building events inline, so the shipped examples are exercised by the suite.
"""

from __future__ import annotations

import copy
import json
from functools import cache
from pathlib import Path
from typing import Any

EVENTS_DIR = Path(__file__).resolve().parent.parent / "events"

CODEPIPELINE_ARTIFACT = "codepipeline-artifact"
CODEPIPELINE_S3 = "codepipeline-s3"
CODEPIPELINE_GITHUB = "codepipeline-github"
CONSOLE_TEST = "console-test"


def event_names() -> list[str]:
    """Names (without `.json`) of every event file shipped in `events/`."""
    return sorted(path.stem for path in EVENTS_DIR.glob("*.json"))


@cache
def _read(name: str) -> dict[str, Any]:
    path = EVENTS_DIR / f"{name.removesuffix('.json')}.json"
    data = json.loads(path.read_text())
    if not isinstance(data, dict):
        raise TypeError(f"{path}: expected a JSON object, got {type(data).__name__}")
    return data


def load_event(name: str) -> dict[str, Any]:
    """A fresh copy of `events/<name>.json` (`name` with or without `.json`); callers may mutate it."""
    return copy.deepcopy(_read(name))


def user_parameters(event: dict[str, Any]) -> dict[str, Any]:
    """The decoded UserParameters of a CodePipeline job event."""
    configuration = event["CodePipeline.job"]["data"]["actionConfiguration"]["configuration"]
    decoded = json.loads(configuration["UserParameters"])
    if not isinstance(decoded, dict):
        raise TypeError("UserParameters must decode to a JSON object")
    return decoded


def with_user_parameters(event: dict[str, Any], parameters: dict[str, Any]) -> dict[str, Any]:
    """A copy of a CodePipeline job event whose UserParameters string encodes `parameters`."""
    updated = copy.deepcopy(event)
    configuration = updated["CodePipeline.job"]["data"]["actionConfiguration"]["configuration"]
    configuration["UserParameters"] = json.dumps(parameters, separators=(",", ":"))
    return updated
