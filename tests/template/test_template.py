"""The SAM template: valid for SAM and cfn-lint, every definition placeholder substituted, no
wildcard IAM actions."""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from sfn_agents.template import Template, load_yaml

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "template.yaml"
PLACEHOLDER = re.compile(r"\$\{([A-Za-z0-9_]+)\}")


def state_machines() -> dict[str, dict]:
    return Template.load(TEMPLATE).of_type("AWS::Serverless::StateMachine")


def test_sam_validate_lint_passes():
    sam = Path(sys.executable).with_name("sam")  # installed beside pytest by `make install`
    result = subprocess.run(
        [str(sam), "validate", "--lint", "--template", str(TEMPLATE)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**os.environ, "SAM_CLI_TELEMETRY": "0"},
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("logical_id", sorted(state_machines()))
def test_every_definition_placeholder_is_substituted(logical_id):
    props = state_machines()[logical_id]["Properties"]
    definition = (ROOT / props["DefinitionUri"]).read_text()
    placeholders = set(PLACEHOLDER.findall(definition))
    assert placeholders, "a definition with no placeholders would hard-code ARNs"
    assert placeholders <= set(props["DefinitionSubstitutions"]), (
        f"unsubstituted: {placeholders - set(props['DefinitionSubstitutions'])}"
    )


DEFINITIONS = sorted((ROOT / "statemachines").glob("*.asl.*"))


def test_definitions_hold_no_arn_or_table_name():
    assert DEFINITIONS
    for path in DEFINITIONS:
        text = PLACEHOLDER.sub("", path.read_text())
        assert not re.search(r"arn:aws:(lambda|dynamodb|s3|states):[a-z0-9-]+:\d{12}", text), path
        assert "sfn-agents-" not in text, f"{path} names a deployed resource"


def _actions(node) -> list[str]:
    found = []
    if isinstance(node, dict):
        for key, value in node.items():
            if key in ("Action", "NotAction"):
                found += value if isinstance(value, list) else [value]
            else:
                found += _actions(value)
    elif isinstance(node, list):
        for value in node:
            found += _actions(value)
    return found


def test_no_policy_grants_a_wildcard_action():
    actions = _actions(load_yaml(TEMPLATE)["Resources"])
    assert not [a for a in actions if isinstance(a, str) and (a == "*" or a.endswith(":*"))]


def test_functions_are_python_313_on_arm64_with_tracing():
    template = Template.load(TEMPLATE)
    for logical_id in template.of_type("AWS::Serverless::Function"):
        props = template.function_properties(logical_id)
        if props.get("Runtime", "").startswith("python"):
            assert props["Runtime"] == "python3.13", logical_id
        assert props["Architectures"] == ["arm64"], logical_id
        assert props["Tracing"] == "Active", logical_id


def test_every_deployed_tool_target_is_synced_to_the_registry():
    template = Template.load(TEMPLATE)
    synced = template.resources["Registry"]["Properties"]["ResourceArns"]
    assert set(synced) <= set(template.resources)
    for spec_path in (ROOT / "registry" / "tools").glob("*.json"):
        spec = json.loads(spec_path.read_text())
        target = spec.get("function") or spec.get("activity") or spec.get("state_machine")
        if target in template.resources:
            assert target in synced, f"{spec_path.name}: {target} is not in Registry ResourceArns"


def test_the_loop_reads_line_by_line():
    """No line of the definition (JSONata expressions included) is longer than 120."""
    for path in DEFINITIONS:
        long = [n for n, line in enumerate(path.read_text().splitlines(), 1) if len(line) > 120]
        assert not long, f"{path}: lines {long} are longer than 120 characters"
