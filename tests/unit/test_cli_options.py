"""The CLI's option parsing, names and messages, without an engine."""

import io
import json
import os
from pathlib import Path

import boto3
import pytest
from botocore.stub import Stubber

from sfn_agents import approvals, aws, cli
from sfn_agents.catalog import Catalog, UnknownName
from sfn_agents.render import AgentPrinter, failure_reason
from sfn_agents.run_events import StepTranslator

ROOT = Path(__file__).resolve().parents[2]


def run_args(*argv: str):
    return cli.build_parser().parse_args(["run", *argv])


def test_parameter_overrides_parse_as_sam_deploy_does():
    args = run_args(
        "sql-agent",
        "question",
        "--parameter-overrides",
        "SqlDatabaseUri=/data/a.sqlite EnvironmentName=test",
        "--parameter-overrides",
        "ParameterKey=DefaultModel,ParameterValue=claude-x ModelNote='two words'",
    )
    assert args.agent == "sql-agent" and args.prompt == "question"  # positionals kept
    assert cli.parse_overrides(args.parameter_overrides) == {
        "SqlDatabaseUri": "/data/a.sqlite",
        "EnvironmentName": "test",
        "DefaultModel": "claude-x",
        "ModelNote": "two words",
    }
    with pytest.raises(cli.UsageError, match="wants KEY=VALUE"):
        cli.parse_overrides(["JustAKey"])


def test_overrides_before_the_positionals_do_not_swallow_them():
    args = cli.build_parser().parse_args(
        ["run", "--parameter-overrides", "A=1 B=2", "sql-agent", "question"]
    )
    assert (args.agent, args.prompt) == ("sql-agent", "question")


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["run", "sql-agent", "x", "--max-turns", "0"], "must be at least 1, got 0"),
        (["run", "sql-agent", "x", "--max-turns", "-3"], "must be at least 1, got -3"),
        (["local", "start", "--port", "70000"], "70000 is out of range"),
    ],
)
def test_bad_options_are_usage_errors(argv, message, capsys):
    with pytest.raises(SystemExit) as exit_:
        cli.main(argv)
    assert exit_.value.code == 2
    assert message in capsys.readouterr().err


def test_input_file_is_merged_with_the_prompt_and_options(tmp_path, monkeypatch):
    given = tmp_path / "input.json"
    given.write_text(json.dumps({"prompt": "from file", "max_turns": 9, "session": "s1"}))
    merged = cli.execution_input(run_args("sql-agent", "--input", str(given)))
    assert merged == {"prompt": "from file", "max_turns": 9, "session": "s1"}
    merged = cli.execution_input(
        run_args("sql-agent", "from argument", "--input", str(given), "--max-turns", "2")
    )
    assert merged == {"prompt": "from argument", "max_turns": 2, "session": "s1"}

    monkeypatch.setattr("sys.stdin", io.StringIO('{"prompt": "from stdin"}'))
    assert cli.execution_input(run_args("sql-agent", "--input", "-")) == {"prompt": "from stdin"}


@pytest.mark.parametrize(
    ("content", "message"),
    [("[1, 2]", "must hold a JSON object"), ("{not json", "cannot read --input"), ("{}", "PROMPT")],
)
def test_bad_input_is_a_usage_error(tmp_path, content, message):
    given = tmp_path / "input.json"
    given.write_text(content)
    with pytest.raises(cli.UsageError, match=message):
        cli.execution_input(run_args("sql-agent", "--input", str(given)))


def test_failure_reason_shows_the_message_not_the_expression_in_full():
    message = "Unknown provider nosuch; this state machine knows: " + ", ".join(["x" * 40] * 10)
    cause = (
        "An error occurred while executing the state 'CallModel' (entered at the event id #12). "
        "An error occurred while evaluating '$exists($lookup($llmFunctions, $agent.provider)) ? "
        "$lookup($llmFunctions, $agent.provider) : $error('Unknown provider ' & "
        f"$agent.provider)': {message}"
    )
    reason = failure_reason("States.QueryEvaluationError", cause)
    assert reason == f"States.QueryEvaluationError in CallModel: {message}"
    assert len(reason) > 300
    lambda_cause = json.dumps({"errorMessage": "anthropic rejected\nthe request", "trace": []})
    assert failure_reason("LlmFatalError", lambda_cause) == (
        "LlmFatalError: anthropic rejected the request"
    )


