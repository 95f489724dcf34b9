"""The kinds of event the function is invoked with, told apart and read at the edge; a mangled one never crashes."""

from __future__ import annotations

from typing import Any

import pytest
from aws_lambda_powertools.utilities.data_classes import CodePipelineJobEvent

from bluegreen import events, logs
from bluegreen.errors import ConfigurationError
from bluegreen.params import InputArtifact
from tests.event_files import load_event

SECRET = "canary-EVENT-SECRET-0a9b8c7d"


def test_a_codepipeline_job_event_is_read_through_powertools_data_class() -> None:
    event = load_event("codepipeline-artifact.json")

    job = events.classify(event)

    assert isinstance(job, CodePipelineJobEvent)
    assert events.job_id(job) == event["CodePipeline.job"]["id"]
    assert (
        events.user_parameters(job)
        == event["CodePipeline.job"]["data"]["actionConfiguration"]["configuration"]["UserParameters"]
    )
    assert events.continuation_token(job) is None
    assert [a.name for a in events.input_artifacts(job)] == [
        a["name"] for a in event["CodePipeline.job"]["data"]["inputArtifacts"]
    ]


def test_a_codepipeline_state_change_names_its_pipeline_and_execution() -> None:
    change = events.classify(
        {
            "source": "aws.codepipeline",
            "detail-type": "CodePipeline Pipeline Execution State Change",
            "detail": {"pipeline": "storefront", "execution-id": "e-1", "state": "STOPPED"},
        }
    )

    assert change == events.PipelineStateChange("CodePipeline Pipeline Execution State Change", "storefront", "e-1")
    assert isinstance(change, events.PipelineStateChange)
    assert change.names_an_execution


@pytest.mark.parametrize(
    "event",
    [
        {"source": "aws.codepipeline", "detail-type": "CodePipeline Stage Execution State Change", "detail": {}},
        {"source": "aws.codepipeline", "detail-type": "CodePipeline Action Execution State Change", "detail": []},
        {
            "source": "aws.codepipeline",
            "detail-type": "CodePipeline Action Execution State Change",
            "detail": {"pipeline": "", "execution-id": 7},
        },
    ],
)
def test_a_codepipeline_event_that_names_no_execution_says_so(event: dict[str, Any]) -> None:
    change = events.classify(event)

    assert isinstance(change, events.PipelineStateChange)
    assert not change.names_an_execution


def test_any_other_object_is_a_console_test_with_its_continuation_token_apart() -> None:
    test = events.classify({"GROUP_ID": "sig-1", "continuationToken": "t"})

    assert test == events.ConsoleTest({"GROUP_ID": "sig-1"}, "t")


@pytest.mark.parametrize("event", [[], "text", 3, None, True])
def test_a_value_that_is_no_object_is_no_event(event: object) -> None:
    assert events.classify(event) is None


@pytest.mark.parametrize(
    "job",
    ["text", ["a"], 3, True, {}, {"id": 3}, {"id": "j", "data": "x"}, {"id": "j", "data": {"actionConfiguration": []}}],
)
def test_a_mangled_job_reads_as_lacking_what_it_lacks(job: Any) -> None:
    event = events.classify({"CodePipeline.job": job})

    assert isinstance(event, CodePipelineJobEvent)
    assert events.job_id(event) == (job.get("id") if isinstance(job, dict) and isinstance(job.get("id"), str) else None)
    assert events.user_parameters(event) is None
    assert events.continuation_token(event) is None
    assert events.raw_artifact_credentials(event) is None
    assert events.artifact_credentials(event) is None
    assert events.input_artifacts(event) == []


def _job(data: dict[str, Any]) -> CodePipelineJobEvent:
    job = events.classify({"CodePipeline.job": {"id": "j", "data": data}})
    assert isinstance(job, CodePipelineJobEvent)
    return job


def test_incomplete_artifact_credentials_are_unusable_but_still_redacted() -> None:
    job = _job({"artifactCredentials": {"accessKeyId": "ASIAEVENTKEY", "secretAccessKey": SECRET}})

    assert events.artifact_credentials(job) is None
    assert SECRET not in logs.redact(f"echo {SECRET}")


@pytest.mark.parametrize(
    ("artifacts", "problem"),
    [
        ("x", "inputArtifacts: expected a list of at most 5 artifacts"),
        ([{}] * 6, "inputArtifacts: expected a list of at most 5 artifacts"),
        (
            [{"name": "A", "location": {"type": "CodeCommit"}}],
            "inputArtifacts[0]: location type 'CodeCommit' is not S3",
        ),
        ([{"name": "A"}], "inputArtifacts[0]: expected {name, location: {type: S3, s3Location:"),
        (
            [{"name": "", "location": {"type": "S3", "s3Location": {"bucketName": "b", "objectKey": "k"}}}],
            "inputArtifacts[0]: name, bucketName and objectKey must be non-empty strings",
        ),
    ],
)
def test_input_artifacts_that_codepipeline_would_not_send_are_a_configuration_error(
    artifacts: Any, problem: str
) -> None:
    with pytest.raises(ConfigurationError) as caught:
        events.input_artifacts(_job({"inputArtifacts": artifacts}))

    assert str(caught.value).startswith(problem)


def test_an_input_artifact_keeps_its_revision() -> None:
    artifact = {
        "name": "Build",
        "revision": "c0ffee",
        "location": {"type": "S3", "s3Location": {"bucketName": "b", "objectKey": "p/Build/x"}},
    }

    assert events.input_artifacts(_job({"inputArtifacts": [artifact]})) == [
        InputArtifact("Build", "b", "p/Build/x", "c0ffee")
    ]
