"""Long conversations in the local engine: 10, 50 and 200 turns with ~14 KB tool results under
max_input_tokens 30,000.

For each length it reports: S3 bytes the conversation store wrote per turn (median and largest
turn object), the largest request the model got, wall time per turn (median of the first and of
the last ten turns, from the execution history), and the run's cost from the price table, with
the strict Anthropic fake simulating prompt caching and, for comparison, the same tokens priced
as if nothing were cached. Writes bench/results/conversation.json.
Usage: python bench/conversation.py [--turns 10 50 200]
"""

import argparse
import itertools
import json
import statistics

from scripted_engine import ROOT, raise_turn_limit, scripted_engine, write_results

from sfn_agents.engine import LocalEngine
from sfn_agents.runner import run_execution
from sfn_agents.scripted import ScriptedServer

QUERY = {
    "name": "execute_sql_query",
    "input": {"sql_query": "SELECT substr(hex(zeroblob(7001)), 1, 14000)"},
}
PRICES = json.loads((ROOT / "layers/agent_core/agent_core/prices.json").read_text())
MODEL_PRICE = PRICES["claude-sonnet-5*"]  # the Anthropic function's default model


def per_turn_seconds(events: list[dict]) -> list[float]:
    entered = [
        e["timestamp"]
        for e in events
        if e["type"] == "TaskStateEntered" and e["stateEnteredEventDetails"]["name"] == "CallModel"
    ]
    return [(b - a).total_seconds() for a, b in itertools.pairwise(entered)]


def measure(engine: LocalEngine, fake: ScriptedServer, turns: int) -> dict:
    fake.play({"turns": [{"tool_calls": [QUERY]}] * (turns - 1) + [{"text": "done"}]})
    result = run_execution(
        engine.client("stepfunctions"),
        engine.state_machine_for("sql-agent"),
        {"prompt": "benchmark", "max_turns": turns, "max_input_tokens": 30_000},
        timeout_seconds=1800,
    )
    if result.status != "SUCCEEDED":
        raise SystemExit(f"{turns}-turn run failed: {result.error}: {result.cause}")
    output = result.output or {}
    ref = output["conversation"]
    s3 = engine.client("s3")
    folder = ref["key"].rsplit("/", 1)[0] + "/"
    sizes = [
        item["Size"]
        for page in s3.get_paginator("list_objects_v2").paginate(
            Bucket=ref["bucket"], Prefix=folder
        )
        for item in page.get("Contents", [])
    ]
    usage = output["usage"]
    all_input = (
        usage["input_tokens"]
        + usage["cache_read_input_tokens"]
        + usage["cache_creation_input_tokens"]
    )
    without_cache = (
        all_input * MODEL_PRICE["input"] + usage["output_tokens"] * MODEL_PRICE["output"]
    ) / 1e6
    seconds = per_turn_seconds(result.events)
    return {
        "turns": output["turns"],
        "s3_bytes_per_turn_median": int(statistics.median(sizes)),
        "s3_bytes_per_turn_max": max(sizes),
        "largest_request_bytes": max(len(json.dumps(r)) for r in fake.requests),
        "seconds_per_turn_first_10_median": round(statistics.median(seconds[:10]), 3),
        "seconds_per_turn_last_10_median": round(statistics.median(seconds[-10:]), 3),
        "run_seconds": round(result.duration_seconds, 1),
        "cost_usd_with_caching": round(usage["cost_usd"], 4),
        "cost_usd_without_caching": round(without_cache, 4),
        "cache_read_input_tokens": usage["cache_read_input_tokens"],
        "uncached_input_tokens": usage["input_tokens"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--turns", type=int, nargs="+", default=[10, 50, 200])
    args = parser.parse_args()
    with scripted_engine() as (engine, fake):
        measure(engine, fake, 2)  # cold starts out of the figures; deploys the agent
        raise_turn_limit(engine, max(args.turns))
        figures = {str(turns): measure(engine, fake, turns) for turns in args.turns}
    write_results("conversation", figures)
    print(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
