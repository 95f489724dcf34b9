"""The Spot emulator speaks Spot's wire format: envelope, errors, auth, accountId, rate-limit headers."""

from __future__ import annotations

import re

import pytest
import requests

from bluegreen_sim.cloud import Cloud, Pipeline
from bluegreen_sim.elastigroup import GREEN_TAG

UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")


@pytest.fixture(scope="module")
def pipeline(cloud: Cloud) -> Pipeline:
    return cloud.add_pipeline(instances=3)


def call(
    cloud: Cloud,
    method: str,
    path: str,
    *,
    token: str | None = None,
    account: str | None = "default",
    json: object = None,
) -> requests.Response:
    params = {} if account is None else {"accountId": cloud.account_id if account == "default" else account}
    headers = {"Authorization": f"Bearer {token or cloud.token}", "Accept": "application/json"}
    return requests.request(method, cloud.spot.url + path, params=params, headers=headers, json=json, timeout=5)


def bg_body(pipeline: Pipeline, value: str) -> dict[str, object]:
    return {
        "deployment": {
            "timeout": 600,
            "tags": [{"tagKey": GREEN_TAG, "tagValue": value}],
            "deploymentGroups": [
                {"applicationName": pipeline.app_name, "deploymentGroupName": pipeline.deployment_group}
            ],
        }
    }


def test_group_reply_has_the_spot_envelope(cloud, pipeline):
    reply = call(cloud, "GET", f"/aws/ec2/group/{pipeline.group.id}")
    assert reply.status_code == 200
    doc = reply.json()
    assert set(doc) == {"request", "response"}
    assert UUID.match(doc["request"]["id"])
    assert doc["request"]["method"] == "GET"
    assert re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$", doc["request"]["timestamp"])
    assert doc["response"]["status"] == {"code": 200, "message": "OK"}
    assert doc["response"]["count"] == 1
    item = doc["response"]["items"][0]
    assert item["id"] == pipeline.group.id
    assert item["capacity"]["target"] == 3
    code_deploy = item["thirdPartiesIntegration"]["codeDeploy"]
    assert code_deploy["cleanUpOnFailure"] is True
    assert code_deploy["deploymentGroups"] == [
        {"applicationName": pipeline.app_name, "deploymentGroupName": pipeline.deployment_group}
    ]


def test_status_lists_one_item_per_instance(cloud, pipeline):
    items = call(cloud, "GET", f"/aws/ec2/group/{pipeline.group.id}/status").json()["response"]["items"]
    assert sorted(i["instanceId"] for i in items) == sorted(pipeline.group.blue_ids)
    assert {i["status"] for i in items} == {"fulfilled"}


def test_every_reply_carries_rate_limit_headers(cloud, pipeline):
    reply = call(cloud, "GET", f"/aws/ec2/group/{pipeline.group.id}/codeDeploy/blueGreenDeployment")
    assert reply.status_code == 200
    assert reply.headers["X-RateLimit-Limit"] == "5"
    assert int(reply.headers["X-RateLimit-Remaining"]) < 5
    assert 1 <= int(reply.headers["X-RateLimit-Reset"]) <= 60


def test_wrong_token_gets_401_with_spot_errors(cloud, pipeline):
    reply = call(cloud, "GET", f"/aws/ec2/group/{pipeline.group.id}", token="not-the-token")
    assert reply.status_code == 401
    response = reply.json()["response"]
    assert response["status"]["code"] == 401
    assert response["errors"][0]["code"] == "UNAUTHORIZED"
    assert "items" not in response


def test_account_the_token_cannot_use_gets_403(cloud, pipeline):
    reply = call(cloud, "GET", f"/aws/ec2/group/{pipeline.group.id}", account="act-99999999")
    assert reply.status_code == 403
    assert reply.json()["response"]["errors"][0]["code"] == "FORBIDDEN"


