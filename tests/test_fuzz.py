"""Property tests: no UserParameters string, event shape or continuation token makes the function misbehave.

Whatever the input, parsing either gives typed parameters or a `ConfigurationError` naming the problem, a token
either decodes to the state it was written with or is refused, and the handler never raises on a CodePipeline
invocation: it reports exactly one failure naming the key, "UserParameters", "continuationToken" or "event".
Inputs at the handler are invalid by construction, so each example fails before any Spot or AWS call; as a
safety net Spot and every AWS endpoint but CodePipeline point at a closed loopback port.

Examples are derandomised and no example database is kept, so CI sees the same inputs every run.
"""

from __future__ import annotations

import io
import json
import socket
from collections.abc import Iterator
from dataclasses import dataclass
from itertools import count
from typing import Any

import boto3
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from moto import mock_aws

from bluegreen.errors import ConfigurationError
from bluegreen.handler import create_handler
from bluegreen.params import ACCEPTED_KEYS, DeploymentParams, parse_user_parameters, validate_parameters
from bluegreen.state import TOKEN_VERSION, RunState, TokenKey, decode_token, encode_token
from bluegreen_sim.loopback import AwsJsonServer
from tests.conftest import CANARY_TOKEN, HANDLER_ENVIRONMENT, TOKEN_KEY, create_token_key, user_parameters
from tests.fakes.clock import FakeClock, FakeLambdaContext
from tests.fakes.codepipeline import FakeCodePipeline

PURE = settings(max_examples=200, deadline=None, derandomize=True, database=None)
HANDLER = settings(
    max_examples=40,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

VALID: dict[str, Any] = user_parameters()
FINGERPRINT = validate_parameters(VALID).fingerprint()
KEY = TokenKey(TOKEN_KEY)
NOW = 2**40
# Words by which a message names the problem.
NAMES = (*ACCEPTED_KEYS, "UserParameters", "revision", "unknown key", "continuationToken", "event")

# ---- strategies ---------------------------------------------------------------------------------------------

# The canary is the value of API_TOKEN only (see VALID): anywhere else it is no token and may be echoed.
json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**30), max_value=10**30),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=60),
    st.sampled_from(["", " ", "60", "86401", "1e3", "sig-", "act-x", "ZIP", "true", "null"]),
)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=8), inner, max_size=3)),
    max_leaves=6,
)
keys = st.one_of(st.sampled_from(ACCEPTED_KEYS), st.text(max_size=20), st.sampled_from(["api_token", "GROUP_ID "]))


@st.composite
def user_parameters_objects(draw: st.DrawFn) -> str:
    """A JSON object over the real keys (kept, dropped, retyped) plus junk keys, possibly with duplicates."""
    pairs = [(k, v) for k, v in VALID.items() if draw(st.booleans())]
    pairs = [(k, draw(json_values) if draw(st.booleans()) else v) for k, v in pairs]
    pairs += draw(st.lists(st.tuples(keys, json_values), max_size=4))
    if pairs and draw(st.booleans()):
        pairs.append(draw(st.sampled_from(pairs)))  # a duplicate key
    return "{" + ",".join(f"{json.dumps(k)}:{json.dumps(v)}" for k, v in pairs) + "}"


@st.composite
def mangled_json(draw: st.DrawFn) -> str:
    text = draw(user_parameters_objects())
    cut = draw(st.integers(min_value=0, max_value=len(text)))
    return draw(
        st.sampled_from(
            [
                text[:cut],  # truncated
                text[:cut] + draw(st.text(max_size=5)) + text[cut:],  # something inserted
                "[" + text + "]",
                json.dumps(text),  # the object as a JSON string
                "[" * 5000,  # nested too deeply for some parsers
            ]
        )
    )


user_parameters_strings = st.one_of(
    user_parameters_objects(), mangled_json(), st.text(max_size=1000), st.just(""), st.just("null")
).filter(lambda s: len(s) <= 1000 or s.startswith("[[[[["))


def _mentions_a_name(message: str) -> bool:
    return any(name in message for name in NAMES)


