"""Cost of a model call from the price table in prices.json (data, not code). Standard library
only at run time, so tests and tools can read it as a file."""

import json
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from agent_core.messages import Usage

PRICES_FILE = Path(__file__).with_name("prices.json")


@cache
def _data() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(PRICES_FILE.read_text())
    return data


def _table() -> dict[str, dict[str, Any]]:
    return {k: v for k, v in _data().items() if not k.startswith("_")}


def transition_price_usd() -> float:
    """USD per Standard state transition (the loop hands it to its run's receipt)."""
    return float(_data()["_step_functions"]["standard_transition_per_million"]) / 1_000_000


def price_for(model: str) -> dict[str, Any] | None:
    table = _table()
    if model in table:
        return table[model]
    prefixes = [k for k in table if k.endswith("*") and model.startswith(k[:-1])]
    return table[max(prefixes, key=len)] if prefixes else None


def cost_usd(model: str, usage: "Usage") -> float | None:
    """USD for one call, or None when the model has no price in the table."""
    price = price_for(model)
    if price is None:
        return None
    uncached_input = usage["input_tokens"]
    total = (
        uncached_input * price["input"]
        + usage["output_tokens"] * price["output"]
        + usage["cache_read_input_tokens"] * price.get("cache_read", price["input"])
        + usage["cache_creation_input_tokens"] * price.get("cache_write", price["input"])
    )
    return round(total / 1_000_000, 8)
