"""Structured logging for the function: Powertools' JSON lines, per-run keys, and secret redaction.

Owns the one log handler per handler instance, the keys appended to every record of a run (job id, green
value, deployment ids) and the last line of defence that removes any registered secret from every record and
every message sent out. Library modules only call `logging.getLogger(__name__)` and, when a run learns an
id, `bind(...)`.
"""

from __future__ import annotations

import logging
import sys
import threading
import traceback
from contextvars import ContextVar
from typing import IO, Final

from aws_lambda_powertools.logging.formatter import LambdaPowertoolsFormatter

ROOT_LOGGER: Final = "bluegreen"
REDACTED: Final = "***"

_run_keys: ContextVar[dict[str, object]] = ContextVar("bluegreen_run_keys")
_active_sink: ContextVar[int] = ContextVar("bluegreen_active_sink", default=0)

_secrets: set[str] = set()
_secrets_lock = threading.Lock()


def register_secret(value: str) -> None:
    """Make `value` disappear from every log record and every outgoing message from now on."""
    if value:
        with _secrets_lock:
            _secrets.add(value)


def redact(text: str) -> str:
    """`text` with every registered secret replaced by ***."""
    for secret in _secrets:
        if secret in text:
            text = text.replace(secret, REDACTED)
    return text


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
        try:
            message = record.getMessage()
        except (TypeError, ValueError):  # a bad format string must not break the caller
            message = f"{record.msg} {record.args!r}"
        record.msg = redact(message)
        record.args = None
        if record.exc_info:
            record.exc_text = None
            formatted = "".join(traceback.format_exception(*record.exc_info))
            record.exc_info = None
            record.traceback = redact(formatted)
        for key, value in list(record.__dict__.items()):
            if isinstance(value, str) and key not in ("msg", "name", "levelname", "pathname", "filename"):
                setattr(record, key, redact(value))
        return True


class LogSink:
    """One JSON log handler on the `bluegreen` logger; records reach it only inside `serving()`."""

    def __init__(self, stream: IO[str] | None = None, level: str = "INFO") -> None:
        self._handler = logging.StreamHandler(stream or sys.stdout)
        self._handler.setFormatter(LambdaPowertoolsFormatter(utc=True))
        self._handler.addFilter(_RunFilter(id(self)))
        root = logging.getLogger(ROOT_LOGGER)
        root.addHandler(self._handler)
        root.setLevel(_level(level))
        root.propagate = False

    def serving(self) -> _Serving:
        """A context in which the current thread's records go to this sink, with fresh run keys."""
        return _Serving(id(self))

    def write_line(self, text: str) -> None:
        """One raw line (an EMF metrics document) on the log stream, redacted, between whole log records."""
        self._handler.acquire()
        try:
            self._handler.stream.write(redact(text) + "\n")
            self._handler.flush()
        finally:
            self._handler.release()

    def close(self) -> None:
        logging.getLogger(ROOT_LOGGER).removeHandler(self._handler)


class _Serving:
    def __init__(self, sink_id: int) -> None:
        self._sink_id = sink_id

    def __enter__(self) -> None:
        self._sink_token = _active_sink.set(self._sink_id)
        self._keys_token = _run_keys.set({})

    def __exit__(self, *exc: object) -> None:
        _run_keys.reset(self._keys_token)
        _active_sink.reset(self._sink_token)


def _level(name: str) -> int:
    level = logging.getLevelName(name.upper())
    return level if isinstance(level, int) else logging.INFO
