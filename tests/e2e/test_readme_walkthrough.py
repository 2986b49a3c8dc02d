"""The README's approval walkthrough, run as written in three "terminals" (processes) on a machine
that has never seen AWS: no AWS variables and an empty HOME. Only the ports differ (free ones the
engine picks, `--port 0 --api-port 0`, then in SFN_AGENTS_ENDPOINT), so the test never collides
with a running engine."""

import re
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from test_local_endpoint import ENGINE_LINE, FREE_PORTS, read_until

from sfn_agents import DEFAULT_PORT

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
README_PORT = str(DEFAULT_PORT)
CALL_ID = re.compile(r"#\w{6}\b")


def walkthrough() -> tuple[list[tuple[str, str, list[str]]], list[str]]:
    """The README block with the approval demo: its commands as (terminal, command, output lines
    shown under it), and the lines shown where terminal 2 "carries on" after the approval."""
    text = (ROOT / "README.md").read_text()
    start = text.index("sfn-agents local start --script events/sql-approval-demo.script.json")
    block = text[text.rindex("```bash", 0, start) : text.index("```", start)]
    steps: list[tuple[str, str, list[str]]] = []
    carried_on: list[str] = []
    terminal, shown_here = "", carried_on
    for line in block.splitlines()[1:]:
        if line.startswith("# terminal"):
            terminal = " ".join(line.removeprefix("# ").split()[:2]).rstrip(":")
            shown_here = carried_on if "carries on" in line else []
        elif line.startswith("#   "):
            shown_here.append(line.removeprefix("#").strip())
        elif line.strip():
            shown_here = []
            steps.append((terminal, line.split("  #")[0].strip(), shown_here))
    return steps, carried_on


def shown(expected: str, actual: list[str]) -> bool:
    """Whether an expected README line is in the output (``…`` ends a prefix; call and approval
    ids are new on every run)."""
    expected = CALL_ID.sub("#ID", expected)
    lines = [CALL_ID.sub("#ID", line.strip()) for line in actual]
    if expected.endswith("…"):
        return any(line.startswith(expected[:-1]) for line in lines)
    return expected in lines


@pytest.fixture(scope="module")
def machine(tmp_path_factory):
    """An environment with nothing of AWS in it."""
    home = tmp_path_factory.mktemp("empty-home")
    return {"PATH": f"{BIN}:/usr/bin:/bin", "HOME": str(home), "LANG": "C.UTF-8"}


class Terminals:
    """Processes started as a person would in several terminals, each with its own exports."""

    def __init__(self, machine: dict[str, str]) -> None:
        self.machine, self.port = machine, ""  # the engine's, once it has started
        self.env: dict[str, dict[str, str]] = {}
        self.background: dict[str, subprocess.Popen] = {}
        self.lines: dict[str, list[str]] = {}

    def export(self, terminal: str, assignment: str) -> None:
        name, _, value = assignment.partition("=")
        assert self.port or README_PORT not in value, "an export of the engine's address before it"
        self.env.setdefault(terminal, dict(self.machine))[name] = value.replace(
            README_PORT, self.port
        )

    def start(self, terminal: str, argv: list[str]) -> subprocess.Popen:
        env = self.env.setdefault(terminal, dict(self.machine))
        process = self.background[terminal] = subprocess.Popen(
            argv, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        return process

    def read_until(self, terminal: str, expected: list[str]) -> None:
        process, lines = self.background[terminal], self.lines.setdefault(terminal, [])
        assert process.stdout is not None
        while not all(shown(e, lines) for e in expected):
            line = process.stdout.readline()
            assert line, f"{terminal} ended early: {lines} {process.stderr.read()}"
            lines.append(line.rstrip("\n"))

    def run(self, terminal: str, argv: list[str]) -> list[str]:
        env = self.env.setdefault(terminal, dict(self.machine))
        done = subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
        return done.stdout.splitlines()

    def close(self) -> None:
        for process in self.background.values():
            if process.poll() is None:
                process.send_signal(signal.SIGINT)
                try:
                    process.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    process.kill()


def test_the_approval_walkthrough_works_as_written_without_aws(machine):
    terminals = Terminals(machine)
    approval_id, readme_id = "", "3f9c2a1b5d7e8f60"
    steps, carried_on = walkthrough()
    try:
        for terminal, command, expected in steps:
            if command.startswith("export "):
                terminals.export(terminal, command.removeprefix("export "))
                continue
            argv = shlex.split(command.replace(readme_id, approval_id or readme_id))
            assert argv[0] == "sfn-agents"
            argv[0] = str(BIN / "sfn-agents")
            if argv[1:3] == ["local", "start"]:
                engine = terminals.start("engine", [*argv, *FREE_PORTS])
                url, _ = read_until(engine, ENGINE_LINE)
                terminals.port = url.rsplit(":", 1)[1]
            elif argv[1] == "run":
                terminals.start(terminal, argv)
                terminals.read_until(terminal, expected)
            else:  # a reviewer's command, repeated until it shows what the README shows
                deadline = time.monotonic() + 60
                while True:
                    lines = terminals.run(terminal, argv)
                    if argv[1] == "approvals" and lines and lines[0] != "no pending approvals":
                        approval_id = lines[0].split()[0]
                    got = [line.replace(approval_id or readme_id, readme_id) for line in lines]
                    if all(shown(e, got) for e in expected) or time.monotonic() > deadline:
                        break
                    time.sleep(0.5)
                assert all(shown(e, got) for e in expected), (expected, lines)
        agent = terminals.background["terminal 2"]
        rest, errors = agent.communicate(timeout=120)
        assert agent.returncode == 0, errors
        lines = terminals.lines["terminal 2"] + rest.splitlines()
        assert [e for e in carried_on if not shown(e, lines)] == [], lines
        assert errors == ""
    finally:
        terminals.close()
