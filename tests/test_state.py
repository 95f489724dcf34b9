"""The continuation token: round trip, size, and strict rejection of anything we did not write."""

from __future__ import annotations

import json

import pytest

from bluegreen.errors import ConfigurationError
from bluegreen.state import MAX_TOKEN_LENGTH, RunState, decode_token, encode_token

STATE = RunState(
    phase="WAIT_DEPLOY",
    green="Sb9f13HI56cDXk0ALtPAhA",
    fingerprint="0123456789abcdef",
    started_at=1_800_000_000,
    deadline=1_800_086_400,
    expected_greens=400,
    spot_deployment_id="cdbg-611a38d3",
    codedeploy_deployment_id="d-ABCDEFGHI",
    invocation=96,
)


def test_a_token_round_trips_to_the_same_state() -> None:
    assert decode_token(encode_token(STATE), fingerprint=STATE.fingerprint) == STATE


def test_a_token_stays_well_under_codepipelines_limit() -> None:
    assert len(encode_token(STATE)) < MAX_TOKEN_LENGTH // 4


def test_a_truncated_token_is_rejected() -> None:
    with pytest.raises(ConfigurationError, match="not JSON; was it truncated"):
        decode_token(encode_token(STATE)[:-5], fingerprint=STATE.fingerprint)


def test_a_tampered_token_is_rejected() -> None:
    document = json.loads(encode_token(STATE))
    document["p"] = "DEPLOY"

    with pytest.raises(ConfigurationError, match="altered"):
        decode_token(json.dumps(document), fingerprint=STATE.fingerprint)


def test_a_token_of_another_format_version_is_rejected_with_advice() -> None:
    document = json.loads(encode_token(STATE))
    document["v"] = 0

    with pytest.raises(ConfigurationError, match="format version 0 is not supported"):
        decode_token(json.dumps(document), fingerprint=STATE.fingerprint)


def test_a_token_from_a_run_with_other_parameters_is_rejected() -> None:
    with pytest.raises(ConfigurationError, match="different parameters"):
        decode_token(encode_token(STATE), fingerprint="ffffffffffffffff")


@pytest.mark.parametrize("token", ["null", "[]", '"text"', "{}", '{"v": 1}'])
def test_tokens_of_the_wrong_shape_are_rejected(token: str) -> None:
    with pytest.raises(ConfigurationError, match="continuationToken"):
        decode_token(token, fingerprint=STATE.fingerprint)
