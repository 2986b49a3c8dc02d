"""``sfn-agents new tool`` and ``sfn-agents new agent``: a working tool or agent in one command.

A tool comes from its language's cookiecutter template in ``scaffolds/tool-<language>/`` (the
function, its example and its tests, in ``functions/tools/<name>/``), plus what every tool has
whatever its language: the registry spec, an example event and the template resources (the
function, its log group, its registry entry, its lines in the dashboard's function charts). An
agent is its spec in ``registry/agents/`` only: ``generate`` derives everything else (its state
machine, grants, activities, log group, alarm, the API's rights on it, its dashboard lines)."""

import argparse
import json
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sfn_agents.generate import (
    BEGIN,
    END,
    pascal_case,
    state_machine_id,
    write,
)

LANGUAGES = ("python", "typescript", "rust", "java", "go")
TOOL_NAME = re.compile(r"^[a-z][a-z0-9]*(_[a-z0-9]+)*$")
AGENT_NAME = re.compile(r"^[a-z][a-z0-9]*(-[a-z0-9]+)*$")
EXAMPLE_TEXT = "Step Functions runs the agent loop; each tool is one Lambda function."
DASHBOARD_ENTRY = re.compile(r'\["AWS/[^\[\]]*\]')  # ["AWS/States", metric, dimension, ...]
REGISTRY_ARNS = re.compile(r"^(      ResourceArns:\n(?:        \w+: .+\n)+)", re.MULTILINE)


class ScaffoldError(ValueError):
    """A name clashes or is invalid, or a file is missing; the message says which."""


@dataclass(frozen=True)
class Project:
    """Where a scaffold writes: the directory of template.yaml."""

    root: Path

    @classmethod
    def of(cls, template: str) -> "Project":
        path = Path(template).resolve()
        if not path.is_file():
            raise ScaffoldError(f"no template at {template}")
        return cls(path.parent)

    @property
    def template(self) -> Path:
        return self.root / "template.yaml"

    def relative(self, path: Path) -> str:
        return str(path.relative_to(self.root))

    def has_resource(self, logical_id: str) -> bool:
        return re.search(rf"^  {logical_id}:", self.template.read_text(), re.MULTILINE) is not None


def tool_logical_id(name: str) -> str:
    return f"{pascal_case(name)}ToolFunction"


def new_tool(project: Project, name: str, language: str, description: str) -> list[str]:
    """Creates tool NAME; returns the paths created (relative to the project)."""
    from cookiecutter.main import cookiecutter
    from jinja2 import Template

    if not TOOL_NAME.match(name) or len(name) > 48:
        raise ScaffoldError(
            f"invalid tool name {name!r}: use snake_case, a-z and digits, up to 48 characters"
        )
    logical_id = tool_logical_id(name)
    spec = project.root / "registry" / "tools" / f"{name}.json"
    code = project.root / "functions" / "tools" / name
    for clash in (spec, code):
        if clash.exists():
            raise ScaffoldError(f"tool {name} exists already: {project.relative(clash)}")
    if project.has_resource(logical_id) or project.has_resource(f"{logical_id}LogGroup"):
        raise ScaffoldError(f"template.yaml already has a resource {logical_id}")
    scaffold = project.root / "scaffolds" / f"tool-{language}"
    if not (scaffold / "cookiecutter.json").is_file():
        raise ScaffoldError(f"no scaffold for {language} at {project.relative(scaffold)}")
    description = " ".join(description.split()).rstrip(".")
    context = {"name": name, "pascal": pascal_case(name), "logical_id": logical_id}
    context["description"] = description

    cookiecutter(str(scaffold), no_input=True, extra_context=context, output_dir=str(code.parent))
    spec.write_text(
        json.dumps(_tool_spec(name, logical_id, language, description), indent=2) + "\n"
    )
    event = project.root / "events" / f"{logical_id}-example.json"
    example = {"name": name, "id": f"toolu_01{pascal_case(name)}", "input": {"text": EXAMPLE_TEXT}}
    event.write_text(json.dumps(example) + "\n")
    function = Template((scaffold / "resources.yaml").read_text()).render(**context)
    _add_resources(project, logical_id, function.rstrip("\n"))
    created = [code, spec, event, project.template]
    if language == "python":
        created.append(_add_python_path(project, project.relative(code)))
    return [project.relative(p) for p in created]


def _add_python_path(project: Project, code_dir: str) -> Path:
    """A Python tool's CodeUri joins pytest's pythonpath and mypy's mypy_path in pyproject.toml,
    as Lambda puts it on sys.path (tests/unit/test_function_packages.py checks both lists)."""
    pyproject = project.root / "pyproject.toml"
    text = pyproject.read_text()
    for key in ("pythonpath", "mypy_path"):
        listing = re.compile(rf"^({key} = \[\n(?:  .*\n)*?)(\])", re.MULTILINE)
        text, found = listing.subn(rf'\1  "{code_dir}",\n\2', text, count=1)
        if not found:
            raise ScaffoldError(f"pyproject.toml has no multi-line {key} list to add {code_dir} to")
    pyproject.write_text(text)
    return pyproject


