"""The remote-execution worker: any input is answered, output is capped while the command runs,
children see only allow-listed variables, and a stop signal loses no task."""

import json
import os
import resource
import signal
import subprocess
import sys
import textwrap
import time
import uuid
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from sfn_cases import create_machine, run_execution

from sfn_agents import moto_activities
from sfn_agents.worker import WorkerConfig, run_command

CONFIG = WorkerConfig(
    allow=frozenset({"echo", "printf", "printenv", "yes", "sleep", "false", "cat"}),
    timeout_seconds=5,
    max_output_chars=1_000,
)


def run(command: Any, config: WorkerConfig = CONFIG, **tool_input: Any) -> dict[str, Any]:
    answer = run_command({"tool_input": {"command": command, **tool_input}}, config)
    json.dumps(answer)  # what the worker sends back must serialise
    return answer


@pytest.mark.parametrize(
    ("request_", "complaint"),
    [
        (None, "tool_input, an object"),
        ([], "tool_input, an object"),
        ({"tool_input": "echo hi"}, "tool_input, an object"),
        ({"tool_input": {"command": ["echo", "hi"]}}, "non-empty string"),
        ({"tool_input": {"command": "echo \x00 hi"}}, "NUL byte"),
        ({"tool_input": {"command": "echo hi", "working_directory": "/tmp\x00"}}, "NUL byte"),
        ({"tool_input": {"command": "echo hi", "working_directory": 7}}, "must be a string"),
        ({"tool_input": {"command": "echo 'unclosed"}}, "cannot parse"),
        ({"tool_input": {"command": "echo " + "A" * 40_000}}, "the limit is 32,768"),
        ({"tool_input": {"command": "''"}}, "not on this worker's allow-list"),
        ({"tool_input": {"command": "/bin/echo hi"}}, "not on this worker's allow-list"),
        ({"tool_input": {"command": "echo hi", "working_directory": "/no/such"}}, "cannot run"),
    ],
)
def test_hostile_requests_are_error_results(request_, complaint):
    answer = run_command(request_, CONFIG)
    assert answer["status"] == "error"
    assert complaint in answer["error"]
    assert answer["exit_code"] == -1


def test_non_utf8_output_is_replaced_not_fatal():
    answer = run(r"printf '\377ok\n'")
    assert answer == {**answer, "status": "success", "output": "\ufffdok\n", "exit_code": 0}


def test_endless_output_is_capped_while_the_command_runs():
    peak_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    config = WorkerConfig(allow=frozenset({"yes"}), timeout_seconds=1, max_output_chars=1_000)
    started = time.monotonic()
    answer = run("yes", config)
    assert time.monotonic() - started < 3
    assert answer["status"] == "error" and answer["error"] == "timed out after 1 s"
    assert answer["output"].startswith("y\ny\n")
    assert answer["output"].endswith("[output cut at 1,000 characters]")
    assert len(answer["output"]) < 1_100
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - peak_before < 50 * 1024


def test_long_output_of_a_finished_command_is_cut_and_keeps_its_exit_code():
    answer = run("printf '%05000d'", max_output_chars=1)
    assert answer["status"] == "success"
    assert answer["output"] == "0" * 1_000 + "\n[output cut at 1,000 characters]"


def test_children_get_only_allow_listed_variables(monkeypatch):
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "do-not-leak")
    monkeypatch.setenv("WORKER_REGION", "eu-west-1")
    output = run("printenv")["output"]
    assert "do-not-leak" not in output
    assert "AWS_" not in output and "WORKER_REGION" not in output
    assert f"PATH={os.environ['PATH']}" in output
    wider = WorkerConfig(allow=frozenset({"printenv"}), env_allow=frozenset({"WORKER_REGION"}))
    assert run("printenv", wider)["output"] == "WORKER_REGION=eu-west-1\n"


def test_env_allow_comes_from_the_config_file(tmp_path):
    path = tmp_path / "worker.json"
    path.write_text(json.dumps({"allow": ["printenv"], "env_allow": ["HOME"]}))
    assert WorkerConfig.load(str(path), [], None).env_allow == {"HOME"}
    path.write_text(json.dumps({"allow": ["printenv"], "env_allow": "HOME"}))
    with pytest.raises(ValueError, match="env_allow"):
        WorkerConfig.load(str(path), [], None)


def test_a_timed_out_command_is_killed_with_its_children():
    config = WorkerConfig(allow=frozenset({"sleep"}), timeout_seconds=0.5)
    started = time.monotonic()
    answer = run("sleep 30", config)
    assert answer["error"] == "timed out after 0.5 s"
    assert time.monotonic() - started < 2


def test_failures_keep_their_output_and_exit_code():
    answer = run("false")
    assert answer == {**answer, "status": "error", "error": "exit code 1", "exit_code": 1}
    answer = run("cat /no/such/file")
    assert answer["exit_code"] == 1 and "No such file" in answer["error"]


# ------------------------------------------------------------------ stopping on a signal


@pytest.fixture(scope="module")
def endpoint(moto_sfn_endpoint: str) -> Iterator[str]:
    moto_activities.install(poll_seconds=4)
    yield moto_sfn_endpoint
    moto_activities.POLL_SECONDS = 55.0


WORKER = textwrap.dedent(
    """
    import sys
    import boto3
    from sfn_agents.worker import WorkerConfig, serve
    sfn = boto3.client("stepfunctions", endpoint_url=sys.argv[1], region_name="us-east-1")
    print("polling", flush=True)
    serve(sfn, sys.argv[2], WorkerConfig(allow=frozenset({"echo"})))
    print("stopped", flush=True)
    """
)


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_a_stop_signal_while_polling_loses_no_task(endpoint, signum):
    sfn = boto3.client("stepfunctions", endpoint_url=endpoint, region_name="us-east-1")
    activity = sfn.create_activity(name=f"act-{uuid.uuid4().hex[:8]}")["activityArn"]
    definition = {
        "QueryLanguage": "JSONata",
        "StartAt": "Run",
        "States": {
            "Run": {
                "Type": "Task",
                "Resource": activity,
                "Arguments": {"tool_input": {"command": "echo hi"}},
                "TimeoutSeconds": 30,
                "End": True,
            }
        },
    }
    machine = create_machine(sfn, definition)
    env = {**os.environ, "AWS_ACCESS_KEY_ID": "x", "AWS_SECRET_ACCESS_KEY": "x"}
    worker = subprocess.Popen(
        [sys.executable, "-c", WORKER, endpoint, activity],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert worker.stdout is not None and worker.stdout.readline() == "polling\n"
        time.sleep(1)  # the poll is in flight
        worker.send_signal(signum)
        started = time.monotonic()
        result = run_execution(sfn, machine, {}, timeout=10)
        assert time.monotonic() - started < 8  # answered, not left to its 30 s timeout
        assert worker.wait(10) == 0
    finally:
        if worker.poll() is None:
            worker.kill()
    assert result["status"] == "SUCCEEDED"
    answer = json.loads(result["output"])
    assert answer["error"] == "the worker was stopping and did not run this command"
    stdout, stderr = worker.communicate()
    assert stdout == "stopped\n"
    assert "stopping after the current poll" in stderr and "Traceback" not in stderr
