"""What a change to the approvals table (agent_core.approvals) counts as, whoever made it (the
HTTP API, the terminal, any client): an item inserted ``pending`` is a request recorded, an item
moved from ``pending`` to ``approved`` or ``rejected`` a decision given. Nothing else counts (the
``#refresh`` lease, expiries, a decided request whose run had ended turning ``expired``)."""

from collections.abc import Iterable
from typing import NamedTuple

from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import (
    DynamoDBRecord,
    DynamoDBRecordEventName,
)

DECISIONS = ("approved", "rejected")


class Counted(NamedTuple):
    """agent_core.telemetry.record_approval's arguments."""

    event: str  # requested, answered
    agent: str
    decision: str | None


def counted(records: Iterable[DynamoDBRecord]) -> list[Counted]:
    found = []
    for record in records:
        change = record.dynamodb
        if change is None:
            continue
        new, old = change.new_image, change.old_image
        status, agent = new.get("status"), str(new.get("agent", ""))
        if record.event_name == DynamoDBRecordEventName.INSERT and status == "pending":
            found.append(Counted("requested", agent, None))
        elif (
            record.event_name == DynamoDBRecordEventName.MODIFY
            and old.get("status") == "pending"
            and status in DECISIONS
        ):
            found.append(Counted("answered", agent, str(status)))
    return found
