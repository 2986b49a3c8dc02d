"""Hostile inputs against the real handlers: malformed events for every Python function, hostile
SQL for the SQL tool and hostile requests for the remote worker. Prints tried/failed per category
and every failure; exits 1 if anything failed.

    .venv/bin/python scripts/hostile_inputs.py [CATEGORY ...]

A malformed event passes when the function answers with the contract's shape (docs/contract.md):
a tool_result for anything that is a tool call, the typed error (MalformedToolEvent,
MalformedLlmEvent, MalformedRegistryEvent) with a message for anything that is not, and never a
stack trace, a bare ValueError/KeyError/TypeError or an AWS error. tests/unit/test_hostile_inputs.py
runs the same corpus."""

import contextlib
import http.server
import json
import os
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

ROOT = Path(__file__).resolve().parents[1]
LAYER = ROOT / "layers" / "agent_core"
sys.path.insert(0, str(ROOT / "src"))

from sfn_agents.python_runtime import Handler  # noqa: E402
from sfn_agents.python_runtime import load_handler as load_from  # noqa: E402
from sfn_agents.template import Template  # noqa: E402
from sfn_agents.thread_env import overlay  # noqa: E402

BUCKET = "hostile-artifacts"
NOWHERE = "http://127.0.0.1:9"  # nothing listens: an event that reaches a model fails loudly
TYPED_ERRORS = {"MalformedToolEvent", "MalformedLlmEvent", "MalformedRegistryEvent"}
TRACE_MARKERS = ("Traceback", 'File "/', '.py", line')


@dataclass(frozen=True)
class Case:
    label: str
    event: Any


@dataclass
class Outcome:
    tried: int = 0
    failures: list[str] = field(default_factory=list)


# ----------------------------------------------------------------------------- the corpus


def not_objects() -> list[Case]:
    values: list[Any] = [
        None, 0, -1, 1.5, 10**30, True, False, "", "x", "\x00", "\ud800", "{}", "[]",
        [], [{}], [None], ["name", "id"], "A" * 300_000, [[[[[[[[[[[]]]]]]]]]]],
    ]  # fmt: skip
    return [Case(f"event={_short(value)}", value) for value in values]


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def tool_events(tool: str) -> list[Case]:
    """Events that are not tool calls, then tool calls with hostile input."""
    broken: list[tuple[str, Any]] = [
        ("empty object", {}),
        ("no id", {"name": tool, "input": {}}),
        ("no name", {"id": "toolu_1", "input": {}}),
        ("id null", {"id": None, "name": tool, "input": {}}),
        ("id number", {"id": 7, "name": tool, "input": {}}),
        ("id empty", {"id": "", "name": tool, "input": {}}),
        ("id list", {"id": ["toolu_1"], "name": tool, "input": {}}),
        ("name number", {"id": "toolu_1", "name": 7, "input": {}}),
        ("name object", {"id": "toolu_1", "name": {"x": 1}, "input": {}}),
        ("name empty", {"id": "toolu_1", "name": "", "input": {}}),
        ("input list", {"id": "toolu_1", "name": tool, "input": []}),
        ("input string", {"id": "toolu_1", "name": tool, "input": "{}"}),
        ("input number", {"id": "toolu_1", "name": tool, "input": 3}),
        ("input null", {"id": "toolu_1", "name": tool, "input": None}),
        ("contract output as input", {"type": "tool_result", "tool_use_id": "t", "content": ""}),
    ]
    calls: list[tuple[str, Any]] = [
        ("unknown tool", {"id": "toolu_1", "name": "drop_everything", "input": {}}),
        ("tool name with NUL", {"id": "toolu_1", "name": tool + "\x00", "input": {}}),
        ("huge id", {"id": "t" * 100_000, "name": tool, "input": {}}),
        ("extra fields", {"id": "toolu_1", "name": tool, "input": {}, "zzz": [1, 2]}),
        ("no input", {"id": "toolu_1", "name": tool}),
    ]
    hostile_values: list[Any] = [
        None, True, -1, 0, 10**400, 1e308, "", " ", "\x00", "\ud800", "A" * 200_000,
        [], [None], {}, {"$ne": 1}, "'; DROP TABLE x; --", "../../etc/passwd", "\u202e\u0000",
        [[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]],
    ]  # fmt: skip
    return [
        *(Case(f"{tool}: {label}", event) for label, event in broken),
        *(Case(f"{tool}: {label}", event) for label, event in calls),
        *(
            Case(
                f"{tool}: every field = {_short(value)}",
                {
                    "id": "toolu_1",
                    "name": tool,
                    "input": {key: value for key in INPUT_FIELDS.get(tool, ["x"])},
                },
            )
            for value in hostile_values
        ),
    ]


