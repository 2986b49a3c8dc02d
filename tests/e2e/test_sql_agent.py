"""The SQL agent end to end: real definition, real handlers, real anthropic SDK, scripted model."""

import json
from pathlib import Path

from sfn_agents.runner import run_execution

ROOT = Path(__file__).resolve().parents[2]
DEMO = json.loads((ROOT / "events" / "sql-agent-demo.script.json").read_text())
SCHEMA = {"name": "get_db_schema", "input": {}}


def query(sql: str) -> dict:
    return {"name": "execute_sql_query", "input": {"sql_query": sql}}


def tool_turn_transitions(tool_calls: int) -> int:
    return 3 + tool_calls  # CallModel, CheckTurn, RunTools and one InvokeTool per call


def test_demo_answer_is_built_from_database_rows(run_agent, sample_db):
    run = run_agent(DEMO)

    assert run.result.status == "SUCCEEDED"
    (team, wins, losses), *_ = sample_db(
        "SELECT t.city || ' ' || t.name, s.wins, s.losses FROM seasons s "
        "JOIN teams t USING (team_id) WHERE s.year = 2024 ORDER BY s.wins DESC LIMIT 1"
    )
    ((leader, home_runs),) = sample_db(
        "SELECT p.first_name || ' ' || p.last_name, b.home_runs FROM batting b "
        "JOIN players p USING (player_id) WHERE b.year = 2024 ORDER BY b.home_runs DESC LIMIT 1"
    )
    answer = run.output["answer"]
    assert f"The {team} won the most games in 2024, going {wins}-{losses}" in answer
    assert f"{leader} of the" in answer and f"with {home_runs} home runs" in answer
    assert run.output["stop_reason"] == "end_turn"
    assert run.output["turns"] == 4
    assert run.output["usage"]["input_tokens"] > 0 and run.output["usage"]["output_tokens"] > 0


def test_tool_turn_costs_three_plus_n_transitions(run_agent):
    run = run_agent(DEMO)

    # LoadAgent + LoadTools + UseSession; CallModel + CheckTurn + Done + Finish
    start, final_turn = 3, 4
    tool_turns = [1, 1, 2]  # tool calls per turn in the demo script
    assert (
        run.result.transitions == start + sum(map(tool_turn_transitions, tool_turns)) + final_turn
    )


def test_a_tool_result_is_written_to_the_history_four_times(run_agent):
    """The tool's TaskSucceeded, InvokeTool's exit, RunTools' $pending and CallModel's
    parameters; RunTools passes on only a count (CallModel reads $pending)."""
    run = run_agent(
        {"turns": [{"tool_calls": [query("SELECT COUNT(*) AS n FROM players")]}, {"text": "ok"}]}
    )

    assert run.result.status == "SUCCEEDED"
    ((result,),) = [
        [b for b in m["content"] if b["type"] == "tool_result"]
        for m in run.messages
        if m["role"] == "user" and any(b["type"] == "tool_result" for b in m["content"])
    ]
    content = json.dumps(result["content"])[1:-1]  # as it stands in a JSON string
    holding = [  # the events whose data (output, parameters, assigned variables) holds it
        e["type"]
        for e in run.result.events
        for details in [v for k, v in e.items() if k.endswith("EventDetails")]
        for data in [details, details.get("assignedVariables", {})]
        if any(content in text for text in data.values() if isinstance(text, str))
    ]
    assert len(holding) == 4, holding
    (tools_exit,) = [
        e
        for e in run.result.events
        if e["type"] == "MapStateExited" and e["stateExitedEventDetails"]["name"] == "RunTools"
    ]
    assert json.loads(tools_exit["stateExitedEventDetails"]["output"]) == {"tool_results": 1}


def test_parallel_tool_calls_are_answered_in_order_in_one_message(run_agent):
    run = run_agent(
        {
            "turns": [
                {
                    "tool_calls": [
                        query("SELECT COUNT(*) FROM teams"),
                        query("SELECT COUNT(*) FROM players"),
                    ]
                },
                {"text": "{{ results[0].rows[0][0] }} teams, {{ results[1].rows[0][0] }} players"},
            ]
        }
    )

    assert run.result.status == "SUCCEEDED"
    calls = [b for b in run.messages[1]["content"] if b["type"] == "tool_use"]
    results = run.messages[2]["content"]
    assert [r["tool_use_id"] for r in results] == [c["id"] for c in calls]
    assert run.output["answer"] == "30 teams, 750 players"


