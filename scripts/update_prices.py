"""Refresh layers/agent_core/agent_core/prices.json from genai-prices, the maintained price data
set published on PyPI (https://github.com/pydantic/genai-prices).

Each entry with a ``lookup`` ("provider/model" in genai-prices) gets its input, output, cache-read
and cache-write prices (USD per million tokens), today's date and a source note; entries without
one (models genai-prices does not list) keep their hand-entered prices and notes. Run it, review
the diff, commit: `python scripts/update_prices.py`."""

import datetime
import json
from importlib.metadata import version
from pathlib import Path

from genai_prices import data_snapshot

PRICES = Path(__file__).resolve().parents[1] / "layers/agent_core/agent_core/prices.json"
FIELDS = {
    "input": "input_mtok",
    "output": "output_mtok",
    "cache_read": "cache_read_mtok",
    "cache_write": "cache_write_mtok",
}


def _base_price(model_prices):
    """The unconditional price (genai-prices may add time-of-day or tiered variants)."""
    if isinstance(model_prices, list):
        model_prices = next(p.prices for p in model_prices if p.constraint is None)
    return model_prices


def _number(value) -> float:
    return float(getattr(value, "base", value) or 0)


def main() -> None:
    table = json.loads(PRICES.read_text())
    snapshot = data_snapshot.get_snapshot()
    today = datetime.date.today().isoformat()
    note = f"genai-prices {version('genai-prices')}"
    for key, entry in table.items():
        if key.startswith("_") or not entry.get("lookup"):
            continue
        provider_id, _, model_id = entry["lookup"].partition("/")
        _, model = snapshot.find_provider_model(model_id, None, provider_id, None)
        price = _base_price(model.prices)
        values = {field: _number(getattr(price, name, None)) for field, name in FIELDS.items()}
        if not values["cache_read"]:  # no cache discount listed: cached tokens bill as input
            values["cache_read"] = values["input"]
        if not values["cache_write"]:
            values["cache_write"] = values["input"]
        entry.update(values, date=today, source=f"{note}: {provider_id}/{model.id}")
    PRICES.write_text(json.dumps(table, indent=1) + "\n")


if __name__ == "__main__":
    main()