INPUT_FIELDS = {
    "execute_sql_query": ["sql_query"],
    "get_db_schema": ["x"],
    "prepare_price_csv": ["symbols", "days", "start_date", "seed"],
}

USER = {"role": "user", "content": [{"type": "text", "text": "hi"}]}
AGENT = {"name": "hostile-agent", "system_prompt": "s"}


def llm_events() -> list[Case]:
    def turn(**changes: Any) -> dict[str, Any]:
        event = {"agent": AGENT, "tools": [], "conversation": None, "new_messages": [USER],
                 "context": {"execution": "e", "state_machine": "sm", "turn": 1}}  # fmt: skip
        for key, value in changes.items():
            if value is DROP:
                event.pop(key)
            else:
                event[key] = value
        return event

    def agent(**fields: Any) -> dict[str, Any]:
        return turn(agent={**AGENT, **fields})

    def message(*content: Any, role: str = "user") -> dict[str, Any]:
        return turn(new_messages=[{"role": role, "content": list(content)}])

    cases: list[tuple[str, Any]] = [
        ("agent missing", turn(agent=DROP)),
        ("agent null", turn(agent=None)),
        ("agent list", turn(agent=[AGENT])),
        ("agent string", turn(agent="sql-agent")),
        ("agent without name", turn(agent={"provider": "openai"})),
        ("agent name number", agent(name=5)),
        ("agent name empty", agent(name="")),
        ("model number", agent(model=5)),
        ("model list", agent(model=["gpt"])),
        ("model blank", agent(model="   ")),
        ("system_prompt number", agent(system_prompt=5)),
        ("system_prompt object", agent(system_prompt={"text": "x"})),
        ("max_output_tokens word", agent(max_output_tokens="lots")),
        ("max_output_tokens negative", agent(max_output_tokens=-5)),
        ("max_output_tokens float", agent(max_output_tokens=1.5)),
        ("max_output_tokens huge", agent(max_output_tokens=10**30)),
        ("max_output_tokens bool", agent(max_output_tokens=True)),
        ("output_schema string", agent(output_schema="json")),
        ("output_schema list", agent(output_schema=[1])),
        ("provider number", agent(provider=5)),
        ("tools string", turn(tools="get_db_schema")),
        ("tools object", turn(tools={"name": "x"})),
        ("tools null", turn(tools=None)),
        ("tool without input_schema", turn(tools=[{"name": "t", "description": "x"}])),
        ("tool without name", turn(tools=[{"description": "x"}])),
        ("tool name number", turn(tools=[{"name": 5}])),
        ("tool input_schema string", turn(tools=[{"name": "t", "input_schema": "object"}])),
        (
            "tool description number",
            turn(tools=[{"name": "t", "description": 5, "input_schema": {}}]),
        ),
        ("duplicate tool names", turn(tools=[{"name": "t", "input_schema": {}}] * 2)),
        ("new_messages missing", turn(new_messages=DROP)),
        ("new_messages null", turn(new_messages=None)),
        ("new_messages empty", turn(new_messages=[])),
        ("new_messages object", turn(new_messages=USER)),
        ("new_messages string", turn(new_messages="hi")),
        ("message null", turn(new_messages=[None])),
        ("message string", turn(new_messages=["hi"])),
        ("role system", turn(new_messages=[{"role": "system", "content": USER["content"]}])),
        ("role number", turn(new_messages=[{"role": 1, "content": USER["content"]}])),
        ("role list", turn(new_messages=[{"role": ["user"], "content": USER["content"]}])),
        ("content string", turn(new_messages=[{"role": "user", "content": "hi"}])),
        ("content empty", turn(new_messages=[{"role": "user", "content": []}])),
        ("content null", turn(new_messages=[{"role": "user"}])),
        ("block string", message("hi")),
        ("block null", message(None)),
        ("block list", message(["text"])),
        ("block type unknown", message({"type": "image", "source": "x"})),
        ("block type number", message({"type": 1})),
        ("block type list", message({"type": ["text"], "text": "x"})),
        ("text missing", message({"type": "text"})),
        ("text number", message({"type": "text", "text": 5})),
        ("text null", message({"type": "text", "text": None})),
        ("text object", message({"type": "text", "text": {"a": 1}})),
        ("text blank", message({"type": "text", "text": "   "})),
        ("text empty", message({"type": "text", "text": ""})),
        (
            "tool_use in a user message",
            message({"type": "tool_use", "id": "t", "name": "n", "input": {}}),
        ),
        (
            "tool_result in an assistant message",
            message({"type": "tool_result", "tool_use_id": "t", "content": "x"}, role="assistant"),
        ),
        (
            "first message from the assistant",
            message({"type": "text", "text": "hi"}, role="assistant"),
        ),
        ("two user messages in a row", turn(new_messages=[USER, USER])),
        (
            "orphan tool_result",
            message({"type": "tool_result", "tool_use_id": "t", "content": "x"}),
        ),
        (
            "tool_result content number",
            message({"type": "tool_result", "tool_use_id": "t", "content": 5}),
        ),
        (
            "tool_result id number",
            message({"type": "tool_result", "tool_use_id": 5, "content": "x"}),
        ),
        (
            "tool_result is_error string",
            message({"type": "tool_result", "tool_use_id": "t", "content": "x", "is_error": "yes"}),
        ),
        ("context string", turn(context="ctx")),
        ("context list", turn(context=[1])),
        ("context number", turn(context=5)),
        ("turn zero", turn(context={"turn": 0})),
        ("turn negative", turn(context={"turn": -1})),
        ("turn string", turn(context={"turn": "1"})),
        ("turn float", turn(context={"turn": 1.5})),
        ("turn bool", turn(context={"turn": True})),
        ("execution object", turn(context={"turn": 1, "execution": {"a": 1}})),
        ("conversation string", turn(conversation="conversations/x.json")),
        ("conversation list", turn(conversation=[])),
        ("conversation number", turn(conversation=5)),
        ("conversation without key", turn(conversation={"bucket": BUCKET})),
        ("conversation key number", turn(conversation={"bucket": BUCKET, "key": 5})),
        (
            "conversation in another bucket",
            turn(conversation={"bucket": "someone-elses-bucket", "key": "k.json"}),
        ),
        ("conversation bucket number", turn(conversation={"bucket": 5, "key": "k.json"})),
        (
            "conversation key missing in S3",
            turn(conversation={"bucket": BUCKET, "key": "conversations/none.json"}),
        ),
        ("conversation not JSON", turn(conversation={"bucket": BUCKET, "key": STORED["text"]})),
        (
            "conversation JSON without messages",
            turn(conversation={"bucket": BUCKET, "key": STORED["no-messages"]}),
        ),
        ("conversation JSON list", turn(conversation={"bucket": BUCKET, "key": STORED["list"]})),
        (
            "conversation messages malformed",
            turn(conversation={"bucket": BUCKET, "key": STORED["bad-messages"]}),
        ),
        (
            "conversation path traversal",
            turn(conversation={"bucket": BUCKET, "key": "../../etc/passwd"}),
        ),
    ]
    return [Case(label, event) for label, event in cases]


