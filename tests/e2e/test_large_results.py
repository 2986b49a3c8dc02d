"""Tool results of any size from TypeScript, through the real definition, handlers and the strict
Anthropic fake: the turn completes, the model gets the Python helper's bounded preview plus the S3
reference, and the whole result stays in S3."""

import importlib.util
import json
from pathlib import Path
from typing import Any

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
