"""Pending approvals, durable and shared: the HTTP API (``agent_api``) and the terminal
(``sfn-agents approvals``, ``approve``, ``reject``) list and answer them through this one module,
over the stack's approvals table, so a request either side took is visible and answerable on both.

An agent asks for approval on its own Step Functions activity; whoever calls GetActivityTask
first receives the request and its task token. ``refresh`` finds approval tasks that running
executions of approval-capable agents have scheduled and nobody has taken (the newest page of each
history), takes exactly those, and records each in the table under an id derived from its run and
tool call, so the same call always has the same id (the run's events show it). An answer moves the
item from ``pending`` to ``approved``/``rejected`` with a conditional write, so a second answer is
:class:`AlreadyAnswered` (the API's 409), and only then sends the task token.

Item (key ``approval_id``): status (pending, approved, rejected, expired), agent, run_id, tool,
tool_use_id, input (JSON text), requested_at, recorded_at (epoch seconds), task_token (never
shown), and once answered decision
(JSON text), reviewer ({name, ...: who answered and through what}) and answered_at. One more item,
``#refresh``, is the lease of whoever is taking tasks."""

import hashlib
import json
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import ClientError

from agent_core.paging import scanned

HISTORY_PAGE = 100
LEASE_ID = "#refresh"  # the item that says a taker is taking tasks
LEASE_SECONDS = 20
# A pending request of a run that is no longer running has expired, once recorded this long before
# the running runs were listed (ListExecutions is eventually consistent).
SETTLE_SECONDS = 60
GONE = ("TaskTimedOut", "TaskDoesNotExist")


def approval_id(run_id: str, tool_use_id: str) -> str:
    return hashlib.sha256(f"{run_id}/{tool_use_id}".encode()).hexdigest()[:16]


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


class UnknownApproval(LookupError):
    """No approval has this id."""


class AlreadyAnswered(Exception):
    """The approval was answered already (or expired): it cannot be answered again."""


def _expired(approval: str) -> AlreadyAnswered:
    return AlreadyAnswered(f"approval {approval} expired before it was answered")


@dataclass(frozen=True)
class ApprovalQueue:
    """Where one agent asks for approval: its state machine and its approval activity."""

    agent: str
    state_machine_arn: str
    activity_arn: str


@dataclass
class Running:
    """The runs of each agent seen running (execution names), and when they were listed."""

    listed_at: float
    runs: dict[str, set[str]] = field(default_factory=dict)


class ApprovalStore:
    """The approvals table and the activity tasks it answers.

    ``queues`` names the approval activities to take from (read on each refresh);
    ``worker_name`` is what GetActivityTask records as the taker. Metrics count the table's
    changes (functions/approval_metrics, on its stream), not the callers of this class."""

    def __init__(
        self,
        sfn: Any,
        table: Any,
        queues: Callable[[], Iterable[ApprovalQueue]],
        worker_name: str,
    ) -> None:
        self.sfn = sfn
        self.table = table
        self.queues = queues
        self.worker_name = worker_name

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

    def refresh(self) -> Running | None:
        """Take the untaken approval tasks; the runs seen running (None when another taker held
        the lease). One taker at a time (a lease in the table): two takers counting the same
        task would leave one blocked in GetActivityTask's long poll; the others wait for the
        holder to finish instead."""
        owner = uuid.uuid4().hex
        deadline = time.monotonic() + LEASE_SECONDS
        while not self._lease(owner):
            if time.monotonic() >= deadline:
                return None
            time.sleep(0.2)
            if not self.table.get_item(Key={"approval_id": LEASE_ID}).get("Item"):
                return None  # the holder has finished: what it took is recorded
        try:
            return self._take_untaken()
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

    def _take_untaken(self) -> Running:
        seen = Running(listed_at=time.time())
        for queue in self.queues():
            running = self.sfn.list_executions(
                stateMachineArn=queue.state_machine_arn, statusFilter="RUNNING"
            )["executions"]
            seen.runs[queue.agent] = {e["name"] for e in running}
            waiting = sum(self._untaken(e["executionArn"]) for e in running)
            for _ in range(waiting):
                task = self.sfn.get_activity_task(
                    activityArn=queue.activity_arn, workerName=self.worker_name
                )
                if not task.get("taskToken"):
                    break
                self._record(queue.agent, task)
        return seen

    def _record(self, agent: str, task: dict[str, Any]) -> None:
        request = json.loads(task.get("input") or "{}")
        run_id = request.get("context", {}).get("execution_name", "")
        agent = request.get("agent_name") or agent
        self.table.put_item(
            Item={
                "approval_id": approval_id(run_id, request.get("tool_use_id", "")),
                "status": "pending",
                "agent": agent,
                "run_id": run_id,
                "tool": request.get("tool_name", ""),
                "tool_use_id": request.get("tool_use_id", ""),
                "input": json.dumps(request.get("tool_input", {})),
                "requested_at": request.get("timestamp") or _now(),
                "recorded_at": int(time.time()),
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
        """The requests waiting for an answer, oldest first (after taking the untaken ones and
        expiring those of runs that ended)."""
        running = self.refresh()
        items = scanned(
            self.table.scan,
            FilterExpression="#s = :pending",
            ExpressionAttributeNames={"#s": "status"},
            ExpressionAttributeValues={":pending": "pending"},
        )
        items.sort(key=lambda item: item["requested_at"])
        if running is not None:
            items = [item for item in items if not self._expire_ended(item, running)]
        return [self._public(item) for item in items]

    def _expire_ended(self, item: dict[str, Any], running: Running) -> bool:
        """Mark a pending request of a run that ended expired (it can never be answered)."""
        runs = running.runs.get(str(item.get("agent")))
        settled = int(item.get("recorded_at", 0)) < running.listed_at - SETTLE_SECONDS
        if runs is None or item.get("run_id") in runs or not settled:
            return False
        try:
            self.table.update_item(
                Key={"approval_id": item["approval_id"]},
                UpdateExpression="SET #s = :expired",
                ConditionExpression="#s = :pending",
                ExpressionAttributeNames={"#s": "status"},
                ExpressionAttributeValues={":expired": "expired", ":pending": "pending"},
            )
        except ClientError as error:
            if error.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise
        return True

    # ------------------------------------------------------------------ answers
    def answer(
        self, approval: str, decision: dict[str, Any], reviewer: dict[str, str]
    ) -> dict[str, Any]:
        """Record the decision (:class:`AlreadyAnswered` when answered before), then hand it to
        the waiting run. ``reviewer`` has at least a ``name``. An id not recorded yet (a run's
        waiting step shows it first) is looked for once."""
        try:
            return self._answer(approval, decision, reviewer)
        except UnknownApproval:
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
                raise UnknownApproval(f"no approval {approval!r}") from None
            if existing["status"] == "expired":
                raise _expired(approval) from None
            raise AlreadyAnswered(
                f"approval {approval} was already answered: {existing['status']}"
                + (f" by {existing['reviewer']['name']}" if existing.get("reviewer") else "")
            ) from None
        output = {**decision, "reviewer": reviewer["name"], "timestamp": answered_at}
        try:
            self.sfn.send_task_success(taskToken=item["task_token"], output=json.dumps(output))
        except ClientError as error:
            if error.response["Error"]["Code"] not in GONE:
                raise
            self.table.update_item(
                Key={"approval_id": approval},
                UpdateExpression="SET #s = :s",
                ExpressionAttributeNames={"#s": "status"},
                ExpressionAttributeValues={":s": "expired"},
            )
            raise _expired(approval) from None
        return self._public(item)
