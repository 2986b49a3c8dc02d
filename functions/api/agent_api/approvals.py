"""Pending approvals, durable and shared, so any API instance can list and answer them.

An agent asks for approval on its own Step Functions activity; whoever calls GetActivityTask
first receives the request and its task token. ``refresh`` finds approval tasks that running
executions of approval-capable agents have scheduled and nobody has taken (the newest page of each
history, newest first), takes exactly those, and records each in the approvals table under an id
derived from its run and tool call, so the same call always has the same id (the run's events
show it). An answer moves the item from ``pending`` to ``approved``/``rejected`` with a
conditional write, so a second answer gets 409, and only then sends the task token."""

import hashlib
import json
import time
import uuid
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import ClientError

from agent_api.errors import Conflict, NotFound
from agent_api.service import TableService

HISTORY_PAGE = 100
LEASE_ID = "#refresh"  # the item that says an instance is taking tasks
LEASE_SECONDS = 20


def approval_id(run_id: str, tool_use_id: str) -> str:
    return hashlib.sha256(f"{run_id}/{tool_use_id}".encode()).hexdigest()[:16]


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


class Approvals(TableService):
    """Pending approvals (the approvals table) and the activity tasks they answer."""

    # ------------------------------------------------------------------ discovery
    def _untaken(self, execution_arn: str) -> int:
        """Approval tasks this execution scheduled that no worker has started or ended."""
        events = self.sfn.get_execution_history(
            executionArn=execution_arn, reverseOrder=True, maxResults=HISTORY_PAGE
        )["events"]
        scheduled = {e["id"] for e in events if e["type"] == "ActivityScheduled"}
        for event in events:
            if event["type"] in ("ActivityStarted", "ActivityTimedOut", "ActivityFailed"):
                scheduled.discard(event.get("previousEventId", -1))
        return len(scheduled)

    def refresh(self) -> None:
        """Take the untaken approval tasks. One API instance at a time (a lease in the table):
        two takers counting the same task would leave one blocked in GetActivityTask's long poll;
        the others wait for the holder to finish instead."""
        owner = uuid.uuid4().hex
        deadline = time.monotonic() + LEASE_SECONDS
        while not self._lease(owner):
            if time.monotonic() >= deadline:
                return
            time.sleep(0.2)
            if not self.table.get_item(Key={"approval_id": LEASE_ID}).get("Item"):
                return  # the holder has finished: what it took is recorded
        try:
            self._take_untaken()
        finally:
            self.table.delete_item(
                Key={"approval_id": LEASE_ID},
                ConditionExpression="#o = :o",
                ExpressionAttributeNames={"#o": "owner"},
                ExpressionAttributeValues={":o": owner},
            )

    def _lease(self, owner: str) -> bool:
        now = time.time()
        try:
            self.table.put_item(
                Item={
                    "approval_id": LEASE_ID,
                    "status": "lease",
                    "owner": owner,
                    "expires": int(now + LEASE_SECONDS),
                },
                ConditionExpression="attribute_not_exists(approval_id) OR expires < :now",
                ExpressionAttributeValues={":now": int(now)},
            )
        except ClientError as error:
            if error.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise
            return False
        return True

    def _take_untaken(self) -> None:
        for agent in self.catalog.agents().values():
            if not agent.approval_tools:
                continue
            running = self.sfn.list_executions(
                stateMachineArn=self.settings.state_machine_arn(agent.name),
                statusFilter="RUNNING",
            )["executions"]
            waiting = sum(self._untaken(e["executionArn"]) for e in running)
            for _ in range(waiting):
                task = self.sfn.get_activity_task(
                    activityArn=self.settings.approval_activity_arn(agent.name),
                    workerName="sfn-agents-api",
                )
                if not task.get("taskToken"):
                    break
                self._record(agent.name, task)

    def _record(self, agent: str, task: dict[str, Any]) -> None:
        request = json.loads(task.get("input") or "{}")
        run_id = request.get("context", {}).get("execution_name", "")
        self.table.put_item(
            Item={
                "approval_id": approval_id(run_id, request.get("tool_use_id", "")),
                "status": "pending",
                "agent": request.get("agent_name") or agent,
                "run_id": run_id,
                "tool": request.get("tool_name", ""),
                "tool_use_id": request.get("tool_use_id", ""),
                "input": json.dumps(request.get("tool_input", {})),
                "requested_at": request.get("timestamp") or _now(),
                "task_token": task["taskToken"],
            }
        )

    # ------------------------------------------------------------------ reading
    @staticmethod
    def _public(item: dict[str, Any]) -> dict[str, Any]:
        public = {k: v for k, v in item.items() if k != "task_token"}
        public["input"] = json.loads(item.get("input") or "{}")
        return public

    def pending(self) -> list[dict[str, Any]]:
        self.refresh()
        items: list[dict[str, Any]] = []
        arguments: dict[str, Any] = {
            "FilterExpression": "#s = :pending",
            "ExpressionAttributeNames": {"#s": "status"},
            "ExpressionAttributeValues": {":pending": "pending"},
        }
        while True:
            page = self.table.scan(**arguments)
            items.extend(page["Items"])
            if "LastEvaluatedKey" not in page:
                break
            arguments["ExclusiveStartKey"] = page["LastEvaluatedKey"]
        items.sort(key=lambda item: item["requested_at"])
        return [self._public(item) for item in items]

    # ------------------------------------------------------------------ answers
    def answer(
        self, approval: str, decision: dict[str, Any], reviewer: dict[str, str]
    ) -> dict[str, Any]:
        """Record the decision (409 when already answered), then hand it to the waiting run. An id
        not recorded yet (a run's waiting step shows it first) is looked for once."""
        try:
            return self._answer(approval, decision, reviewer)
        except NotFound:
            self.refresh()
            return self._answer(approval, decision, reviewer)

    def _answer(
        self, approval: str, decision: dict[str, Any], reviewer: dict[str, str]
    ) -> dict[str, Any]:
        status = "approved" if decision["approved"] else "rejected"
        answered_at = _now()
        try:
            item = self.table.update_item(
                Key={"approval_id": approval},
                UpdateExpression="SET #s = :s, decision = :d, reviewer = :r, answered_at = :t",
                ConditionExpression="#s = :pending",
                ExpressionAttributeNames={"#s": "status"},
                ExpressionAttributeValues={
                    ":s": status,
                    ":d": json.dumps(decision),
                    ":r": reviewer,
                    ":t": answered_at,
                    ":pending": "pending",
                },
                ReturnValues="ALL_NEW",
            )["Attributes"]
        except ClientError as error:
            if error.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise
            existing = self.table.get_item(Key={"approval_id": approval}).get("Item")
            if existing is None:
                raise NotFound(f"no approval {approval!r}") from None
            raise Conflict(
                f"approval {approval} was already answered: {existing['status']}"
                + (f" by {existing['reviewer']['name']}" if existing.get("reviewer") else "")
            ) from None
        output = {
            **decision,
            "reviewer": reviewer["name"],
            "timestamp": answered_at,
        }
        try:
            self.sfn.send_task_success(taskToken=item["task_token"], output=json.dumps(output))
        except ClientError as error:
            if error.response["Error"]["Code"] not in ("TaskTimedOut", "TaskDoesNotExist"):
                raise
            self.table.update_item(
                Key={"approval_id": approval},
                UpdateExpression="SET #s = :s",
                ExpressionAttributeNames={"#s": "status"},
                ExpressionAttributeValues={":s": "expired"},
            )
            raise Conflict(f"approval {approval} expired before it was answered") from None
        return self._public(item)
