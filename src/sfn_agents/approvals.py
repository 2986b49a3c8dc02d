"""Human approval from the terminal: find the approval requests agents are waiting on, hold them,
and answer them. Works against AWS and against the local engine alike.

Step Functions activities are pull-based: a request is delivered to whoever calls GetActivityTask
first, with a task token that answers it. To avoid taking tasks blindly, the desk first reads the
running executions' histories for approval tasks scheduled and not yet picked up, then takes
exactly those. What the desk holds and how far it has read each history are kept in a small file
per endpoint (AWS or one engine), so a look costs one history read per running execution of an
agent with an approval activity, and requests of one engine never show on another.
"""

import getpass
import hashlib
import json
import os
import re
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError

from sfn_agents.run_events import HistoryReader

APPROVAL_SUFFIX = "-approval"
DONE_EVENTS = ("ActivityStarted", "ActivityTimedOut", "ActivityFailed")


@dataclass
class Approval:
    id: str
    token: str
    activity_arn: str
    request: dict[str, Any]
    received_at: str

    @property
    def summary(self) -> str:
        request = self.request
        return (
            f"{self.id}  {request.get('agent_name', '?')}  {request.get('tool_name', '?')}  "
            f"{json.dumps(request.get('tool_input', {}), ensure_ascii=False)}"
        )

    @property
    def execution_name(self) -> str:
        return str((self.request.get("context") or {}).get("execution_name", ""))


@dataclass
class _Followed:
    """How far one running execution's history was read, and its approval tasks still waiting
    (scheduled event id -> activity ARN)."""

    after: int = 0
    waiting: dict[str, str] = field(default_factory=dict)


def default_store(endpoint: str | None = None) -> Path:
    """``~/.sfn-agents/approvals/<endpoint>.json`` (``SFN_AGENTS_HOME`` moves the folder)."""
    home = Path(os.environ.get("SFN_AGENTS_HOME", Path.home() / ".sfn-agents"))
    where = endpoint or f"aws-{os.environ.get('AWS_PROFILE', 'default')}"
    return home / "approvals" / (re.sub(r"[^\w.-]+", "-", where).strip("-") + ".json")


class ApprovalDesk:
    def __init__(self, sfn: Any, store: Path | None = None, worker_name: str = "") -> None:
        self.sfn = sfn
        self.store = store or default_store(sfn.meta.endpoint_url)
        self.worker_name = worker_name or f"sfn-agents-approvals@{os.uname().nodename}"

    # ------------------------------------------------------------------ the local store
    def _load(self) -> tuple[dict[str, Approval], dict[str, _Followed]]:
        if not self.store.is_file():
            return {}, {}
        data = json.loads(self.store.read_text())
        held = {k: Approval(**v) for k, v in data.get("held", {}).items()}
        followed = {k: _Followed(**v) for k, v in data.get("executions", {}).items()}
        return held, followed

    def _save(self, held: dict[str, Approval], followed: dict[str, _Followed]) -> None:
        self.store.parent.mkdir(parents=True, exist_ok=True)
        data = {
            "held": {k: asdict(v) for k, v in held.items()},
            "executions": {k: asdict(v) for k, v in followed.items()},
        }
        self.store.write_text(json.dumps(data, indent=2))

    # ------------------------------------------------------------------ discovery
    def _running(self) -> dict[str, set[str]]:
        """Approval activity ARN -> names of the running executions of its agent (an agent's
        approval activity is named after its state machine, plus ``-approval``)."""
        activities = {
            a["name"].removesuffix(APPROVAL_SUFFIX): a["activityArn"]
            for page in self.sfn.get_paginator("list_activities").paginate()
            for a in page["activities"]
            if a["name"].endswith(APPROVAL_SUFFIX)
        }
        running: dict[str, set[str]] = {}
        for page in self.sfn.get_paginator("list_state_machines").paginate():
            for machine in page["stateMachines"]:
                if machine["name"] not in activities:
                    continue
                executions = running.setdefault(activities[machine["name"]], set())
                for listed in self.sfn.get_paginator("list_executions").paginate(
                    stateMachineArn=machine["stateMachineArn"], statusFilter="RUNNING"
                ):
                    executions |= {e["executionArn"] for e in listed["executions"]}
        return running

    def _catch_up(self, execution_arn: str, state: _Followed, activity_arn: str) -> None:
        reader = HistoryReader(self.sfn, execution_arn, after=state.after)
        for event in reader.read():
            if event["type"] == "ActivityScheduled":
                if event["activityScheduledEventDetails"]["resource"] == activity_arn:
                    state.waiting[str(event["id"])] = activity_arn
            elif event["type"] in DONE_EVENTS:
                state.waiting.pop(str(event.get("previousEventId", -1)), None)
        state.after = reader.after

    def pending(self) -> list[Approval]:
        """Requests held here plus the ones agents are waiting on now (taken and held)."""
        held, followed = self._load()
        running = self._running()
        live = {arn for arns in running.values() for arn in arns}
        followed = {arn: state for arn, state in followed.items() if arn in live}
        live_names = {arn.rsplit(":", 1)[-1] for arn in live}
        watched = set(running)
        held = {  # requests of runs that ended (or of an engine since restarted) are gone
            k: a
            for k, a in held.items()
            if a.activity_arn not in watched or a.execution_name in live_names
        }
        for activity_arn, executions in running.items():
            count = 0
            for execution_arn in executions:
                state = followed.setdefault(execution_arn, _Followed())
                self._catch_up(execution_arn, state, activity_arn)
                count += len(state.waiting)
            for _ in range(count):
                approval = self._take(activity_arn)
                if approval is None:
                    break
                held[approval.id] = approval
        self._save(held, followed)
        return list(held.values())

    def _take(self, activity_arn: str) -> Approval | None:
        task = self.sfn.get_activity_task(activityArn=activity_arn, workerName=self.worker_name)
        token = task.get("taskToken")
        if not token:
            return None
        return Approval(
            id=hashlib.sha256(token.encode()).hexdigest()[:8],
            token=token,
            activity_arn=activity_arn,
            request=json.loads(task.get("input") or "{}"),
            received_at=datetime.now(UTC).isoformat(timespec="seconds"),
        )

    # ------------------------------------------------------------------ answers
    def _answer(self, approval_id: str, decision: dict[str, Any]) -> Approval:
        held, followed = self._load()
        approval = held.pop(approval_id, None)
        if approval is None:
            raise KeyError(f"no pending approval {approval_id}; run `sfn-agents approvals`")
        decision = {
            "reviewer": decision.pop("reviewer", None) or getpass.getuser(),
            "timestamp": datetime.now(UTC).isoformat(timespec="seconds"),
            **decision,
        }
        try:
            self.sfn.send_task_success(taskToken=approval.token, output=json.dumps(decision))
        except ClientError as error:
            if error.response["Error"]["Code"] not in ("TaskTimedOut", "TaskDoesNotExist"):
                raise
            self._save(held, followed)
            raise TimeoutError(f"approval {approval_id} expired before it was answered") from None
        self._save(held, followed)
        return approval

    def approve(self, approval_id: str, notes: str = "", reviewer: str = "") -> Approval:
        return self._answer(
            approval_id, {"approved": True, "review_notes": notes, "reviewer": reviewer}
        )

    def reject(
        self, approval_id: str, reason: str, notes: str = "", reviewer: str = ""
    ) -> Approval:
        return self._answer(
            approval_id,
            {
                "approved": False,
                "rejection_reason": reason,
                "review_notes": notes,
                "reviewer": reviewer,
            },
        )
