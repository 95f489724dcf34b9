"""UserParameters validation: every rule, each error naming its key, the token never echoed."""

from __future__ import annotations

import json
from typing import Any

import pytest

from bluegreen.errors import ConfigurationError
from bluegreen.params import (
    ACCEPTED_KEYS,
    GitHubRevision,
    InputArtifact,
    ParameterToken,
    PlainToken,
    S3Revision,
    SecretToken,
    UserParameters,
    decode_user_parameters,
    parse_user_parameters,
    validate_parameters,
)

TOKEN = "canary-TOKEN-5f1e2d3c"
SHA = "0123456789abcdef0123456789abcdef01234567"


def _params(**overrides: Any) -> dict[str, Any]:
    params: dict[str, Any] = {
        "API_TOKEN": TOKEN,
        "ACCOUNT_ID": "act-1234abcd",
        "GROUP_ID": "sig-1234abcd",
        "APP_NAME": "App",
        "DEPLOYMENT_GROUP": "DG",
        "S3_BUCKET": "bucket",
        "S3_KEY": "k/app.zip",
        "S3_BUNDLE": "zip",
    }
    params.update(overrides)
    return {k: v for k, v in params.items() if v is not None}


def _problems_of(given: UserParameters) -> list[str]:
    with pytest.raises(ConfigurationError) as caught:
        validate_parameters(given)
    return caught.value.problems


def _problems(raw: dict[str, Any]) -> list[str]:
    with pytest.raises(ConfigurationError) as caught:
        validate_parameters(raw)
    assert TOKEN not in str(caught.value)
    return caught.value.problems


def test_valid_s3_parameters_parse_into_a_typed_value() -> None:
    params = parse_user_parameters(json.dumps(_params(TIMEOUT=600)))

    assert params.token_source == PlainToken(params.token_source.token)  # type: ignore[union-attr]
    assert params.revision == S3Revision("bucket", "k/app.zip", "zip")
    assert params.timeout_seconds == 600
    assert params.dry_run is False


def test_github_revision_is_parsed() -> None:
    params = validate_parameters(
        _params(S3_BUCKET=None, S3_KEY=None, S3_BUNDLE=None, GITHUB_REPO="acme/web", COMMIT_ID=SHA.upper())
    )

    assert params.revision == GitHubRevision("acme/web", SHA)


@pytest.mark.parametrize(
    ("given", "sent"), [("zip", "zip"), ("ZIP", "zip"), ("Tgz", "tgz"), ("yaml", "YAML"), ("json", "JSON")]
)
def test_bundle_type_accepts_any_case_and_is_sent_in_codedeploy_spelling(given: str, sent: str) -> None:
    params = validate_parameters(_params(S3_BUNDLE=given))

    assert isinstance(params.revision, S3Revision)
    assert params.revision.bundle_type == sent


@pytest.mark.parametrize(("given", "seconds"), [(None, 3600), (60, 60), ("900", 900), (82800, 82800), (600.0, 600)])
def test_timeout_accepts_whole_seconds_as_number_or_string(given: Any, seconds: int) -> None:
    assert validate_parameters(_params(TIMEOUT=given)).timeout_seconds == seconds


@pytest.mark.parametrize("given", [59, 82801, 86400, "ten", True, 1.5, None.__class__, [600], "-60"])
def test_timeout_out_of_range_or_of_the_wrong_type_is_rejected(given: Any) -> None:
    value = given if given is not None.__class__ else {"x": 1}
    problems = _problems(_params(TIMEOUT=value))

    assert any(p.startswith("TIMEOUT: expected whole seconds between 60 and 82800") for p in problems)


@pytest.mark.parametrize(
    ("key", "value", "expected"),
    [
        ("GROUP_ID", "abc", "GROUP_ID: expected an Elastigroup id like sig-1234abcd, got 'abc'"),
        ("ACCOUNT_ID", "sig-1", "ACCOUNT_ID: expected a Spot account id like act-1234abcd, got 'sig-1'"),
        ("APP_NAME", "", "APP_NAME: expected a CodeDeploy application name"),
        ("DEPLOYMENT_GROUP", 5, "DEPLOYMENT_GROUP: expected a CodeDeploy deployment group name"),
        ("S3_BUNDLE", "rar", "S3_BUNDLE: expected one of tar, tgz, zip, YAML, JSON, got 'rar'"),
        ("S3_BUCKET", "Bad_Bucket", "S3_BUCKET: expected an S3 bucket name"),
        ("DRY_RUN", "maybe", "DRY_RUN: expected true or false"),
    ],
)
def test_an_invalid_value_names_the_key_and_the_expectation(key: str, value: Any, expected: str) -> None:
    problems = _problems(_params(**{key: value}))

    assert any(p.startswith(expected) for p in problems), problems


