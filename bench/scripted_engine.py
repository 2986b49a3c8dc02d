"""What the bench scripts share: a local engine whose Anthropic function talks to the strict
scripted fake, and where figures are written."""

import json
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sfn_agents.engine import LocalEngine
from sfn_agents.scripted import ScriptedServer

ROOT = Path(__file__).resolve().parents[1]


@contextmanager
def scripted_engine(
    only: Iterable[str] | None = None,
) -> Iterator[tuple[LocalEngine, ScriptedServer]]:
    """The template deployed (or only what ``only`` needs), the Anthropic function pointed at a
    scripted fake that answers "warm-up" until a bench plays its script."""
    with (
        ScriptedServer("anthropic", {"turns": [{"text": "warm-up"}]}) as fake,
        LocalEngine() as engine,
    ):
        engine.deploy(
            ROOT / "template.yaml",
            function_env={"AnthropicLlmFunction": {"ANTHROPIC_BASE_URL": fake.url}},
            secret_values={"ANTHROPIC_API_KEY": "bench"},
            only=only,
        )
        yield engine, fake


def write_results(name: str, figures: Any) -> None:
    """bench/results/<name>.json."""
    out = ROOT / "bench" / "results"
    out.mkdir(exist_ok=True)
    (out / f"{name}.json").write_text(json.dumps(figures, indent=2))


def raise_turn_limit(engine: LocalEngine, turns: int) -> None:
    """A spec change: the SQL agent may run `turns` turns."""
    dynamodb = engine.client("dynamodb")
    table = engine.resolver.refs["AgentRegistryTable"]
    key = {"agent_name": {"S": "sql-agent"}, "version": {"S": "1"}}
    item = dynamodb.get_item(TableName=table, Key=key)["Item"]
    spec = json.loads(item["spec"]["S"])
    spec["limits"].update(max_turns=turns, max_total_tokens=10**9)
    dynamodb.put_item(TableName=table, Item={**item, "spec": {"S": json.dumps(spec)}})
