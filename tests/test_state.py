"""The continuation token: round trip, size, its signature, and strict rejection of anything we did not write."""

from __future__ import annotations

import base64
import hashlib
import json

import pytest

from bluegreen.errors import ConfigurationError
from bluegreen.state import MAX_TOKEN_LENGTH, RunState, TokenKey, decode_token, encode_token

KEY = TokenKey("the-functions-own-signing-key-0123456789")
TIMEOUT = 86_400
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
NOW = STATE.started_at + 3_600


def decode(
    token: str, *, key: TokenKey = KEY, fingerprint: str = STATE.fingerprint, timeout: int = TIMEOUT
) -> RunState:
    return decode_token(token, key=key, fingerprint=fingerprint, timeout_seconds=timeout, now=NOW)


def resigned(document: dict[str, object], key: TokenKey = KEY) -> str:
    """A token with these fields, signed as the function signs (what a holder of the key could write)."""
    body = {k: v for k, v in document.items() if k != "m"}
    return json.dumps({**body, "m": key.mac(json.dumps(body, separators=(",", ":"), sort_keys=True))})


def test_a_token_round_trips_to_the_same_state() -> None:
    assert decode(encode_token(STATE, KEY)) == STATE


def test_a_token_stays_well_under_codepipelines_limit() -> None:
    assert len(encode_token(STATE, KEY)) < MAX_TOKEN_LENGTH // 4


def test_the_key_never_shows_in_its_repr() -> None:
    assert "signing-key" not in repr(KEY) + str(KEY)


def test_a_secret_too_short_to_be_a_key_is_refused_naming_the_variable() -> None:
    with pytest.raises(ConfigurationError, match="BLUEGREEN_TOKEN_KEY_SECRET: the secret holds 5 characters"):
        TokenKey("short")


def test_a_truncated_token_is_rejected() -> None:
    with pytest.raises(ConfigurationError, match="not JSON; was it truncated"):
        decode(encode_token(STATE, KEY)[:-5])


def test_a_tampered_token_is_rejected() -> None:
    document = json.loads(encode_token(STATE, KEY))
    document["p"] = "DEPLOY"

    with pytest.raises(ConfigurationError, match="signature does not verify"):
        decode(json.dumps(document))


def test_a_token_signed_with_another_key_is_rejected() -> None:
    other = TokenKey("an-attackers-own-key-000000000000000000")

    with pytest.raises(ConfigurationError, match="signature does not verify"):
        decode(encode_token(STATE, other))


def test_an_unsigned_token_with_the_old_checksum_is_rejected() -> None:
    """Format 1's checksum was a public function of the fields: anyone could compute it."""
    body = {"v": 1, "p": "WAIT_DEPLOY", "g": STATE.green, "f": STATE.fingerprint, "s": 1, "d": 10**8, "i": 2}
    payload = json.dumps(body, separators=(",", ":"), sort_keys=True)
    forged = json.dumps({**body, "c": hashlib.sha256(payload.encode()).hexdigest()[:12]})

    with pytest.raises(ConfigurationError, match="format version 1 is not supported"):
        decode(forged)


def test_a_token_whose_signature_is_dropped_or_emptied_is_rejected() -> None:
    document = json.loads(encode_token(STATE, KEY))
    for mac in (None, "", base64.urlsafe_b64encode(b"\0" * 32).decode().rstrip("=")):
        if mac is None:
            document.pop("m")
        else:
            document["m"] = mac
        with pytest.raises(ConfigurationError, match="signature does not verify"):
            decode(json.dumps(document))


def test_a_token_of_another_format_version_is_rejected_with_advice() -> None:
    document = json.loads(encode_token(STATE, KEY))
    document["v"] = 0

    with pytest.raises(ConfigurationError, match="format version 0 is not supported"):
        decode(json.dumps(document))


def test_a_token_from_a_run_with_other_parameters_is_rejected() -> None:
    with pytest.raises(ConfigurationError, match="different parameters"):
        decode(encode_token(STATE, KEY), fingerprint="ffffffffffffffff")


@pytest.mark.parametrize("token", ["null", "[]", '"text"', "{}", '{"v": 2}'])
def test_tokens_of_the_wrong_shape_are_rejected(token: str) -> None:
    with pytest.raises(ConfigurationError, match="continuationToken"):
        decode(token)


# ---- a correctly signed token is still range-checked (should the key ever leak) -------------------------------


@pytest.mark.parametrize(
    ("changes", "complaint"),
    [
        ({"d": STATE.started_at + 10**8}, "deadline is not within TIMEOUT"),
        ({"d": STATE.started_at - 1}, "deadline is not within TIMEOUT"),
        ({"s": NOW + 10**6, "d": NOW + 10**6 + 60}, "start lies in the future"),
        ({"n": -5}, "green instance count -5 is not between 1 and 1000"),
        ({"n": 0}, "green instance count 0 is not between 1 and 1000"),
        ({"n": 10**6}, "green instance count 1000000"),
        ({"i": 1}, "invocation count 1 is not between 2"),
        ({"i": 10**9}, "invocation count 1000000000"),
        ({"t": STATE.started_at - 5}, "last poll's time is outside the run"),
        ({"g": "x"}, "GreenIdentifier: expected 22 URL-safe characters"),
        ({"sd": "cdbg-../../stop"}, "Spot deployment id: expected cdbg-"),
        ({"cd": "d-abc;drop"}, "CodeDeploy deployment id: expected d-"),
        ({"cd": None}, "phase WAIT_DEPLOY without codedeploy_deployment_id"),
    ],
)
def test_a_correctly_signed_token_out_of_range_is_rejected(changes: dict[str, object], complaint: str) -> None:
    document = json.loads(encode_token(STATE, KEY))
    document.update(changes)
    document = {k: v for k, v in document.items() if v is not None}

    with pytest.raises(ConfigurationError, match=r"^continuationToken: ") as caught:
        decode(resigned(document))

    assert complaint in str(caught.value)


def test_the_deadline_is_checked_against_this_runs_timeout() -> None:
    with pytest.raises(ConfigurationError, match="deadline is not within TIMEOUT \\(600 s\\)"):
        decode(encode_token(STATE, KEY), timeout=600)
