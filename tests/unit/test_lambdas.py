"""Python functions run as Lambda runs them: each in processes of its own through awslambdaric,
behind the engine's Runtime API, with Lambda's outcomes (a handler's sys.exit is a runtime exit,
an import error is Runtime.ImportModuleError, a slow handler is killed at its timeout)."""

import json
import textwrap
import time
from pathlib import Path

import pytest

from sfn_agents.lambdas import LocalFunction

HANDLER = textwrap.dedent(
    """
    import os, sys, time

    IMPORTED_AT = time.time()
    print("init of", __name__)
    ORIGIN = os.path.dirname(__file__)

    def handler(event, context):
        if event.get("exit") is not None:
            sys.exit(event["exit"])
        if event.get("sleep"):
            time.sleep(event["sleep"])
        if event.get("fail"):
            raise ValueError(event["fail"])
        if event.get("reply_bytes"):
            return "x" * event["reply_bytes"]
        print("handling", event)
        return {
            "origin": ORIGIN,
            "imported_at": IMPORTED_AT,
            "greeting": os.environ.get("GREETING"),
            "request_id": context.aws_request_id,
            "remaining_ms": context.get_remaining_time_in_millis(),
            "function_name": context.function_name,
            "initialization": os.environ.get("AWS_LAMBDA_INITIALIZATION_TYPE"),
        }
    """
)


def _function(tmp_path: Path, package: str, env: dict[str, str] | None = None) -> LocalFunction:
    (tmp_path / package).mkdir(parents=True)
    (tmp_path / package / "__init__.py").write_text("")
    (tmp_path / package / "handler.py").write_text(HANDLER)
    return LocalFunction(
        logical_id="Fn",
        name="stack-Fn",
        arn="arn:aws:lambda:us-east-1:123456789012:function:stack-Fn",
        runtime="python3.13",
        code_dir=tmp_path,
        handler=f"{package}.handler.handler",
        layer_dirs=[],
        env={"AWS_LAMBDA_FUNCTION_NAME": "stack-Fn", **(env or {})},
        timeout=5,
        memory=512,
    )


@pytest.fixture
def probe(tmp_path: Path):
    function = _function(tmp_path, "probe_fn", {"GREETING": "hello"})
    yield function
    function.stop()


def test_a_handler_gets_its_environment_and_lambdas_context(probe: LocalFunction):
    payload, errored, logs = probe.invoke({"n": 1})
    assert not errored, payload
    result = json.loads(payload)
    assert result["greeting"] == "hello"
    assert result["function_name"] == "stack-Fn"
    assert result["initialization"] == "on-demand"
    assert 0 < result["remaining_ms"] <= 5000
    assert "init of probe_fn.handler" in logs  # a cold start's logs start with the init's
    assert "handling {'n': 1}" in logs
    payload, _, logs = probe.invoke({"n": 2})
    assert json.loads(payload)["request_id"] != result["request_id"]
    assert "init of" not in logs and "handling {'n': 2}" in logs  # a warm start


def test_a_prestarted_sandbox_imports_the_handler_before_the_first_invocation(
    probe: LocalFunction,
):
    probe.prestart()
    time.sleep(3)
    asked = time.time()
    payload, errored, logs = probe.invoke({})
    assert not errored, payload
    assert json.loads(payload)["imported_at"] < asked
    assert json.loads(payload)["initialization"] == "provisioned-concurrency"  # as Lambda says
    assert "init of probe_fn.handler" in logs


def test_a_handler_error_has_lambdas_shape(probe: LocalFunction):
    payload, errored, logs = probe.invoke({"fail": "bad input"})
    assert errored
    error = json.loads(payload)
    assert (error["errorType"], error["errorMessage"]) == ("ValueError", "bad input")
    assert any("raise ValueError" in line for line in error["stackTrace"])
    assert "bad input" in logs


def test_payloads_over_lambdas_6_mb_fail_as_on_lambda(probe: LocalFunction):
    payload, errored, _ = probe.invoke({"reply_bytes": 6_291_554})  # 6,291,556 with its quotes
    assert not errored and len(payload) == 6_291_556
    payload, errored, _ = probe.invoke({"reply_bytes": 6_291_555})
    assert errored
    error = json.loads(payload)
    assert error["errorType"] == "Function.ResponseSizeTooLarge"
    assert error["errorMessage"] == (
        "Response payload size (6291557 bytes) exceeded maximum allowed payload size "
        "(6291556 bytes)."
    )
    payload, errored, logs = probe.invoke({"pad": "x" * 6_291_456})
    assert errored and json.loads(payload)["errorType"] == "RequestEntityTooLargeException"
    assert "handling" not in logs  # refused before the handler ran
    payload, errored, _ = probe.invoke({"n": 3})
    assert not errored, payload


def test_sys_exit_is_reported_as_a_runtime_exit_not_a_timeout(probe: LocalFunction):
    payload, errored, logs = probe.invoke({"exit": 3})
    assert errored
    error = json.loads(payload)
    assert error["errorType"] == "Runtime.ExitError"
    assert "Runtime exited with error: exit status 3" in error["errorMessage"]
    assert "exit status 3" in logs
    payload, errored, _ = probe.invoke({})  # a fresh start after it
    assert not errored, payload


def test_a_handler_past_its_timeout_is_killed(tmp_path: Path):
    function = _function(tmp_path, "slow_fn")
    function.timeout = 1
    try:
        payload, errored, logs = function.invoke({"sleep": 30})
        assert errored
        assert json.loads(payload)["errorType"] == "Sandbox.Timedout"
        assert "Task timed out after 1.00 seconds" in logs
    finally:
        function.stop()


def test_a_missing_handler_module_is_an_import_error(tmp_path: Path):
    function = _function(tmp_path, "present_fn")
    function.handler = "absent_fn.handler.handler"
    try:
        payload, errored, _ = function.invoke({})
        error = json.loads(payload)
        assert errored and error["errorType"] == "Runtime.ImportModuleError"
        assert "absent_fn" in error["errorMessage"]
    finally:
        function.stop()


def test_kept_invocations_are_bounded(probe: LocalFunction):
    for _ in range(60):
        probe.invoke({})
    assert len(probe.invocations) == 50


def test_two_functions_with_one_package_name_each_run_their_own_code(tmp_path: Path):
    first = _function(tmp_path / "first", "twin_fn")
    second = _function(tmp_path / "second", "twin_fn")
    try:
        origins = [json.loads(f.invoke({})[0])["origin"] for f in (first, second)]
        assert origins == [
            str(tmp_path / "first" / "twin_fn"),
            str(tmp_path / "second" / "twin_fn"),
        ]
    finally:
        first.stop()
        second.stop()
