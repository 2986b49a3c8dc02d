"""The LLM functions' per-turn history work: checking the messages and fitting the request into
max_input_tokens 30,000, with ~14 KB tool results, at 10, 50 and 200 turns.

A warm function keeps the conversation's message objects from turn to turn; each turn adds the
tool results and the model's reply. For each length it reports the median fit+check
milliseconds of the last five turns of three runs, for this tree and, side by side, for the same
functions at ``--before`` (a git revision, default BEFORE: the last commit whose functions
serialised and checked the whole history every turn). Writes bench/results/context_fit.json.
Usage: python bench/context_fit.py [--turns 10 50 200] [--before REVISION]
"""

import argparse
import importlib.util
import statistics
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

from scripted_engine import ROOT, write_results

from sfn_agents.history import LAYER
from sfn_agents.python_runtime import add_to_path

add_to_path([LAYER])
from agent_core import context, messages  # noqa: E402  (the layer, as the functions import it)

BUDGET = 30_000
RESULT = "0" * 14_000
TOOLS = [{"name": "execute_sql_query", "description": "Run SQL.", "input_schema": {}}]
BEFORE = "9ea20e5368ae"


def module_at(revision: str, name: str, into: Path) -> Any:
    """agent_core.<name> as it was at ``revision`` (its own imports resolve to today's package:
    errors and types only)."""
    path = into / f"{name}_at_{revision}.py"
    path.write_bytes(
        subprocess.run(
            ["git", "show", f"{revision}:layers/agent_core/agent_core/{name}.py"],
            cwd=ROOT,
            check=True,
            capture_output=True,
        ).stdout
    )
    spec = importlib.util.spec_from_file_location(path.stem, path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def last_turns_ms(turns: int, step: Any) -> list[float]:
    """The ms of ``step(history, new)`` in the last five of ``turns`` turns."""
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
    return timings[-5:]


def turn_ms(turns: int, step: Any) -> float:
    return statistics.median(t for _ in range(3) for t in last_turns_ms(turns, step))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--turns", type=int, nargs="+", default=[10, 50, 200])
    parser.add_argument("--before", default=BEFORE)
    args = parser.parse_args()

    def after(history: list, new: list) -> None:
        checked = history + messages.check_messages(new, follows=history)
        context.fit("", TOOLS, checked, BUDGET)

    with tempfile.TemporaryDirectory() as tmp:
        old_messages = module_at(args.before, "messages", Path(tmp))
        old_context = module_at(args.before, "context", Path(tmp))

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
