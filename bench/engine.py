"""The local engine's own cost, side by side in one run, as ratios to a bare-Python floor.

- floor: a fresh Python that imports boto3 and moto's server and creates one client;
- `sfn-agents invoke SqlToolFunction` and the scripted demo run (`make demo` offline), whole
  processes, as a user starts them (the demo also with SFN_AGENTS_FORK_SERVER=off, its Python
  functions' processes not forked from one server), and `local start` until it prints its
  endpoint, both ways; and a Python that imports the Anthropic SDK, which the demo's
  LLM function does (its process cannot be ready sooner);
- scripted SQL-agent runs of 10, 20, 100 and 200 turns whose tool turns return ~10 KB each, in one
  warm engine (median seconds, and seconds per turn, whole and without the scripted model's time
  answering, the loop's own cost, which should stay flat);
- 50 concurrent runs through one endpoint, each answering from its own prompt (all must succeed
  with their own answer);
- Step Functions read calls per second while the CLI's follower follows a 20-turn run, with the
  local and the AWS pacing, and with the AWS pacing while the model takes 0.5 s a turn
  (bench/follow_calls.py).

Prints a table; writes bench/results/engine.json. Usage: python bench/engine.py [--repeats N]
"""

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from follow_calls import PACINGS, follow
from scripted_engine import ROOT, raise_turn_limit, scripted_engine, write_results

from sfn_agents.engine import LocalEngine
from sfn_agents.runner import RunResult, run_execution
from sfn_agents.scripted import ScriptedServer

BIN = Path(sys.executable).parent
TEN_KB_QUERY = "SELECT * FROM batting ORDER BY player_id, year LIMIT 195"
FLOOR = "import boto3, moto.server; boto3.client('s3', region_name='us-east-1')"
COMMANDS = {
    "floor": [sys.executable, "-c", FLOOR],
    # What the demo cannot go below: its Anthropic function's process imports the SDK.
    "import_anthropic": [sys.executable, "-c", "import anthropic"],
    "invoke": [
        str(BIN / "sfn-agents"),
        "invoke",
        "SqlToolFunction",
        "-e",
        "events/SqlToolFunction-query.json",
    ],
    "demo_run": [
        str(BIN / "sfn-agents"),
        "run",
        "sql-agent",
        "Which team won the most games in 2024, and who hit the most home runs that season?",
        "--script",
        "events/sql-agent-demo.script.json",
    ],
}
# The same demo run with each Python function's process started on its own, not forked from the
# fork server (see sfn_agents.preload).
COMMANDS["demo_run_unforked"] = COMMANDS["demo_run"]
UNFORKED = {"SFN_AGENTS_FORK_SERVER": "off"}
LOCAL_START = [str(BIN / "sfn-agents"), "local", "start", "--port", "0", "--api-port", "0"]


def whole_process_seconds(repeats: int) -> dict[str, list[float]]:
    """Each command `repeats` times, interleaved so that machine noise hits all of them alike."""
    times: dict[str, list[float]] = {name: [] for name in COMMANDS}
    for _ in range(repeats):
        for name, command in COMMANDS.items():
            env = {**os.environ, **(UNFORKED if name.endswith("_unforked") else {})}
            started = time.perf_counter()
            done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True)
            times[name].append(time.perf_counter() - started)
            if done.returncode != 0:
                raise SystemExit(f"{name} failed ({done.returncode}): {done.stderr[-2000:]}")
    return times


def local_start_seconds(repeats: int) -> dict[str, list[float]]:
    """Seconds until `local start` prints its endpoint (the whole template deployed), with and
    without the fork server, interleaved."""
    times: dict[str, list[float]] = {"forked": [], "unforked": []}
    for _ in range(repeats):
        for name, extra in (("forked", {}), ("unforked", UNFORKED)):
            started = time.perf_counter()
            with subprocess.Popen(
                LOCAL_START,
                cwd=ROOT,
                env={**os.environ, **extra},
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
            ) as engine:
                assert engine.stdout is not None
                first = engine.stdout.readline()
                times[name].append(time.perf_counter() - started)
                engine.send_signal(signal.SIGINT)
                engine.communicate(timeout=60)
            if not first.startswith("sfn-agents local engine on"):
                raise SystemExit(f"local start failed: {first}")
    return times


def long_run_script(turns: int) -> dict[str, Any]:
    tool_turn = {
        "tool_calls": [{"name": "execute_sql_query", "input": {"sql_query": TEN_KB_QUERY}}]
    }
    return {"turns": [*[tool_turn] * (turns - 1), {"text": "done"}]}


def run(engine: LocalEngine, prompt: str, **extra: Any) -> RunResult:
    return run_execution(
        engine.client("stepfunctions"),
        engine.state_machine_for("sql-agent"),
        {"prompt": prompt, "provider": "anthropic", **extra},
    )


