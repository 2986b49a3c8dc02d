"""The HTTP API in the template agrees with its function: the routes, the API key on every API
method, the usage plan, and a role that reaches exactly the template's agents, named as the
function derives their ARNs."""

import re
from pathlib import Path

from agent_api import handler

from sfn_agents.template import Template
from sfn_agents.thread_env import overlay

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = Template.load(ROOT / "template.yaml")
API = TEMPLATE.resources["AgentApi"]["Properties"]
FUNCTION = TEMPLATE.function_properties("ApiFunction")
UI_PATHS = {"/", "/ui/{asset}"}
ENV = {
    "AGENT_REGISTRY_TABLE": "agents",
    "TOOL_REGISTRY_TABLE": "tools",
    "RUNS_TABLE": "runs",
    "APPROVALS_TABLE": "approvals",
    "ARTIFACT_BUCKET": "bucket",
    "STATES_ARN_PREFIX": "arn:aws:states:us-east-1:123456789012:",
    "RESOURCE_NAME_PREFIX": "sfn-agents-dev-",
    "UI_ORIGIN": "http://localhost:3000",
    "AWS_DEFAULT_REGION": "us-east-1",
}


def agents() -> dict[str, str]:
    """Agent name -> state machine logical id."""
    machines = TEMPLATE.of_type("AWS::Serverless::StateMachine")
    return {
        spec["Properties"]["DefinitionSubstitutions"]["AgentName"]: logical_id
        for logical_id, spec in machines.items()
    }


def template_routes() -> set[tuple[str, str]]:
    return {
        (event["Properties"]["Method"].upper(), event["Properties"]["Path"])
        for event in FUNCTION["Events"].values()
    }


def test_the_template_routes_are_the_functions_routes():
    with overlay(ENV):
        app = handler.api().resolver
    served = {(r.method, r.openapi_path) for r in app._static_routes + app._dynamic_routes}
    assert served == template_routes()


def test_every_api_method_needs_a_key_and_only_the_ui_files_do_not():
    assert API["Auth"]["ApiKeyRequired"] is True
    for name, event in FUNCTION["Events"].items():
        properties = event["Properties"]
        assert properties["RestApiId"] == {"Ref": "AgentApi"}
        exempt = properties.get("Auth", {}).get("ApiKeyRequired") is False
        assert exempt == (properties["Path"] in UI_PATHS), name


def test_usage_plan_throttle_and_quota_are_parameters():
    plan = API["Auth"]["UsagePlan"]
    assert plan["CreateUsagePlan"] == "PER_API"
    assert plan["Throttle"] == {
        "RateLimit": {"Ref": "ApiThrottleRateLimit"},
        "BurstLimit": {"Ref": "ApiThrottleBurstLimit"},
    }
    assert plan["Quota"] == {"Limit": {"Ref": "ApiQuotaLimit"}, "Period": {"Ref": "ApiQuotaPeriod"}}
    assert API["Cors"]["AllowOrigin"] == {"Fn::Sub": "'${UiOrigin}'"}


def test_agents_are_named_as_the_api_derives_their_arns():
    machines = TEMPLATE.of_type("AWS::Serverless::StateMachine")
    for agent, logical_id in agents().items():
        props = machines[logical_id]["Properties"]
        assert props["Name"] == {"Fn::Sub": f"sfn-agents-${{EnvironmentName}}-{agent}"}
        activity = props["DefinitionSubstitutions"]["ApprovalActivityArn"]["Ref"]
        name = TEMPLATE.resources[activity]["Properties"]["Name"]
        assert name == {"Fn::Sub": f"sfn-agents-${{EnvironmentName}}-{agent}-approval"}
    assert FUNCTION["Environment"]["Variables"]["RESOURCE_NAME_PREFIX"] == {
        "Fn::Sub": "sfn-agents-${EnvironmentName}-"
    }


def test_the_api_role_reaches_exactly_the_templates_agents():
    assert {"Ref": "AgentApiPolicy"} in FUNCTION["Policies"]
    policy = TEMPLATE.resources["AgentApiPolicy"]
    assert policy["Type"] == "AWS::IAM::ManagedPolicy"
    statements = {s["Sid"]: s for s in policy["Properties"]["PolicyDocument"]["Statement"]}
    logical_ids = set(agents().values())
    start = statements["StartAndListAgentRuns"]["Resource"]
    assert {ref["Ref"] for ref in start} == logical_ids
    read = statements["ReadAgentRuns"]["Resource"]
    assert {re.search(r"\$\{(\w+)\.Name\}", r["Fn::Sub"])[1] for r in read} == logical_ids
    approvals = statements["TakeAndAnswerApprovals"]["Resource"]
    machines = TEMPLATE.of_type("AWS::Serverless::StateMachine")
    assert {ref["Ref"] for ref in approvals} == {
        machines[m]["Properties"]["DefinitionSubstitutions"]["ApprovalActivityArn"]["Ref"]
        for m in logical_ids
    }
    for statement in statements.values():
        actions = (
            statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        )
        assert all("*" not in action for action in actions)