DROP = object()
# Only the OpenAI function serves several providers (providers.json); the others ignore the field.
UNKNOWN_PROVIDER = Case(
    "provider unknown",
    {"agent": {**AGENT, "provider": "hostile"}, "tools": [], "new_messages": [USER]},
)
# Objects in the artifact bucket that a conversation reference may point at.
STORED = {
    "text": "conversations/hostile/not-json.json",
    "no-messages": "conversations/hostile/no-messages.json",
    "list": "conversations/hostile/list.json",
    "bad-messages": "conversations/hostile/bad-messages.json",
}
STORED_BODIES = {
    "text": b"not json at all \xff",
    "no-messages": b'{"agent": "x"}',
    "list": b"[1, 2]",
    "bad-messages": b'{"messages": [{"role": "robot", "content": "x"}]}',
}


def registry_events(response_url: str) -> list[Case]:
    base: dict[str, Any] = {"RequestType": "Create", "ResponseURL": response_url,
            "StackId": "stack",
            "RequestId": "r1", "LogicalResourceId": "Registry", "ResourceProperties": {
                "ToolRegistryTable": "tools", "AgentRegistryTable": "agents",
                "ResourceArns": {}}}  # fmt: skip

    def without(*keys: str) -> dict[str, Any]:
        return {k: v for k, v in base.items() if k not in keys}

    def props(**changes: Any) -> dict[str, Any]:
        return {**base, "ResourceProperties": {**base["ResourceProperties"], **changes}}

    cases: list[tuple[str, Any]] = [
        ("no ResponseURL", without("ResponseURL")),
        ("ResponseURL number", {**base, "ResponseURL": 5}),
        ("ResponseURL not http", {**base, "ResponseURL": "file:///etc/passwd"}),
        ("no StackId", without("StackId")),
        ("no RequestId", without("RequestId")),
        ("no LogicalResourceId", without("LogicalResourceId")),
        ("no RequestType", without("RequestType")),
        ("RequestType unknown", {**base, "RequestType": "Explode"}),
        ("RequestType number", {**base, "RequestType": 3}),
        ("no ResourceProperties", without("ResourceProperties")),
        ("ResourceProperties list", {**base, "ResourceProperties": []}),
        ("no table names", props(ToolRegistryTable=None, AgentRegistryTable=None)),
        ("table name number", props(ToolRegistryTable=5)),
        ("ResourceArns list", props(ResourceArns=[])),
        (
            "ResourceArns missing",
            {**base, "ResourceProperties": {"ToolRegistryTable": "t", "AgentRegistryTable": "a"}},
        ),
        ("tables that do not exist", props(ToolRegistryTable="nope", AgentRegistryTable="nope")),
        ("Delete without ResponseURL", {**without("ResponseURL"), "RequestType": "Delete"}),
    ]
    return [Case(f"registry: {label}", event) for label, event in cases]


