"""CloudWatch alarms for the tests: moto keeps them (DescribeAlarms, SetAlarmState); this adds timing and faults.

- `fire_at(...)` puts an alarm into ALARM once the fake clock reaches a time, through moto's SetAlarmState.
- `CloudWatchFaults` answers the handler's next DescribeAlarms requests with an AWS error instead of moto, on the
  wire: a botocore `before-send` hook on the boto3 session the handler is given, returning an HTTP reply in the
  protocol the request was made in. CloudWatch's model (botocore 1.44) offers smithy-rpc-v2-cbor, json and query;
  botocore picks JSON when it can, older botocore speaks query. JSON and CBOR errors are a map
  `{"__type": code, "message": text}` (botocore's parsers, `_do_error_parse`), query errors the XML
  `<ErrorResponse><Error><Code>`. Throttling is CloudWatch's throttling code (the `Throttling` error of its
  query-compatible API); botocore's standard retry mode retries it with real backoff, so a fault meant to reach
  the function must last all 4 attempts (a few seconds of wall time). `garbage=True` answers 200 with a body no
  parser reads instead, which botocore does not retry.
moto does not implement composite alarms (PutCompositeAlarm raises NotImplementedError), so they are not faked.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import boto3
from botocore.awsrequest import AWSResponse

# The handler's botocore Config says retries={"mode": "standard", "max_attempts": 3}; in that dict max_attempts
# counts the retries, not the first attempt (botocore's config docs), so a request is tried 4 times.
AWS_ATTEMPTS = 4


def put_alarm(cloudwatch: Any, name: str, state: str = "OK") -> None:
    cloudwatch.put_metric_alarm(
        AlarmName=name,
        MetricName="HTTPCode_Target_5XX_Count",
        Namespace="AWS/ApplicationELB",
        Statistic="Sum",
        Period=60,
        EvaluationPeriods=1,
        Threshold=10,
        ComparisonOperator="GreaterThanThreshold",
    )
    cloudwatch.set_alarm_state(AlarmName=name, StateValue=state, StateReason=f"set to {state} by the test")


def fire_at(cloudwatch: Any, when: Callable[[], float | None], name: str, reason: str) -> Callable[[float], None]:
    """A clock listener that sets `name` to ALARM once the clock passes `when()` (None: not yet known)."""
    fired = False

    def listener(now: float) -> None:
        nonlocal fired
        at = when()
        if not fired and at is not None and now >= at:
            fired = True
            cloudwatch.set_alarm_state(AlarmName=name, StateValue="ALARM", StateReason=reason)

    return listener


@dataclass
class CloudWatchFaults:
    """A boto3 session for the handler whose next `times` DescribeAlarms requests get an error reply."""

    session: Any = field(default_factory=lambda: boto3.session.Session(region_name="us-east-1"))
    pending: list[tuple[int, str, int]] = field(default_factory=list)  # (status, code or "", attempts left)
    answered: int = 0

    def __post_init__(self) -> None:
        self.session.events.register("before-send.cloudwatch.DescribeAlarms", self._before_send)

    def fail_next(self, code: str = "Throttling", *, status: int = 400, times: int = AWS_ATTEMPTS) -> None:
        self.pending.append((status, code, times))

    def garble_next(self, times: int = 1) -> None:
        self.pending.append((200, "", times))

    def _before_send(self, request: Any, **_: Any) -> AWSResponse | None:
        if not self.pending:
            return None
        status, code, left = self.pending[0]
        if left <= 1:
            self.pending.pop(0)
        else:
            self.pending[0] = (status, code, left - 1)
        self.answered += 1
        if not code:
            return AWSResponse(request.url, status, {"Content-Type": "text/html"}, _Raw(b"<html>proxy error</html>"))
        error = {"__type": code, "message": "Rate exceeded"}
        headers = {"x-amzn-RequestId": "req-cw"}
        if request.headers.get("smithy-protocol") == b"rpc-v2-cbor" or "rpc-v2-cbor" in str(
            request.headers.get("smithy-protocol", "")
        ):
            body = _cbor_text_map(error)
            headers |= {"Content-Type": "application/cbor", "smithy-protocol": "rpc-v2-cbor"}
        elif "json" in str(request.headers.get("Content-Type", "")):
            body = json.dumps(error).encode()
            headers["Content-Type"] = "application/x-amz-json-1.0"
        else:
            body = f"<ErrorResponse><Error><Type>Sender</Type><Code>{code}</Code>".encode()
            body += b"<Message>Rate exceeded</Message></Error><RequestId>req-cw</RequestId></ErrorResponse>"
            headers["Content-Type"] = "text/xml"
        return AWSResponse(request.url, status, headers, _Raw(body))


class _Raw:
    def __init__(self, data: bytes) -> None:
        self._data = data

    def stream(self, **_: Any) -> Any:
        yield self._data


def _cbor_text_map(values: dict[str, str]) -> bytes:
    """RFC 8949: a map (major type 5) of text strings (major type 3), each shorter than 256 bytes."""

    def head(major: int, length: int) -> bytes:
        return bytes([major << 5 | length]) if length < 24 else bytes([major << 5 | 24, length])

    out = bytearray(head(5, len(values)))
    for key, value in values.items():
        for text in (key, value):
            data = text.encode()
            out += head(3, len(data)) + data
    return bytes(out)
