"""The LLM function's EMF metrics: the real Anthropic handler and SDK against the scripted fake
emit exactly the metrics and dimension sets agent_core.metric_names declares (which the dashboard
and alarms are checked against in tests/template/test_operations.py)."""

import json
import runpy
from pathlib import Path
from types import SimpleNamespace

import pytest
import test_llm_anthropic as anthropic_case
from test_llm_anthropic import Context, event, user

aws, handler_for = anthropic_case.aws, anthropic_case.handler_for  # its fixtures
ROOT = Path(__file__).resolve().parents[2]
telemetry = SimpleNamespace(
    **runpy.run_path(str(ROOT / "layers/agent_core/agent_core/metric_names.py"))
)


def emf_documents(text: str) -> list[dict]:
    documents = []
    for line in text.splitlines():
        if line.startswith("{") and '"_aws"' in line:
            documents.append(json.loads(line))
    return documents


def emitted(documents: list[dict]) -> dict[str, set[tuple[str, ...]]]:
    """metric name -> the dimension sets it was published with (environment left out)."""
    found: dict[str, set[tuple[str, ...]]] = {}
    for document in documents:
        for directive in document["_aws"]["CloudWatchMetrics"]:
            sets = {
                tuple(sorted(d for d in dimensions if d != telemetry.ENVIRONMENT))
                for dimensions in directive["Dimensions"]
            }
            for metric in directive["Metrics"]:
                found.setdefault(metric["Name"], set()).update(sets)
    return found


def declared(*names: str) -> dict[str, set[tuple[str, ...]]]:
    return {name: {tuple(sorted(s)) for s in telemetry.EMITTED[name]} for name in names}


@pytest.fixture(autouse=True)
def environment(monkeypatch):
    monkeypatch.setenv("ENVIRONMENT_NAME", "test")


def test_a_turn_emits_usage_cost_and_tool_errors_by_tool(handler_for, capsys):
    _, handler = handler_for(
        {
            "turns": [
                {
                    "tool_calls": [
                        {"name": "execute_sql_query", "input": {"sql_query": "SELEC 1"}},
                        {"name": "get_db_schema", "input": {}},
                    ]
                },
                {"text": "Fixed it."},
            ]
        }
    )
    first = handler(event(user("count")), Context())
    capsys.readouterr()
    bad, good = first["tool_calls"]
    results = [
        {
            "role": "user",
            "content": [
                {
                    "type": "tool_result",
                    "tool_use_id": bad["id"],
                    "content": "syntax error",
                    "is_error": True,
                },
                {
                    "type": "tool_result",
                    "tool_use_id": good["id"],
                    "content": "tables",
                    "is_error": False,
                },
            ],
        }
    ]
    handler(event(results, first["conversation"], turn=2), Context())
    documents = emf_documents(capsys.readouterr().out)

    assert emitted(documents) == declared(
        *telemetry.TURN_METRICS, telemetry.COST, telemetry.TOOL_ERRORS
    )
    (tool_errors,) = [d for d in documents if telemetry.TOOL_ERRORS in d]
    assert tool_errors[telemetry.TOOL_ERRORS] == [1.0]
    assert tool_errors["tool"] == "execute_sql_query" and tool_errors["agent"] == "sql-agent"
    assert all(d[telemetry.ENVIRONMENT] == "test" for d in documents)
    (turn,) = [d for d in documents if "ModelTurns" in d]
    assert turn["model"] == "claude-sonnet-5-5" and turn["CostUSD"][0] > 0


def test_a_fatal_provider_error_is_counted_by_error_type(handler_for, capsys):
    _, handler = handler_for({"turns": [{"text": "hi"}], "faults": [{"status": 400}]})
    with pytest.raises(Exception, match="HTTP 400"):
        handler(event(user("a")), Context())  # the provider refuses the request
    documents = emf_documents(capsys.readouterr().out)

    assert emitted(documents) == declared(telemetry.LLM_ERRORS)
    (document,) = documents
    assert document["error_type"] == "LlmFatalError" and document["agent"] == "sql-agent"
