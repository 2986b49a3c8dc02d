"""Human approval from the terminal, through the same store as the HTTP API and its web UI:
``agent_core.approvals`` over the stack's approvals table (``sfn-agents-approvals-ENV``, as
template.yaml names it), on AWS or on the engine at ``SFN_AGENTS_ENDPOINT``. A request either side
took is listed and answered on both, under the same id, and answering twice is refused.

The approval activities to take from are found by the template's naming rule: agent AGENT asks on
the activity ``sfn-agents-ENV-AGENT-approval`` and runs on the state machine
``sfn-agents-ENV-AGENT`` (one ListActivities call; the state machine's ARN follows)."""

import getpass
import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from botocore.exceptions import ClientError

from sfn_agents import aws
from sfn_agents.history import layer_module

APPROVAL_SUFFIX = "-approval"


def table_name(env: str) -> str:
    return f"sfn-agents-approvals-{env}"


class MissingTable(Exception):
    """The stack's approvals table is not where the commands look."""


def _queues(sfn: Any, env: str) -> list[Any]:
    queue = layer_module("approvals").ApprovalQueue
    prefix = f"sfn-agents-{env}-"
    return [
        queue(
            agent=activity["name"].removeprefix(prefix).removesuffix(APPROVAL_SUFFIX),
            state_machine_arn=activity["activityArn"]
            .replace(":activity:", ":stateMachine:")
            .removesuffix(APPROVAL_SUFFIX),
            activity_arn=activity["activityArn"],
        )
        for page in sfn.get_paginator("list_activities").paginate()
        for activity in page["activities"]
        if activity["name"].startswith(prefix) and activity["name"].endswith(APPROVAL_SUFFIX)
    ]


def reviewer(name: str = "") -> dict[str, str]:
    """Who answers from this terminal: the name given (default: the user name), the user and
    host, and on AWS the caller's identity (the ARN the decision was made with)."""
    user = getpass.getuser()
    who = {"name": name or user, "user": f"{user}@{os.uname().nodename}"}
    if not aws.endpoint():
        who["aws_identity"] = aws.client("sts").get_caller_identity()["Arn"]
    return who


class ApprovalDesk:
    """``agent_core.approvals.ApprovalStore`` for the terminal (what it records and answers is
    counted from the table's stream, as the API's is: functions/approval_metrics)."""

    def __init__(self, sfn: Any, dynamodb: Any, env: str = "dev") -> None:
        self.env = env
        self.where = sfn.meta.endpoint_url
        self.store = layer_module("approvals").ApprovalStore(
            sfn,
            dynamodb.Table(table_name(env)),
            lambda: _queues(sfn, env),
            f"sfn-agents-approvals@{os.uname().nodename}",
        )

    @contextmanager
    def _table(self) -> Iterator[None]:
        try:
            yield
        except ClientError as error:
            if error.response["Error"]["Code"] != "ResourceNotFoundException":
                raise
            raise MissingTable(
                f"no approvals table {table_name(self.env)} at {self.where}: deploy the stack "
                "(its ApprovalsTable) or give the --env it was deployed with"
            ) from None

    def pending(self) -> list[dict[str, Any]]:
        with self._table():
            return list(self.store.pending())

    def answer(
        self, approval: str, decision: dict[str, Any], who: dict[str, str]
    ) -> dict[str, Any]:
        """The answered item; ``UnknownApproval``/``AlreadyAnswered`` of agent_core.approvals
        when there is nothing to answer."""
        with self._table():
            return dict(self.store.answer(approval, decision, who))
