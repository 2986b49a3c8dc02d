"""The LLM functions' per-turn history work: checking the messages and fitting the request into
max_input_tokens 30,000, with ~14 KB tool results, at 10, 50 and 200 turns.

A warm function keeps the conversation's message objects from turn to turn; each turn adds the
tool results and the model's reply. For each length it reports the median fit+check milliseconds
of the last five turns, for this tree and, side by side, for the same functions at ``--before``
(a git revision, default BEFORE: the last commit whose functions serialised and checked the
whole history every turn). Writes bench/results/context_fit.json.
Usage: python bench/context_fit.py [--turns 10 50 200] [--before REVISION]
"""

import argparse
import statistics
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

from scripted_engine import ROOT, write_results

from sfn_agents.history import LAYER
from sfn_agents.python_runtime import import_isolated

BUDGET = 30_000
RESULT = "0" * 14_000
TOOLS = [{"name": "execute_sql_query", "description": "Run SQL.", "input_schema": {}}]
BEFORE = "9ea20e5368ae"
MODULES = ("__init__", "errors", "messages", "context")


def modules_at(revision: str, into: Path) -> tuple[Any, Any]:
    package = into / "agent_core"
    package.mkdir()
    for name in MODULES:
        path = f"layers/agent_core/agent_core/{name}.py"
        text = subprocess.run(
            ["git", "show", f"{revision}:{path}"], cwd=ROOT, check=True, capture_output=True
        ).stdout
        (package / f"{name}.py").write_bytes(text)
    (package / "context_windows.json").write_bytes(
        (LAYER / "agent_core/context_windows.json").read_bytes()
    )
    return import_isolated("agent_core.messages", [into]), import_isolated(
        "agent_core.context", [into]
    )


def turn_ms(turns: int, step: Any) -> float:
    """Median ms of ``step(history, new)`` over the last five of ``turns`` turns."""
    history: list[dict] = []
    new: list[dict] = [{"role": "user", "content": [{"type": "text", "text": "benchmark"}]}]
    timings = []
    for turn in range(turns):
        start = time.perf_counter()
        step(history, new)
        timings.append((time.perf_counter() - start) * 1000)
        use = {"type": "tool_use", "id": f"t{turn}", "name": "execute_sql_query", "input": {}}
        history = [*history, *new, {"role": "assistant", "content": [use]}]
        new = [
            {
                "role": "user",
                "content": [{"type": "tool_result", "tool_use_id": f"t{turn}", "content": RESULT}],
            }
        ]
    return statistics.median(timings[-5:])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--turns", type=int, nargs="+", default=[10, 50, 200])
    parser.add_argument("--before", default=BEFORE)
    args = parser.parse_args()
    messages = import_isolated("agent_core.messages", [LAYER])
    context = import_isolated("agent_core.context", [LAYER])

    def after(history: list, new: list) -> None:
        checked = history + messages.check_messages(new, follows=history)
        context.fit("", TOOLS, checked, BUDGET)

    with tempfile.TemporaryDirectory() as tmp:
        old_messages, old_context = modules_at(args.before, Path(tmp))

    def before(history: list, new: list) -> None:
        old_context.fit("", TOOLS, old_messages.check_messages(history + new), BUDGET)

    figures = []
    for turns in args.turns:
        row = {
            "turns": turns,
            "before_ms": turn_ms(turns, before),
            "after_ms": turn_ms(turns, after),
        }
        row = {k: round(v, 3) for k, v in row.items()} | {"turns": turns}
        row["ratio"] = round(row["before_ms"] / row["after_ms"], 1)
        print(
            f"{turns:4d} turns: fit+check {row['before_ms']:7.3f} ms at {args.before}, "
            f"{row['after_ms']:7.3f} ms now ({row['ratio']}x)"
        )
        figures.append(row)
    write_results("context_fit", figures)


if __name__ == "__main__":
    main()
