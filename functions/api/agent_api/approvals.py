"""The API's approvals: ``agent_core.approvals`` (the one implementation the terminal shares) over
the stack's approvals table, taking from the approval activities of the catalog's agents that
have tools needing approval, and answering its errors as 404 and 409 (the metrics count the
table's changes: functions/approval_metrics)."""

from dataclasses import dataclass
from typing import Any

from agent_core.approvals import (
    AlreadyAnswered,
    ApprovalQueue,
    ApprovalStore,
    UnknownApproval,
)

from agent_api.errors import Conflict, NotFound
from agent_api.service import TableService


@dataclass
class Approvals(TableService):
    def __post_init__(self) -> None:
        self.store = ApprovalStore(self.sfn, self.table, self._queues, "sfn-agents-api")

    def _queues(self) -> list[ApprovalQueue]:
        return [
            ApprovalQueue(
                agent.name,
                self.settings.state_machine_arn(agent.name),
                self.settings.approval_activity_arn(agent.name),
            )
            for agent in self.catalog.agents().values()
            if agent.approval_tools
        ]

    def pending(self) -> list[dict[str, Any]]:
        return self.store.pending()

    def answer(
        self, approval: str, decision: dict[str, Any], reviewer: dict[str, str]
    ) -> dict[str, Any]:
        try:
            return self.store.answer(approval, decision, reviewer)
        except UnknownApproval as error:
            raise NotFound(str(error)) from None
        except AlreadyAnswered as error:
            raise Conflict(str(error)) from None