@pytest.mark.parametrize("key", ["ACCOUNT_ID", "GROUP_ID", "APP_NAME", "DEPLOYMENT_GROUP"])
def test_a_missing_required_key_is_named(key: str) -> None:
    problems = _problems(_params(**{key: None}))

    assert any(p.startswith(f"{key}: missing") for p in problems)


def test_every_problem_is_reported_at_once() -> None:
    problems = _problems(_params(GROUP_ID="x", ACCOUNT_ID="y", TIMEOUT=1))

    assert len(problems) == 3


def test_unknown_keys_are_an_error_listing_the_accepted_keys() -> None:
    problems = _problems(_params(GROUPID="sig-1"))

    assert problems[0].startswith("unknown key(s) 'GROUPID'; accepted keys are ")
    assert all(key in problems[0] for key in ACCEPTED_KEYS)


def test_both_revision_sources_are_rejected() -> None:
    problems = _problems(_params(GITHUB_REPO="a/b", COMMIT_ID=SHA))

    assert "not both" in problems[0]


def test_no_revision_source_is_rejected() -> None:
    problems = _problems(_params(S3_BUCKET=None, S3_KEY=None, S3_BUNDLE=None))

    assert problems[0].startswith("revision: missing")


def test_a_partial_s3_revision_names_each_missing_key() -> None:
    problems = _problems(_params(S3_KEY=None, S3_BUNDLE=None))

    assert any(p.startswith("S3_KEY: missing") for p in problems)
    assert any(p.startswith("S3_BUNDLE: missing") for p in problems)


def test_a_short_github_commit_is_rejected() -> None:
    problems = _problems(_params(S3_BUCKET=None, S3_KEY=None, S3_BUNDLE=None, GITHUB_REPO="a/b", COMMIT_ID="abc123"))

    assert problems == ["COMMIT_ID: expected a full 40-character hex commit SHA, got 'abc123'"]


def test_a_malformed_token_is_rejected_without_echoing_it() -> None:
    problems = _problems(_params(API_TOKEN=TOKEN + " with spaces"))

    assert problems[0].startswith("API_TOKEN: expected the Spot API token")


def test_the_token_is_never_in_the_repr_of_the_parameters() -> None:
    params = validate_parameters(_params())

    assert TOKEN not in repr(params)
    assert TOKEN not in str(params)


def test_invalid_json_says_so_with_the_position() -> None:
    with pytest.raises(ConfigurationError, match=r"UserParameters: invalid JSON at line 1 column 14 \(char 13\)"):
        parse_user_parameters('{"GROUP_ID": }')


@pytest.mark.parametrize(("text", "kind"), [("[]", "an array"), ('"x"', "a string"), ("3", "a number")])
def test_user_parameters_must_be_a_json_object(text: str, kind: str) -> None:
    with pytest.raises(ConfigurationError, match=f"expected a JSON object, got {kind}"):
        parse_user_parameters(text)


@pytest.mark.parametrize("given", [1, ["{}"], {"GROUP_ID": "sig-1"}, True])
def test_user_parameters_that_are_no_string_are_refused_before_anything_else(given: object) -> None:
    with pytest.raises(ConfigurationError, match=r"^UserParameters: expected a JSON string$"):
        parse_user_parameters(given)


def test_decoded_user_parameters_keep_the_keys_given_twice_for_the_validation_to_name() -> None:
    decoded = decode_user_parameters('{"GROUP_ID": "sig-1", "GROUP_ID": "sig-2", "APP_NAME": "App"}')

    assert decoded.duplicates == ("GROUP_ID",)
    assert _problems_of(decoded)[0] == "'GROUP_ID': given more than once"


def test_decoded_user_parameters_show_no_token_in_their_repr() -> None:
    decoded = decode_user_parameters(json.dumps(_params()))

    assert decoded.plain_token() == TOKEN
    assert TOKEN not in repr(decoded)


@pytest.mark.parametrize("text", [None, "", "   "])
def test_missing_user_parameters_are_reported(text: str | None) -> None:
    with pytest.raises(ConfigurationError, match="UserParameters: missing"):
        parse_user_parameters(text)


def test_duplicate_keys_are_rejected() -> None:
    text = json.dumps(_params())[:-1] + ', "GROUP_ID": "sig-99999999"}'

    with pytest.raises(ConfigurationError, match="'GROUP_ID': given more than once"):
        parse_user_parameters(text)