def _parse(text: str, default_secret: str | None = None) -> DeploymentParams | ConfigurationError:
    """The parameters, or the ConfigurationError; any other exception escapes (and fails the test)."""
    try:
        return parse_user_parameters(text, default_secret=default_secret)
    except ConfigurationError as exc:
        return exc


def _decode(token: str) -> RunState | ConfigurationError:
    try:
        return decode_token(token, key=KEY, fingerprint=FINGERPRINT, timeout_seconds=86400, now=NOW)
    except ConfigurationError as exc:
        return exc


# ---- UserParameters -------------------------------------------------------------------------------------------


@PURE
@given(text=user_parameters_strings)
def test_user_parameters_give_params_or_a_configuration_error_naming_the_problem(text: str) -> None:
    outcome = _parse(text)

    if isinstance(outcome, ConfigurationError):
        assert outcome.problems
        assert _mentions_a_name(str(outcome)), str(outcome)
        assert CANARY_TOKEN not in str(outcome)  # the token is never echoed
    else:
        assert isinstance(outcome, DeploymentParams)


@PURE
@given(default_secret=st.one_of(st.none(), st.text(max_size=30)), text=user_parameters_objects())
def test_a_default_secret_never_turns_a_bad_object_into_another_exception(
    default_secret: str | None, text: str
) -> None:
    outcome = _parse(text, default_secret)

    if isinstance(outcome, ConfigurationError):
        assert _mentions_a_name(str(outcome)), str(outcome)


# ---- continuation tokens --------------------------------------------------------------------------------------

states = st.builds(
    RunState,
    phase=st.sampled_from(["START", "WAIT_GREEN", "DEPLOY", "WAIT_DEPLOY"]),
    green=st.text(alphabet="abcdefghijklmnopqrstuvwxyzABC012_-", min_size=22, max_size=22),
    fingerprint=st.just(FINGERPRINT),
    started_at=st.integers(min_value=0, max_value=2**40),
    deadline=st.integers(min_value=0, max_value=2**40),
    expected_greens=st.one_of(st.none(), st.integers(min_value=1, max_value=500)),
    spot_deployment_id=st.one_of(st.none(), st.from_regex(r"cdbg-[0-9a-f]{8}", fullmatch=True)),
    codedeploy_deployment_id=st.one_of(st.none(), st.from_regex(r"d-[A-Z0-9]{9}", fullmatch=True)),
    invocation=st.integers(min_value=1, max_value=1000),
)


@st.composite
def damaged_tokens(draw: st.DrawFn) -> tuple[RunState, str]:
    state = draw(states)
    token = encode_token(state, KEY)
    document = json.loads(token)
    how = draw(st.sampled_from(["truncate", "flip", "field", "version", "unchecked", "drop"]))
    if how == "truncate":
        token = token[: draw(st.integers(min_value=0, max_value=len(token) - 1))]
    elif how == "flip":
        at = draw(st.integers(min_value=0, max_value=len(token) - 1))
        token = token[:at] + draw(st.characters(codec="utf-8")) + token[at + 1 :]
    elif how == "field":
        document[draw(st.sampled_from(sorted(document)))] = draw(json_values)
        token = json.dumps(document)
    elif how == "version":  # an older (or newer) format
        document["v"] = draw(st.integers().filter(lambda v: v != TOKEN_VERSION))
        token = json.dumps(document)
    elif how == "unchecked":
        del document["m"]
        token = json.dumps(document)
    else:
        del document[draw(st.sampled_from(sorted(k for k in document if k not in ("v", "m"))))]
        token = json.dumps(document)
    return state, token


@PURE
@given(token=st.one_of(st.text(max_size=300), st.from_regex(r"\{.*\}", fullmatch=True)))
def test_any_text_as_a_token_decodes_or_is_refused_as_a_continuation_token_problem(token: str) -> None:
    outcome = _decode(token)

    if isinstance(outcome, ConfigurationError):
        assert str(outcome).startswith("continuationToken:"), str(outcome)
    else:
        assert isinstance(outcome, RunState)


@PURE
@given(damaged=damaged_tokens())
def test_a_damaged_token_is_refused_or_still_carries_exactly_its_state(damaged: tuple[RunState, str]) -> None:
    state, token = damaged
    outcome = _decode(token)

    if isinstance(outcome, ConfigurationError):
        assert str(outcome).startswith("continuationToken:"), str(outcome)
    else:
        assert outcome == state  # only a harmless change (say, whitespace) can get through


