"""Conversation history in the artifact bucket: one small object per turn, chained to its parent.

A turn writes only the messages it adds (the new user message and the model's reply) plus the key
of the turn it continues, so S3 bytes written per turn stay flat however long the conversation
grows. The state machine carries only a reference to the newest object.

Keys are unique per execution and per attempt:
``<scope>/<execution-hash>/turn-0007-a1.json`` where ``scope`` is ``conversations/<agent>`` for a
run without a session and ``sessions/<agent>/<session-hash>`` for one, ``execution-hash`` is a
SHA-256 of the execution ARN (so names such as ``x+1`` and ``x=1`` never share a folder) and
``a1`` is the state's retry count. A retried attempt with the same input rewrites the same key
(idempotent); a timed-out attempt that writes late writes its own key, which no reference ever
points to, so the next attempt never sees it.

Loading follows the parent chain. A warm function keeps the conversations it wrote in memory, so
the next turn's load costs nothing; a cold one lists the scope's folder once and fetches the
objects in parallel."""

import hashlib
import json
import re
import threading
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor
from typing import Any, NotRequired, TypedDict

from agent_core.errors import MalformedLlmEvent
from agent_core.messages import Message, check_messages

_AGENT_NAME = re.compile(r"[A-Za-z0-9_-]{1,64}")
_CACHED_CONVERSATIONS = 8
_PARALLEL_GETS = 16


class ConversationRef(TypedDict):
    bucket: str
    key: str
    messages: int
    scope: NotRequired[str]


def digest(text: str, length: int = 32) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:length]


def scope_for(agent: str, session_id: str | None) -> str:
    """The folder every run of one session (or runs without a session) write under."""
    name = agent if _AGENT_NAME.fullmatch(agent) else digest(agent, 16)
    return f"sessions/{name}/{digest(session_id)}" if session_id else f"conversations/{name}"


class ConversationStore:
    def __init__(self, bucket: str, s3: Any = None) -> None:
        self.bucket = bucket
        self._s3 = s3
        self._cache: OrderedDict[str, list[Message]] = OrderedDict()
        self._lock = threading.Lock()

    @property
    def s3(self) -> Any:
        if self._s3 is None:
            import boto3  # on first use: not every cold start pays for it (see snapstart)

            self._s3 = boto3.client("s3")
        return self._s3

    def connect(self) -> None:
        """Create the S3 client now."""
        _ = self.s3

    def load(self, ref: Any) -> list[Message]:
        """The whole conversation up to and including the turn ``ref`` points to."""
        if not isinstance(ref, dict) or not ref.get("key"):
            raise MalformedLlmEvent("conversation must be null or {bucket, key} from the last turn")
        with self._lock:
            cached = self._cache.get(ref["key"])
        if cached is not None:
            return list(cached)
        bucket = ref.get("bucket", self.bucket)
        documents = self._fetch_scope(bucket, ref)
        chain: list[dict[str, Any]] = []
        key: str | None = ref["key"]
        while key:
            document = documents.get(key) or self._get(bucket, key)
            chain.append(document)
            key = document.get("parent")
        messages: list[Message] = []
        for document in reversed(chain):
            messages.extend(document["messages"])
        return check_messages(messages, "stored conversation")

    def save(
        self,
        ref: ConversationRef | None,
        scope: str,
        execution: str,
        turn: int,
        attempt: int,
        history: list[Message],
        added: list[Message],
    ) -> ConversationRef:
        """Store the messages this turn ``added`` to ``history`` (the loaded conversation)."""
        key = f"{scope}/{digest(execution)}/turn-{turn:04d}-a{attempt}.json"
        document = {
            "execution": execution,
            "turn": turn,
            "attempt": attempt,
            "parent": ref["key"] if ref else None,
            "messages": added,
        }
        self.s3.put_object(
            Bucket=self.bucket,
            Key=key,
            Body=json.dumps(document).encode(),
            ContentType="application/json",
        )
        with self._lock:
            self._cache[key] = history + added
            if ref:
                self._cache.pop(ref["key"], None)
            while len(self._cache) > _CACHED_CONVERSATIONS:
                self._cache.popitem(last=False)
        return {
            "bucket": self.bucket,
            "key": key,
            "messages": len(history) + len(added),
            "scope": scope,
        }

    def _get(self, bucket: str, key: str) -> dict[str, Any]:
        body = self.s3.get_object(Bucket=bucket, Key=key)["Body"].read()
        document: dict[str, Any] = json.loads(body)
        return document

    def _fetch_scope(self, bucket: str, ref: dict[str, Any]) -> dict[str, dict[str, Any]]:
        """Every turn object of the run (or of every run of the session), fetched in parallel."""
        scope = ref.get("scope")
        if not isinstance(scope, str) or not ref["key"].startswith(scope + "/"):
            return {}
        folder = scope if scope.startswith("sessions/") else ref["key"].rsplit("/", 1)[0]
        keys = [
            item["Key"]
            for page in self.s3.get_paginator("list_objects_v2").paginate(
                Bucket=bucket, Prefix=folder + "/"
            )
            for item in page.get("Contents", [])
        ]
        with ThreadPoolExecutor(_PARALLEL_GETS) as pool:
            documents = pool.map(lambda key: self._get(bucket, key), keys)
            return dict(zip(keys, documents, strict=True))
