"""Operating the stack: the dashboard charts only metrics the code emits and every agent and
function; alarms notify the topic; every state machine and function logs to its own group with
retention (what `sam logs` reads)."""

import json
import re
import runpy
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from sfn_agents.template import Template, load_yaml

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = Template.load(ROOT / "template.yaml")
RESOURCES = TEMPLATE.resources
metric_names = runpy.run_path(str(ROOT / "layers/agent_core/agent_core/metric_names.py"))
NAMESPACE = load_yaml(ROOT / "template.yaml")["Globals"]["Function"]["Environment"]["Variables"][
    "POWERTOOLS_METRICS_NAMESPACE"
]
FUNCTIONS = sorted(TEMPLATE.of_type("AWS::Serverless::Function"))
STATE_MACHINES = sorted(TEMPLATE.of_type("AWS::Serverless::StateMachine"))
SEARCH = re.compile(r"SEARCH\('\{([^}]*)\}\s*MetricName=\"(\w+)\"")


def of_type(kind: str) -> dict[str, dict[str, Any]]:
    return {k: v for k, v in RESOURCES.items() if v["Type"] == kind}


def dashboard(logical_id: str = "Dashboard") -> tuple[dict[str, Any], str]:
    """The stack's dashboard, or the generated one of its agents (AgentsDashboard)."""
    text = of_type("AWS::CloudWatch::Dashboard")[logical_id]["Properties"]["DashboardBody"][
        "Fn::Sub"
    ]
    return json.loads(re.sub(r"\$\{([^}!]+)\}", r"SUB(\1)", text)), text


def charted_custom_metrics() -> set[tuple[str, tuple[str, ...]]]:
    """(metric, dimensions without environment) of every custom metric the dashboard charts."""
    body, _ = dashboard()
    found = set()
    for widget in body["widgets"]:
        for row in widget.get("properties", {}).get("metrics", []):
            if isinstance(row[0], dict):
                for schema, metric in SEARCH.findall(row[0].get("expression", "")):
                    namespace, *dimensions = [part.strip('"') for part in schema.split(",")]
                    if namespace == NAMESPACE:
                        found.add((metric, tuple(sorted(set(dimensions) - {"environment"}))))
            elif row[0] == NAMESPACE:
                found.add((row[1], tuple(sorted(set(row[2:-1:2]) - {"environment"}))))
    return found


def emitted() -> set[tuple[str, tuple[str, ...]]]:
    return {
        (name, tuple(sorted(dimensions)))
        for name, sets in metric_names["EMITTED"].items()
        for dimensions in sets
    }


@pytest.mark.parametrize("logical_id", ["Dashboard", "AgentsDashboard"])
def test_the_dashboard_has_no_empty_row_and_no_overlap(logical_id):
    body, _ = dashboard(logical_id)
    cells = Counter(
        (x, y)
        for w in body["widgets"]
        for x in range(w["x"], w["x"] + w["width"])
        for y in range(w["y"], w["y"] + w["height"])
    )
    assert [cell for cell, count in cells.items() if count > 1] == []
    assert max(x for x, _ in cells) < 24  # the grid's width
    rows = {y for _, y in cells}
    assert sorted(set(range(max(rows) + 1)) - rows) == [], "rows no widget fills"


def test_the_dashboard_charts_only_metrics_the_code_emits():
    charted = charted_custom_metrics()
    assert charted, "the dashboard charts no custom metric"
    assert charted <= emitted(), f"not emitted: {sorted(charted - emitted())}"


def test_the_dashboard_charts_usage_cost_turns_tool_and_llm_errors():
    names = {name for name, _ in charted_custom_metrics()}
    assert {
        "InputTokens",
        "OutputTokens",
        "CacheReadInputTokens",
        "CacheWriteInputTokens",
        "ModelTurns",
        "ToolErrors",
        "LlmErrors",
    } <= names
    assert {("CostUSD", ("agent",)), ("CostUSD", ("model",))} <= charted_custom_metrics()


@pytest.mark.parametrize(
    "metric",
    [
        "ExecutionsStarted",
        "ExecutionsSucceeded",
        "ExecutionsFailed",
        "ExecutionsTimedOut",
        "ExecutionTime",
    ],
)
def test_the_agents_dashboard_charts_every_agent_state_machine(metric):
    body, _ = dashboard("AgentsDashboard")
    charted = {
        row[3]
        for widget in body["widgets"]
        for row in widget.get("properties", {}).get("metrics", [])
        if row[:2] == ["AWS/States", metric]
    }
    assert charted == {f"SUB({sm})" for sm in STATE_MACHINES}


@pytest.mark.parametrize("metric", ["Errors", "Throttles"])
def test_the_dashboard_charts_every_function(metric):
    body, _ = dashboard()
    charted = {
        row[3]
        for widget in body["widgets"]
        for row in widget.get("properties", {}).get("metrics", [])
        if row[:2] == ["AWS/Lambda", metric]
    }
    assert charted == {f"SUB({f})" for f in FUNCTIONS}


def test_the_dashboard_shows_duration_percentiles_and_approvals():
    _, text = dashboard()
    assert '"stat": "p50"' in text and '"stat": "p99"' in text
    assert "ActivitiesScheduled" in text and "RUNNING_SUM" in text  # waiting, whoever answers
    assert {
        ("ApprovalsRequested", ("agent",)),
        ("ApprovalsAnswered", ("decision",)),
    } <= charted_custom_metrics()


