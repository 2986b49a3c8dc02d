"""In-process Python functions keep Lambda's outcomes: a handler's sys.exit is a runtime exit; a
handler module that another function's code (or a library) shadows is an import error."""

import json
import textwrap
from pathlib import Path

from sfn_agents.lambdas import LocalFunction

HANDLER = textwrap.dedent(
    """
    import sys

    def handler(event, context):
        if event.get("exit") is not None:
            sys.exit(event["exit"])
        return {"ok": True}
    """
)


def _function(tmp_path: Path, package: str) -> LocalFunction:
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
        env={},
        timeout=5,
        memory=128,
    )


def test_sys_exit_is_reported_as_a_runtime_exit_not_a_timeout(tmp_path: Path):
    function = _function(tmp_path, "exit_probe")
    payload, errored, logs = function.invoke({"exit": 3})
    assert errored
    error = json.loads(payload)
    assert error["errorType"] == "Runtime.ExitError"
    assert "exit status 3" in error["errorMessage"]
    assert "exit status 3" in logs
    assert function.invoke({})[:2] == (json.dumps({"ok": True}), False)  # a fresh start after it


def test_kept_invocations_are_bounded(tmp_path: Path):
    function = _function(tmp_path, "bounded_probe")
    for _ in range(60):
        function.invoke({})
    assert len(function.invocations) == 50


def test_a_package_name_two_functions_share_is_an_import_error(tmp_path: Path):
    first = _function(tmp_path / "first", "twin_probe")
    second = _function(tmp_path / "second", "twin_probe")
    assert first.invoke({})[:2] == (json.dumps({"ok": True}), False)
    payload, errored, _ = second.invoke({})
    error = json.loads(payload)
    assert errored and error["errorType"] == "Runtime.ImportModuleError"
    assert "twin_probe.handler" in error["errorMessage"]
    assert "give the function's package a name of its own" in error["errorMessage"]