def _tool_spec(name: str, logical_id: str, language: str, description: str) -> dict[str, Any]:
    return {
        "tool_name": name,
        "version": "1.0.0",
        "description": f"{description}.",
        "input_schema": {
            "type": "object",
            "properties": {
                "text": {
                    "type": "string",
                    "description": "The text to count words and characters of.",
                }
            },
            "required": ["text"],
            "additionalProperties": False,
        },
        "function": logical_id,
        "language": language,
        "tags": [],
        "status": "active",
        "human_approval_required": False,
        "author": "",
    }


def _add_resources(project: Project, logical_id: str, function: str) -> None:
    """The function and its log group go just before the generated block (the end of the
    template's tools), and its ARN into the registry sync's ResourceArns."""
    log_group = "\n".join(
        [
            f"  {logical_id}LogGroup:",
            "    Type: AWS::Logs::LogGroup",
            "    Properties:",
            f"      LogGroupName: !Sub /aws/lambda/sfn-agents-${{EnvironmentName}}/{logical_id}",
            "      RetentionInDays: !Ref LogRetentionDays",
        ]
    )
    text = project.template.read_text()
    if text.count(BEGIN) != 1 or not REGISTRY_ARNS.search(text):
        raise ScaffoldError("template.yaml has no generated block or no Registry ResourceArns")
    text = text.replace(BEGIN, f"{function}\n\n{log_group}\n\n{BEGIN}", 1)
    entry = f"        {logical_id}: !GetAtt {logical_id}.Arn\n"
    text = REGISTRY_ARNS.sub(lambda match: match.group(1) + entry, text, count=1)
    tools = re.findall(r"^  (\w+ToolFunction):\n", text, re.MULTILINE)
    anchor = _anchor(text, [t for t in tools if t != logical_id])
    if anchor:
        short, new_short = anchor.removesuffix("Function"), logical_id.removesuffix("Function")
        text = _list_beside(text, anchor, {anchor: logical_id, short: new_short})
    project.template.write_text(text)


def _outside_block(text: str) -> tuple[str, str, str]:
    start, end = text.index(BEGIN), text.index(END) + len(END)
    return text[:start], text[start:end], text[end:]


def _listings(text: str, logical_id: str) -> int:
    """How many lists outside the generated block name the resource (YAML items, dashboard)."""
    before, _, after = _outside_block(text)
    token = re.compile(rf"\b{logical_id}\b")
    outside = before + after
    items = [line for line in outside.splitlines() if line.lstrip().startswith("- ")]
    entries = DASHBOARD_ENTRY.findall(outside)
    return sum(1 for item in items + entries if token.search(item))


def _anchor(text: str, candidates: list[str]) -> str | None:
    """The existing resource listed in the most places: a new one is listed beside it."""
    counts = {c: _listings(text, c) for c in candidates}
    best = max(counts, key=lambda c: counts[c], default=None)
    return best if best and counts[best] else None


def _list_beside(text: str, anchor: str, words: dict[str, str]) -> str:
    """Wherever a list outside the generated block names ``anchor`` (the throttles alarm, the
    dashboard's function charts), a copy of that entry names the new resource after it: ``words``
    maps each of the anchor's names to the new one's."""
    token = re.compile(rf"\b{anchor}\b")

    def copy(entry: str) -> str:
        for old, new in words.items():
            entry = re.sub(rf"\b{re.escape(old)}\b", new, entry)
        return entry

    def beside(match: re.Match[str]) -> str:
        entry = match.group(0)
        return f"{entry}, {copy(entry)}" if token.search(entry) else entry

    def rewrite(part: str) -> str:
        lines = []
        for line in part.splitlines(keepends=True):
            if line.lstrip().startswith("- ") and token.search(line):
                lines += [line, copy(line)]
            else:
                lines.append(DASHBOARD_ENTRY.sub(beside, line))
        return "".join(lines)

    before, block, after = _outside_block(text)
    return rewrite(before) + block + rewrite(after)


def new_agent(
    project: Project, name: str, tools: list[str], provider: str, model: str, description: str
) -> list[str]:
    """Creates agent NAME's spec and regenerates the template; returns the paths it wrote."""
    from sfn_agents.providers import providers

    if not AGENT_NAME.match(name) or len(name) > 40:
        raise ScaffoldError(
            f"invalid agent name {name!r}: use kebab-case, a-z and digits, up to 40 characters"
        )
    spec = project.root / "registry" / "agents" / f"{name}.json"
    if spec.exists():
        raise ScaffoldError(f"agent {name} exists already: {project.relative(spec)}")
    if project.has_resource(state_machine_id(name)):
        raise ScaffoldError(f"template.yaml already has a resource {state_machine_id(name)}")
    if not tools:
        raise ScaffoldError("an agent needs at least one tool: --tools a,b")
    known = {p.stem for p in (project.root / "registry" / "tools").glob("*.json")}
    unknown = [t for t in tools if t not in known]
    if unknown:
        raise ScaffoldError(f"no spec in registry/tools for tool(s): {', '.join(unknown)}")
    names = sorted(providers(project.root))
    if provider not in names:
        raise ScaffoldError(f"unknown provider {provider!r}: one of {', '.join(names)}")
    spec.write_text(
        json.dumps(
            {
                "agent_name": name,
                "version": "1",
                "description": description or f"Answers with the tools {', '.join(tools)}.",
                "system_prompt": (
                    "You are a helpful assistant. Use your tools "
                    f"({', '.join(tools)}) to answer, and base your answer on their results."
                ),
                "provider": provider,
                "model": model,
                "tools": tools,
                "limits": {"max_turns": 10, "max_total_tokens": 200000, "max_output_tokens": 4096},
            },
            indent=2,
        )
        + "\n"
    )
    created = [project.relative(spec)]
    script = _example_script(project, name, tools[0])
    if script:
        created.append(project.relative(script))
    write(project.template)
    return [*created, project.relative(project.template)]


