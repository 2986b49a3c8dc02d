"""The CLI's view of stored conversations, sessions and approvals, through the same agent_core
modules the Lambda functions use (layers/agent_core), so the storage format is declared once."""

import importlib
from pathlib import Path
from typing import Any

from sfn_agents.python_runtime import add_to_path

LAYER = Path(__file__).resolve().parents[2] / "layers" / "agent_core"


def layer_module(name: str) -> Any:
    """``agent_core.NAME`` from the layer."""
    add_to_path([LAYER])
    return importlib.import_module(f"agent_core.{name}")


def load_messages(s3: Any, conversation: dict[str, Any] | None) -> list[dict[str, Any]]:
    """The full message history a run's conversation reference points to."""
    if not conversation:
        return []
    store = layer_module("conversation").ConversationStore(conversation["bucket"], s3)
    return list(store.load(conversation))


def session_store(table_name: str, bucket: str, dynamodb: Any, s3: Any) -> Any:
    """An agent_core.sessions.SessionStore."""
    return layer_module("sessions").SessionStore(table_name, bucket, dynamodb=dynamodb, s3=s3)
