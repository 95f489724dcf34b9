"""events/: real-shaped CodePipeline job events and a console test event, loadable by the tests."""

from __future__ import annotations

import re

import pytest
from aws_lambda_powertools.utilities.data_classes import CodePipelineJobEvent

from tests.event_files import (
    CODEPIPELINE_ARTIFACT,
    CODEPIPELINE_GITHUB,
    CODEPIPELINE_S3,
    CONSOLE_TEST,
    event_names,
    load_event,
    user_parameters,
    with_user_parameters,
)

PIPELINE_EVENTS = (CODEPIPELINE_ARTIFACT, CODEPIPELINE_S3, CODEPIPELINE_GITHUB)
COMMON_KEYS = {"API_TOKEN_SECRET", "ACCOUNT_ID", "GROUP_ID", "APP_NAME", "DEPLOYMENT_GROUP", "TIMEOUT"}
S3_KEYS = {"S3_BUCKET", "S3_KEY", "S3_BUNDLE"}
GITHUB_KEYS = {"GITHUB_REPO", "COMMIT_ID"}


def test_the_documented_events_are_shipped():
    assert set(event_names()) == {CODEPIPELINE_ARTIFACT, CODEPIPELINE_S3, CODEPIPELINE_GITHUB, CONSOLE_TEST}


@pytest.mark.parametrize("name", PIPELINE_EVENTS)
def test_pipeline_event_has_the_codepipeline_job_shape(name):
    job = load_event(name)["CodePipeline.job"]

    assert re.fullmatch(r"[0-9a-f-]{36}", job["id"])
    assert re.fullmatch(r"[0-9]{12}", job["accountId"])
    assert set(job["data"]) >= {"actionConfiguration", "inputArtifacts", "outputArtifacts", "artifactCredentials"}
    assert "continuationToken" not in job["data"]
    assert set(job["data"]["artifactCredentials"]) == {"accessKeyId", "secretAccessKey", "sessionToken"}


@pytest.mark.parametrize("name", PIPELINE_EVENTS)
def test_user_parameters_is_a_json_string_within_codepipelines_limit(name):
    configuration = load_event(name)["CodePipeline.job"]["data"]["actionConfiguration"]["configuration"]

    assert isinstance(configuration["UserParameters"], str)
    assert len(configuration["UserParameters"]) <= 1000
    assert isinstance(user_parameters(load_event(name)), dict)


@pytest.mark.parametrize(
    ("name", "revision_keys"),
    [(CODEPIPELINE_ARTIFACT, set()), (CODEPIPELINE_S3, S3_KEYS), (CODEPIPELINE_GITHUB, GITHUB_KEYS)],
)
def test_pipeline_event_has_every_key_and_one_revision_source(name, revision_keys):
    assert set(user_parameters(load_event(name))) == COMMON_KEYS | revision_keys


def test_console_test_event_is_the_pipelines_user_parameters_as_a_dry_run():
    event = load_event(CONSOLE_TEST)

    assert "CodePipeline.job" not in event
    assert next(iter(event)) == "DRY_RUN"
    assert event["DRY_RUN"] is True
    assert {k: v for k, v in event.items() if k != "DRY_RUN"} == user_parameters(load_event(CODEPIPELINE_S3))


@pytest.mark.parametrize("name", [*PIPELINE_EVENTS, CONSOLE_TEST])
def test_events_name_a_token_secret_and_carry_no_token(name):
    event = load_event(name)
    parameters = event if name == CONSOLE_TEST else user_parameters(event)

    assert parameters["API_TOKEN_SECRET"] == "spot-token"
    assert "API_TOKEN" not in parameters


@pytest.mark.parametrize("name", PIPELINE_EVENTS)
def test_powertools_reads_the_pipeline_event(name):
    event = CodePipelineJobEvent(load_event(name))

    assert event.get_id == load_event(name)["CodePipeline.job"]["id"]
    assert event.data.continuation_token is None
    assert event.decoded_user_parameters == user_parameters(load_event(name))


def test_load_event_returns_a_copy_callers_may_change():
    load_event(CODEPIPELINE_S3)["CodePipeline.job"]["id"] = "changed"

    assert load_event("codepipeline-s3.json")["CodePipeline.job"]["id"] != "changed"


def test_with_user_parameters_replaces_the_string():
    event = with_user_parameters(load_event(CODEPIPELINE_S3), {"GROUP_ID": "sig-0000"})

    assert user_parameters(event) == {"GROUP_ID": "sig-0000"}


def test_the_artifact_event_names_no_revision_and_carries_one_build_artifact_powertools_can_read():
    event = CodePipelineJobEvent(load_event(CODEPIPELINE_ARTIFACT))

    (artifact,) = event.data.input_artifacts
    assert artifact.location.get_type == "S3"
    assert artifact.location.s3_location.bucket_name.startswith("codepipeline-")
    assert artifact.revision
    assert not set(event.decoded_user_parameters) & (S3_KEYS | GITHUB_KEYS | {"REVISION_ARTIFACT"})
