"""The Runtime API endpoint and sandboxes, driven by a minimal runtime client written the way the
official ones work (next → response/error), including chunked response bodies as aws-lambda-go
sends them."""

import json
import sys
import textwrap
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from sfn_agents.runtime_api import SandboxPool

CLIENT = textwrap.dedent(
    """
    import http.client, json, os, sys, time
    host, port = os.environ["AWS_LAMBDA_RUNTIME_API"].split(":")
    time.sleep(float(os.environ.get("INIT_SECONDS", "0")))  # the init: imports, clients
    while True:
        connection = http.client.HTTPConnection(host, int(port))
        connection.request("GET", "/2018-06-01/runtime/invocation/next")
        response = connection.getresponse()
        if response.status != 200:
            sys.exit(0)
        request_id = response.getheader("Lambda-Runtime-Aws-Request-Id")
        event = json.loads(response.read())
        print("handling", event.get("action"), flush=True)
        if event.get("action") == "sleep":
            time.sleep(event["seconds"])
        if event.get("action") == "crash":
            sys.exit(3)
        if event.get("action") == "allocate":
            held = bytearray(event["megabytes"] * 1024 * 1024)
        if event.get("action") == "fail":
            path, body = "error", {"errorMessage": "bad input", "errorType": "ValueError"}
        else:
            greeting = os.environ.get("GREETING")
            path, body = "response", {"echo": event, "pid": os.getpid(), "env": greeting}
        data = json.dumps(body).encode()
        chunks = iter([data[: len(data) // 2], data[len(data) // 2 :]])
        connection.request(
            "POST", f"/2018-06-01/runtime/invocation/{request_id}/{path}", body=chunks,
            encode_chunked=True, headers={"Content-Type": "application/json"},
        )
        connection.getresponse().read()
    """
)


@pytest.fixture
def pool(tmp_path: Path):
    script = tmp_path / "client.py"
    script.write_text(CLIENT)
    pool = SandboxPool([sys.executable, str(script)], tmp_path, {"GREETING": "hello", "PATH": ""})
    yield pool
    pool.stop()


ARN = "arn:aws:lambda:us-east-1:123456789012:function:f"


def test_response_comes_back_and_the_sandbox_is_reused(pool):
    first, errored, logs = pool.invoke({"action": "echo", "n": 1}, ARN, 10)
    second, _, _ = pool.invoke({"action": "echo", "n": 2}, ARN, 10)
    assert not errored
    assert json.loads(first)["echo"] == {"action": "echo", "n": 1}
    assert json.loads(first)["env"] == "hello"
    assert json.loads(first)["pid"] == json.loads(second)["pid"]  # warm start
    assert logs == "handling echo\n"


def test_function_error_is_reported_as_errored(pool):
    payload, errored, _ = pool.invoke({"action": "fail"}, ARN, 10)
    assert errored
    assert b'"errorType": "ValueError"' in payload


def test_timeout_kills_the_sandbox(pool):
    payload, errored, _ = pool.invoke({"action": "sleep", "seconds": 30}, ARN, 1)
    assert errored
    assert json.loads(payload) == {
        "errorMessage": "Task timed out after 1.00 seconds",
        "errorType": "Sandbox.Timedout",
    }
    payload, errored, _ = pool.invoke({"action": "echo"}, ARN, 10)  # a fresh sandbox
    assert not errored


def test_a_crashing_runtime_is_an_error_not_a_hang(pool):
    payload, errored, _ = pool.invoke({"action": "crash"}, ARN, 10)
    assert errored
    assert json.loads(payload)["errorType"] == "Runtime.ExitError"


def test_concurrent_invocations_get_their_own_sandboxes(pool):
    # Handlers busy longer than a sandbox's init, even on a loaded machine: the pool starts new
    # sandboxes rather than wait for a busy one (0.5 s was shorter than an init under load).
    with ThreadPoolExecutor(3) as executor:
        results = list(
            executor.map(
                lambda n: pool.invoke({"action": "sleep", "seconds": 2.0, "n": n}, ARN, 10),
                range(3),
            )
        )
    pids = {json.loads(payload)["pid"] for payload, _, _ in results}
    assert len(pids) == 3


def test_a_burst_of_quick_invocations_waits_for_warm_sandboxes_not_for_new_inits(tmp_path: Path):
    script = tmp_path / "client.py"
    script.write_text(CLIENT)
    pool = SandboxPool([sys.executable, str(script)], tmp_path, {"INIT_SECONDS": "1", "PATH": ""})
    try:
        pool.prestart()
        with ThreadPoolExecutor(8) as executor:
            results = list(executor.map(lambda n: pool.invoke({"n": n}, ARN, 10), range(8)))
        assert all(not errored for _, errored, _ in results)
        assert len({json.loads(payload)["pid"] for payload, _, _ in results}) == 1
    finally:
        pool.stop()


def test_a_sandbox_gets_the_functions_memory_size_and_fails_beyond_it(tmp_path: Path):
    script = tmp_path / "client.py"
    script.write_text(CLIENT)
    pool = SandboxPool([sys.executable, str(script)], tmp_path, {"PATH": ""}, memory_mb=128)
    try:
        payload, errored, _ = pool.invoke({"action": "allocate", "megabytes": 16}, ARN, 10)
        assert not errored, payload
        payload, errored, logs = pool.invoke({"action": "allocate", "megabytes": 400}, ARN, 10)
        assert errored
        assert "MemoryError" in logs
        assert "limited to the function's 128 MB" in json.loads(payload)["errorMessage"]
    finally:
        pool.stop()


def test_stopping_a_sandbox_mid_poll_prints_no_traceback(pool, capfd):
    pool.invoke({"action": "echo"}, ARN, 10)  # the runtime is now long-polling for the next
    pool.stop()
    assert "Traceback" not in capfd.readouterr().err
