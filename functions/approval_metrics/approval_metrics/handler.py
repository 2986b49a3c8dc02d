"""The approvals table's stream -> ApprovalsRequested and ApprovalsAnswered (EMF), the one place
approvals are counted (see approval_metrics.records)."""

from agent_core.observability import observed
from agent_core.telemetry import record_approval
from aws_lambda_powertools.utilities.data_classes import DynamoDBStreamEvent, event_source
from aws_lambda_powertools.utilities.typing import LambdaContext

from approval_metrics.records import counted


@observed
@event_source(data_class=DynamoDBStreamEvent)
def lambda_handler(event: DynamoDBStreamEvent, context: LambdaContext) -> None:
    for approval in counted(event.records):
        record_approval(*approval)
