"""Sessions for the API, behind one small interface: ``get(id)``, ``messages(id)``, ``delete(id)``.

The session store (``agent_core.sessions.SessionStore``: conversations kept across runs) is used
when the layer has it. Until then, a session is what the API knows of it: the runs started with its
id (the runs table), and its messages are the conversation of its newest finished run."""

import json
from typing import Any, Protocol

from agent_api.runs import Runs


class Sessions(Protocol):
    def get(self, session_id: str) -> dict[str, Any] | None: ...
    def messages(self, session_id: str) -> list[dict[str, Any]]: ...
    def delete(self, session_id: str) -> bool: ...


class RunSessions:
    """Sessions seen through the runs the API started with them."""

    def __init__(self, runs: Runs, runs_table: Any, s3: Any) -> None:
        self.runs = runs
        self.table = runs_table
        self.s3 = s3

    def get(self, session_id: str) -> dict[str, Any] | None:
        runs = self.runs.list(session_id=session_id)
        if not runs:
            return None
        return {
            "session_id": session_id,
            "agent": runs[-1]["agent"],
            "runs": [run["run_id"] for run in runs],
            "created": runs[0]["started"],
            "updated": runs[-1]["started"],
        }

    def messages(self, session_id: str) -> list[dict[str, Any]]:
        for run in reversed(self.runs.list(session_id=session_id)):
            if run["status"] == "SUCCEEDED":
                conversation = (self.runs.get(run["run_id"])["output"] or {}).get("conversation")
                if conversation:
                    body = self.s3.get_object(
                        Bucket=conversation["bucket"], Key=conversation["key"]
                    )
                    return list(json.loads(body["Body"].read())["messages"])
        return []

    def delete(self, session_id: str) -> bool:
        runs = self.runs.list(session_id=session_id)
        for run in runs:
            self.table.delete_item(Key={"run_id": run["run_id"]})
        return bool(runs)


def session_store(settings: Any, runs: Runs, runs_table: Any, s3: Any) -> Sessions:
    try:
        from agent_core.sessions import SessionStore
    except ImportError:
        return RunSessions(runs, runs_table, s3)
    store: Sessions = SessionStore(settings.sessions_table, settings.artifact_bucket, s3=s3)
    return store
