"""`sfn-agents new tool` + `new agent` in a scratch copy of the project, as a user runs them: the
template still validates, the tool's own tests pass, `invoke` answers its example event and a
scripted `run` of the new agent calls it.

Python runs in `make test`; `make scaffold-check` runs every language (SCAFFOLD_LANGUAGES)."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from sfn_agents.launchers import java_home

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent  # sfn-agents, sam and pytest, installed by `make install`
LANGUAGES = os.environ.get("SCAFFOLD_LANGUAGES", "python").split(",")
TOOL, AGENT, LOGICAL_ID = "word_stats", "word-agent", "WordStatsToolFunction"
EXAMPLE = "Step Functions runs the agent loop; each tool is one Lambda function."
TOOL_TESTS = {  # as mk/tools.mk's tools-test runs them
    "python": [str(BIN / "pytest"), "-q", "-p", "no:cacheprovider", "."],
    "typescript": ["sh", "-c", "npm install --no-audit --no-fund && npm test"],
    "rust": [
        "sh",
        "-c",
        "cargo fmt --check && cargo clippy --all-targets --locked -- -D warnings"
        " && cargo test --locked",
    ],
    "java": ["mvn", "-q", "-B", "test"],
    "go": ["sh", "-c", 'test -z "$(gofmt -l .)" && go vet ./... && go test ./...'],
}
SCRIPT = f"events/{AGENT}-example.script.json"
CODE = f"functions/tools/{TOOL}"
PIPES = {"stdout": subprocess.PIPE, "stderr": subprocess.STDOUT, "text": True}


def scratch_copy(target: Path) -> Path:
    """The project's files as a fresh clone has them (tracked and new, nothing ignored)."""
    files = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        check=True,
    ).stdout.split(b"\0")
    for name in filter(None, files):
        source = ROOT / name.decode()
        if source.is_file():
            (target / name.decode()).parent.mkdir(parents=True, exist_ok=True)
            (target / name.decode()).write_bytes(source.read_bytes())
    if (ROOT / ".tools").is_dir():  # what `make tools-install` installed (Node's runtime client)
        (target / ".tools").symlink_to(ROOT / ".tools")
    return target


def sfn_agents(project: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BIN / "sfn-agents"), *args], cwd=project, capture_output=True, text=True
    )


def environment() -> dict[str, str]:
    env = {**os.environ, "SAM_CLI_TELEMETRY": "0", "PATH": f"{BIN}:{os.environ['PATH']}"}
    env.pop("SFN_AGENTS_ENDPOINT", None)
    env.pop("ANTHROPIC_API_KEY", None)  # the scripted model answers
    return env


@pytest.mark.parametrize("language", LANGUAGES)
def test_a_new_tool_and_agent_work_right_away(language, tmp_path):
    project = scratch_copy(tmp_path)

    created = sfn_agents(project, "new", "tool", TOOL, "--language", language)
    assert created.returncode == 0, created.stderr
    assert f"functions/tools/{TOOL}" in created.stdout
    assert f"sfn-agents invoke {LOGICAL_ID} -e events/{LOGICAL_ID}-example.json" in created.stdout
    agent = sfn_agents(project, "new", "agent", AGENT, "--tools", TOOL)
    assert agent.returncode == 0, agent.stderr
    assert f"registry/agents/{AGENT}.json" in agent.stdout

    env = environment()
    if language == "java":
        env["JAVA_HOME"] = java_home()
    # The slow steps run side by side.
    steps = {
        "validate": subprocess.Popen(
            [str(BIN / "sam"), "validate", "--lint"], cwd=project, env=env, **PIPES
        ),
        "tool tests": subprocess.Popen(
            TOOL_TESTS[language], cwd=project / "functions/tools" / TOOL, env=env, **PIPES
        ),
        "generated": subprocess.Popen(
            [str(BIN / "sfn-agents"), "generate", "--check"], cwd=project, env=env, **PIPES
        ),
    }
    if language == "python":  # as `make lint` and `make typecheck` check it
        lint = f"{BIN}/ruff check {CODE} && {BIN}/ruff format --check {CODE} && "
        lint += f"MYPYPATH={CODE} {BIN}/mypy {CODE}/{TOOL}_tool && "
        lint += f"{BIN}/pytest -q -p no:cacheprovider tests/unit/test_function_packages.py"
        steps["lint"] = subprocess.Popen(["sh", "-c", lint], cwd=project, env=env, **PIPES)
    outputs = {name: step.communicate(timeout=900) for name, step in steps.items()}
    for name, step in steps.items():
        assert step.returncode == 0, f"{name}: {outputs[name]}"

    # invoke builds the tool first when it is not Python, so the scripted run finds it built.
    invoked = subprocess.run(
        [str(BIN / "sfn-agents"), "invoke", LOGICAL_ID, "-e", f"events/{LOGICAL_ID}-example.json"],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert invoked.returncode == 0, invoked.stderr
    result = json.loads(invoked.stdout)
    assert result["is_error"] is False, result
    assert json.loads(result["content"]) == {"words": 12, "characters": len(EXAMPLE)}

    run = subprocess.run(
        [str(BIN / "sfn-agents"), "run", AGENT, "Count the words", "--json", "--script", SCRIPT],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert run.returncode == 0, run.stderr
    output = json.loads(run.stdout)
    assert output["status"] == "SUCCEEDED", output
    # The scripted model's answer quotes the tool result it got back.
    answer = output["output"]["answer"]
    assert answer == f'{TOOL} answered: {{"words": 12, "characters": {len(EXAMPLE)}}}'


def test_clashing_and_invalid_names_are_refused(tmp_path):
    project = scratch_copy(tmp_path)
    before = (project / "template.yaml").read_text()
    cases = [
        (["new", "tool", "execute_sql_query", "--language", "go"], "exists already"),
        (["new", "tool", "WordStats", "--language", "python"], "invalid tool name"),
        (["new", "tool", "earthquake", "--language", "rust"], "a resource EarthquakeToolFunction"),
        (["new", "agent", "sql-agent", "--tools", "get_db_schema"], "exists already"),
        (["new", "agent", "Bad_Agent", "--tools", "get_db_schema"], "invalid agent name"),
        (["new", "agent", "new-agent", "--tools", "no_such_tool"], "no spec in registry/tools"),
        (["new", "agent", "new-agent", "--tools", "get_db_schema", "--provider", "x"], "provider"),
    ]
    for args, reason in cases:
        refused = sfn_agents(project, *args)
        assert refused.returncode == 2, (args, refused.stdout, refused.stderr)
        assert reason in refused.stderr and refused.stderr.count("\n") == 1, refused.stderr
    assert (project / "template.yaml").read_text() == before
    assert not (project / "registry/agents/new-agent.json").exists()
