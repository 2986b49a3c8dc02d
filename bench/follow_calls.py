"""Step Functions read calls per second while `sfn-agents run` follows a run.

Runs a scripted 20-turn SQL-agent run in the local engine and follows it with the CLI's follower
(runner.follow_execution) through a client that counts every Step Functions call: with the
local pacing, with the pacing used against AWS, and with the AWS pacing again while the model
takes 0.5 s a turn (a real one takes seconds), since the first read comes at once and the last
read's pages are not followed by a wait, which weighs on a run that ends within a second or two.
AWS refills GetExecutionHistory at 20/s and DescribeExecution at 15/s for a whole account; the
goal is under 5 reads/s per followed run, over the whole run and within any one second.
Writes bench/results/follow_calls.json.
Usage: python bench/follow_calls.py
"""

import json
import time
from collections import Counter
from typing import Any

from scripted_engine import scripted_engine, write_results

from sfn_agents.engine import LocalEngine
from sfn_agents.run_events import PollInterval
from sfn_agents.runner import follow_execution, start_execution
from sfn_agents.scripted import ScriptedServer

QUERY = {"name": "execute_sql_query", "input": {"sql_query": "SELECT * FROM teams"}}
SCRIPT = {"turns": [*([{"tool_calls": [QUERY]}] * 19), {"text": "done"}]}
PACINGS = {"local": (True, 0.0), "aws": (False, 0.0), "aws, model 0.5 s": (False, 0.5)}


def counting(sfn: Any) -> tuple[Counter[str], list[float]]:
    """Count the client's Step Functions operations and note when each was made (botocore's
    before-call event)."""
    calls: Counter[str] = Counter()
    times: list[float] = []

    def count(model: Any, **_: Any) -> None:
        calls.update([model.name])
        times.append(time.monotonic())

    sfn.meta.events.register("before-call.sfn.*", count)
    return calls, times


def busiest_second(times: list[float]) -> int:
    """The most calls made within any one second."""
    return max(
        (sum(1 for t in times[i:] if t - start < 1.0) for i, start in enumerate(times)), default=0
    )


def follow(engine: LocalEngine, fake: ScriptedServer, pacing: str) -> dict[str, Any]:
    local, model_seconds = PACINGS[pacing]
    slow = [{"delay_seconds": model_seconds}] * len(SCRIPT["turns"]) if model_seconds else []
    fake.play({**SCRIPT, "faults": slow})
    sfn = engine.client("stepfunctions")
    arn = start_execution(sfn, engine.state_machine_for("sql-agent"), {"prompt": "bench"})
    calls, times = counting(sfn)
    started = time.monotonic()
    interval = PollInterval.for_endpoint(local=local)
    result = follow_execution(sfn, arn, interval=interval)
    seconds = time.monotonic() - started
    reads = sum(calls.values())
    return {
        "status": result.status,
        "events": len(result.events),
        "seconds": round(seconds, 2),
        "read_calls": dict(calls),
        "reads_per_second": round(reads / seconds, 2),
        "most_reads_in_one_second": busiest_second(times),
    }


def main() -> None:
    with scripted_engine() as (engine, fake):
        follow(engine, fake, "local")  # cold starts out of the figures
        figures = {pacing: follow(engine, fake, pacing) for pacing in PACINGS}
    write_results("follow_calls", figures)
    print(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