# ----------------------------------------------------------------------------- judging


def _leaks_trace(text: str) -> bool:
    return any(marker in text for marker in TRACE_MARKERS)


def judge_tool(case: Case, call: Callable[[Any], Any]) -> str | None:
    """None if the answer follows the contract, else what is wrong."""
    event = case.event
    is_call = (
        isinstance(event, dict)
        and all(isinstance(event.get(k), str) and event[k] for k in ("id", "name"))
        and isinstance(event.get("input", {}), dict)
    )
    try:
        answer = call(event)
    except Exception as error:
        kind = type(error).__name__
        if is_call:
            return f"a tool call raised {kind}: {str(error)[:120]}"
        if kind not in TYPED_ERRORS or not str(error):
            return f"raised {kind} instead of a typed error: {str(error)[:120]}"
        return None
    if not is_call:
        return f"answered a non-call with {_short(answer)}"
    if not (
        isinstance(answer, dict)
        and answer.get("type") == "tool_result"
        and answer.get("tool_use_id") == event["id"]
        and isinstance(answer.get("content"), str)
        and isinstance(answer.get("is_error"), bool)
    ):
        return f"not a tool_result: {_short(answer)}"
    if _leaks_trace(answer["content"]):
        return "the result holds a stack trace"
    return None


def judge_typed(case: Case, call: Callable[[Any], Any]) -> str | None:
    try:
        answer = call(case.event)
    except Exception as error:
        kind = type(error).__name__
        if kind not in TYPED_ERRORS or not str(error).strip():
            return f"raised {kind}: {str(error)[:120]}"
        return None
    return f"accepted a malformed event: {_short(answer)}"