def turn_costs(engine: LocalEngine, fake: ScriptedServer, repeats: int) -> dict[str, Any]:
    figures: dict[str, Any] = {}
    for turns in (10, 20, 100, 200):
        durations, loop_shares = [], []
        for _ in range(repeats if turns <= 20 else 1):
            fake.play(long_run_script(turns))
            result = run(engine, "benchmark", max_turns=turns)
            if result.status != "SUCCEEDED" or (result.output or {}).get("turns") != turns:
                raise SystemExit(f"{turns}-turn run: {result.status} {result.error} {result.cause}")
            durations.append(result.duration_seconds)
            loop_shares.append(result.duration_seconds - fake.busy_seconds)
        seconds = statistics.median(durations)
        figures[f"{turns}_turns"] = {
            "seconds": seconds,
            "seconds_per_turn": seconds / turns,
            # Without the scripted model's time answering: its requests grow with the context up
            # to the model's budget (~500 KB here), as a real provider's would.
            "loop_seconds_per_turn": statistics.median(loop_shares) / turns,
        }
    return figures


def concurrent_runs(engine: LocalEngine, fake: ScriptedServer, count: int) -> dict[str, Any]:
    fake.play({"turns": [{"text": "answer to {{ $string(messages[0].content) }}"}]})
    prompts = [f"question {n} {uuid.uuid4().hex[:8]}" for n in range(count)]
    started = time.perf_counter()
    with ThreadPoolExecutor(count) as pool:
        results = list(pool.map(lambda prompt: run(engine, prompt), prompts))
    seconds = time.perf_counter() - started
    correct = sum(
        1
        for prompt, result in zip(prompts, results, strict=True)
        if result.status == "SUCCEEDED"
        and prompt in json.dumps(result.output)
        and not any(p in json.dumps(result.output) for p in prompts if p != prompt)
    )
    return {"runs": count, "correct": correct, "seconds": seconds}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    processes = whole_process_seconds(args.repeats)
    starts = local_start_seconds(args.repeats)
    with scripted_engine(only=["sql-agent"]) as (engine, fake):
        run(engine, "warm-up")  # cold starts out of the figures
        raise_turn_limit(engine, 200)
        turns = turn_costs(engine, fake, args.repeats)
        concurrent = concurrent_runs(engine, fake, 50)
        following = {pacing: follow(engine, fake, pacing) for pacing in PACINGS}

    floor = statistics.median(processes["floor"])
    figures = {
        "floor_seconds": floor,
        "whole_process_seconds": {k: statistics.median(v) for k, v in processes.items()},
        "whole_process_all": processes,
        "local_start_seconds": {k: statistics.median(v) for k, v in starts.items()},
        "local_start_all": starts,
        "turns": turns,
        "concurrent": concurrent,
        "follow_calls": following,
    }
    rows = [
        ("bare Python floor", floor),
        ("sfn-agents invoke (whole process)", figures["whole_process_seconds"]["invoke"]),
        ("scripted demo run (whole process)", figures["whole_process_seconds"]["demo_run"]),
        (
            "  the same, functions not forked",
            figures["whole_process_seconds"]["demo_run_unforked"],
        ),
        ("local start until its endpoint line", figures["local_start_seconds"]["forked"]),
        ("  the same, functions not forked", figures["local_start_seconds"]["unforked"]),
        (
            "python -c 'import anthropic' (demo lower bound)",
            figures["whole_process_seconds"]["import_anthropic"],
        ),
        *[(f"{n}-turn run, 10 KB results", turns[f"{n}_turns"]["seconds"]) for n in (10, 20)],
        *[(f"{n}-turn run, 10 KB results", turns[f"{n}_turns"]["seconds"]) for n in (100, 200)],
        (f"50 concurrent runs ({concurrent['correct']}/50 correct)", concurrent["seconds"]),
    ]
    print(f"{'':44} {'seconds':>8} {'x floor':>8}")
    for name, seconds in rows:
        print(f"{name:44} {seconds:8.2f} {seconds / floor:8.2f}")
    print(
        "Step Functions reads/s while following a 20-turn run, by pacing: "
        + ", ".join(
            f"{p} {f['reads_per_second']} ({f['seconds']} s; {f['most_reads_in_one_second']} in"
            " the busiest second)"
            for p, f in following.items()
        )
    )
    for label, key in (("", "seconds_per_turn"), (" without the model's", "loop_seconds_per_turn")):
        per_turn = ", ".join(f"{n}: {turns[f'{n}_turns'][key]:.3f}" for n in (10, 20, 100, 200))
        print(f"seconds per turn{label}: {per_turn}")
    write_results("engine", figures)


if __name__ == "__main__":
    main()