def test_bad_sql_comes_back_as_an_error_the_next_turn_corrects(run_agent):
    run = run_agent(
        {
            "turns": [
                {"tool_calls": [query("SELECT nme FROM teams")]},
                {"tool_calls": [query("SELECT name FROM teams ORDER BY name LIMIT 1")]},
                {"text": "First team: {{ results[0].rows[0][0] }}"},
            ]
        }
    )

    assert run.result.status == "SUCCEEDED"
    failed, fixed = run.tool_results()
    assert failed["is_error"] is True and "no such column: nme" in failed["content"]
    assert fixed["is_error"] is False
    assert run.output["answer"].startswith("First team: ")


def test_unknown_tool_gets_an_error_result_and_the_run_continues(run_agent):
    run = run_agent(
        {
            "turns": [
                {"tool_calls": [{"name": "drop_database", "input": {}}, SCHEMA]},
                {"text": "ok"},
            ]
        }
    )

    assert run.result.status == "SUCCEEDED"
    unknown, schema = run.tool_results()
    assert unknown["is_error"] is True
    assert "Unknown tool drop_database" in unknown["content"]
    assert "execute_sql_query" in unknown["content"]  # it lists what is available
    assert schema["is_error"] is False
    assert run.output["answer"] == "ok"


def test_input_failing_the_tool_schema_is_refused_without_invoking_the_tool(run_agent):
    run = run_agent(
        {
            "turns": [
                {"tool_calls": [{"name": "execute_sql_query", "input": {"query": "SELECT 1"}}]},
                {"text": "done"},
            ]
        }
    )

    (result,) = run.tool_results()
    assert result["is_error"] is True
    assert "Invalid input for tool execute_sql_query" in result["content"]
    assert "sql_query" in result["content"]


def test_turn_limit_ends_the_run_cleanly(run_agent):
    run = run_agent({"turns": [{"tool_calls": [SCHEMA]}] * 5 + [{"text": "never"}]}, max_turns=3)

    assert run.result.status == "SUCCEEDED"
    assert run.output["stop_reason"] == "max_turns"
    assert run.output["turns"] == 3


def test_token_budget_ends_the_run_cleanly(run_agent):
    run = run_agent({"turns": [{"tool_calls": [SCHEMA]}] * 5}, max_total_tokens=1000)

    assert run.result.status == "SUCCEEDED"
    assert run.output["stop_reason"] == "token_budget"
    usage = run.output["usage"]
    assert sum(usage[k] for k in usage if k.endswith("_tokens")) >= 1000


def test_provider_rejection_fails_the_run_with_a_clear_cause(run_agent):
    run = run_agent({"turns": [{"tool_calls": [SCHEMA]}]})  # the script runs out at turn 2

    assert run.result.status == "FAILED"
    assert run.result.error == "LlmFatalError"
    assert "HTTP 400" in run.result.cause and "anthropic" in run.result.cause


def test_provider_overload_is_retried_then_succeeds(run_agent, scripted_model):
    script = {"turns": [{"text": "after the storm"}], "faults": [{"status": 529}] * 3}
    run = run_agent(script)

    assert run.result.status == "SUCCEEDED"
    assert run.output["answer"] == "after the storm"
    retried = [e for e in run.result.events if e["type"] == "TaskFailed"]
    assert retried and retried[0]["taskFailedEventDetails"]["error"] == "LlmRetryableError"


def test_missing_prompt_fails_with_a_clear_message(engine):
    result = run_execution(
        engine.client("stepfunctions"), engine.state_machine_for("sql-agent"), {}
    )

    assert result.status == "FAILED"
    assert result.error == "States.QueryEvaluationError"
    assert 'needs a non-empty string field "prompt"' in result.cause
