"""The generated block of template.yaml: fresh, derived from the registry specs, and reported
stale by `sfn-agents generate --check` as soon as a spec changes."""

import json
import shutil
from pathlib import Path

import pytest

from sfn_agents import local_iam
from sfn_agents.cli import main
from sfn_agents.generate import BEGIN, END, state_machine_id
from sfn_agents.template import Resolver, Template, load_yaml

ROOT = Path(__file__).resolve().parents[2]
TOOLS = {p.stem: json.loads(p.read_text()) for p in (ROOT / "registry/tools").glob("*.json")}
AGENTS = [json.loads(p.read_text()) for p in sorted((ROOT / "registry/agents").glob("*.json"))]
LLM_FUNCTIONS = {
    "AnthropicLlmFunction",
    "OpenAiLlmFunction",
    "GeminiLlmFunction",
    "BedrockLlmFunction",
}


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A copy of the template and the registry specs it is generated from."""
    shutil.copy(ROOT / "template.yaml", tmp_path / "template.yaml")
    shutil.copytree(ROOT / "registry", tmp_path / "registry")
    return tmp_path


def test_the_committed_block_is_fresh(capsys):
    assert main(["generate", "--check", "--template", str(ROOT / "template.yaml")]) == 0
    assert "up to date" in capsys.readouterr().out


def test_the_block_is_marked_once_and_uses_no_anchors():
    text = (ROOT / "template.yaml").read_text()
    assert text.count(BEGIN) == 1 and text.count(END) == 1
    block = text[text.index(BEGIN) : text.index(END)]
    assert "&" not in block.replace("&&", "") and "*Read" not in block


def test_changing_an_agents_tools_makes_the_block_stale(project, capsys):
    spec_path = project / "registry/agents/stock-analysis-agent.json"
    spec = json.loads(spec_path.read_text())
    spec["tools"] = ["prepare_price_csv"]  # drops analyze_stock_prices
    spec_path.write_text(json.dumps(spec))
    template = str(project / "template.yaml")

    assert main(["generate", "--check", "--template", template]) == 1
    assert "StockAnalysisAgentStateMachine" in capsys.readouterr().out

    assert main(["generate", "--template", template]) == 0
    assert main(["generate", "--check", "--template", template]) == 0
    policies = load_yaml(project / "template.yaml")["Resources"]["StockAnalysisAgentStateMachine"][
        "Properties"
    ]["Policies"]
    invoked = {
        p["LambdaInvokePolicy"]["FunctionName"]["Ref"]
        for p in policies
        if "LambdaInvokePolicy" in p
    }
    assert invoked == LLM_FUNCTIONS | {"MarketDataToolFunction"}


def test_an_edited_block_is_stale(project, capsys):
    template = project / "template.yaml"
    template.write_text(template.read_text().replace('AgentVersion: "1"', 'AgentVersion: "2"', 1))
    assert main(["generate", "--check", "--template", str(template)]) == 1
    assert "stale" in capsys.readouterr().out


def test_a_spec_naming_an_unknown_tool_is_refused(project, capsys):
    spec_path = project / "registry/agents/sql-agent.json"
    spec = json.loads(spec_path.read_text())
    spec["tools"].append("no_such_tool")
    spec_path.write_text(json.dumps(spec))
    assert main(["generate", "--template", str(project / "template.yaml")]) == 2
    assert "no_such_tool" in capsys.readouterr().err


def _targets(agent: dict, execution: str) -> set[str]:
    return {TOOLS[name][execution] for name in agent["tools"] if execution in TOOLS[name]}


@pytest.mark.parametrize("agent", AGENTS, ids=lambda a: a["agent_name"])
def test_each_agents_grants_are_its_tools_exactly(agent):
    resources = load_yaml(ROOT / "template.yaml")["Resources"]
    props = resources[state_machine_id(agent["agent_name"])]["Properties"]
    policies = props["Policies"]
    invoked = {
        p["LambdaInvokePolicy"]["FunctionName"]["Ref"]
        for p in policies
        if "LambdaInvokePolicy" in p
    }
    assert invoked == LLM_FUNCTIONS | _targets(agent, "function")
    started = {
        p["StepFunctionsExecutionPolicy"]["StateMachineName"]["Fn::GetAtt"][0]
        for p in policies
        if "StepFunctionsExecutionPolicy" in p
    }
    assert started == _targets(agent, "state_machine")
    substitutions = props["DefinitionSubstitutions"]
    assert substitutions["AgentName"] == agent["agent_name"]
    assert substitutions["AgentVersion"] == agent["version"]
    remote = _targets(agent, "activity") or {substitutions["ApprovalActivityArn"]["Ref"]}
    assert {substitutions["RemoteActivityArn"]["Ref"]} == remote


@pytest.mark.parametrize("agent", AGENTS, ids=lambda a: a["agent_name"])
def test_each_agent_may_describe_only_its_own_executions(agent):
    """For taking over a stale session lock (DescribeHolder): its own state machine's runs."""
    props = load_yaml(ROOT / "template.yaml")["Resources"][state_machine_id(agent["agent_name"])][
        "Properties"
    ]
    statements = [s for p in props["Policies"] if "Statement" in p for s in p["Statement"]]
    described = [
        s["Resource"]["Fn::Sub"] for s in statements if s.get("Sid") == "CheckSessionLockHolder"
    ]
    own = props["Name"]["Fn::Sub"]
    assert described == [
        f"arn:${{AWS::Partition}}:states:${{AWS::Region}}:${{AWS::AccountId}}:execution:{own}:*"
    ]