@pytest.mark.parametrize(
    ("extra", "source"),
    [
        ({"API_TOKEN": None, "API_TOKEN_SECRET": "spot/token"}, SecretToken("spot/token")),
        ({"API_TOKEN": None, "API_TOKEN_PARAMETER": "/spot/token"}, ParameterToken("/spot/token")),
    ],
)
def test_token_may_come_from_a_secret_or_a_parameter(extra: dict[str, Any], source: object) -> None:
    assert validate_parameters(_params(**extra)).token_source == source


def test_the_function_default_secret_applies_when_no_token_is_given() -> None:
    params = validate_parameters(_params(API_TOKEN=None), default_secret="arn:aws:secretsmanager:x")

    assert params.token_source == SecretToken("arn:aws:secretsmanager:x")


def test_two_token_sources_are_rejected() -> None:
    problems = _problems(_params(API_TOKEN_SECRET="spot/token"))

    assert problems == ["API_TOKEN and API_TOKEN_SECRET: give only one token source"]


def test_no_token_source_is_rejected() -> None:
    problems = _problems(_params(API_TOKEN=None))

    assert problems[0].startswith("API_TOKEN: missing")


def test_fingerprint_changes_with_the_revision() -> None:
    one = validate_parameters(_params())
    other = validate_parameters(_params(S3_KEY="k/app-2.zip"))

    assert one.fingerprint() != other.fingerprint()
    assert one.fingerprint() == validate_parameters(_params(TIMEOUT=900)).fingerprint()


# ---- the health gate: ALARMS and BAKE_TIME ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        (["web-5xx", "web latency / p99"], ("web-5xx", "web latency / p99")),
        ("web-5xx, web-latency", ("web-5xx", "web-latency")),
        ("web-5xx", ("web-5xx",)),
        ("", ()),
        ([], ()),
        (["a", "a", "b"], ("a", "b")),
        ([f"alarm-{n}" for n in range(10)], tuple(f"alarm-{n}" for n in range(10))),
    ],
)
def test_alarms_are_read_from_a_json_list_or_a_comma_separated_string(given: Any, expected: tuple[str, ...]) -> None:
    assert validate_parameters(_params(ALARMS=given)).alarms == expected


def test_alarms_default_to_none_and_bake_time_to_zero() -> None:
    params = validate_parameters(_params())

    assert params.alarms == ()
    assert params.bake_seconds == 0


@pytest.mark.parametrize(
    ("given", "shown"),
    [
        ([f"alarm-{n}" for n in range(11)], "got 11 names"),
        (["ok", 7], "got 7"),
        (["ok", ""], "got ''"),
        ("a,,b", "got ''"),
        (["x" * 256], "got 'xxxx"),
        (["bad\nname"], "got 'bad\\nname'"),
        ({"name": "a"}, "got an object"),
        (5, "got 5"),
    ],
)
def test_bad_alarms_are_rejected_naming_the_key(given: Any, shown: str) -> None:
    problems = _problems(_params(ALARMS=given))

    assert len(problems) == 1
    assert problems[0].startswith("ALARMS: expected up to 10 CloudWatch alarm names")
    assert shown in problems[0]


@pytest.mark.parametrize(("given", "seconds"), [(0, 0), (300, 300), ("120", 120), (60.0, 60)])
def test_bake_time_is_whole_seconds(given: Any, seconds: int) -> None:
    assert validate_parameters(_params(BAKE_TIME=given, TIMEOUT=3600)).bake_seconds == seconds


@pytest.mark.parametrize("given", [-1, 1.5, "soon", True, None, 43201])
def test_bad_bake_times_are_rejected(given: Any) -> None:
    raw = _params(TIMEOUT=82800)  # the TIMEOUT cap
    raw["BAKE_TIME"] = given
    problems = _problems(raw)

    assert len(problems) == 1
    assert problems[0].startswith("BAKE_TIME: expected whole seconds between 0 and 43200, got ")


def test_a_bake_time_that_leaves_under_five_minutes_of_timeout_does_not_fit() -> None:
    assert validate_parameters(_params(TIMEOUT=900, BAKE_TIME=600)).bake_seconds == 600
    problems = _problems(_params(TIMEOUT=900, BAKE_TIME=601))

    assert problems == [
        "BAKE_TIME: 601 s does not fit in TIMEOUT 900 s, which covers launching the green instances, deploying and "
        "baking; leave at least 300 s for the launch and the deployment (raise TIMEOUT to 901 or more, or shorten "
        "BAKE_TIME)"
    ]