@PURE
@given(state=states, other=st.text(alphabet="0123456789abcdef", min_size=16, max_size=16))
def test_a_token_of_a_run_with_other_parameters_is_refused(state: RunState, other: str) -> None:
    assume(other != FINGERPRINT)
    with pytest.raises(ConfigurationError, match="different parameters"):
        decode_token(encode_token(state, KEY), key=KEY, fingerprint=other, timeout_seconds=86400, now=NOW)


# ---- the handler ----------------------------------------------------------------------------------------------


@dataclass
class Pipeline:
    handler: Any
    codepipeline: FakeCodePipeline
    logs: io.StringIO
    clock: FakeClock


@pytest.fixture(scope="module")
def pipeline(codepipeline_server: AwsJsonServer) -> Iterator[Pipeline]:
    closed = socket.socket()  # bound, never listening: a connection is refused at once
    closed.bind(("127.0.0.1", 0))
    nowhere = f"http://127.0.0.1:{closed.getsockname()[1]}"
    with pytest.MonkeyPatch.context() as mp:
        for name, value in {
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_REGION": "us-east-1",
            "AWS_ENDPOINT_URL": nowhere,
            "AWS_ENDPOINT_URL_CODEPIPELINE": codepipeline_server.url,
            # moto answers Secrets Manager (the signing key) at its own address; everything else is nowhere.
            "AWS_ENDPOINT_URL_SECRETS_MANAGER": "https://secretsmanager.us-east-1.amazonaws.com",
        }.items():
            mp.setenv(name, value)
        clock = FakeClock()
        fake = FakeCodePipeline(clock)
        codepipeline_server.service = fake
        logs = io.StringIO()
        environ = {**HANDLER_ENVIRONMENT, "SPOT_API_URL": nowhere}
        with mock_aws():
            create_token_key(boto3.client("secretsmanager", region_name="us-east-1"))
            yield Pipeline(create_handler(clock=clock, environ=environ, log_stream=logs), fake, logs, clock)
    closed.close()


_job_numbers = count(1)


def _invoke(pipeline: Pipeline, event: Any) -> tuple[Any, list[Any], str]:
    job = event.get("CodePipeline.job") if isinstance(event, dict) else None
    if isinstance(job, dict) and isinstance(job.get("id"), str) and job["id"]:
        pipeline.codepipeline.add_job(job["id"])  # a job CodePipeline issued (it does not say for which action)
    before, log_start = len(pipeline.codepipeline.reports), pipeline.logs.tell()
    result = pipeline.handler(event, FakeLambdaContext(pipeline.clock))
    return result, pipeline.codepipeline.reports[before:], pipeline.logs.getvalue()[log_start:]


def _assert_one_configuration_failure(job_id: str, result: Any, reports: list[Any], logs: str) -> str:
    assert len(reports) == 1, reports
    report = reports[0]
    assert report.job_id == job_id
    assert report.kind == "failure"
    failure = report.body["failureDetails"]
    assert failure["type"] == "ConfigurationError", failure
    assert _mentions_a_name(failure["message"]), failure["message"]
    assert result["failureType"] == "ConfigurationError"
    for text in (logs, json.dumps(result), json.dumps(report.body)):
        assert CANARY_TOKEN not in text
    return str(failure["message"])


def _job_event(job_id: Any, data: Any) -> dict[str, Any]:
    return {"CodePipeline.job": {"id": job_id, "accountId": "123456789012", "data": data}}


def _is_valid(text: str) -> bool:
    return not isinstance(_parse(text), ConfigurationError)


@HANDLER
@given(text=user_parameters_strings)
def test_bad_user_parameters_are_reported_once_as_a_configuration_error(pipeline: Pipeline, text: str) -> None:
    assume(not _is_valid(text))
    job_id = f"fuzz-params-{next(_job_numbers)}"
    data = {"actionConfiguration": {"configuration": {"FunctionName": "bluegreen", "UserParameters": text}}}

    result, reports, logs = _invoke(pipeline, _job_event(job_id, data))

    _assert_one_configuration_failure(job_id, result, reports, logs)


