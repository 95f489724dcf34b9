"""Structured logging for the function: Powertools' JSON lines, per-run keys, and secret redaction.

Owns the one log sink per handler instance, the keys appended to every record of a run (job id, green
value, deployment ids) and the last line of defence that removes any registered secret from every record and
every message sent out. Library modules only call `logging.getLogger(__name__)` and, when a run learns an
id, `bind(...)`.

The process's other loggers are guarded too. AWS's runtime client (awslambdaric, `_setup_logging` in its
bootstrap.py) puts its own handler on the ROOT logger and, for `AWS_LAMBDA_LOG_LEVEL=DEBUG`, sets the root's
level to DEBUG; botocore then logs request headers (`x-amz-security-token`) and response bodies (a
GetSecretValue body is the secret) before the function could register what they hold. So `guard_process_logging`
caps the libraries that log wire traffic at INFO and puts the redaction filter on every root handler, where it
also removes the AWS credentials of the process and of the event, and the values of credential headers and
secret fields by pattern.
"""

from __future__ import annotations

import itertools
import logging
import os
import re
import sys
import threading
import traceback
import weakref
from collections.abc import Mapping
from contextvars import ContextVar
from typing import IO, Final

from aws_lambda_powertools.logging.formatter import LambdaPowertoolsFormatter

ROOT_LOGGER: Final = "bluegreen"
REDACTED: Final = "***"

_run_keys: ContextVar[dict[str, object]] = ContextVar("bluegreen_run_keys")
_active_sink: ContextVar[int] = ContextVar("bluegreen_active_sink", default=0)

_secrets: set[str] = set()
_secrets_lock = threading.Lock()

MIN_SECRET_LENGTH: Final = 8  # shorter strings are no credential, and redacting them would garble the logs

# Loggers that write wire traffic at DEBUG: headers, bodies, URLs. Capped at INFO whatever the root's level.
WIRE_LOGGERS: Final = ("botocore", "boto3", "s3transfer", "urllib3", "requests", "aws_lambda_powertools")
_CREDENTIAL_VARIABLES: Final = ("AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN")

# Values that are secret by where they stand, whatever they are: a credential header (as text or as the dict of
# bytes botocore logs), a secret field of a JSON document (also inside a JSON string, escaped), a URL's userinfo.
_SECRET_HEADER: Final = re.compile(
    r"""(?i)((?:x-amz-security-token|authorization|x-api-key)["']?\s*[:=]\s*(?:b?["'])?(?:bearer\s+)?)[^"'\s,}]+"""
)
_SECRET_FIELD: Final = re.compile(
    r"""(?i)(\\?["'](?:secretstring|secretbinary|secretaccesskey|sessiontoken|token|api_token|value)\\?["']"""
    r"""\s*:\s*\\?["'])(?:\\\\\\?.|\\[^"']|[^"'\\])*"""
)
_URL_USERINFO: Final = re.compile(r"(?i)([a-z][a-z0-9+.-]*://)[^/\s?#]*@")


def register_secret(value: str) -> None:
    """Make `value` disappear from every log record and every outgoing message from now on."""
    if value:
        with _secrets_lock:
            _secrets.add(value)


def register_credentials(values: object) -> None:
    """Register the secret parts of AWS credentials: a mapping like CodePipeline's `artifactCredentials`."""
    if isinstance(values, dict):
        for key in ("secretAccessKey", "sessionToken"):
            value = values.get(key)
            if isinstance(value, str) and len(value) >= MIN_SECRET_LENGTH:
                register_secret(value)


def redact(text: str) -> str:
    """`text` with every registered secret, credential field and URL userinfo replaced by ***."""
    for secret in _secrets:
        if secret in text:
            text = text.replace(secret, REDACTED)
    for pattern in (_SECRET_HEADER, _SECRET_FIELD):
        text = pattern.sub(lambda m: m.group(1) + REDACTED, text)
    return _URL_USERINFO.sub(lambda m: m.group(1) + REDACTED + "@", text)


def guard_process_logging(environ: Mapping[str, str] | None = None) -> None:
    """Keep secrets out of every logger of the process, not only ours (see the module's docstring).

    Idempotent and cheap: the handler calls it on each invocation, so a handler added to the root logger
    after the first one is guarded too.
    """
    env = os.environ if environ is None else environ
    for name in _CREDENTIAL_VARIABLES:
        value = env.get(name)
        if isinstance(value, str) and len(value) >= MIN_SECRET_LENGTH:
            register_secret(value)
    for name in WIRE_LOGGERS:
        wire = logging.getLogger(name)
        if wire.level < logging.INFO:  # NOTSET (0) inherits the root's level, which may be DEBUG
            wire.setLevel(logging.INFO)
    for handler in logging.getLogger().handlers:
        if not any(isinstance(f, _RedactFilter) for f in handler.filters):
            handler.addFilter(_RedactFilter())