def test_every_alarm_notifies_the_topic_and_uses_a_threshold_parameter():
    alarms = of_type("AWS::CloudWatch::Alarm")
    (topic,) = of_type("AWS::SNS::Topic")
    assert {"LlmFatalErrorsAlarm", "ThrottlesAlarm", "CostPerHourAlarm"} <= set(alarms)
    for name, alarm in alarms.items():
        props = alarm["Properties"]
        assert props["AlarmActions"] == [{"Ref": topic}], name
        parameter = props["Threshold"]["Ref"]
        assert "Default" in TEMPLATE.body["Parameters"][parameter], name
        assert [m for m in props["Metrics"] if m.get("ReturnData")], name


def test_alarms_on_custom_metrics_use_emitted_dimension_sets():
    for name, alarm in of_type("AWS::CloudWatch::Alarm").items():
        for query in alarm["Properties"]["Metrics"]:
            metric = query.get("MetricStat", {}).get("Metric", {})
            if metric.get("Namespace") == NAMESPACE:
                dimensions = {d["Name"] for d in metric["Dimensions"]} - {"environment"}
                key = (metric["MetricName"], tuple(sorted(dimensions)))
                assert key in emitted(), f"{name}: {key} is not emitted"


@pytest.mark.parametrize("logical_id", STATE_MACHINES)
def test_every_agent_has_its_own_alarm_on_its_failed_and_timed_out_executions(logical_id):
    (alarm,) = [
        props
        for props in (a["Properties"] for a in of_type("AWS::CloudWatch::Alarm").values())
        if any(
            m.get("MetricStat", {}).get("Metric", {}).get("Dimensions")
            == [{"Name": "StateMachineArn", "Value": {"Ref": logical_id}}]
            for m in props["Metrics"]
        )
    ]
    watched = {
        m["Id"]: m["MetricStat"]["Metric"]["MetricName"]
        for m in alarm["Metrics"]
        if "MetricStat" in m
    }
    assert watched == {"failed": "ExecutionsFailed", "timed_out": "ExecutionsTimedOut"}
    (total,) = [m for m in alarm["Metrics"] if m.get("ReturnData")]
    assert total["Expression"] == "failed + timed_out"
    assert len(alarm["Metrics"]) <= 10  # CloudWatch's hard limit on an alarm's metrics


def test_the_agents_dashboard_shows_each_agents_alarm():
    body, _ = dashboard("AgentsDashboard")
    (alarms,) = [w["properties"]["alarms"] for w in body["widgets"] if w["type"] == "alarm"]
    assert sorted(alarms) == sorted(
        f"SUB({name}.Arn)"
        for name, alarm in of_type("AWS::CloudWatch::Alarm").items()
        if alarm["Properties"]["Metrics"][0]
        .get("MetricStat", {})
        .get("Metric", {})
        .get("Namespace")
        == "AWS/States"
    )
    assert len(alarms) == len(STATE_MACHINES)


def test_the_email_subscription_is_optional():
    (subscription,) = of_type("AWS::SNS::Subscription").values()
    assert subscription["Condition"] == "HasAlarmEmail"
    assert TEMPLATE.body["Parameters"]["AlarmEmail"]["Default"] == ""
    assert subscription["Properties"]["Endpoint"] == {"Ref": "AlarmEmail"}


@pytest.mark.parametrize("logical_id", STATE_MACHINES)
def test_every_state_machine_logs_to_its_own_group(logical_id):
    props = RESOURCES[logical_id]["Properties"]
    logging = props["Logging"]
    assert logging["Level"] == {"Ref": "StateMachineLogLevel"}
    assert TEMPLATE.body["Parameters"]["StateMachineLogLevel"]["Default"] == "ERROR"
    assert logging["IncludeExecutionData"] == {"Fn::If": ["LogExecutionData", True, False]}
    assert TEMPLATE.body["Parameters"]["StateMachineLogExecutionData"]["Default"] == "false"
    (destination,) = logging["Destinations"]
    group = destination["CloudWatchLogsLogGroup"]["LogGroupArn"]["Fn::GetAtt"][0]
    assert group == f"{logical_id}LogGroup" and RESOURCES[group]["Type"] == "AWS::Logs::LogGroup"
    actions = {
        action
        for policy in props["Policies"]
        if isinstance(policy, dict) and "Statement" in policy
        for statement in policy["Statement"]
        for action in statement["Action"]
    }
    assert {"logs:CreateLogDelivery", "logs:PutResourcePolicy"} <= actions
    assert props["Tracing"] == {"Enabled": True}


@pytest.mark.parametrize("logical_id", FUNCTIONS)
def test_every_function_logs_to_its_own_group(logical_id):
    group = TEMPLATE.function_properties(logical_id)["LoggingConfig"]["LogGroup"]["Ref"]
    assert group == f"{logical_id}LogGroup" and RESOURCES[group]["Type"] == "AWS::Logs::LogGroup"


def test_every_log_group_has_retention_and_serves_one_resource():
    groups = of_type("AWS::Logs::LogGroup")
    assert set(groups) == {f"{r}LogGroup" for r in FUNCTIONS + STATE_MACHINES}
    for name, group in groups.items():
        assert group["Properties"]["RetentionInDays"] == {"Ref": "LogRetentionDays"}, name
    assert TEMPLATE.body["Parameters"]["LogRetentionDays"]["Default"] == 30