# Shapes of `data` a broken or hand-written event may carry; non-object `actionConfiguration` values are left to
# test_a_non_object_action_configuration_is_reported_not_raised (a known defect).
odd_values = st.one_of(json_scalars, st.lists(json_scalars, max_size=2))
odd_data = st.one_of(
    odd_values,
    st.fixed_dictionaries({}, optional={"actionConfiguration": st.one_of(st.none(), st.just({}))}),
    st.fixed_dictionaries(
        {
            "actionConfiguration": st.fixed_dictionaries(
                {}, optional={"configuration": st.one_of(odd_values, st.dictionaries(st.text(max_size=5), odd_values))}
            )
        }
    ),
    st.fixed_dictionaries(
        {
            "actionConfiguration": st.fixed_dictionaries(
                {
                    "configuration": st.fixed_dictionaries(
                        {"UserParameters": json_values.filter(lambda v: not isinstance(v, str))}
                    )
                }
            )
        }
    ),
)


@HANDLER
@given(data=odd_data)
def test_a_job_whose_data_is_mangled_is_reported_once_naming_user_parameters(pipeline: Pipeline, data: Any) -> None:
    job_id = f"fuzz-data-{next(_job_numbers)}"

    result, reports, logs = _invoke(pipeline, _job_event(job_id, data))

    message = _assert_one_configuration_failure(job_id, result, reports, logs)
    assert "UserParameters" in message


@HANDLER
@given(
    job=st.one_of(
        odd_values,
        st.fixed_dictionaries(
            {}, optional={"id": odd_values.filter(lambda v: not (isinstance(v, str) and v)), "data": st.just({})}
        ),
    )
)
def test_a_job_without_a_usable_id_is_ignored_without_raising(pipeline: Pipeline, job: Any) -> None:
    result, reports, _ = _invoke(pipeline, {"CodePipeline.job": job})

    if job is None:  # no job at all: treated as a console test event, and refused
        assert result["failureType"] == "ConfigurationError"
    else:
        assert result is None
    assert reports == []


@HANDLER
@given(event=st.one_of(odd_values, st.dictionaries(keys, json_values, max_size=4)))
def test_an_event_that_is_no_job_gets_a_configuration_error_result_and_no_report(
    pipeline: Pipeline, event: Any
) -> None:
    assume(not (isinstance(event, dict) and "CodePipeline.job" in event))
    if isinstance(event, dict):
        try:
            validate_parameters({k: v for k, v in event.items() if k != "continuationToken"})
        except ConfigurationError:
            pass
        else:
            assume(False)

    result, reports, logs = _invoke(pipeline, event)

    assert reports == []
    assert result["failureType"] == "ConfigurationError"
    assert _mentions_a_name(result["summary"]), result["summary"]
    assert CANARY_TOKEN not in logs + json.dumps(result)


@HANDLER
@given(
    token=st.one_of(
        damaged_tokens().map(lambda d: d[1]), st.text(max_size=200), odd_values.filter(lambda v: v is not None)
    )
)
def test_a_bad_continuation_token_is_reported_once_naming_it(pipeline: Pipeline, token: Any) -> None:
    # A token that still decodes would resume the run: not this test's business.
    assume(not (isinstance(token, str) and token and isinstance(_decode(token), RunState)))
    job_id = f"fuzz-token-{next(_job_numbers)}"
    data = {
        "actionConfiguration": {"configuration": {"UserParameters": json.dumps(VALID)}},
        "continuationToken": token,
    }

    result, reports, logs = _invoke(pipeline, _job_event(job_id, data))

    message = _assert_one_configuration_failure(job_id, result, reports, logs)
    assert "continuationToken" in message


@pytest.mark.parametrize("action_configuration", ["oops", ["a"], 1])
def test_a_non_object_action_configuration_is_reported_not_raised(
    pipeline: Pipeline, action_configuration: Any
) -> None:
    job_id = f"fuzz-action-{next(_job_numbers)}"

    result, reports, logs = _invoke(pipeline, _job_event(job_id, {"actionConfiguration": action_configuration}))

    _assert_one_configuration_failure(job_id, result, reports, logs)