class ResponseCollector(http.server.BaseHTTPRequestHandler):
    """Stands in for CloudFormation's pre-signed response URL."""

    bodies: ClassVar[list[dict[str, Any]]] = []

    def do_PUT(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        self.bodies.append(json.loads(self.rfile.read(length)))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


def judge_registry(case: Case, call: Callable[[Any], Any]) -> str | None:
    """A custom-resource event answers CloudFormation (FAILED, with a reason) when it can reach
    it, and raises MalformedRegistryEvent when it cannot; it never hangs a stack."""
    event = case.event
    ResponseCollector.bodies.clear()
    try:
        call(event)
    except Exception as error:
        kind = type(error).__name__
        if kind not in TYPED_ERRORS:
            return f"raised {kind}: {str(error)[:120]}"
        if _reachable(event) and not ResponseCollector.bodies:
            return "raised without answering CloudFormation"
        return None
    if not ResponseCollector.bodies:
        return "neither answered CloudFormation nor raised"
    body = ResponseCollector.bodies[-1]
    if event.get("RequestType") == "Delete":
        return None
    if body.get("Status") != "FAILED" or not body.get("Reason"):
        return f"answered {body.get('Status')} to a malformed event"
    return None


def _reachable(event: Any) -> bool:
    url = event.get("ResponseURL") if isinstance(event, dict) else None
    return isinstance(url, str) and url.startswith("http")


# ----------------------------------------------------------------------------- the functions


@dataclass(frozen=True)
class Target:
    category: str
    code_dir: str
    env: dict[str, str]
    cases: Callable[[str], list[Case]]
    judge: Callable[[Case, Callable[[Any], Any]], str | None]


def _llm_env(service: str, **extra: str) -> dict[str, str]:
    return {
        "POWERTOOLS_SERVICE_NAME": service,
        "ARTIFACT_BUCKET": BUCKET,
        "LLM_API_KEYS_SECRET": "hostile-keys",
        "DEFAULT_MODEL": "hostile-model",
        "LLM_TIMEOUT_SECONDS": "2",
        "LLM_MAX_RETRIES": "0",
        **extra,
    }


TARGETS = [
    Target(
        "events:sql",
        "functions/tools/sql",
        {"POWERTOOLS_SERVICE_NAME": "tool-sql", "SQL_DATABASE_URI": ""},
        lambda _: not_objects() + tool_events("execute_sql_query") + tool_events("get_db_schema"),
        judge_tool,
    ),
    Target(
        "events:market_data",
        "functions/tools/market_data",
        {"POWERTOOLS_SERVICE_NAME": "tool-market-data", "ARTIFACT_BUCKET": BUCKET},
        lambda _: not_objects() + tool_events("prepare_price_csv"),
        judge_tool,
    ),
    Target(
        "events:llm/anthropic",
        "functions/llm/anthropic",
        _llm_env("llm-anthropic", ANTHROPIC_BASE_URL=NOWHERE),
        lambda _: not_objects() + llm_events(),
        judge_typed,
    ),
    Target(
        "events:llm/openai",
        "functions/llm/openai",
        _llm_env("llm-openai", OPENAI_BASE_URL=NOWHERE),
        lambda _: not_objects() + llm_events() + [UNKNOWN_PROVIDER],
        judge_typed,
    ),
    Target(
        "events:llm/gemini",
        "functions/llm/gemini",
        _llm_env("llm-gemini", GOOGLE_GEMINI_BASE_URL=NOWHERE),
        lambda _: not_objects() + llm_events(),
        judge_typed,
    ),
    Target(
        "events:llm/bedrock",
        "functions/llm/bedrock",
        _llm_env("llm-bedrock", AWS_ENDPOINT_URL_BEDROCK_RUNTIME=NOWHERE),
        lambda _: not_objects() + llm_events(),
        judge_typed,
    ),
    Target(
        "events:registry",
        "registry",
        {"POWERTOOLS_SERVICE_NAME": "registry"},
        lambda url: not_objects() + registry_events(url),
        judge_registry,
    ),
]


@dataclass(frozen=True)
class Context:
    function_name: str = "HostileInputs"
    memory_limit_in_mb: int = 512
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:123456789012:function:HostileInputs"
    aws_request_id: str = "00000000-0000-0000-0000-000000000000"


@contextlib.contextmanager
def aws_sandbox() -> Iterator[str]:
    """moto in-process (S3 with the artifact bucket and stored objects, DynamoDB, Secrets
    Manager) and a collector for custom-resource responses: its URL."""
    from moto import mock_aws

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), ResponseCollector)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    env = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
           "AWS_DEFAULT_REGION": "us-east-1", "POWERTOOLS_TRACE_DISABLED": "true",
           "POWERTOOLS_METRICS_NAMESPACE": "hostile-inputs"}  # fmt: skip
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        with mock_aws():
            import boto3

            s3 = boto3.client("s3")
            s3.create_bucket(Bucket=BUCKET)
            for name, key in STORED.items():
                s3.put_object(Bucket=BUCKET, Key=key, Body=STORED_BODIES[name])
            boto3.client("secretsmanager").create_secret(
                Name="hostile-keys", SecretString=json.dumps({"OPENAI_API_KEY": "sk-hostile"})
            )
            yield f"http://127.0.0.1:{server.server_address[1]}/response"
    finally:
        server.shutdown()
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def load_handler(code_dir: str, env: dict[str, str]) -> Handler:
    """The handler template.yaml gives the function whose CodeUri is ``code_dir``."""
    template = Template.load(ROOT / "template.yaml")
    for logical_id in template.of_type("AWS::Serverless::Function"):
        props = template.function_properties(logical_id)
        if str(props.get("CodeUri", "")).rstrip("/") == code_dir:
            return load_from(ROOT / code_dir, props["Handler"], [LAYER], env)
    raise LookupError(f"no function in template.yaml has CodeUri {code_dir}")


