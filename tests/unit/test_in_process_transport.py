"""The engine's moto server: its own clients call it in process, with the same answers as over
HTTP and no HTTP request made (other addresses, and a stopped server, are left to HTTP); and its
per-request costs cut with the same results (lean_dispatch)."""

import io
import re
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError, EndpointConnectionError
from botocore.httpsession import URLLib3Session
from moto import backends
from moto.core.base_backend import AccountSpecificBackend
from moto.core.responses import BaseResponse

from sfn_agents.moto_server import MotoServer, in_process

BINARY = bytes(range(256)) * 40


@pytest.fixture(scope="module")
def endpoint() -> Iterator[str]:
    server = MotoServer(0)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


def clients(endpoint: str, service: str) -> tuple[Any, Any]:
    """The same client twice: over HTTP, and in process (neither retries)."""

    def make() -> Any:
        config = Config(retries={"total_max_attempts": 1})
        return boto3.client(service, endpoint_url=endpoint, region_name="us-east-1", config=config)

    return make(), in_process(make())


@pytest.fixture
def no_http(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Fails any request that would go over HTTP; lists their URLs."""
    sent: list[str] = []

    def send(self: Any, request: Any) -> Any:
        sent.append(request.url)
        raise AssertionError(f"sent over HTTP: {request.url}")

    monkeypatch.setattr(URLLib3Session, "send", send)
    return sent


def test_s3_objects_round_trip_in_process(endpoint: str, no_http: list[str]) -> None:
    _, s3 = clients(endpoint, "s3")
    s3.create_bucket(Bucket="in-process")
    s3.put_object(Bucket="in-process", Key="bytes", Body=BINARY)
    s3.put_object(Bucket="in-process", Key="file", Body=io.BytesIO(BINARY[:1000]))
    got = s3.get_object(Bucket="in-process", Key="bytes")
    assert got["Body"].read() == BINARY and got["ContentLength"] == len(BINARY)
    assert s3.get_object(Bucket="in-process", Key="file")["Body"].read() == BINARY[:1000]
    assert {o["Key"] for o in s3.list_objects_v2(Bucket="in-process")["Contents"]} == {
        "bytes",
        "file",
    }
    with pytest.raises(ClientError) as missing:
        s3.get_object(Bucket="in-process", Key="nothing")
    assert missing.value.response["Error"]["Code"] == "NoSuchKey"
    assert no_http == []


def test_answers_and_errors_are_those_over_http(endpoint: str) -> None:
    over_http, here = clients(endpoint, "dynamodb")
    here.create_table(
        TableName="same",
        KeySchema=[{"AttributeName": "k", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "k", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    over_http.put_item(TableName="same", Item={"k": {"S": "a"}, "v": {"N": "1"}})
    key = {"k": {"S": "a"}}
    assert (
        here.get_item(TableName="same", Key=key)["Item"]
        == (over_http.get_item(TableName="same", Key=key)["Item"])
    )
    errors = []
    for client in (over_http, here):
        with pytest.raises(ClientError) as missing:
            client.describe_table(TableName="absent")
        errors.append((missing.value.response["Error"], missing.value.response["ResponseMetadata"]))
    (http_error, http_meta), (error, meta) = errors
    assert error == http_error and error["Code"] == "ResourceNotFoundException"
    assert meta["HTTPStatusCode"] == http_meta["HTTPStatusCode"] == 400
    assert meta.get("RequestId") and http_meta.get("RequestId")
    # Every header moto sets; only the HTTP server's own are missing.
    assert set(http_meta["HTTPHeaders"]) - set(meta["HTTPHeaders"]) <= {
        "server",
        "date",
        "connection",
    }


def test_a_stopped_server_is_not_served_in_process() -> None:
    server = MotoServer(0)
    server.start()
    host, port = server.get_host_and_port()
    _, sfn = clients(f"http://{host}:{port}", "stepfunctions")
    assert isinstance(sfn.list_state_machines()["stateMachines"], list)  # moto's, shared
    server.stop()
    with pytest.raises(EndpointConnectionError):
        sfn.list_state_machines()


def test_other_addresses_go_over_http(endpoint: str, no_http: list[str]) -> None:
    other = in_process(
        boto3.client("sqs", endpoint_url="http://127.0.0.1:9", region_name="us-east-1")
    )
    with pytest.raises(AssertionError):
        other.list_queues()
    assert no_http == ["http://127.0.0.1:9/"]


def test_moto_modules_are_listed_once(endpoint: str, monkeypatch: pytest.MonkeyPatch) -> None:
    listed = list(backends.list_of_moto_modules())
    assert {"s3", "stepfunctions", "dynamodb"} <= set(listed)
    monkeypatch.setattr("os.listdir", lambda path: pytest.fail(f"listed {path}"))
    assert list(backends.list_of_moto_modules()) == listed
    _, sfn = clients(endpoint, "stepfunctions")
    assert isinstance(sfn.list_state_machines()["stateMachines"], list)  # moto's, shared


def test_request_ids_go_into_xml_bodies_only(
    endpoint: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    json_body = '{"events": [{"output": "<Request>not an id</Request>"}]}'
    with monkeypatch.context() as scan:  # a JSON body is not scanned at all
        scan.setattr(re, "sub", lambda *args: pytest.fail("scanned the body"))
        headers, body = BaseResponse._enrich_response({"status": 200}, json_body)  # type: ignore[arg-type]
    assert body == json_body and headers["status"] == "200"
    request_id = headers["x-amzn-requestid"]
    xml = "<Response><RequestId>placeholder</RequestId></Response>"
    headers, body = BaseResponse._enrich_response({}, xml)
    assert body == f"<Response><RequestId>{headers['x-amzn-requestid']}</RequestId></Response>"
    assert headers["x-amzn-requestid"] != request_id


def test_backends_list_regions_from_the_clients_session(endpoint: str) -> None:
    """moto's backends find their regions in boto3's default session, not in a session of their
    own that would decode botocore's endpoint data a second time."""
    assert AccountSpecificBackend.get_session() is boto3._get_default_session()
    regions = AccountSpecificBackend("sqs", "123456789012", dict, True, None).regions
    assert {"us-east-1", "eu-west-1", "cn-north-1", "us-gov-west-1"} <= set(regions)
