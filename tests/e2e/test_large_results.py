"""Tool results of any size from Python, TypeScript, Rust, Java and Go, through the real definition,
handlers and the strict Anthropic fake: the turn completes, the model gets the Python helper's
bounded preview plus the S3 reference, and the whole result stays in S3."""

import importlib.util
import json
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from sfn_agents.engine import LocalEngine

ROOT = Path(__file__).resolve().parents[2]
# The Python helper's own module is the reference every language's results are checked against.
_spec = importlib.util.spec_from_file_location(
    "reference_large_results", ROOT / "layers/agent_core/agent_core/large_results.py"
)
assert _spec and _spec.loader
large_results = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(large_results)


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


def run_one_call(run_agent, scripted_model, engine, agent: str, call: dict[str, Any]) -> str:
    """One turn with one call whose answer is over 256 KiB: the run completes, the model saw the
    preview of what S3 holds; returns the whole result."""
    run = run_agent({"turns": [{"tool_calls": [call]}, {"text": "done"}]}, agent=agent)

    assert run.result.status == "SUCCEEDED", run.result.cause
    (result,) = run.tool_results()
    assert result["is_error"] is False, result["content"]
    full = assert_bounded_by_reference(engine, result)
    assert len(full.encode()) > 256 * 1024
    sent = scripted_model.requests["anthropic"][-1]["messages"][-1]["content"][0]
    assert sent["content"] == result["content"]  # what the model saw
    return full


@pytest.fixture(scope="module")
def artifact_bucket(engine: LocalEngine) -> str:
    engine.ensure(["ArtifactBucket"])
    return engine.resolver.refs["ArtifactBucket"]


def test_a_large_rust_result_is_kept_in_s3_and_previewed(
    run_agent, scripted_model, engine, artifact_bucket
):
    """3,500 sensors' series, named by their paths: the labels and clusters name every one."""
    series = [
        {
            "id": f"plant-{i % 7:02}/line-{i % 3}/sensor-{i:05}/temperature-c",
            "values": [i % 2, 1, 0],
        }
        for i in range(3_500)
    ]
    key = "tests/large/sensors.json"
    engine.client("s3").put_object(
        Bucket=artifact_bucket, Key=key, Body=json.dumps({"series": series}).encode()
    )
    call = {"name": "cluster_time_series", "input": {"bucket": artifact_bucket, "key": key}}
    full = run_one_call(run_agent, scripted_model, engine, "clustering-agent", call)
    assert json.loads(full)["n_series"] == 3_500


def test_a_large_java_result_is_kept_in_s3_and_previewed(
    run_agent, scripted_model, engine, artifact_bucket
):
    """An index's 1,500 members, 25 trading days each: one analysis per symbol."""
    rows = ["date,symbol,close"] + [
        f"2024-01-{day:02},SYM{s:04},{100 + (s + 7 * day) % 23}"
        for s in range(1_500)
        for day in range(1, 26)
    ]
    key = "tests/large/index.csv"
    engine.client("s3").put_object(Bucket=artifact_bucket, Key=key, Body="\n".join(rows).encode())
    call = {"name": "analyze_stock_prices", "input": {"bucket": artifact_bucket, "key": key}}
    full = run_one_call(run_agent, scripted_model, engine, "stock-analysis-agent", call)
    assert len(json.loads(full)["symbols"]) == 1_500


def test_a_large_go_result_is_kept_in_s3_and_previewed(
    run_agent, scripted_model, engine, perplexity
):
    """A long research report from the search service (~300 KB)."""
    report = "Step Functions limits a state to 256 KiB [1]. " * 6_500
    answering = perplexity.script
    perplexity.play({"turns": [{"text": report}]})
    try:
        call = {"name": "research_web", "input": {"query": "Step Functions limits, in depth"}}
        full = run_one_call(run_agent, scripted_model, engine, "research-agent", call)
    finally:
        perplexity.play(answering)  # the session's other tests get the usual answer
    assert full == report.strip()


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


def test_a_1_mb_python_result_is_previewed_with_its_s3_reference(tmp_path):
    """The SQL tool's schema of a database whose sample rows hold ~1 MB (12 tables of 3 rows of
    30,000 characters), in a run of its own (the shared engine's SQL tool uses the bundled one)."""
    database = tmp_path / "wide.db"
    with sqlite3.connect(database) as db:  # SQLite's values are capped at 100,000 bytes
        for table in range(12):
            db.execute(f"CREATE TABLE notes_{table} (body TEXT)")
            db.executemany(f"INSERT INTO notes_{table} VALUES (?)", [("x" * 30_000,)] * 3)
    script = tmp_path / "schema.script.json"
    call = {"name": "get_db_schema", "input": {}}
    script.write_text(json.dumps({"turns": [{"tool_calls": [call]}, {"text": "done"}]}))
    command = [sys.executable, "-m", "sfn_agents.cli", "run", "sql-agent", "Describe it."]
    command += ["--script", str(script), "--json"]
    command += ["--parameter-overrides", f"SqlDatabaseUri={database}"]
    completed = subprocess.run(command, capture_output=True, text=True, cwd=ROOT, timeout=300)

    assert completed.returncode == 0, completed.stderr
    output = json.loads(completed.stdout)
    assert output["status"] == "SUCCEEDED" and output["output"]["answer"] == "done"
    (result,) = [b for m in output["messages"] for b in m["content"] if b["type"] == "tool_result"]
    ref = result["content_ref"]
    assert ref["chars"] > 1_000_000 and ref["key"].startswith("tool-results/")
    where = f"s3://{ref['bucket']}/{ref['key']}"
    shown, note = result["content"].split("\n[result truncated: ")
    assert len(shown) == large_results.PREVIEW_CHARS and shown.startswith("{")
    assert (
        note == f"{ref['chars']} characters in all; the first 4096 are shown. Full result: {where}]"
    )
