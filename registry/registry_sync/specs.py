"""Tool and agent specs: the JSON files under registry/ are the single source of truth; this module
validates them and writes them to the registry tables (on deploy through the custom resource in
handler.py, locally through the sfn-agents engine, which runs that same custom resource)."""

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

SPEC_DIR = Path(__file__).resolve().parents[1]
TOOL_STATUSES = {"active", "deprecated", "disabled"}


class SpecError(ValueError):
    """A spec file is invalid; the message names the file and the field."""


def _load(path: Path, required: Mapping[str, type]) -> dict[str, Any]:
    try:
        spec = json.loads(path.read_text())
    except json.JSONDecodeError as error:
        raise SpecError(f"{path.name}: not valid JSON: {error}") from None
    for field, kind in required.items():
        if not isinstance(spec.get(field), kind):
            raise SpecError(f"{path.name}: field {field!r} must be a {kind.__name__}")
    return spec


EXECUTIONS = {"function": "lambda", "activity": "remote", "state_machine": "agent"}


def load_tools(spec_dir: Path = SPEC_DIR) -> list[dict[str, Any]]:
    """Tool specs. A tool runs as a Lambda function ("function"), on a remote worker through a
    Step Functions activity ("activity"), or as another agent ("state_machine"), each named by
    its logical id in the template."""
    tools = []
    for path in sorted((spec_dir / "tools").glob("*.json")):
        spec = _load(
            path,
            {"tool_name": str, "version": str, "description": str, "input_schema": dict},
        )
        targets = [key for key in EXECUTIONS if isinstance(spec.get(key), str)]
        if len(targets) != 1:
            raise SpecError(f"{path.name}: give exactly one of {', '.join(EXECUTIONS)}")
        spec["execution"] = EXECUTIONS[targets[0]]
        spec["target"] = spec[targets[0]]
        if spec["input_schema"].get("type") != "object":
            raise SpecError(f"{path.name}: input_schema must have type 'object'")
        if spec.setdefault("status", "active") not in TOOL_STATUSES:
            raise SpecError(f"{path.name}: status must be one of {sorted(TOOL_STATUSES)}")
        spec.setdefault("language", "none")
        spec.setdefault("tags", [])
        spec.setdefault("human_approval_required", False)
        spec.setdefault("timeout_seconds", 300)
        tools.append(spec)
    return tools


def load_agents(tools: list[dict[str, Any]], spec_dir: Path = SPEC_DIR) -> list[dict[str, Any]]:
    versions = {t["tool_name"]: t["version"] for t in tools}
    agents = []
    for path in sorted((spec_dir / "agents").glob("*.json")):
        spec = _load(
            path,
            {
                "agent_name": str,
                "version": str,
                "system_prompt": str,
                "provider": str,
                "tools": list,
            },
        )
        resolved = []
        for entry in spec["tools"]:
            name = entry if isinstance(entry, str) else entry.get("name")
            if name not in versions:
                raise SpecError(f"{path.name}: tool {name!r} has no spec in registry/tools")
            version = (
                entry.get("version", versions[name]) if isinstance(entry, dict) else versions[name]
            )
            resolved.append({"name": name, "version": version})
        if not resolved:
            raise SpecError(f"{path.name}: an agent needs at least one tool")
        spec["tools"] = resolved
        spec.setdefault("model", "")
        spec.setdefault("limits", {})
        agents.append(spec)
    return agents


def tool_item(spec: dict[str, Any], arns: Mapping[str, str], now: str) -> dict[str, Any]:
    if spec["target"] not in arns:
        raise SpecError(f"tool {spec['tool_name']}: {spec['target']} is not in the template")
    arn_attribute = {
        "lambda": "function_arn",
        "remote": "activity_arn",
        "agent": "state_machine_arn",
    }
    item = {
        "tool_name": {"S": spec["tool_name"]},
        "version": {"S": spec["version"]},
        "description": {"S": spec["description"]},
        "input_schema": {"S": json.dumps(spec["input_schema"])},
        "execution": {"S": spec["execution"]},
        arn_attribute[spec["execution"]]: {"S": arns[spec["target"]]},
        "timeout_seconds": {"N": str(int(spec["timeout_seconds"]))},
        "language": {"S": spec["language"]},
        "status": {"S": spec["status"]},
        "human_approval_required": {"BOOL": bool(spec["human_approval_required"])},
        "author": {"S": spec.get("author", "")},
        "updated_at": {"S": now},
        "spec": {"S": json.dumps(spec)},
    }
    if spec["tags"]:
        item["tags"] = {"SS": sorted(set(spec["tags"]))}
    return item


def agent_item(spec: dict[str, Any], now: str) -> dict[str, Any]:
    return {
        "agent_name": {"S": spec["agent_name"]},
        "version": {"S": spec["version"]},
        "provider": {"S": spec["provider"]},
        "model": {"S": spec["model"]},
        "updated_at": {"S": now},
        "spec": {"S": json.dumps(spec)},
    }


def sync(
    dynamodb: Any,
    tool_table: str,
    agent_table: str,
    arns: Mapping[str, str],
    spec_dir: Path = SPEC_DIR,
) -> dict[str, Any]:
    """Write the specs to the tables. ``arns`` maps the template's logical ids to ARNs. Tools whose
    function, activity or agent this stack does not deploy are skipped (and listed); an agent that
    needs one of them is an error."""
    tools = load_tools(spec_dir)
    agents = load_agents(tools, spec_dir)
    deployed = [t for t in tools if t["target"] in arns]
    skipped = sorted(t["tool_name"] for t in tools if t["target"] not in arns)
    for agent in agents:
        missing = sorted({t["name"] for t in agent["tools"]} & set(skipped))
        if missing:
            raise SpecError(
                f"agent {agent['agent_name']} needs {', '.join(missing)}, whose function, "
                "activity or agent is not in the Registry resource's ResourceArns"
            )
    now = datetime.now(UTC).isoformat(timespec="seconds")
    for spec in deployed:
        dynamodb.put_item(TableName=tool_table, Item=tool_item(spec, arns, now))
    for spec in agents:
        dynamodb.put_item(TableName=agent_table, Item=agent_item(spec, now))
    return {"tools": len(deployed), "agents": len(agents), "skipped_tools": skipped}
