"""With the root logger at DEBUG, as AWS's runtime client sets it, no scenario lets a secret out.

AWS's runtime client (awslambdaric, `_setup_logging` in bootstrap.py) adds one handler to the ROOT logger,
with its JSON formatter when the function's log format is JSON, and for `AWS_LAMBDA_LOG_LEVEL=DEBUG` sets the
root's level to DEBUG, all before the function's module is imported. The fixture below does the same, then
every simulated scenario runs with the token in a Secrets Manager secret (so a GetSecretValue body holds it),
the function's AWS credentials carrying a session token (so every request has an x-amz-security-token header)
and the artifact store's credentials in each job. Each of those values is then looked for in everything the
run wrote: the root handler's output, the function's own log lines, the CodePipeline reports and the results.
"""

from __future__ import annotations

import importlib
import io
import json
import logging
from collections.abc import Iterator

import pytest

from bluegreen import logs
from bluegreen_sim.runner import run_scenario
from bluegreen_sim.scenarios import SCENARIOS

# The simulated cloud runs in this process; its own loggers are not the function's.
_THE_WORLD = ("moto", "werkzeug", "bluegreen_sim", "responses")


class _RuntimeJsonFormatter(logging.Formatter):
    """The fields awslambdaric's JsonFormatter writes: message, level, logger, and the stack trace."""

    def format(self, record: logging.LogRecord) -> str:
        document = {"level": record.levelname, "logger": record.name, "message": record.getMessage()}
        if record.exc_info:
            document["stackTrace"] = self.formatException(record.exc_info)
        elif record.exc_text:
            document["stackTrace"] = record.exc_text
        return json.dumps(document)


@pytest.fixture
def root_at_debug() -> Iterator[io.StringIO]:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(_RuntimeJsonFormatter())
    handler.addFilter(lambda record: not record.name.startswith(_THE_WORLD))
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    # Then the runtime imports the function's module, which guards the process at import (an earlier test may
    # have imported it already, so that import-time call is made again here). The simulated cloud's own setup
    # calls come later, as they would come from outside the function.
    importlib.import_module("bluegreen.handler")
    logs.guard_process_logging()
    try:
        yield stream
    finally:
        root.removeHandler(handler)
        root.setLevel(level)


@pytest.mark.parametrize(
    ("name", "token_source"),
    [(name, "secret") for name in sorted(SCENARIOS)] + [("happy", "parameter"), ("happy", "params")],
)
def test_no_secret_reaches_any_output_with_the_root_logger_at_debug(root_at_debug, name, token_source):
    result = run_scenario(name, token_source=token_source)

    everything = "\n".join(
        [root_at_debug.getvalue(), *result.log_lines, json.dumps(result.reports), json.dumps(result.to_json())]
    )
    assert len(result.canaries) >= 5  # the token, a wrong token, artifact, AWS secret key and session token
    leaked = [secret for secret in result.canaries if secret in everything]
    assert leaked == [], f"{len(leaked)} secret(s) found in the output of {name}"
    assert result.passed, {k: v for k, v in result.checks.items() if not v}


def test_the_root_handler_would_have_seen_the_libraries(root_at_debug):
    """The canary is not vacuous: records of the function's libraries do reach the root handler."""
    run_scenario("happy", token_source="secret")

    loggers = {json.loads(line)["logger"] for line in root_at_debug.getvalue().splitlines() if line.strip()}
    assert any(name.startswith(("botocore", "aws_lambda_powertools", "urllib3")) for name in loggers), loggers
