"""No secret leaves through any logger of the process: ours, botocore's, urllib3's, Powertools', the root's.

The records below are written the way botocore 1.4x writes them at DEBUG (`botocore.endpoint` prints the
request's headers as a dict of bytes, `botocore.parsers` the response body as a bytes repr), to a handler on
the ROOT logger as AWS's runtime client installs one (see tests/e2e/test_secret_canary.py for the whole runs).
"""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest

from bluegreen import logs

SESSION_TOKEN = "IQoJb3JpZ2luX2VjEJr-session-canary-0a1b2c3d"
SPOT_TOKEN = "spot-canary-token-9f8e7d6c"


@pytest.fixture
def root_stream() -> Iterator[io.StringIO]:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))
    root = logging.getLogger()
    level = root.level
    # A fresh process: no root handler guarded yet (the filter rewrites the record every later handler sees).
    guarded = {h: [f for f in h.filters if type(f).__name__ == "_RedactFilter"] for h in root.handlers}
    for h, filters in guarded.items():
        for f in filters:
            h.removeFilter(f)
    wire_levels = {name: logging.getLogger(name).level for name in logs.WIRE_LOGGERS}
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    for name in logs.WIRE_LOGGERS:
        logging.getLogger(name).setLevel(logging.NOTSET)  # as a fresh process has them
    try:
        yield stream
    finally:
        root.removeHandler(handler)
        root.setLevel(level)
        for h, filters in guarded.items():
            for f in filters:
                if f not in h.filters:
                    h.addFilter(f)
        for name, wire_level in wire_levels.items():
            logging.getLogger(name).setLevel(wire_level)


def botocore_request_headers() -> str:
    headers = {"X-Amz-Target": b"secretsmanager.GetSecretValue", "X-Amz-Security-Token": SESSION_TOKEN.encode()}
    return f"Sending http request: <AWSPreparedRequest method=POST, headers={headers}>"


def get_secret_value_body() -> str:
    body = json.dumps({"Name": "spot", "SecretString": json.dumps({"token": SPOT_TOKEN})}).encode()
    return f"Response body:\n{body!r}"


def test_botocore_at_debug_would_print_the_session_token_and_the_secret_without_the_guard(root_stream):
    """The threat, shown: a root logger at DEBUG and nothing else prints both."""
    logging.getLogger("botocore.endpoint").debug(botocore_request_headers())
    logging.getLogger("botocore.parsers").debug(get_secret_value_body())

    assert SESSION_TOKEN in root_stream.getvalue()
    assert SPOT_TOKEN in root_stream.getvalue()


def test_the_guard_caps_the_wire_loggers_at_info(root_stream):
    logs.guard_process_logging({})
    logging.getLogger("botocore.endpoint").debug(botocore_request_headers())
    logging.getLogger("urllib3.connectionpool").debug("https://api.spotinst.io:443 GET /aws/ec2/group/sig-1")
    logging.getLogger("aws_lambda_powertools.utilities.parameters").debug(get_secret_value_body())

    assert root_stream.getvalue() == ""
    assert all(logging.getLogger(name).getEffectiveLevel() >= logging.INFO for name in logs.WIRE_LOGGERS)


def test_a_wire_logger_set_more_quietly_is_left_alone(root_stream):
    logging.getLogger("urllib3").setLevel(logging.ERROR)

    logs.guard_process_logging({})

    assert logging.getLogger("urllib3").level == logging.ERROR


def test_the_guard_redacts_what_reaches_any_root_handler_even_at_warning(root_stream):
    logs.guard_process_logging({})
    logging.getLogger("botocore.endpoint").warning(botocore_request_headers())
    logging.getLogger("botocore.parsers").error(get_secret_value_body())
    logging.getLogger("some.library").warning("calling https://user:pw-canary@example.com/x")

    text = root_stream.getvalue()
    assert SESSION_TOKEN not in text
    assert SPOT_TOKEN not in text
    assert "pw-canary" not in text
    assert "'X-Amz-Security-Token': b'***'" in text
    assert '\\"SecretString\\": \\"***\\"' in text or '"SecretString": "***"' in text


def test_the_process_credentials_are_redacted_wherever_they_appear(root_stream):
    secret_key = "wJalrXUtnFEMI/K7MDENG/bPxRfiCY-canary"

    logs.guard_process_logging({"AWS_SECRET_ACCESS_KEY": secret_key, "AWS_SESSION_TOKEN": SESSION_TOKEN})
    logging.getLogger("any").warning("a library echoed %s and %s", secret_key, SESSION_TOKEN)

    assert secret_key not in root_stream.getvalue()
    assert SESSION_TOKEN not in root_stream.getvalue()


def test_the_events_artifact_credentials_are_redacted(root_stream):
    logs.guard_process_logging({})
    logs.register_credentials(
        {
            "accessKeyId": "ASIAEXAMPLE",
            "secretAccessKey": "artifact-secret-canary",
            "sessionToken": "artifact-session-canary",
        }
    )

    logging.getLogger("any").warning("artifact-secret-canary / artifact-session-canary")

    assert "canary" not in root_stream.getvalue()


def test_an_exception_with_a_secret_is_redacted_in_the_stack_trace(root_stream):
    logs.register_secret(SPOT_TOKEN)
    logs.guard_process_logging({})
    try:
        raise RuntimeError(f"token {SPOT_TOKEN} rejected")
    except RuntimeError:
        logging.getLogger("any").exception("failed")

    assert "RuntimeError: token *** rejected" in root_stream.getvalue()
    assert SPOT_TOKEN not in root_stream.getvalue()


def test_a_root_handler_added_later_is_guarded_at_the_next_invocation(root_stream):
    logs.guard_process_logging({})
    later = io.StringIO()
    handler = logging.StreamHandler(later)
    logging.getLogger().addHandler(handler)
    sink = logs.LogSink(io.StringIO())
    try:
        with sink.serving():
            logging.getLogger("botocore.endpoint").warning(botocore_request_headers())
    finally:
        sink.close()
        logging.getLogger().removeHandler(handler)

    assert SESSION_TOKEN not in later.getvalue()
    assert "b'***'" in later.getvalue()


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("Authorization: Bearer abcdefgh123", "Authorization: Bearer ***"),
        ('{"sessionToken": "FQoGZXIvYXdzE", "accessKeyId": "ASIA"}', '{"sessionToken": "***", "accessKeyId": "ASIA"}'),
        ("https://a:b@c@host/x", "https://***@host/x"),
        ('{"continuationToken": "{\\"v\\":2}"}', '{"continuationToken": "{\\"v\\":2}"}'),
        ("mail a@b.c and https://host/p@q", "mail a@b.c and https://host/p@q"),
    ],
)
def test_redaction_by_pattern(text, shown):
    assert logs.redact(text) == shown
