"""Every item of a DynamoDB scan, page after page (a scan returns at most 1 MB per call)."""

from collections.abc import Callable
from typing import Any


def scanned(scan: Callable[..., dict[str, Any]], **arguments: Any) -> list[dict[str, Any]]:
    """``scan`` is a table resource's or a client's ``scan``; ``arguments`` are its own."""
    items: list[dict[str, Any]] = []
    while True:
        page = scan(**arguments)
        items.extend(page["Items"])
        if "LastEvaluatedKey" not in page:
            return items
        arguments["ExclusiveStartKey"] = page["LastEvaluatedKey"]