def run_events(target: Target, response_url: str) -> Outcome:
    handler = load_handler(target.code_dir, target.env)

    def call(event: Any) -> Any:
        with overlay(target.env):
            return handler(event, Context())

    outcome = Outcome()
    for case in target.cases(response_url):
        outcome.tried += 1
        problem = target.judge(case, call)
        if problem:
            outcome.failures.append(f"{case.label}: {problem}")
    return outcome


# ----------------------------------------------------------------------------- SQL and worker

HOSTILE_SQL = [
    "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT count(*) FROM c",
    "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT x FROM c ORDER BY 1",
    "WITH RECURSIVE c(x) AS (SELECT 1 UNION SELECT x + 1 FROM c) SELECT max(x) FROM c",
    "SELECT count(*) FROM players a, players b, players c, players d",
    "SELECT zeroblob(500000000)",
    "SELECT randomblob(300000000)",
    "SELECT hex(zeroblob(60000000))",
    "SELECT group_concat(hex(zeroblob(50000))) FROM players",
    "SELECT printf('%.*c', 300000000, 'x')",
    "SELECT format('%2000000000d', 1)",
    "SELECT replace(hex(zeroblob(40000)), '0', hex(zeroblob(40000)))",
    "SELECT fts3_tokenizer('simple')",
    "SELECT load_extension('/tmp/evil.so')",
    "PRAGMA temp_store_directory = '/tmp'",
    "PRAGMA temp_store_directory",
    "PRAGMA writable_schema = ON",
    "PRAGMA journal_mode = DELETE",
    "PRAGMA query_only = OFF",
    "PRAGMA cache_size = -1000000",
    "PRAGMA mmap_size = 1000000000",
    "PRAGMA hard_heap_limit = 1",
    "PRAGMA soft_heap_limit = 1",
    "PRAGMA threads = 8",
    "PRAGMA trusted_schema = ON",
    "PRAGMA case_sensitive_like = ON",
    "PRAGMA foreign_keys = OFF",
    "ATTACH DATABASE '/tmp/hostile.sqlite' AS other",
    "ATTACH DATABASE ':memory:' AS m",
    "DETACH DATABASE main",
    "VACUUM INTO '/tmp/copy.sqlite'",
    "VACUUM",
    "REINDEX",
    "ANALYZE",
    "INSERT INTO teams VALUES ('XXX', 'Test', 'Nowhere', 'American', 'East', 2000)",
    "UPDATE seasons SET wins = 162",
    "DELETE FROM batting",
    "DROP TABLE batting",
    "CREATE TABLE notes (text TEXT)",
    "CREATE TEMP TABLE t (x)",
    "CREATE TEMP VIEW v AS SELECT 1",
    "CREATE TEMP TRIGGER t AFTER INSERT ON teams BEGIN SELECT 1; END",
    "CREATE VIRTUAL TABLE t USING fts5(x)",
    "CREATE INDEX i ON teams(name)",
    "ALTER TABLE teams RENAME TO t2",
    "BEGIN IMMEDIATE",
    "SAVEPOINT s",
    "SELECT 1; DROP TABLE teams",
    "SELECT '\x00'",
    "SELECT " + "1 + " * 5000 + "1",
    "SELECT " + ", ".join(["1"] * 3000),
    "SELECT '" + "A" * 200_000 + "'",
]


