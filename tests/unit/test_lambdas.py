"""In-process Python functions keep Lambda's outcomes: a handler's sys.exit is a runtime exit."""

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


def _function(tmp_path: Path) -> LocalFunction:
    (tmp_path / "app.py").write_text(HANDLER)
    return LocalFunction(
        logical_id="Fn",
        name="stack-Fn",
        arn="arn:aws:lambda:us-east-1:123456789012:function:stack-Fn",
        runtime="python3.13",
        code_dir=tmp_path,
        handler="app.handler",
        layer_dirs=[],
        env={},
        timeout=5,
        memory=128,
    )


def test_sys_exit_is_reported_as_a_runtime_exit_not_a_timeout(tmp_path: Path):
    function = _function(tmp_path)
    payload, errored, logs = function.invoke({"exit": 3})
    assert errored
    error = json.loads(payload)
    assert error["errorType"] == "Runtime.ExitError"
    assert "exit status 3" in error["errorMessage"]
    assert "exit status 3" in logs
    assert function.invoke({})[:2] == (json.dumps({"ok": True}), False)  # a fresh start after it


def test_kept_invocations_are_bounded(tmp_path: Path):
    function = _function(tmp_path)
    for _ in range(60):
        function.invoke({})
    assert len(function.invocations) == 50
