"""`sfn-agents chat` and `run --session` as a user runs them: a fresh process per command."""

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = {
    "turns": [
        {"tool_calls": [{"name": "execute_sql_query", "input": {"sql_query": "SELECT 30"}}]},
        {"text": "There are {{ results[0].rows[0][0] }} teams."},
        {"text": "You asked before: {{ messages[0].content[0].text }}"},
    ]
}


def chat(tmp_path: Path, lines: str, *args: str) -> subprocess.CompletedProcess[str]:
    script = tmp_path / "script.json"
    script.write_text(json.dumps(SCRIPT))
    command = ["chat", "sql-agent", "--script", str(script), *args]
    return subprocess.run(
        [sys.executable, "-m", "sfn_agents.cli", *command],
        input=lines,
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=300,
    )


def test_a_two_question_chat_remembers_the_first_question(tmp_path):
    done = chat(tmp_path, "How many teams?\nWhat did I ask before?\n", "--session", "c1")

    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("session c1 with sql-agent")
    assert "There are 30 teams." in done.stdout
    assert "You asked before: How many teams?" in done.stdout
    assert done.stdout.count("status SUCCEEDED") == 2


def test_new_starts_a_fresh_session(tmp_path):
    done = chat(tmp_path, "How many teams?\n/new\nWhat did I ask before?\n")

    assert done.returncode == 0, done.stderr
    # A fresh session starts the script again: its first turn is a tool call, not the recollection.
    assert "You asked before" not in done.stdout
    assert done.stdout.count("→ execute_sql_query") == 2