def _example_script(project: Project, agent: str, tool: str) -> Path | None:
    """A scripted model that calls the first tool with its example event's input, when the tool
    has one (scaffolded tools do), so `run --script` works offline."""
    events = list((project.root / "events").glob("*ToolFunction-example.json"))
    inputs = [json.loads(e.read_text()) for e in events]
    example = next((e["input"] for e in inputs if e.get("name") == tool), None)
    if example is None:
        return None
    path = project.root / "events" / f"{agent}-example.script.json"
    script = {
        "turns": [
            {"tool_calls": [{"name": tool, "input": example}]},
            {"text": f"{tool} answered: {{{{ results[0] }}}}"},
        ]
    }
    path.write_text(json.dumps(script, indent=2) + "\n")
    return path


def _format_python(project: Project, code: Path) -> None:
    """Sorts the generated imports for the tool's own name, as `make lint` wants them."""
    ruff = shutil.which("ruff")
    if ruff and code.is_dir():
        subprocess.run([ruff, "check", "-q", "--fix", "--select", "I", str(code)], cwd=project.root)
        subprocess.run([ruff, "format", "-q", str(code)], cwd=project.root)


NEXT_TOOL = {
    "python": "pytest functions/tools/{name}",
    "typescript": "(cd functions/tools/{name} && npm install && npm test)",
    "rust": "(cd functions/tools/{name} && cargo test)",
    "java": "(cd functions/tools/{name} && mvn -q test)",
    "go": "(cd functions/tools/{name} && go test ./...)",
}


def cmd_new_tool(args: argparse.Namespace) -> int:
    project = Project.of(args.template)
    description = args.description or "Count the words and characters of a text"
    created = new_tool(project, args.name, args.language, description)
    if args.language == "python":
        _format_python(project, project.root / created[0])
    logical_id = tool_logical_id(args.name)
    print(f"created tool {args.name} ({args.language}, {logical_id}):")
    print("\n".join(f"  {path}" for path in created))
    print("next:")
    print(f"  {NEXT_TOOL[args.language].format(name=args.name)}")
    print(f"  sfn-agents invoke {logical_id} -e events/{logical_id}-example.json")
    print(f"  sfn-agents new agent my-agent --tools {args.name}")
    return 0


def cmd_new_agent(args: argparse.Namespace) -> int:
    project = Project.of(args.template)
    tools = [t.strip() for t in args.tools.split(",") if t.strip()]
    created = new_agent(project, args.name, tools, args.provider, args.model, args.description)
    print(f"created agent {args.name} ({state_machine_id(args.name)}):")
    print("\n".join(f"  {path}" for path in created))
    print("next:")
    script = [p for p in created if p.endswith(".script.json")]
    if script:
        print(f'  sfn-agents run {args.name} "Count the words" --script {script[0]}')
    print(f'  sfn-agents run {args.name} "your question"')
    print("  sam validate --lint")
    return 0


def register(commands: Any, usage_error: type[Exception]) -> None:
    def handler(command: Any) -> Any:
        def run(args: argparse.Namespace) -> int:
            try:
                return int(command(args))
            except ScaffoldError as error:
                raise usage_error(str(error)) from None

        return run

    new = commands.add_parser("new", help="scaffold a new tool or agent")
    kinds = new.add_subparsers(dest="new_command", required=True)
    tool = kinds.add_parser("tool", help="a working tool function in one of five languages")
    tool.add_argument("name", help="snake_case tool name, e.g. word_stats")
    tool.add_argument("--language", required=True, choices=LANGUAGES)
    tool.add_argument("--description", default="", help="what the tool does, for the model")
    tool.add_argument("--template", default="template.yaml")
    tool.set_defaults(handler=handler(cmd_new_tool))

    agent = kinds.add_parser("agent", help="an agent spec and its generated state machine")
    agent.add_argument("name", help="kebab-case agent name, e.g. word-agent")
    agent.add_argument("--tools", required=True, help="comma-separated tool names")
    agent.add_argument("--provider", default="anthropic")
    agent.add_argument("--model", default="", help="default: the provider's default model")
    agent.add_argument("--description", default="")
    agent.add_argument("--template", default="template.yaml")
    agent.set_defaults(handler=handler(cmd_new_agent))
