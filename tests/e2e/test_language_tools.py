"""Tools in Rust, Java, TypeScript and Go, run by the local engine through the Lambda Runtime API
with each language's official runtime client, inside agents driven by scripts."""

import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
EVENTS = ROOT / "events"
SERIES = ROOT / "functions" / "tools" / "clustering" / "testdata" / "series.json"
PRICES = ROOT / "functions" / "tools" / "stock-analyzer" / "testdata" / "prices.csv"


@pytest.fixture(scope="module")
def seeded(engine):
    """The example objects the events name, in the artifact bucket, which the tools' roles may
    read (the engine enforces their grants)."""
    engine.ensure(["ArtifactBucket"])
    bucket = engine.resolver.refs["ArtifactBucket"]
    s3 = engine.client("s3")
    s3.put_object(Bucket=bucket, Key="tools/clustering/series.json", Body=SERIES.read_bytes())
    s3.put_object(
        Bucket=bucket,
        Key="tools/stock-analyzer/prices.csv",
        Body=PRICES.read_bytes(),
    )
    return bucket


def invoke(engine, function: str, event_name: str) -> tuple[dict, bool]:
    event = json.loads((EVENTS / event_name).read_text())
    payload, errored, logs = engine.function_for(function).invoke(event)
    assert not errored, f"{function} crashed: {payload}\n{logs}"
    result = json.loads(payload)
    assert result["type"] == "tool_result" and result["tool_use_id"] == event["id"]
    return result, result.get("is_error", False)


@pytest.mark.parametrize(
    ("function", "good", "bad"),
    [
        (
            "ClusteringToolFunction",
            "ClusteringToolFunction-success.json",
            "ClusteringToolFunction-bad-input.json",
        ),
        (
            "StockAnalyzerToolFunction",
            "StockAnalyzerToolFunction-success.json",
            "StockAnalyzerToolFunction-bad-input.json",
        ),
        (
            "EarthquakeToolFunction",
            "EarthquakeToolFunction-success.json",
            "EarthquakeToolFunction-bad-dates.json",
        ),
        (
            "WebResearchToolFunction",
            "WebResearchToolFunction-success.json",
            "WebResearchToolFunction-missing-query.json",
        ),
    ],
)
def test_each_language_answers_its_events_through_the_runtime_api(
    engine, seeded, function, good, bad
):
    result, is_error = invoke(engine, function, good)
    assert not is_error, result["content"]
    result, is_error = invoke(engine, function, bad)
    assert is_error, result["content"]


def test_unknown_tool_names_are_error_results_in_every_language(engine, seeded):
    for function in (
        "ClusteringToolFunction",
        "StockAnalyzerToolFunction",
        "EarthquakeToolFunction",
        "WebResearchToolFunction",
    ):
        result, is_error = invoke(engine, function, f"{function}-unknown-tool.json")
        assert is_error, f"{function}: {result}"


def test_clustering_agent_end_to_end(run_agent, seeded):
    run = run_agent(
        {
            "turns": [
                {
                    "tool_calls": [
                        {
                            "name": "cluster_time_series",
                            "input": {
                                "bucket": seeded,
                                "key": "tools/clustering/series.json",
                                "min_cluster_size": 2,
                            },
                        }
                    ]
                },
                {
                    "text": "{{ results[0].cluster_count }} clusters, "
                    "{{ results[0].noise_count }} noise: {{ results[0].summary }}"
                },
            ]
        },
        agent="clustering-agent",
    )

    assert run.result.status == "SUCCEEDED", run.result.cause
    (result,) = run.tool_results()
    content = json.loads(result["content"])
    assert result["is_error"] is False
    assert content["cluster_count"] >= 2
    assert run.output["answer"].startswith(f"{content['cluster_count']} clusters")


def test_stock_agent_passes_data_from_python_to_java_by_s3_reference(run_agent, engine):
    run = run_agent(
        {
            "turns": [
                {
                    "tool_calls": [
                        {
                            "name": "prepare_price_csv",
                            "input": {"symbols": ["ACME", "GLOBX"], "days": 60},
                        }
                    ]
                },
                {
                    "tool_calls": [
                        {
                            "name": "analyze_stock_prices",
                            "input": {
                                "bucket": "{{ results[0].bucket }}",
                                "key": "{{ results[0].key }}",
                                "windows": [5, 20],
                            },
                        }
                    ]
                },
                {"text": "{{ results[0].summary }}"},
            ]
        },
        agent="stock-analysis-agent",
    )

    assert run.result.status == "SUCCEEDED", run.result.cause
    prepared, analysed = run.tool_results()
    reference = json.loads(prepared["content"])
    analysis_call = run.messages[3]["content"][0]
    assert analysis_call["input"]["bucket"] == reference["bucket"]
    assert analysis_call["input"]["key"] == reference["key"]  # a reference, not the data
    csv = (
        engine.client("s3")
        .get_object(Bucket=reference["bucket"], Key=reference["key"])["Body"]
        .read()
    )
    assert csv.decode().splitlines()[0] == "date,symbol,close"
    assert len(csv.splitlines()) == 1 + 2 * 60
    assert analysed["is_error"] is False, analysed["content"]
    assert {"ACME", "GLOBX"} <= set(analysed["content"].replace('"', " ").split())


def test_research_agent_uses_the_go_and_typescript_tools_in_one_turn(run_agent, perplexity):
    run = run_agent(
        {
            "turns": [
                {
                    "tool_calls": [
                        {
                            "name": "research_web",
                            "input": {"query": "Step Functions payload limit"},
                        },
                        {
                            "name": "query_earthquakes",
                            "input": {
                                "start_date": "2024-01-01",
                                "end_date": "2024-01-02",
                                "min_magnitude": 5,
                            },
                        },
                    ]
                },
                {"text": "done"},
            ]
        },
        agent="research-agent",
    )

    assert run.result.status == "SUCCEEDED", run.result.cause
    research, quakes = run.tool_results()
    assert research["is_error"] is False and "256 KiB" in research["content"]
    assert perplexity.requests[-1]["messages"][-1]["content"].endswith(
        "Step Functions payload limit"
    )
    assert quakes["is_error"] is False and "Noto Peninsula" in quakes["content"]