def test_a_new_agent_spec_alone_gets_its_alarm_dashboard_lines_and_api_rights(project):
    spec = json.loads((project / "registry/agents/sql-agent.json").read_text())
    spec["agent_name"] = "word-agent"
    (project / "registry/agents/word-agent.json").write_text(json.dumps(spec))
    outside = project / "template.yaml"
    before = outside.read_text()
    assert main(["generate", "--template", str(outside)]) == 0

    # Only the generated block changed: no hand edit anywhere else.
    after = outside.read_text()
    assert before[: before.index(BEGIN)] == after[: after.index(BEGIN)]
    assert before[before.index(END) :] == after[after.index(END) :]
    template = Template.load(outside)
    resources = template.resources
    alarm = resources["WordAgentExecutionsAlarm"]["Properties"]
    assert alarm["AlarmActions"] == [{"Ref": "AlarmTopic"}]
    assert {
        m["MetricStat"]["Metric"]["Dimensions"][0]["Value"]["Ref"] for m in alarm["Metrics"][:2]
    } == {"WordAgentStateMachine"}
    board = resources["AgentsDashboard"]["Properties"]["DashboardBody"]["Fn::Sub"]
    assert board.count('"${WordAgentStateMachine}", {"label": "word-agent"}') == 5
    assert '"${WordAgentExecutionsAlarm.Arn}"' in board

    # The API's role, as IAM (and the local engine) evaluates it, may start and read the new
    # agent's runs and answer its approvals, and still nothing of another environment's.
    resolver = Resolver(template, "us-east-1", "123456789012")
    machine = "arn:aws:states:us-east-1:123456789012:stateMachine:sfn-agents-dev-word-agent"
    activity = "arn:aws:states:us-east-1:123456789012:activity:sfn-agents-dev-word-agent-approval"
    resolver.record("WordAgentStateMachine", machine, Name="sfn-agents-dev-word-agent")
    resolver.record("WordAgentApprovalActivity", activity)
    for logical_id in template.of_type(
        "AWS::Serverless::StateMachine", "AWS::StepFunctions::Activity"
    ):
        if logical_id not in resolver.refs:
            resolver.record(logical_id, f"arn:other:{logical_id}", Name=f"other-{logical_id}")
    own = {"AgentApiPolicy": resources["AgentApiPolicy"]["Properties"]["PolicyDocument"]}
    documents = local_iam.policy_documents(
        template.function_properties("ApiFunction")["Policies"], own
    )
    # (statements on the tables and bucket, not recorded here, are left out)
    statements, _ = local_iam._resolved_statements(documents, resolver.resolve)
    execution = machine.replace(":stateMachine:", ":execution:") + ":run-1"
    for action, resource in [
        ("states:StartExecution", machine),
        ("states:DescribeExecution", execution),
        ("states:GetActivityTask", activity),
    ]:
        assert local_iam.evaluate(statements, action, resource) == "allow", action
    other = machine.replace("sfn-agents-dev-", "sfn-agents-dev-x-")
    assert local_iam.evaluate(statements, "states:StartExecution", other) != "allow"


def test_agents_whose_api_policy_would_exceed_iams_limit_are_refused(project, capsys):
    spec = json.loads((project / "registry/agents/sql-agent.json").read_text())
    for number in range(20):
        spec["agent_name"] = f"reporting-agent-{number:02}"
        (project / f"registry/agents/{spec['agent_name']}.json").write_text(json.dumps(spec))
    template = project / "template.yaml"
    before = template.read_text()

    assert main(["generate", "--template", str(template)]) == 2
    err = capsys.readouterr().err
    assert f"{len(AGENTS) + 20} agents need an API policy of up to " in err
    assert "characters, over IAM's 6144 for a managed policy: split AgentApiPolicy" in err
    assert template.read_text() == before