def bind(**keys: object) -> None:
    """Append keys (None values are dropped) to every record the current run logs from now on."""
    current = dict(_run_keys.get({}))
    current.update({k: v for k, v in keys.items() if v is not None})
    _run_keys.set(current)


class _RunFilter(logging.Filter):
    """Passes only the records of runs served by its sink; adds the run's keys; redacts secrets."""

    def __init__(self, sink_id: int) -> None:
        super().__init__()
        self._sink_id = sink_id

    def filter(self, record: logging.LogRecord) -> bool:
        if _active_sink.get() != self._sink_id:
            return False
        for key, value in _run_keys.get({}).items():
            if not hasattr(record, key):
                setattr(record, key, value)
        _redact_record(record, traceback_key="traceback")
        return True


class _RedactFilter(logging.Filter):
    """On the root logger's handlers: every record of any library leaves them redacted."""

    def filter(self, record: logging.LogRecord) -> bool:
        _redact_record(record, traceback_key=None)
        return True


def _redact_record(record: logging.LogRecord, *, traceback_key: str | None) -> None:
    try:
        message = record.getMessage()
    except (TypeError, ValueError):  # a bad format string must not break the caller
        message = f"{record.msg} {record.args!r}"
    record.msg = redact(message)
    record.args = None
    if record.exc_info:
        formatted = "".join(traceback.format_exception(*record.exc_info))
        record.exc_info = None
        if traceback_key is None:  # a foreign formatter prints exc_text as it is
            record.exc_text = redact(formatted)
        else:
            record.exc_text = None
            setattr(record, traceback_key, redact(formatted))
    elif record.exc_text:
        record.exc_text = redact(record.exc_text)
    if record.stack_info:
        record.stack_info = redact(record.stack_info)
    for key, value in list(record.__dict__.items()):
        if isinstance(value, str) and key not in ("msg", "name", "levelname", "pathname", "filename"):
            setattr(record, key, redact(value))


class LogSink:
    """One JSON log stream of a handler instance; records of the `bluegreen` loggers reach it only inside
    `serving()`, through the logger's one `_SinkRouter`."""

    def __init__(self, stream: IO[str] | None = None, level: str = "INFO") -> None:
        self._id = next(_sink_ids)
        self._handler = logging.StreamHandler(stream or sys.stdout)
        self._handler.setFormatter(LambdaPowertoolsFormatter(utc=True))
        self._handler.addFilter(_RunFilter(self._id))
        _sinks[self._id] = self
        root = logging.getLogger(ROOT_LOGGER)
        if _ROUTER not in root.handlers:
            root.addHandler(_ROUTER)
        root.setLevel(_level(level))
        root.propagate = False
        guard_process_logging()

    def serving(self) -> _Serving:
        """A context in which the current thread's records go to this sink, with fresh run keys."""
        return _Serving(self._id)

    def write_line(self, text: str) -> None:
        """One raw line (an EMF metrics document) on the log stream, redacted, between whole log records."""
        self._handler.acquire()
        try:
            self._handler.stream.write(redact(text) + "\n")
            self._handler.flush()
        finally:
            self._handler.release()

    def close(self) -> None:
        _sinks.pop(self._id, None)


class _SinkRouter(logging.Handler):
    """The one handler on the `bluegreen` logger: gives each record to the sink of the run that logged it.

    Sinks are held weakly: a sink (its stream, its log) lives as long as the handler instance that owns it. A
    logging handler per sink on the logger would keep every handler's stream for the life of the process, and
    make every record pass every sink's filter: one handler per container in Lambda, but the tests and the
    simulator make hundreds in one process.
    """

    def handle(self, record: logging.LogRecord) -> bool:
        sink = _sinks.get(_active_sink.get())
        return sink is not None and bool(sink._handler.handle(record))

    def emit(self, record: logging.LogRecord) -> None:  # handle() does the work, through the sink's handler
        raise NotImplementedError


_sink_ids = itertools.count(1)  # not id(): a collected sink's id is reused by the next one
_sinks: weakref.WeakValueDictionary[int, LogSink] = weakref.WeakValueDictionary()
_ROUTER: Final = _SinkRouter()


class _Serving:
    def __init__(self, sink_id: int) -> None:
        self._sink_id = sink_id

    def __enter__(self) -> None:
        guard_process_logging()
        self._sink_token = _active_sink.set(self._sink_id)
        self._keys_token = _run_keys.set({})

    def __exit__(self, *exc: object) -> None:
        _run_keys.reset(self._keys_token)
        _active_sink.reset(self._sink_token)


def _level(name: str) -> int:
    level = logging.getLevelName(name.upper())
    return level if isinstance(level, int) else logging.INFO