def test_missing_account_id_falls_back_to_another_account_where_the_group_does_not_exist(cloud, pipeline):
    reply = call(cloud, "GET", f"/aws/ec2/group/{pipeline.group.id}", account=None)
    assert reply.status_code == 400
    assert reply.json()["response"]["errors"][0]["code"] == "GROUP_DOESNT_EXIST"


def test_unknown_route_is_404_with_envelope(cloud):
    reply = call(cloud, "GET", "/aws/ec2/nothing-here")
    assert reply.status_code == 404
    assert reply.json()["response"]["errors"][0]["code"] == "NOT_FOUND"


def test_blue_green_start_list_and_stop(cloud, pipeline):
    base = f"/aws/ec2/group/{pipeline.group.id}/codeDeploy/blueGreenDeployment"
    started = call(cloud, "POST", base, json=bg_body(pipeline, "wire-test"))
    assert started.status_code == 200, started.text
    item = started.json()["response"]["items"][0]
    assert re.match(r"^cdbg-[0-9a-f]{8}$", item["id"])
    assert (item["state"], item["status"]) == ("STARTING", "INITIALIZING")
    assert item["config"]["tags"] == [{"tagKey": GREEN_TAG, "tagValue": "wire-test"}]

    again = call(cloud, "POST", base, json=bg_body(pipeline, "another"))
    assert again.status_code == 400
    assert again.json()["response"]["errors"][0]["code"] == "DEPLOYMENT_ALREADY_IN_PROGRESS"

    listed = call(cloud, "GET", base).json()["response"]["items"]
    assert item["id"] in [i["id"] for i in listed]

    stopped = call(cloud, "PUT", f"{base}/{item['id']}/stop")
    assert stopped.status_code == 200
    assert stopped.json()["response"]["items"][0]["state"] == "STOPPED"
    assert call(cloud, "PUT", f"{base}/{item['id']}/stop").status_code == 400
    assert call(cloud, "PUT", f"{base}/cdbg-00000000/stop").status_code == 404


def test_start_with_a_deployment_group_the_group_does_not_integrate_is_400(cloud, pipeline):
    body = bg_body(pipeline, "x")
    body["deployment"]["deploymentGroups"] = [{"applicationName": "other", "deploymentGroupName": "other"}]
    reply = call(cloud, "POST", f"/aws/ec2/group/{pipeline.group.id}/codeDeploy/blueGreenDeployment", json=body)
    assert reply.status_code == 400
    assert reply.json()["response"]["errors"][0]["field"] == "deployment.deploymentGroups"


def test_budget_spent_gives_429_without_errors_until_the_simulated_window_slides(cloud, pipeline):
    path = f"/aws/ec2/group/{pipeline.group.id}/status"
    cloud.clock.sleep(61)  # an empty window, whatever the other tests called
    replies = [call(cloud, "GET", path) for _ in range(6)]
    assert [r.status_code for r in replies[:5]] == [200] * 5
    blocked = replies[5]
    assert blocked.status_code == 429
    assert blocked.json()["response"] == {
        "status": {"code": 429, "message": "Too Many Requests"},
        "data": "Rate limit exceeded",
    }
    assert blocked.headers["X-RateLimit-Remaining"] == "0"
    reset = int(blocked.headers["X-RateLimit-Reset"])
    assert 1 <= reset <= 60
    # another route+method has its own budget
    assert call(cloud, "GET", f"/aws/ec2/group/{pipeline.group.id}").status_code == 200
    cloud.clock.sleep(reset)
    assert call(cloud, "GET", path).status_code == 200


def test_ledger_counts_calls_by_route_template(cloud, pipeline):
    before = cloud.spot.ledger.calls["GET /aws/ec2/group/{groupId}"]
    call(cloud, "GET", f"/aws/ec2/group/{pipeline.group.id}")
    assert cloud.spot.ledger.calls["GET /aws/ec2/group/{groupId}"] == before + 1
