"""Tests of the Spot Elastigroup client against a fake Spot (`responses`), with a fake clock."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import requests
import responses
from responses import matchers
from urllib3.exceptions import MaxRetryError, NewConnectionError

from bluegreen.authority import Authority
from bluegreen.domain import InvalidSpotTokenError, SpotToken
from bluegreen.errors import (
    AuthorityLostError,
    ConfigurationError,
    OutOfInvocationTimeError,
    SpotApiError,
    SpotStartUnknownError,
)
from bluegreen.spot import (
    DEFAULT_BASE_URL,
    MAX_REPLY_BYTES,
    SpotClient,
    SpotDeployment,
    SpotGroup,
    UnknownWords,
    validate_base_url,
)
from tests.fakes.spot import DripBody

TOKEN = "canary-TOKEN-5f1e"
ACCOUNT = "act-12345678"
GROUP = "sig-8ec84764"
GROUP_URL = f"{DEFAULT_BASE_URL}/aws/ec2/group/{GROUP}"
STATUS_URL = f"{GROUP_URL}/status"
DEPLOYMENTS_URL = f"{GROUP_URL}/codeDeploy/blueGreenDeployment"
STOP_URL = f"{DEPLOYMENTS_URL}/cdbg-611a38d3/stop"
TAG_KEY = "GreenIdentifier"
TAG_VALUE = "run-42"


class FakeClock:
    """A clock that records every wait and advances instantly."""

    def __init__(self) -> None:
        self.time = 1_700_000_000.0
        self.sleeps: list[float] = []

    def now(self) -> float:
        return self.time

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.time += seconds


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def client(clock: FakeClock) -> SpotClient:
    return SpotClient(requests.Session(), token=SpotToken(TOKEN), account_id=ACCOUNT, clock=clock)


@pytest.fixture
def spot() -> Iterator[responses.RequestsMock]:
    with responses.RequestsMock(assert_all_requests_are_fired=True) as mock:
        yield mock


def envelope(items: list[Any], *, request_id: str = "req-ok") -> dict[str, Any]:
    return {
        "request": {"id": request_id, "url": "/x", "method": "GET", "timestamp": "2018-10-12T19:52:49.419Z"},
        "response": {
            "status": {"code": 200, "message": "OK"},
            "kind": "test",
            "items": items,
            "count": len(items),
        },
    }


def error_envelope(
    status: int,
    *,
    errors: list[dict[str, str]] | None = None,
    data: str | None = None,
    request_id: str = "req-err",
) -> dict[str, Any]:
    response: dict[str, Any] = {"status": {"code": status, "message": "Error"}}
    if errors is not None:
        response["errors"] = errors
    if data is not None:
        response["data"] = data
    return {"request": {"id": request_id}, "response": response}


def deployment_item(
    deployment_id: str = "cdbg-611a38d3",
    *,
    tag_value: str = TAG_VALUE,
    state: str = "STARTING",
    status: str = "INITIALIZING",
) -> dict[str, Any]:
    return {
        "id": deployment_id,
        "groupId": GROUP,
        "state": state,
        "status": status,
        "config": {
            "timeout": 600,
            "tags": [{"tagKey": TAG_KEY, "tagValue": tag_value}],
            "deploymentGroups": [{"applicationName": "App", "deploymentGroupName": "DG"}],
        },
    }


def start(client: SpotClient) -> SpotDeployment:
    return client.start_deployment(
        GROUP, tag_key=TAG_KEY, tag_value=TAG_VALUE, timeout=600, application="App", deployment_group="DG"
    )


def refused_connection() -> requests.ConnectionError:
    reason = NewConnectionError(None, "Failed to establish a new connection: [Errno 111] Connection refused")  # type: ignore[arg-type]
    return requests.ConnectionError(MaxRetryError(None, "/x", reason))  # type: ignore[arg-type]


def posts(spot: responses.RequestsMock) -> int:
    return sum(1 for call in spot.calls if call.request.method == "POST")


# --- transport ---------------------------------------------------------------------------------------------

CALLS: list[tuple[tuple[str, str, dict[str, Any]], Callable[[SpotClient], object]]] = [
    (("GET", GROUP_URL, envelope([{"id": GROUP}])), lambda c: c.get_group(GROUP)),
    (("GET", STATUS_URL, envelope([])), lambda c: c.count_group_instances(GROUP)),
    (("GET", DEPLOYMENTS_URL, envelope([])), lambda c: c.list_deployments(GROUP)),
    (("POST", DEPLOYMENTS_URL, envelope([deployment_item()])), start),
    (("PUT", STOP_URL, envelope([])), lambda c: c.stop_deployment(GROUP, "cdbg-611a38d3")),
]


@pytest.mark.parametrize(("route", "call"), CALLS, ids=[f"{r[0]} {r[1]}" for r, _ in CALLS])
def test_every_call_sends_token_account_json_headers_and_timeouts(
    spot: responses.RequestsMock,
    client: SpotClient,
    route: tuple[str, str, dict[str, Any]],
    call: Callable[[SpotClient], object],
) -> None:
    method, url, body = route
    spot.add(method, url, json=body, match=[matchers.query_param_matcher({"accountId": ACCOUNT})])

    call(client)

    request = spot.calls[0].request
    assert request.headers["Authorization"] == f"Bearer {TOKEN}"
    assert request.headers["Content-Type"] == "application/json"
    assert request.headers["Accept"] == "application/json"
    assert request.headers["User-Agent"] == "bluegreen/1.0.0"
    assert request.req_kwargs["timeout"] == (5.0, 30.0)


# --- envelope parsing --------------------------------------------------------------------------------------


def test_reads_group_name_target_capacity_and_codedeploy_groups(
    spot: responses.RequestsMock, client: SpotClient
) -> None:
    item = {
        "id": GROUP,
        "name": "web",
        "region": "eu-west-1",
        "capacity": {"minimum": 1, "maximum": 10, "target": 3, "unit": "instance"},
        "thirdPartiesIntegration": {
            "codeDeploy": {
                "cleanUpOnFailure": True,
                "terminateInstanceOnFailure": False,
                "deploymentGroups": [{"applicationName": "App", "deploymentGroupName": "DG"}],
            }
        },
    }
    spot.get(GROUP_URL, json=envelope([item]))

    assert client.get_group(GROUP) == SpotGroup(
        group_id=GROUP, name="web", capacity_target=3, codedeploy_groups=(("App", "DG"),)
    )


def test_reads_group_without_target_or_integration_as_none_and_empty(
    spot: responses.RequestsMock, client: SpotClient
) -> None:
    spot.get(GROUP_URL, json=envelope([{"id": GROUP, "name": "web", "capacity": {"target": "3"}}]))

    assert client.get_group(GROUP) == SpotGroup(group_id=GROUP, name="web", capacity_target=None, codedeploy_groups=())


def test_counts_group_instances_from_status_items(spot: responses.RequestsMock, client: SpotClient) -> None:
    instances = [{"instanceId": f"i-{n:08x}", "status": "fulfilled"} for n in range(3)]
    spot.get(STATUS_URL, json=envelope(instances))

    assert client.count_group_instances(GROUP) == 3


def test_lists_deployments_with_state_status_and_tags(spot: responses.RequestsMock, client: SpotClient) -> None:
    spot.get(DEPLOYMENTS_URL, json=envelope([deployment_item(state="FINISHED", status="SUCCEEDED")]))

    assert client.list_deployments(GROUP) == [
        SpotDeployment(
            deployment_id="cdbg-611a38d3",
            group_id=GROUP,
            state="FINISHED",
            status="SUCCEEDED",
            tags=((TAG_KEY, TAG_VALUE),),
        )
    ]


def test_reads_deployment_without_state_status_or_config_as_empty(
    spot: responses.RequestsMock, client: SpotClient
) -> None:
    spot.get(DEPLOYMENTS_URL, json=envelope([{"id": "cdbg-00000001"}]))

    assert client.list_deployments(GROUP) == [
        SpotDeployment(deployment_id="cdbg-00000001", group_id=GROUP, state="", status="", tags=())
    ]


def test_finds_deployment_by_its_tag_not_by_its_position(spot: responses.RequestsMock, client: SpotClient) -> None:
    spot.get(
        DEPLOYMENTS_URL,
        json=envelope([deployment_item("cdbg-00000001", tag_value="older-run"), deployment_item("cdbg-00000002")]),
    )

    found = client.find_deployment_by_tag(GROUP, TAG_KEY, TAG_VALUE)

    assert found is not None
    assert found.deployment_id == "cdbg-00000002"


def test_finds_no_deployment_when_none_carries_the_tag(spot: responses.RequestsMock, client: SpotClient) -> None:
    spot.get(DEPLOYMENTS_URL, json=envelope([deployment_item(tag_value="older-run")]))

    assert client.find_deployment_by_tag(GROUP, TAG_KEY, TAG_VALUE) is None


def test_starts_deployment_with_tag_timeout_and_deployment_group_on_the_wire(
    spot: responses.RequestsMock, client: SpotClient
) -> None:
    spot.post(DEPLOYMENTS_URL, json=envelope([deployment_item()]))

    deployment = start(client)

    assert deployment.deployment_id == "cdbg-611a38d3"
    assert deployment.outcome == "running"
    assert json.loads(spot.calls[0].request.body or b"") == {
        "deployment": {
            "timeout": 600,
            "tags": [{"tagKey": TAG_KEY, "tagValue": TAG_VALUE}],
            "deploymentGroups": [{"applicationName": "App", "deploymentGroupName": "DG"}],
        }
    }


# --- errors ------------------------------------------------------------------------------------------------


def test_error_carries_spot_code_message_request_id_and_count_of_further_errors(
    spot: responses.RequestsMock, client: SpotClient
) -> None:
    errors = [
        {"code": "DEPLOYMENT_ALREADY_IN_PROGRESS", "message": "A deployment is already running"},
        {"code": "OTHER", "message": "second"},
    ]
    spot.post(DEPLOYMENTS_URL, status=400, json=error_envelope(400, errors=errors, request_id="req-abc"))

    with pytest.raises(SpotApiError) as caught:
        start(client)

    error = caught.value
    assert (error.operation, error.status, error.code, error.request_id) == (
        "POST start blue/green deployment",
        400,
        "DEPLOYMENT_ALREADY_IN_PROGRESS",
        "req-abc",
    )
    assert error.spot_message.startswith("A deployment is already running (and 1 more error) ")
    assert "Spot refuses a start while another blue/green deployment runs on the group" in error.spot_message
    assert "req-abc" in str(error)


def test_non_json_body_becomes_error_with_a_short_single_line_snippet(
    spot: responses.RequestsMock, client: SpotClient
) -> None:
    html = "<html>\n<head><title>Bad gateway</title></head>\n<body>" + "x" * 2000 + "</body>\n</html>"
    spot.get(GROUP_URL, status=200, body=html, content_type="text/html")

    with pytest.raises(SpotApiError) as caught:
        client.get_group(GROUP)

    message = caught.value.spot_message
    assert message.startswith("non-JSON body: '<html> <head><title>Bad gateway</title>")
    assert "\n" not in str(caught.value)
    assert len(message) < 200


@pytest.mark.parametrize(
    ("reply", "call", "expected"),
    [
        ((GROUP_URL, {"request": {"id": "r"}}), lambda c: c.get_group(GROUP), "no 'response' object"),
        ((GROUP_URL, ["not", "an", "envelope"]), lambda c: c.get_group(GROUP), "not a JSON object"),
        (
            (STATUS_URL, {"response": {"items": {"a": 1}}}),
            lambda c: c.count_group_instances(GROUP),
            "not a list",
        ),
        ((STATUS_URL, {"response": {}}), lambda c: c.count_group_instances(GROUP), "not a list"),
        ((GROUP_URL, envelope([{"name": "web"}])), lambda c: c.get_group(GROUP), "items[0].id is missing"),
        ((GROUP_URL, envelope([{"id": "sig-other"}])), lambda c: c.get_group(GROUP), "no item has id"),
        (
            (DEPLOYMENTS_URL, envelope(["cdbg-1"])),
            lambda c: c.list_deployments(GROUP),
            "items[0] is not an object",
        ),
        (
            (DEPLOYMENTS_URL, envelope([{"id": 7}])),
            lambda c: c.list_deployments(GROUP),
            "items[0].id is not a string",
        ),
        (
            (DEPLOYMENTS_URL, envelope([{"id": "cdbg-1", "config": {"tags": "GreenIdentifier"}}])),
            lambda c: c.list_deployments(GROUP),
            "items[0].config.tags is not a list",
        ),
    ],
    ids=[
        "no-response",
        "body-not-object",
        "items-not-list",
        "items-missing",
        "item-missing-id",
        "group-not-in-items",
        "item-not-object",
        "id-not-string",
        "tags-not-list",
    ],
)
def test_unexpected_reply_shape_becomes_error_naming_what_is_wrong(
    spot: responses.RequestsMock,
    client: SpotClient,
    reply: tuple[str, Any],
    call: Callable[[SpotClient], object],
    expected: str,
) -> None:
    url, body = reply
    spot.get(url, json=body)

    with pytest.raises(SpotApiError, match="unexpected reply") as caught:
        call(client)

    assert expected in caught.value.spot_message


@pytest.mark.parametrize(
    ("status", "failure_type"),
    [
        (400, "ConfigurationError"),
        (401, "PermissionError"),
        (403, "PermissionError"),
        (404, "ConfigurationError"),
    ],
)
def test_client_errors_are_not_retried_and_map_to_failure_type(
    spot: responses.RequestsMock, client: SpotClient, clock: FakeClock, status: int, failure_type: str
) -> None:
    spot.get(GROUP_URL, status=status, json=error_envelope(status, errors=[{"code": "X", "message": "no"}]))

    with pytest.raises(SpotApiError) as caught:
        client.get_group(GROUP)

    assert caught.value.failure_type == failure_type
    assert len(spot.calls) == 1
    assert clock.sleeps == []


def test_error_without_spot_detail_falls_back_to_http_reason(spot: responses.RequestsMock, client: SpotClient) -> None:
    spot.get(GROUP_URL, status=401, json={"request": {"id": "req-9"}})

    with pytest.raises(SpotApiError) as caught:
        client.get_group(GROUP)

    assert (caught.value.spot_message, caught.value.request_id) == ("Unauthorized", "req-9")


# --- retries -----------------------------------------------------------------------------------------------


def rate_limited(headers: dict[str, str]) -> dict[str, Any]:
    return {"status": 429, "json": error_envelope(429, data="Rate limit exceeded"), "headers": headers}


def test_waits_for_rate_limit_reset_then_succeeds(
    spot: responses.RequestsMock, client: SpotClient, clock: FakeClock
) -> None:
    spot.get(GROUP_URL, **rate_limited({"X-RateLimit-Reset": "7", "X-RateLimit-Remaining": "0"}))
    spot.get(GROUP_URL, json=envelope([{"id": GROUP}]))

    assert client.get_group(GROUP).group_id == GROUP
    assert clock.sleeps == [7.0]


def test_waits_retry_after_when_rate_limit_reset_is_absent(
    spot: responses.RequestsMock, client: SpotClient, clock: FakeClock
) -> None:
    spot.get(GROUP_URL, **rate_limited({"Retry-After": "3"}))
    spot.get(GROUP_URL, json=envelope([{"id": GROUP}]))

    client.get_group(GROUP)

    assert clock.sleeps == [3.0]


def test_backs_off_exponentially_when_rate_limit_gives_no_wait(
    spot: responses.RequestsMock, client: SpotClient, clock: FakeClock
) -> None:
    spot.get(GROUP_URL, **rate_limited({"X-RateLimit-Reset": "soon"}))
    spot.get(GROUP_URL, **rate_limited({}))
    spot.get(GROUP_URL, json=envelope([{"id": GROUP}]))

    client.get_group(GROUP)

    assert clock.sleeps == [1.0, 2.0]


def test_caps_each_rate_limit_wait_at_max_retry_wait(spot: responses.RequestsMock, clock: FakeClock) -> None:
    client = SpotClient(
        requests.Session(), token=SpotToken(TOKEN), account_id=ACCOUNT, clock=clock, max_retry_wait=10.0
    )
    spot.get(GROUP_URL, **rate_limited({"X-RateLimit-Reset": "3600"}))
    spot.get(GROUP_URL, json=envelope([{"id": GROUP}]))

    client.get_group(GROUP)

    assert clock.sleeps == [10.0]


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_retries_server_errors_with_exponential_backoff_then_succeeds(
    spot: responses.RequestsMock, client: SpotClient, clock: FakeClock, status: int
) -> None:
    spot.get(STATUS_URL, status=status, body="<html>upstream trouble</html>")
    spot.get(STATUS_URL, status=status, json=error_envelope(status))
    spot.get(STATUS_URL, json=envelope([{"instanceId": "i-1"}]))

    assert client.count_group_instances(GROUP) == 1
    assert clock.sleeps == [1.0, 2.0]


def test_gives_up_after_max_attempts_as_system_unavailable(
    spot: responses.RequestsMock, client: SpotClient, clock: FakeClock
) -> None:
    spot.get(STATUS_URL, status=503, json=error_envelope(503, request_id="req-last"))

    with pytest.raises(SpotApiError) as caught:
        client.count_group_instances(GROUP)

    assert len(spot.calls) == 4
    assert clock.sleeps == [1.0, 2.0, 4.0]
    assert (caught.value.status, caught.value.request_id) == (503, "req-last")
    assert caught.value.failure_type == "SystemUnavailable"
    assert "gave up after 4 attempts" in str(caught.value)


def test_retries_a_connection_error_then_succeeds(
    spot: responses.RequestsMock, client: SpotClient, clock: FakeClock
) -> None:
    spot.get(STATUS_URL, body=requests.ConnectionError("Connection reset by peer"))
    spot.get(STATUS_URL, json=envelope([]))

    assert client.count_group_instances(GROUP) == 0
    assert clock.sleeps == [1.0]


def test_connection_errors_exhausted_report_system_unavailable_without_status(
    spot: responses.RequestsMock, client: SpotClient
) -> None:
    spot.get(STATUS_URL, body=requests.ReadTimeout("read timed out"))

    with pytest.raises(SpotApiError) as caught:
        client.count_group_instances(GROUP)

    assert caught.value.status is None
    assert caught.value.failure_type == "SystemUnavailable"
    assert "ReadTimeout" in str(caught.value)
    assert isinstance(caught.value.__cause__, requests.ReadTimeout)


def test_stop_is_retried_after_a_server_error(spot: responses.RequestsMock, client: SpotClient) -> None:
    spot.put(STOP_URL, status=502, json=error_envelope(502))
    spot.put(STOP_URL, json=envelope([]))

    assert client.stop_deployment(GROUP, "cdbg-611a38d3") is True


# --- starting without duplicates ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "first_reply",
    [
        {"body": requests.ReadTimeout("read timed out")},
        {"body": requests.ConnectionError("Connection aborted: RemoteDisconnected")},
        {"status": 503, "json": error_envelope(503)},
    ],
    ids=["read-timeout", "connection-dropped", "server-error"],
)
def test_start_with_unknown_outcome_returns_our_listed_deployment_without_second_post(
    spot: responses.RequestsMock, client: SpotClient, first_reply: dict[str, Any]
) -> None:
    spot.post(DEPLOYMENTS_URL, **first_reply)
    spot.get(
        DEPLOYMENTS_URL,
        json=envelope([deployment_item("cdbg-0000000a", tag_value="older"), deployment_item()]),
    )

    assert start(client).deployment_id == "cdbg-611a38d3"
    assert posts(spot) == 1


def test_start_read_timeout_with_no_deployment_found_is_resent_once(
    spot: responses.RequestsMock, client: SpotClient, clock: FakeClock
) -> None:
    spot.post(DEPLOYMENTS_URL, body=requests.ReadTimeout("read timed out"))
    spot.get(DEPLOYMENTS_URL, json=envelope([deployment_item("cdbg-0000000a", tag_value="older")]))
    spot.post(DEPLOYMENTS_URL, json=envelope([deployment_item()]))

    assert start(client).deployment_id == "cdbg-611a38d3"
    assert [call.request.method for call in spot.calls] == ["POST", "GET", "POST"]
    assert clock.sleeps == [1.0]


def test_start_gives_up_when_outcome_stays_unknown_and_nothing_is_listed(
    spot: responses.RequestsMock, client: SpotClient
) -> None:
    spot.post(DEPLOYMENTS_URL, body=requests.ReadTimeout("read timed out"))
    spot.get(DEPLOYMENTS_URL, json=envelope([]))

    with pytest.raises(SpotApiError) as caught:
        start(client)

    assert posts(spot) == 4
    assert caught.value.failure_type == "SystemUnavailable"
    assert "gave up after 4 attempts" in str(caught.value)


def test_a_start_answered_with_a_flood_is_not_sent_again_and_says_it_was_sent_once(
    spot: responses.RequestsMock, client: SpotClient
) -> None:
    spot.post(DEPLOYMENTS_URL, body=b'{"response": {"items": [' + b'{"id": "x"},' * (MAX_REPLY_BYTES // 10) + b"{}]}}")
    spot.get(DEPLOYMENTS_URL, json=envelope([]))

    with pytest.raises(SpotApiError) as caught:
        start(client)

    assert posts(spot) == 1
    assert caught.value.failure_type == "SystemUnavailable"
    assert "reply larger than 2048 KiB" in str(caught.value)
    assert "gave up after 1 attempt;" in str(caught.value)
    assert "may have started" in str(caught.value)


@pytest.mark.parametrize(
    "first_reply",
    [
        {"body": requests.ConnectTimeout("connect timed out")},
        {"body": refused_connection()},
        rate_limited({"X-RateLimit-Reset": "2"}),
    ],
    ids=["connect-timeout", "connection-refused", "rate-limited"],
)
def test_start_that_never_reached_spot_is_resent_without_looking(
    spot: responses.RequestsMock, client: SpotClient, first_reply: dict[str, Any]
) -> None:
    spot.post(DEPLOYMENTS_URL, **first_reply)
    spot.post(DEPLOYMENTS_URL, json=envelope([deployment_item()]))

    assert start(client).deployment_id == "cdbg-611a38d3"
    assert [call.request.method for call in spot.calls] == ["POST", "POST"]


# --- stop --------------------------------------------------------------------------------------------------


def test_stop_returns_true_when_spot_accepts(spot: responses.RequestsMock, client: SpotClient) -> None:
    spot.put(STOP_URL, json=envelope([]))

    assert client.stop_deployment(GROUP, "cdbg-611a38d3") is True


@pytest.mark.parametrize(
    ("status", "listed"),
    [(400, []), (404, []), (400, [deployment_item(state="FINISHED", status="SUCCEEDED")])],
    ids=["400-not-listed", "404-not-listed", "400-listed-finished"],
)
def test_stop_returns_false_and_logs_when_spot_confirms_there_is_nothing_to_stop(
    spot: responses.RequestsMock,
    client: SpotClient,
    caplog: pytest.LogCaptureFixture,
    status: int,
    listed: list[dict[str, Any]],
) -> None:
    spot.put(
        STOP_URL,
        status=status,
        json=error_envelope(status, errors=[{"code": "NOT_FOUND", "message": "gone"}]),
    )
    spot.get(DEPLOYMENTS_URL, json=envelope(listed))

    with caplog.at_level(logging.INFO, logger="bluegreen.spot"):
        assert client.stop_deployment(GROUP, "cdbg-611a38d3") is False

    assert "cdbg-611a38d3" in caplog.text
    assert "nothing" in caplog.text or "no blue/green deployment" in caplog.text


def test_stop_raises_when_spot_refuses_for_another_reason(spot: responses.RequestsMock, client: SpotClient) -> None:
    spot.put(STOP_URL, status=403, json=error_envelope(403, errors=[{"code": "FORBIDDEN", "message": "no"}]))

    with pytest.raises(SpotApiError) as caught:
        client.stop_deployment(GROUP, "cdbg-611a38d3")

    assert caught.value.failure_type == "PermissionError"


# --- outcome -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("state", "status", "outcome"),
    [
        ("STARTING", "INITIALIZING", "running"),
        ("", "", "unknown"),
        ("FINISHED", "", "succeeded"),
        ("", "SUCCEEDED", "succeeded"),
        ("COMPLETED", "DONE", "succeeded"),
        ("finished", "succeeded", "succeeded"),
        ("FAILED", "", "failed"),
        ("", "timed_out", "failed"),
        ("TIMEOUT", "", "failed"),
        ("Stopped", "", "failed"),
        ("CANCELED", "", "failed"),
        ("cancelled", "", "failed"),
        ("ABORTED", "", "failed"),
        ("", "Error", "failed"),
        ("Timed Out", "", "failed"),
        ("FINISHED", "FAILED", "failed"),
        ("SUCCEEDED", "ROLLED_BACK_SOMEHOW", "succeeded"),
        ("PROVISIONING_GREENS", "WAITING", "unknown"),
        ("COMPLETE", "", "succeeded"),
        ("ROLLED_BACK", "", "failed"),
        ("FINISHED_ERROR", "", "failed"),
        ("IN_PROGRESS", "", "running"),
        ("STARTING", "WEIRD_NEW_WORD", "unknown"),
    ],
)
def test_deployment_outcome_maps_state_and_status(state: str, status: str, outcome: str) -> None:
    deployment = SpotDeployment(deployment_id="cdbg-1", group_id=GROUP, state=state, status=status, tags=())

    assert deployment.outcome == outcome


def unknown(state: str, status: str = "", deployment_id: str = "cdbg-00000001") -> SpotDeployment:
    return SpotDeployment(deployment_id=deployment_id, group_id=GROUP, state=state, status=status, tags=())


def test_another_runs_deployment_with_an_unknown_word_counts_as_ended_and_says_so(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.WARNING, logger="bluegreen.spot"):
        assert unknown("ROLLED_BACK_SOMEHOW").another_still_running(UnknownWords(8)) is False

    assert "'ROLLED_BACK_SOMEHOW'" in caplog.text
    assert "read the deployment as ended" in caplog.text


def test_another_runs_deployment_with_a_running_word_counts_as_running() -> None:
    assert unknown("STARTING", "INITIALIZING").another_still_running(UnknownWords(8)) is True


def test_own_deployment_with_an_unknown_word_is_kept_watching_with_one_warning_per_word(
    caplog: pytest.LogCaptureFixture,
) -> None:
    words = UnknownWords(8)
    with caplog.at_level(logging.WARNING, logger="bluegreen.spot"):
        assert unknown("WARMING_UP").own_outcome(words) == "running"
        assert unknown("WARMING_UP").own_outcome(words) == "running"

    assert [record.getMessage().count("WARMING_UP") for record in caplog.records] == [1]
    assert "read the deployment as still running" in caplog.text


def test_an_unknown_word_beside_a_failure_word_is_reported_as_read_failed(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.WARNING, logger="bluegreen.spot"):
        assert unknown("FAILED", "SOMETHING_NEW").own_outcome(UnknownWords(8)) == "failed"

    assert "'SOMETHING_NEW'" in caplog.text
    assert "read the deployment as failed" in caplog.text
    assert "still running" not in caplog.text


def test_twenty_thousand_unknown_words_give_a_bounded_number_of_warnings(caplog: pytest.LogCaptureFixture) -> None:
    words = UnknownWords(32)
    with caplog.at_level(logging.WARNING, logger="bluegreen.spot"):
        for n in range(20_000):
            unknown(f"WORD_{n}").own_outcome(words)

    assert len(caplog.records) == 33
    assert "no longer logging each" in caplog.records[-1].getMessage()


def test_has_tag_matches_key_and_value_exactly() -> None:
    deployment = SpotDeployment(
        deployment_id="cdbg-1", group_id=GROUP, state="", status="", tags=((TAG_KEY, TAG_VALUE),)
    )

    assert deployment.has_tag(TAG_KEY, TAG_VALUE)
    assert not deployment.has_tag(TAG_KEY, TAG_VALUE.upper())
    assert not deployment.has_tag("Other", TAG_VALUE)


# --- base URL ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://api.spotinst.io", "https://api.spotinst.io"),
        ("https://api.spotinst.io/", "https://api.spotinst.io"),
        ("https://proxy.example.com:8443/spot/", "https://proxy.example.com:8443/spot"),
        ("http://127.0.0.1:8080", "http://127.0.0.1:8080"),
        ("http://127.5.6.7/", "http://127.5.6.7"),
        ("http://localhost:9000/", "http://localhost:9000"),
        ("http://[::1]:9000", "http://[::1]:9000"),
    ],
)
def test_validate_base_url_accepts_https_and_loopback_http(url: str, expected: str) -> None:
    assert validate_base_url(url) == expected


@pytest.mark.parametrize(
    "url",
    [
        "http://api.spotinst.io",
        "http://10.0.0.1:8080",
        "http://localhost.example.com",
        "ftp://api.spotinst.io",
        "api.spotinst.io",
        "",
        "https://",
        "https://api.spotinst.io?x=1",
        "https://api.spotinst.io:notaport",
        "https://user:pw@api.spotinst.io",
    ],
)
def test_validate_base_url_rejects_anything_else_naming_the_field(url: str) -> None:
    with pytest.raises(ConfigurationError, match=r"^SPOT_API_URL: expected an https:// URL \(http only for loopback\)"):
        validate_base_url(url)


def test_validate_base_url_does_not_echo_credentials_in_the_url() -> None:
    with pytest.raises(ConfigurationError) as caught:
        validate_base_url("https://user:s3cret@api.spotinst.io")

    assert "s3cret" not in str(caught.value)


@pytest.mark.parametrize(
    "url",
    [
        "https://user:pa@ss-s3cret@api.spotinst.io",  # an @ inside the password: the userinfo ends at the last @
        "http://s3cret@evil.example/v1",
        "https://api.spotinst.io/?token=s3cret",
        "https://api.spotinst.io/#s3cret",
        "user:s3cret@api.spotinst.io",  # no scheme: urlsplit sees no authority at all
        "https://[::1/s3cret@x",  # does not even split
    ],
)
def test_a_rejected_url_is_echoed_without_anything_that_may_be_a_credential(url: str) -> None:
    with pytest.raises(ConfigurationError) as caught:
        validate_base_url(url)

    assert "s3cret" not in str(caught.value)
    assert "SPOT_API_URL" in str(caught.value)


# A client is only ever given a URL validate_base_url accepted (SpotBaseUrl): the handler's settings check
# SPOT_API_URL where it enters (tests/test_handler.py::test_a_plain_http_spot_api_url_to_a_remote_host_...).


# --- the token stays secret --------------------------------------------------------------------------------


def test_client_repr_does_not_show_the_token(client: SpotClient) -> None:
    assert TOKEN not in repr(client)
    assert ACCOUNT in repr(client)


@pytest.mark.parametrize("bad_token", [TOKEN + "\n", TOKEN[:4] + " " + TOKEN[4:], "short", "x" * 4097, TOKEN + "é"])
def test_a_token_requests_would_quote_in_its_errors_is_no_spot_token_and_is_not_echoed(bad_token: str) -> None:
    # A client is only ever given a SpotToken: the value is checked once, where it enters (UserParameters,
    # tests/test_params.py; a secret or parameter, tests/test_preflight.py).
    with pytest.raises(InvalidSpotTokenError) as caught:
        SpotToken(bad_token)

    assert TOKEN not in str(caught.value)
    assert "printable ASCII characters without spaces" in str(caught.value)


def test_token_echoed_where_the_snippet_is_cut_is_still_redacted(
    spot: responses.RequestsMock, client: SpotClient
) -> None:
    spot.get(GROUP_URL, status=403, body="x" * 110 + TOKEN)

    with pytest.raises(SpotApiError) as caught:
        client.get_group(GROUP)

    assert "canary" not in str(caught.value)


FAILURES: list[tuple[str, dict[str, Any]]] = [
    (
        "http-401",
        {"status": 401, "json": error_envelope(401, errors=[{"code": "UNAUTHORIZED", "message": "bad"}])},
    ),
    (
        "echoed-token-json",
        {"status": 400, "json": error_envelope(400, errors=[{"code": "X", "message": TOKEN}])},
    ),
    ("echoed-header-html", {"status": 403, "body": f"<pre>Authorization: Bearer {TOKEN}</pre>"}),
    ("server-error", {"status": 500, "json": error_envelope(500)}),
    ("connection-error", {"body": requests.ConnectionError("Connection reset by peer")}),
    ("read-timeout", {"body": requests.ReadTimeout("read timed out")}),
    ("invalid-url", {"body": requests.exceptions.InvalidURL("bad url")}),
]


@pytest.mark.parametrize("reply", [f[1] for f in FAILURES], ids=[f[0] for f in FAILURES])
def test_token_never_appears_in_errors_or_logs(
    spot: responses.RequestsMock, client: SpotClient, caplog: pytest.LogCaptureFixture, reply: dict[str, Any]
) -> None:
    spot.get(GROUP_URL, **reply)
    spot.put(STOP_URL, **reply)

    texts: list[str] = []
    with caplog.at_level(logging.DEBUG):
        for call in (lambda: client.get_group(GROUP), lambda: client.stop_deployment(GROUP, "cdbg-611a38d3")):
            try:
                call()
            except SpotApiError as exc:
                error: BaseException | None = exc
                while error is not None:
                    texts += [str(error), repr(error)]
                    error = error.__cause__ or error.__context__

    assert texts
    assert all(TOKEN not in text for text in texts)
    assert TOKEN not in caplog.text


def test_tags_are_found_when_spot_echoes_the_request_with_its_deployment_wrapper(
    client: SpotClient, spot: responses.RequestsMock
) -> None:
    item = {
        "id": "cdbg-611a38d3",
        "groupId": GROUP,
        "state": "STARTING",
        "status": "INITIALIZING",
        "config": {"deployment": {"tags": [{"tagKey": TAG_KEY, "tagValue": TAG_VALUE}]}},
    }
    spot.add(responses.GET, DEPLOYMENTS_URL, json=envelope([item]))

    found = client.find_deployment_by_tag(GROUP, TAG_KEY, TAG_VALUE)

    assert found is not None
    assert found.deployment_id == "cdbg-611a38d3"


# --- every call bounded in time and bytes ------------------------------------------------------------------


def test_a_reply_that_drips_in_fails_within_the_attempt_budget_naming_the_call(
    spot: responses.RequestsMock, clock: FakeClock
) -> None:
    client = SpotClient(requests.Session(), token=SpotToken(TOKEN), account_id=ACCOUNT, clock=clock, max_attempts=2)
    body = json.dumps(envelope([{"id": GROUP}])).encode()
    drips = [DripBody(clock.sleep, body), DripBody(clock.sleep, body)]
    for drip in drips:
        spot.get(GROUP_URL, body=io.BufferedReader(drip, buffer_size=1))  # type: ignore[arg-type]
    started = clock.time

    with pytest.raises(SpotApiError) as caught:
        client.get_group(GROUP)

    assert caught.value.failure_type == "SystemUnavailable"
    assert "GET group" in str(caught.value)
    assert "no complete reply from Spot within 30 s" in str(caught.value)
    assert all(drip.bytes_sent <= 31 for drip in drips)
    assert clock.time - started <= 2 * 31 + 1  # two attempts of at most 30 s (+1 byte) and one 1 s back-off
    assert len(body) > 31, "the body is long enough that an unbounded read would take longer"


def test_a_reply_larger_than_the_cap_is_not_read_and_fails_as_system_unavailable(
    spot: responses.RequestsMock, client: SpotClient
) -> None:
    huge = b'{"response": {"items": [' + b'{"id": "x"},' * (MAX_REPLY_BYTES // 10) + b"{}]}}"
    spot.get(DEPLOYMENTS_URL, body=huge)

    with pytest.raises(SpotApiError) as caught:
        client.list_deployments(GROUP)

    assert caught.value.failure_type == "SystemUnavailable"
    assert "GET blue/green deployments" in str(caught.value)
    assert "reply larger than 2048 KiB" in str(caught.value)
    assert len(spot.calls) == 1, "a huge reply is not asked for again"


def test_a_reply_nested_too_deeply_fails_as_system_unavailable_naming_the_call(
    spot: responses.RequestsMock, client: SpotClient
) -> None:
    spot.get(GROUP_URL, body="[" * 100_000 + "]" * 100_000)

    with pytest.raises(SpotApiError) as caught:
        client.get_group(GROUP)

    assert caught.value.failure_type == "SystemUnavailable"
    assert "GET group" in str(caught.value)
    assert "nested too deeply" in str(caught.value)


@pytest.mark.parametrize(
    "hostile_id",
    ["cdbg-" + "a" * 2100, "cdbg-611a38d3\nInjected: yes", "d-ABC", "cdbg-"],
    ids=["long", "newline", "other-prefix", "prefix-only"],
)
def test_a_deployment_id_of_the_wrong_shape_or_length_never_gets_past_the_client(
    spot: responses.RequestsMock, client: SpotClient, hostile_id: str
) -> None:
    spot.get(DEPLOYMENTS_URL, json=envelope([deployment_item(hostile_id)]))

    with pytest.raises(SpotApiError) as caught:
        client.list_deployments(GROUP)

    assert caught.value.failure_type == "SystemUnavailable"
    assert "is not a blue/green deployment id like cdbg-611a38d3" in str(caught.value)
    assert hostile_id == "cdbg-" or hostile_id not in str(caught.value)


def test_a_call_is_not_sent_when_the_invocation_has_no_time_left_for_it(
    spot: responses.RequestsMock, clock: FakeClock
) -> None:
    client = SpotClient(
        requests.Session(), token=SpotToken(TOKEN), account_id=ACCOUNT, clock=clock, time_left=lambda: 0.5
    )

    with pytest.raises(OutOfInvocationTimeError, match="GET group: not sent"):
        client.get_group(GROUP)

    assert len(spot.calls) == 0


def test_an_attempt_is_bounded_by_what_the_invocation_has_left(spot: responses.RequestsMock, clock: FakeClock) -> None:
    client = SpotClient(
        requests.Session(), token=SpotToken(TOKEN), account_id=ACCOUNT, clock=clock, time_left=lambda: 7.0
    )
    spot.get(GROUP_URL, json=envelope([{"id": GROUP}]))

    client.get_group(GROUP)

    assert spot.calls[0].request.req_kwargs["timeout"] == (5.0, 7.0)


def test_a_change_from_a_thread_that_lost_the_run_is_never_sent(spot: responses.RequestsMock, clock: FakeClock) -> None:
    authority = Authority()
    authority.grant()
    client = SpotClient(
        requests.Session(), token=SpotToken(TOKEN), account_id=ACCOUNT, clock=clock, authority=authority
    )
    authority.revoke_all()

    with pytest.raises(AuthorityLostError):
        start(client)
    with pytest.raises(AuthorityLostError):
        client.stop_deployment(GROUP, "cdbg-611a38d3")

    assert len(spot.calls) == 0


def test_a_capacity_target_no_group_can_have_is_an_unexpected_reply(
    spot: responses.RequestsMock, client: SpotClient
) -> None:
    spot.get(GROUP_URL, json=envelope([{"id": GROUP, "capacity": {"target": 10**3000}}]))

    with pytest.raises(SpotApiError, match=r"items\[0\].capacity.target is outside 0..100000") as caught:
        client.get_group(GROUP)

    assert caught.value.failure_type == "SystemUnavailable"


def test_reads_a_weighted_capacity_unit(spot: responses.RequestsMock, client: SpotClient) -> None:
    spot.get(GROUP_URL, json=envelope([{"id": GROUP, "capacity": {"target": 16, "unit": "weight"}}]))

    group = client.get_group(GROUP)

    assert (group.capacity_target, group.capacity_unit) == (16, "weight")


# --- POST ambiguity ----------------------------------------------------------------------------------------


def test_a_refused_resend_after_an_unknown_outcome_looks_again_and_adopts_our_deployment(
    spot: responses.RequestsMock, client: SpotClient
) -> None:
    already = error_envelope(400, errors=[{"code": "DEPLOYMENT_ALREADY_IN_PROGRESS", "message": "in progress"}])
    spot.post(DEPLOYMENTS_URL, status=503, json=error_envelope(503))
    spot.get(DEPLOYMENTS_URL, json=envelope([]))  # Spot's list lags behind the create
    spot.post(DEPLOYMENTS_URL, status=400, json=already)
    spot.get(DEPLOYMENTS_URL, json=envelope([]))
    spot.get(DEPLOYMENTS_URL, json=envelope([deployment_item()]))

    assert start(client).deployment_id == "cdbg-611a38d3"
    assert posts(spot) == 2


def test_a_refused_resend_whose_deployment_never_shows_says_one_may_have_started(
    spot: responses.RequestsMock, client: SpotClient
) -> None:
    already = error_envelope(400, errors=[{"code": "DEPLOYMENT_ALREADY_IN_PROGRESS", "message": "in progress"}])
    spot.post(DEPLOYMENTS_URL, body=requests.ReadTimeout("read timed out"))
    spot.get(DEPLOYMENTS_URL, json=envelope([]))
    spot.post(DEPLOYMENTS_URL, status=400, json=already)

    with pytest.raises(SpotStartUnknownError) as caught:
        start(client)

    assert f"a deployment tagged {TAG_KEY}={TAG_VALUE} may have started" in str(caught.value)
    assert posts(spot) == 2


# --- a stop is verified ------------------------------------------------------------------------------------


def test_a_refused_stop_of_a_deployment_spot_still_lists_as_running_is_an_error(
    spot: responses.RequestsMock, client: SpotClient
) -> None:
    spot.put(STOP_URL, status=400, json=error_envelope(400, errors=[{"code": "X", "message": "cannot stop"}]))
    spot.get(DEPLOYMENTS_URL, json=envelope([deployment_item()]))

    with pytest.raises(SpotApiError) as caught:
        client.stop_deployment(GROUP, "cdbg-611a38d3")

    assert "Spot still lists cdbg-611a38d3 as STARTING/INITIALIZING" in str(caught.value)