def run_sql() -> Outcome:
    """Each hostile query must come back as a result (or error result) within the time limit, use
    no memory to speak of, and leave the database and the process unchanged."""
    import hashlib
    import resource
    import shutil
    import sqlite3
    import tempfile

    with tempfile.TemporaryDirectory() as scratch:
        copy = Path(scratch) / "copy.sqlite"
        shutil.copy(ROOT / "functions/tools/sql/data/baseball.sqlite", copy)
        before = hashlib.sha256(copy.read_bytes()).hexdigest()
        env = {"POWERTOOLS_SERVICE_NAME": "tool-sql", "SQL_DATABASE_URI": str(copy),
               "SQL_TIME_LIMIT_SECONDS": "1"}  # fmt: skip
        handler = load_handler("functions/tools/sql", env)
        outcome = Outcome()
        for sql in HOSTILE_SQL:
            outcome.tried += 1
            peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
            started = time.monotonic()
            with overlay(env):
                event = {"id": "toolu_1", "name": "execute_sql_query", "input": {"sql_query": sql}}
                answer = handler(event, Context())
            took = time.monotonic() - started
            grew_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - peak) / 1024
            label = _short(sql)
            if took > 2:
                outcome.failures.append(f"{label}: ran {took:.1f} s (limit 1 s)")
            if grew_mb > 100:
                outcome.failures.append(f"{label}: memory peak grew {grew_mb:.0f} MB")
            if _leaks_trace(answer["content"]):
                outcome.failures.append(f"{label}: the result holds a stack trace")
            with overlay(env):
                check = {"id": "t", "name": "execute_sql_query",
                         "input": {"sql_query": "SELECT count(*) FROM batting"}}  # fmt: skip
                after = handler(check, Context())
            if after["is_error"] or json.loads(after["content"])["rows"] != [[3900]]:
                outcome.failures.append(f"{label}: the next query failed: {after['content']}")
        if hashlib.sha256(copy.read_bytes()).hexdigest() != before:
            outcome.failures.append("the database file changed")
        with sqlite3.connect(":memory:") as other:
            if other.execute("PRAGMA temp_store_directory").fetchone() not in (None, ("",)):
                outcome.failures.append("temp_store_directory leaked into the process")
        return outcome


