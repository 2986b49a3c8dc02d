"""Tool prepare_price_csv: writes simulated daily prices for some symbols as a CSV to the artifact
bucket and returns its S3 reference, so a tool in another language can read the data without it
passing through the state machine."""

import hashlib
import os
import re
from dataclasses import dataclass
from datetime import date
from functools import partial
from typing import Any

import boto3
from agent_core.observability import observed
from agent_core.settings import Settings, env, per_environment
from agent_core.tools import ToolError, dispatch
from aws_lambda_powertools.utilities.typing import LambdaContext

from market_data_tool.prices import price_csv

SYMBOL = re.compile(r"^[A-Z][A-Z0-9.]{0,9}$")


@dataclass(frozen=True, kw_only=True)
class MarketDataSettings(Settings):
    artifact_bucket: str = env("ARTIFACT_BUCKET")


@per_environment
def s3() -> Any:
    return boto3.client("s3", endpoint_url=os.environ.get("AWS_ENDPOINT_URL_S3") or None)


def prepare_price_csv(tool_input: dict[str, Any], bucket: str) -> dict[str, Any]:
    symbols = tool_input.get("symbols")
    if not isinstance(symbols, list) or not 1 <= len(symbols) <= 10:
        raise ToolError("symbols must be a list of 1 to 10 ticker symbols, e.g. ['ACME', 'GLOBX']")
    bad = [s for s in symbols if not isinstance(s, str) or not SYMBOL.match(s)]
    if bad:
        raise ToolError(f"not ticker symbols (A-Z, digits, '.', up to 10 chars): {bad}")
    days = tool_input.get("days", 120)
    if not isinstance(days, int) or not 20 <= days <= 1000:
        raise ToolError("days must be an integer from 20 to 1000")
    try:
        start = date.fromisoformat(tool_input.get("start_date", "2024-01-02"))
    except (TypeError, ValueError):
        raise ToolError("start_date must be YYYY-MM-DD") from None
    seed = tool_input.get("seed", 0)
    if not isinstance(seed, int):
        raise ToolError("seed must be an integer")
    body = price_csv(symbols, days, start, seed)
    key = f"datasets/prices/{hashlib.sha256(body.encode()).hexdigest()[:16]}.csv"
    s3().put_object(Bucket=bucket, Key=key, Body=body.encode(), ContentType="text/csv")
    return {
        "bucket": bucket,
        "key": key,
        "symbols": symbols,
        "rows": days * len(symbols),
        "columns": ["date", "symbol", "close"],
        "note": "simulated prices, not market data",
    }


@observed
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    bucket = MarketDataSettings.from_env().artifact_bucket  # a bad setting fails the invocation
    return dispatch(event, {"prepare_price_csv": partial(prepare_price_csv, bucket=bucket)})