def test_endpoint_mode_fills_in_region_and_credentials_only_when_unset(monkeypatch, tmp_path):
    for name in ("AWS_REGION", "AWS_DEFAULT_REGION", "AWS_ACCESS_KEY_ID", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    aws.session.cache_clear()
    bare = aws.session("http://127.0.0.1:1")
    assert bare.region_name == aws.ENGINE_REGION
    assert bare.get_credentials().access_key == "local"

    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "mine")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "secret")
    aws.session.cache_clear()
    own = aws.session("http://127.0.0.1:1")
    assert own.region_name == "eu-west-1" and own.get_credentials().access_key == "mine"
    aws.session.cache_clear()


def test_the_engine_region_is_the_engines():
    from sfn_agents import engine

    assert aws.ENGINE_REGION == engine.REGION


def test_worker_region_comes_from_the_activity_arn():
    arn = "arn:aws:states:eu-central-1:123456789012:activity:sfn-agents-dev-run-shell-command"
    assert aws.arn_region(arn) == "eu-central-1"


def test_names_are_the_templates_in_every_mode():
    catalog = Catalog.load(ROOT / "template.yaml")
    by_agent, by_logical_id = (
        catalog.state_machine("sql-agent"),
        catalog.state_machine("SqlAgentStateMachine"),
    )
    assert by_agent == by_logical_id
    assert by_agent.name == "sfn-agents-dev-sql-agent"
    assert catalog.state_machine("sfn-agents-dev-sql-agent") == by_agent
    assert catalog.activity("ShellCommandActivity").name == "sfn-agents-dev-run-shell-command"
    with pytest.raises(UnknownName, match=r"known: ShellCommandActivity \(sfn-agents-dev-run"):
        catalog.activity("sfn-agents-dev-sql-agent-approval")  # reviewers', not a worker's


def events_of_a_failed_tool_and_parallel_results() -> list[dict]:
    def event(event_id, kind, previous=0, **details):
        return {"id": event_id, "type": kind, "previousEventId": previous, **details}

    def exited(event_id, state, output, previous=0):
        details = {"name": state, "output": json.dumps(output)}
        return event(event_id, "TaskStateExited", previous, stateExitedEventDetails=details)

    reply = {
        "model": "m",
        "usage": {"input_tokens": 1, "output_tokens": 2},
        "message": {"content": []},
        "tool_calls": [
            {"id": "toolu_first1", "name": "execute_sql_query", "input": {}},
            {"id": "toolu_second", "name": "get_db_schema", "input": {}},
        ],
    }
    failed = {"type": "tool_result", "tool_use_id": "toolu_first1", "content": "boom"}
    return [
        exited(1, "CallModel", {"StatusCode": 200, "Payload": reply}),
        event(2, "TaskStateEntered", stateEnteredEventDetails={"name": "InvokeTool"}),
        event(3, "TaskFailed", 2, taskFailedEventDetails={"error": "E", "cause": "c"}),
        exited(4, "InvokeTool", failed | {"is_error": True}),
        exited(5, "ToolFailed", failed | {"is_error": True}),  # the same result, passed on
        exited(
            6, "InvokeTool", {"type": "tool_result", "tool_use_id": "toolu_second", "content": "ok"}
        ),
    ]


def test_each_result_is_printed_once_next_to_its_call():
    out = io.StringIO()
    printer = AgentPrinter(out)
    steps = StepTranslator().steps(events_of_a_failed_tool_and_parallel_results())
    for step in steps:
        printer(step)
    (error,) = [step for step in steps if step["kind"] == "error"]
    assert error["state"] == "InvokeTool"  # shown as the call's result, not a line of its own
    assert out.getvalue().splitlines() == [
        "▸ turn 1 · m · 1 in / 2 out tokens",
        "  → execute_sql_query#first1 {}",
        "  → get_db_schema#second {}",
        "  ✗ execute_sql_query#first1: boom",
        "  ← get_db_schema#second: ok",
    ]


def test_a_reviewer_on_aws_is_recorded_with_the_callers_identity(monkeypatch):
    sts = boto3.client("sts", region_name="eu-west-1")
    arn = "arn:aws:sts::123456789012:assumed-role/Reviewers/ana"
    stub = Stubber(sts)
    stub.add_response(
        "get_caller_identity", {"Arn": arn, "UserId": "AROAEXAMPLE:ana", "Account": "123456789012"}
    )
    monkeypatch.delenv("SFN_AGENTS_ENDPOINT", raising=False)
    monkeypatch.setattr(aws, "client", lambda service: {"sts": sts}[service])
    with stub:
        who = approvals.reviewer("Ana Lima")
    stub.assert_no_pending_responses()
    assert who["name"] == "Ana Lima" and who["aws_identity"] == arn
    assert who["user"].endswith(f"@{os.uname().nodename}")