def worker_requests() -> list[Any]:
    commands: list[Any] = [
        None, 5, [], ["echo", "hi"], {"cmd": "echo"}, "", "   ", "''", "echo \x00 hi",
        "\x00", "echo 'unclosed", 'echo "unclosed', "echo hi | rm -rf /", "echo $(id)",
        "echo `id`", "rm -rf /", "/bin/echo hi", "../../bin/echo hi", "sh -c 'echo hi'",
        "echo " + "A" * 200_000, r"printf '\377\376'", r"printf '\377'", "yes",
        "printenv", "printenv AWS_SECRET_ACCESS_KEY", "sleep 30", "cat /dev/zero",
        "cat /dev/urandom", "echo \ud800",
    ]  # fmt: skip
    requests: list[Any] = [{"tool_input": {"command": c}} for c in commands]
    requests += [
        None, "echo hi", [], {"tool_input": None}, {"tool_input": "echo hi"},
        {"tool_input": {"command": "echo hi", "working_directory": 5}},
        {"tool_input": {"command": "echo hi", "working_directory": "/tmp\x00"}},
        {"tool_input": {"command": "echo hi", "working_directory": "/no/such/dir"}},
    ]  # fmt: skip
    return requests


def run_worker() -> Outcome:
    """Every request gets a JSON answer within the timeout, no stack trace, bounded output and
    memory, and no secret from the worker's environment."""
    import resource

    from sfn_agents.worker import WorkerConfig, run_command

    config = WorkerConfig(
        allow=frozenset({"echo", "printf", "printenv", "yes", "sleep", "cat"}),
        timeout_seconds=1,
        max_output_chars=20_000,
    )
    os.environ["WORKER_SECRET_FOR_HOSTILE_INPUTS"] = "leaked-secret"
    outcome = Outcome()
    try:
        for request in worker_requests():
            outcome.tried += 1
            label = _short(request)
            peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
            started = time.monotonic()
            try:
                answer = run_command(request, config)
                text = json.dumps(answer)
            except Exception as error:
                outcome.failures.append(f"{label}: raised {type(error).__name__}: {error}")
                continue
            grew_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - peak) / 1024
            if time.monotonic() - started > 3:
                outcome.failures.append(f"{label}: took {time.monotonic() - started:.1f} s")
            if grew_mb > 100:
                outcome.failures.append(f"{label}: memory peak grew {grew_mb:.0f} MB")
            if len(text) > 25_000 * 6:
                outcome.failures.append(f"{label}: answer of {len(text)} characters")
            if "leaked-secret" in text or "AWS_SECRET_ACCESS_KEY=" in text:
                outcome.failures.append(f"{label}: a secret reached the answer")
            if _leaks_trace(text):
                outcome.failures.append(f"{label}: the answer holds a stack trace")
    finally:
        os.environ.pop("WORKER_SECRET_FOR_HOSTILE_INPUTS", None)
    return outcome


def run_all(categories: list[str] | None = None) -> dict[str, Outcome]:
    wanted = set(categories or [])
    results: dict[str, Outcome] = {}
    if not wanted or "sql" in wanted:
        results["sql"] = run_sql()
    if not wanted or "worker" in wanted:
        results["worker"] = run_worker()
    targets = [t for t in TARGETS if not wanted or t.category in wanted or "events" in wanted]
    if targets:
        with aws_sandbox() as response_url:
            for target in targets:
                results[target.category] = run_events(target, response_url)
    return results


def main(argv: list[str]) -> int:
    import logging
    import warnings

    warnings.simplefilter("ignore")  # Powertools warns of empty metrics on every refusal
    logging.disable(logging.CRITICAL)  # the functions log every refusal; the summary is below
    results = run_all(argv)
    width = max(len(name) for name in results)
    for name, outcome in results.items():
        print(f"{name:<{width}}  tried {outcome.tried:4d}  failed {len(outcome.failures):3d}")
    for name, outcome in results.items():
        for failure in outcome.failures:
            print(f"  {name}: {failure}")
    total = sum(o.tried for o in results.values())
    failed = sum(len(o.failures) for o in results.values())
    print(f"{'total':<{width}}  tried {total:4d}  failed {failed:3d}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