def _artifacts(*names: str) -> list[InputArtifact]:
    return [InputArtifact(name, "codepipeline-artifacts", f"p/{name[:10]}/Ab3dE5f", "c0ffee") for name in names]


def test_without_a_revision_source_the_only_input_artifact_is_the_revision_as_a_zip() -> None:
    params = validate_parameters(_params(S3_BUCKET=None, S3_KEY=None, S3_BUNDLE=None), artifacts=_artifacts("Build"))

    assert params.revision == S3Revision(
        "codepipeline-artifacts", "p/Build/Ab3dE5f", "zip", artifact="Build", source_revision="c0ffee"
    )


def test_revision_artifact_picks_one_of_several_input_artifacts() -> None:
    raw = _params(S3_BUCKET=None, S3_KEY=None, S3_BUNDLE=None, REVISION_ARTIFACT="Config")

    params = validate_parameters(raw, artifacts=_artifacts("Build", "Config"))

    assert isinstance(params.revision, S3Revision)
    assert params.revision.artifact == "Config"


@pytest.mark.parametrize(("named", "artifact"), [({}, "input"), ({"REVISION_ARTIFACT": "Config"}, "Config")])
def test_without_the_input_artifacts_the_artifact_the_parameters_name_is_left_unread(
    named: dict[str, str], artifact: str
) -> None:
    # Reclaim parses a run's parameters when CodePipeline lists no input artifacts for it: it never deploys.
    params = validate_parameters(_params(S3_BUCKET=None, S3_KEY=None, S3_BUNDLE=None, **named), artifacts=None)

    assert isinstance(params.revision, S3Revision)
    assert params.revision.artifact == artifact
    assert params.revision.bucket == params.revision.key == "bluegreen-unread"


def test_without_the_input_artifacts_a_named_revision_is_still_parsed_and_a_bad_name_still_refused() -> None:
    assert validate_parameters(_params(), artifacts=None).revision == S3Revision("bucket", "k/app.zip", "zip")
    with pytest.raises(ConfigurationError) as caught:
        validate_parameters(
            _params(S3_BUCKET=None, S3_KEY=None, S3_BUNDLE=None, REVISION_ARTIFACT="a b"), artifacts=None
        )

    assert caught.value.problems[0].startswith("REVISION_ARTIFACT: expected the name of one of the action's input")


def test_revision_artifact_beside_an_s3_revision_is_rejected() -> None:
    with pytest.raises(ConfigurationError) as caught:
        validate_parameters(_params(REVISION_ARTIFACT="Build"), artifacts=_artifacts("Build"))

    assert "give one revision source" in caught.value.problems[0]


def test_an_s3_revision_in_the_parameters_wins_over_the_input_artifacts() -> None:
    params = validate_parameters(_params(), artifacts=_artifacts("Build"))

    assert params.revision == S3Revision("bucket", "k/app.zip", "zip")


def test_s3_version_and_etag_pin_the_revision_and_the_etag_loses_its_quotes() -> None:
    params = validate_parameters(_params(S3_VERSION="3/L4kqtJlcpXroDTDmJ+rmSpXd3dIbrHY", S3_ETAG='"0123abcd"'))

    assert params.revision == S3Revision(
        "bucket", "k/app.zip", "zip", version="3/L4kqtJlcpXroDTDmJ+rmSpXd3dIbrHY", etag="0123abcd"
    )


@pytest.mark.parametrize(("key", "value"), [("S3_VERSION", ""), ("S3_VERSION", 7), ("S3_ETAG", "not an etag")])
def test_a_malformed_pin_is_rejected_naming_its_key(key: str, value: Any) -> None:
    problems = _problems(_params(**{key: value}))

    assert problems[0].startswith(f"{key}: expected")


def test_s3_version_without_the_bucket_and_key_names_them() -> None:
    problems = _problems(_params(S3_BUCKET=None, S3_KEY=None, S3_BUNDLE=None, S3_VERSION="v1"))

    assert any(p.startswith("S3_BUCKET: missing") for p in problems)


def test_fingerprint_changes_with_the_input_artifact() -> None:
    raw = _params(S3_BUCKET=None, S3_KEY=None, S3_BUNDLE=None)
    one = validate_parameters(raw, artifacts=_artifacts("Build"))
    other = validate_parameters(raw, artifacts=[InputArtifact("Build", "codepipeline-artifacts", "p/Build/Zz9", None)])

    assert one.fingerprint() != other.fingerprint()
