"""Tool results of any size from Python and TypeScript, and a tool that crashes, through the real
definition, handlers and the strict Anthropic fake: the turn completes, the model gets a bounded
preview plus the S3 reference (or a short error), and the whole of it stays in S3 (or in the
execution history)."""

import importlib.util
import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from sfn_agents.engine import LocalEngine
from sfn_agents.history import load_messages
from sfn_agents.runner import RunResult, run_execution

ROOT = Path(__file__).resolve().parents[2]
# The Python helper's own module is the reference every language's results are checked against.
_spec = importlib.util.spec_from_file_location(
    "reference_large_results", ROOT / "layers/agent_core/agent_core/large_results.py"
)
assert _spec and _spec.loader
large_results = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(large_results)

TABLES, SAMPLE_CHARS = 4, 90_000  # get_db_schema shows 3 sample rows a table: ~1.08 MB


def stored(engine: LocalEngine, result: dict[str, Any]) -> str:
    ref = result["content_ref"]
    body = engine.client("s3").get_object(Bucket=ref["bucket"], Key=ref["key"])["Body"].read()
    return body.decode()


def assert_bounded_by_reference(engine: LocalEngine, result: dict[str, Any]) -> str:
    """The result the model saw is the Python helper's preview of what S3 holds: the full text."""
    full = stored(engine, result)
    ref = result["content_ref"]
    assert ref == {
        "bucket": ref["bucket"],
        "key": large_results.object_key(result["tool_use_id"], full),
        "chars": len(full),
    }
    assert result["content"] == large_results.preview(full, f"s3://{ref['bucket']}/{ref['key']}")
    return full


def test_a_1_mb_typescript_result_is_kept_in_s3_and_previewed(
    run_agent, engine, scripted_model, usgs_big_query
):
    call = {"name": "query_earthquakes", "input": usgs_big_query}
    run = run_agent({"turns": [{"tool_calls": [call]}, {"text": "done"}]}, agent="research-agent")

    assert run.result.status == "SUCCEEDED", run.result.cause
    (result,) = run.tool_results()
    full = assert_bounded_by_reference(engine, result)
    assert len(full) > 1_000_000 and json.loads(full)["count"] == 200
    sent = scripted_model.requests["anthropic"][-1]["messages"][-1]["content"][0]
    assert sent["content"] == result["content"]  # what the model saw


@pytest.fixture(scope="module")
def wide_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("wide") / "notes.sqlite"
    with sqlite3.connect(path) as db:
        for table in range(TABLES):
            db.execute(f"CREATE TABLE notes_{table} (body TEXT)")
            rows = [(f"{table}.{row} ".ljust(SAMPLE_CHARS, "n"),) for row in range(3)]
            db.executemany(f"INSERT INTO notes_{table} VALUES (?)", rows)
    return path


@pytest.fixture(scope="module")
def other_engine(scripted_model: Any, wide_db: Path) -> Iterator[LocalEngine]:
    """An engine whose SQL tool reads wide_db and whose market-data tool lacks its bucket, so it
    crashes when it starts (as a misconfigured function does on AWS)."""
    with LocalEngine() as local:
        local.deploy(
            ROOT / "template.yaml",
            overrides={"SqlDatabaseUri": str(wide_db)},
            function_env={
                "AnthropicLlmFunction": {
                    "ANTHROPIC_BASE_URL": scripted_model.fakes["anthropic"].url
                },
                "MarketDataToolFunction": {"ARTIFACT_BUCKET": ""},
            },
            secret_values={"ANTHROPIC_API_KEY": "test-key"},
            only=["sql-agent", "stock-analysis-agent"],
        )
        yield local


def run_on(
    engine: LocalEngine, models: Any, agent: str, script: dict[str, Any]
) -> tuple[RunResult, list[dict[str, Any]]]:
    """Run `agent` on `engine`: the result and the tool results of its history."""
    models.play(script)
    sfn = engine.client("stepfunctions")
    result = run_execution(
        sfn, engine.state_machine_for(agent), {"prompt": "q"}, timeout_seconds=120
    )
    messages = load_messages(engine.client("s3"), (result.output or {}).get("conversation"))
    results = [
        block
        for message in messages
        if message["role"] == "user"
        for block in message["content"]
        if block["type"] == "tool_result"
    ]
    return result, results


def test_a_1_mb_python_result_is_kept_in_s3_and_previewed(other_engine, scripted_model):
    script = {"turns": [{"tool_calls": [{"name": "get_db_schema", "input": {}}]}, {"text": "ok"}]}
    run, (result,) = run_on(other_engine, scripted_model, "sql-agent", script)

    assert run.status == "SUCCEEDED", run.cause
    full = assert_bounded_by_reference(other_engine, result)
    assert len(full) > 1_000_000
    assert len(json.loads(full)["tables"]) == TABLES


def test_a_crashing_tool_tells_the_model_its_error_without_the_trace(other_engine, scripted_model):
    call = {"name": "prepare_price_csv", "input": {"symbols": ["ACME"]}}
    script = {"turns": [{"tool_calls": [call]}, {"text": "The price tool is down."}]}
    run, (result,) = run_on(other_engine, scripted_model, "stock-analysis-agent", script)

    assert run.status == "SUCCEEDED", run.cause
    assert result["is_error"] is True
    assert result["content"] == (
        "Error: tool prepare_price_csv failed (SettingsError): "
        "environment variable ARTIFACT_BUCKET must be set (see template.yaml)"
    )
    # the execution history keeps the whole Cause, stack trace included
    (failed,) = [e for e in run.events if e["type"] == "TaskFailed"]
    cause = json.loads(failed["taskFailedEventDetails"]["cause"])
    assert cause["errorType"] == "SettingsError"
    assert any("Traceback" in line for line in cause["stackTrace"])
