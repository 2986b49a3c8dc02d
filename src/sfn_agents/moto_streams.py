"""DynamoDB streams feeding functions (SAM's ``Events: {Type: DynamoDB}``), as Lambda's event
source mappings do: each change of a table reaches each function mapped to its stream once, when
the mapping's FilterCriteria let it through, synchronously with the write (on AWS, soon after).

moto's stream resends every change that the last mapping tried has not taken, so changes written
at once (threads) could each reach a function twice; here a change is delivered on its own.
Filter patterns locally are objects whose leaves are lists of exact values (what the template
uses); any other pattern is refused when the mapping is made."""

import json
from collections.abc import Mapping
from typing import Any

from moto.awslambda.utils import get_backend
from moto.dynamodb.models.dynamo_type import Item
from moto.dynamodb.models.table import StreamRecord, StreamShard


class FilterError(ValueError):
    """A FilterCriteria pattern the engine cannot apply."""


def patterns(filter_criteria: Mapping[str, Any] | None) -> list[dict[str, Any]]:
    """The FilterCriteria's patterns, checked to be what ``matches`` applies."""
    found = []
    for entry in (filter_criteria or {}).get("Filters", []):
        pattern = json.loads(entry["Pattern"])
        _check(pattern, entry["Pattern"])
        found.append(pattern)
    return found


def _check(pattern: Any, text: str) -> None:
    if not isinstance(pattern, dict):
        raise FilterError(f"filter pattern {text}: expected an object")
    for value in pattern.values():
        if isinstance(value, dict):
            _check(value, text)
        elif not isinstance(value, list) or not all(
            isinstance(v, str | int | float) and not isinstance(v, bool) for v in value
        ):
            raise FilterError(
                f"filter pattern {text}: only lists of exact values are supported locally"
            )


def matches(pattern: Mapping[str, Any], record: Mapping[str, Any]) -> bool:
    """Whether a stream record (Lambda's shape) matches one pattern: every key present, each
    leaf's value one of the listed."""
    for key, expected in pattern.items():
        if key not in record:
            return False
        value = record[key]
        if isinstance(expected, dict):
            if not isinstance(value, Mapping) or not matches(expected, value):
                return False
        elif value not in expected:
            return False
    return True


def _add(self: StreamShard, old: Item | None, new: Item | None) -> None:
    name = "INSERT" if old is None else "REMOVE" if new is None else "MODIFY"
    view = self.table.stream_specification["StreamViewType"]  # type: ignore[index]
    sequence = len(self.items) + self.starting_sequence_number
    record = StreamRecord(self.table, view, name, old, new, sequence)
    mappings = list(self.table.lambda_event_source_mappings.values())
    if not mappings:  # kept for GetRecords, as moto does
        self.items.append(record)
    for mapping in mappings:
        wanted = patterns(mapping.filter_criteria)
        if mapping.enabled and (not wanted or any(matches(p, record.to_json()) for p in wanted)):
            backend = get_backend(self.account_id, mapping.function_arn.split(":")[3])
            backend.send_dynamodb_items(mapping.function_arn, [record], mapping.event_source_arn)


def install() -> None:
    StreamShard.add = _add  # type: ignore[method-assign]
