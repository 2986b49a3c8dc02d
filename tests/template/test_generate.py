"""The generated block of template.yaml: fresh, derived from the registry specs, and reported
stale by `sfn-agents generate --check` as soon as a spec changes."""

import json
import shutil
from pathlib import Path

import pytest

from sfn_agents.cli import main
from sfn_agents.generate import BEGIN, END, state_machine_id
from sfn_agents.template import load_yaml

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
