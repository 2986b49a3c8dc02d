"""Read and delete sessions: the conversations that last across runs (README, "Sessions").

The state machine writes the sessions table itself (OpenSession and CloseSession in
statemachines/agent.asl.yaml): a run takes the session's lock, continues its conversation and, when
it finishes, moves the session's conversation reference and adds its usage. This module is what
the CLI and the HTTP API read sessions with.

Item (key ``session_id``): agent, user_id, created_at, updated_at (ISO 8601), conversation
({bucket, key, messages, scope}), runs, turns, usage ({input_tokens, output_tokens,
cache_read_input_tokens, cache_creation_input_tokens, cost_usd}), expires_at (epoch seconds, the
table's TTL attribute) and, while a run holds the session, active_execution and lock_expires_at."""

from decimal import Decimal
from typing import Any

from agent_core.conversation import ConversationStore

AGENT_INDEX = "agent-updated_at"


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | set):
        return [_plain(v) for v in value]
    return value


class SessionStore:
    def __init__(self, table_name: str, bucket: str, dynamodb: Any = None, s3: Any = None) -> None:
        self.table_name = table_name
        self.bucket = bucket
        self._dynamodb = dynamodb
        self._conversations = ConversationStore(bucket, s3)

    @property
    def dynamodb(self) -> Any:
        if self._dynamodb is None:
            import boto3

            self._dynamodb = boto3.client("dynamodb")
        return self._dynamodb

    def _item(self, raw: dict[str, Any]) -> dict[str, Any]:
        from boto3.dynamodb.types import TypeDeserializer

        deserializer = TypeDeserializer()
        return {k: _plain(deserializer.deserialize(v)) for k, v in raw.items()}

    def get(self, session_id: str) -> dict[str, Any] | None:
        """The session's item as plain JSON types, or None."""
        response = self.dynamodb.get_item(
            TableName=self.table_name, Key={"session_id": {"S": session_id}}, ConsistentRead=True
        )
        return self._item(response["Item"]) if "Item" in response else None

    def messages(self, session_id: str) -> list[dict[str, Any]]:
        """The session's whole conversation, every run's messages in order."""
        item = self.get(session_id)
        if not item or not item.get("conversation"):
            return []
        return [dict(m) for m in self._conversations.load(item["conversation"])]

    def list(self, agent: str | None = None, limit: int = 50) -> list[dict[str, Any]]:
        """Sessions, most recently updated first (of one agent when given)."""
        if agent is not None:
            response = self.dynamodb.query(
                TableName=self.table_name,
                IndexName=AGENT_INDEX,
                KeyConditionExpression="agent = :agent",
                ExpressionAttributeValues={":agent": {"S": agent}},
                ScanIndexForward=False,
                Limit=limit,
            )
            return [self._item(raw) for raw in response.get("Items", [])]
        items = [
            self._item(raw)
            for page in self.dynamodb.get_paginator("scan").paginate(TableName=self.table_name)
            for raw in page.get("Items", [])
        ]
        items.sort(key=lambda item: str(item.get("updated_at", "")), reverse=True)
        return items[:limit]

    def delete(self, session_id: str) -> bool:
        """Delete the session and its stored conversation; False when there was none."""
        response = self.dynamodb.delete_item(
            TableName=self.table_name,
            Key={"session_id": {"S": session_id}},
            ReturnValues="ALL_OLD",
        )
        old = response.get("Attributes")
        if not old:
            return False
        scope = self._item(old).get("conversation", {}).get("scope")
        if isinstance(scope, str) and scope.startswith("sessions/"):
            s3 = self._conversations.s3
            for page in s3.get_paginator("list_objects_v2").paginate(
                Bucket=self.bucket, Prefix=scope + "/"
            ):
                keys = [{"Key": item["Key"]} for item in page.get("Contents", [])]
                if keys:
                    s3.delete_objects(Bucket=self.bucket, Delete={"Objects": keys})
        return True
