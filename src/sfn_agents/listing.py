"""``sfn-agents agents`` and ``sfn-agents tools``: what the template declares, or, with
``SFN_AGENTS_ENDPOINT`` set, what the registry tables of that engine (or AWS) hold."""

import argparse
import importlib.util
import json
from pathlib import Path
from typing import Any

from sfn_agents import aws

AGENT_TABLE, TOOL_TABLE = "AgentRegistryTable", "ToolRegistryTable"


def _registry_specs(template: Path) -> Any:
    """The registry's own spec loader (registry/registry_sync/specs.py next to the template)."""
    path = template.parent / "registry" / "registry_sync" / "specs.py"
    spec = importlib.util.spec_from_file_location("registry_specs", path)
    if spec is None or spec.loader is None or not path.is_file():
        raise FileNotFoundError(f"no registry specs at {path}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _table_specs(args: argparse.Namespace, logical_id: str) -> list[dict[str, Any]]:
    from sfn_agents.cli import load_catalog

    catalog = load_catalog(args, required=True)
    dynamodb = aws.client("dynamodb")
    return [
        json.loads(item["spec"]["S"])
        for page in dynamodb.get_paginator("scan").paginate(
            TableName=catalog.table(logical_id).name
        )
        for item in page["Items"]
    ]


def _specs(args: argparse.Namespace) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(tools, agents), from the endpoint's registry tables or the template's registry files."""
    if aws.endpoint():
        return _table_specs(args, TOOL_TABLE), _table_specs(args, AGENT_TABLE)
    specs = _registry_specs(Path(args.template).resolve())
    tools = specs.load_tools(specs.SPEC_DIR)
    return tools, specs.load_agents(tools, specs.SPEC_DIR)


def _print(rows: list[dict[str, Any]], columns: list[str], as_json: bool) -> None:
    if as_json:
        print(json.dumps(rows, indent=2))
        return
    widths = {c: max([len(c), *(len(str(r[c])) for r in rows)]) for c in columns[:-1]}
    print("  ".join(c.upper().ljust(widths.get(c, 0)) for c in columns).rstrip())
    for row in rows:
        print("  ".join(str(row[c]).ljust(widths.get(c, 0)) for c in columns).rstrip())


def _first_sentence(text: str, width: int = 80) -> str:
    sentence = text.split(". ", maxsplit=1)[0].rstrip(".")
    return sentence if len(sentence) <= width else sentence[: width - 1] + "…"


def cmd_agents(args: argparse.Namespace) -> int:
    from sfn_agents.cli import load_catalog

    catalog = load_catalog(args, required=True)
    machines = {m.agent: m for m in catalog.agents}
    _, agents = _specs(args)
    rows = [
        {
            "agent": spec["agent_name"],
            "provider": "/".join(p for p in (spec["provider"], spec.get("model")) if p),
            "state_machine": machines[spec["agent_name"]].logical_id
            if spec["agent_name"] in machines
            else "-",
            "tools": ", ".join(t["name"] if isinstance(t, dict) else t for t in spec["tools"]),
        }
        for spec in sorted(agents, key=lambda s: s["agent_name"])
    ]
    _print(rows, ["agent", "provider", "state_machine", "tools"], args.json)
    return 0


def cmd_tools(args: argparse.Namespace) -> int:
    tools, _ = _specs(args)
    rows = [
        {
            "tool": spec["tool_name"],
            "runs_on": f"{spec['execution']} {spec['target']}",
            "language": spec.get("language", "none"),
            "approval": "yes" if spec.get("human_approval_required") else "no",
            "description": _first_sentence(spec["description"]),
        }
        for spec in sorted(tools, key=lambda s: s["tool_name"])
    ]
    _print(rows, ["tool", "runs_on", "language", "approval", "description"], args.json)
    return 0


def register(commands: Any) -> None:
    for name, handler, what in (
        ("agents", cmd_agents, "list the agents: provider, state machine, tools"),
        ("tools", cmd_tools, "list the tools: what runs them, language, approval"),
    ):
        command = commands.add_parser(name, help=what)
        command.add_argument("--json", action="store_true", help="print a JSON list")
        command.add_argument(
            "--template", default="template.yaml", help="SAM template (default: %(default)s)"
        )
        command.set_defaults(handler=handler, parameter_overrides=[])
