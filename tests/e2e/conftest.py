"""One local engine per test session, deployed from the real template, with the Anthropic LLM
function pointed at a scripted fake whose script each test sets.

The engine's state is moto's, which is process-wide, and so are the environment and the IAM
enforcer it installs: a test in the same process that resets moto (``mock_aws``) or deploys an
engine of its own takes them from it. The end-to-end tests therefore run before the others in
each process (collection order; `make unit` keeps it on every pytest-xdist worker), and a test
that finds the engine's state gone fails saying so."""

import json
import os
import signal
import sqlite3
import threading
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from sfn_agents import local_iam
from sfn_agents.engine import LocalEngine
from sfn_agents.history import load_messages
from sfn_agents.runner import RunResult, run_execution
from sfn_agents.scripted import ScriptedServer

# A shell that starts `make test` in the background (`cmd &` without job control) ignores SIGINT,
# and an ignored signal stays ignored across exec: the CLIs these tests interrupt with Ctrl-C
# would never see it. A handled signal is reset to the default across exec, so handle it here.
if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)

ROOT = Path(__file__).resolve().parents[2]
SAMPLE_DB = ROOT / "functions" / "tools" / "sql" / "data" / "baseball.sqlite"


class AgentRun:
    def __init__(self, engine: LocalEngine, result: RunResult) -> None:
        self.result = result
        self.output = result.output or {}
        self.messages = load_messages(engine.client("s3"), self.output.get("conversation"))

    def tool_results(self) -> list[dict[str, Any]]:
        return [
            block
            for message in self.messages
            if message["role"] == "user"
            for block in message["content"]
            if block["type"] == "tool_result"
        ]


PROTOCOLS = ("anthropic", "openai", "gemini", "bedrock")


class ScriptedModels:
    """One strict fake per provider protocol, all playing the same script."""

    def __init__(self, fakes: dict[str, ScriptedServer]) -> None:
        self.fakes = fakes

    def play(self, script: dict[str, Any]) -> None:
        for fake in self.fakes.values():
            fake.play(script)

    @property
    def requests(self) -> dict[str, list[dict[str, Any]]]:
        return {protocol: fake.requests for protocol, fake in self.fakes.items()}


@pytest.fixture(scope="session")
def scripted_model() -> Iterator[ScriptedModels]:
    with ExitStack() as stack:
        fakes = {
            protocol: stack.enter_context(ScriptedServer(protocol, {"turns": [{"text": "unused"}]}))
            for protocol in PROTOCOLS
        }
        yield ScriptedModels(fakes)


USGS_RESPONSE = {
    "type": "FeatureCollection",
    "features": [
        {
            "properties": {"mag": 7.5, "place": "Noto Peninsula, Japan", "time": 1704093010000},
            "geometry": {"type": "Point", "coordinates": [137.27, 37.49, 10.0]},
        },
        {
            "properties": {
                "mag": 5.9,
                "place": "near the west coast of Honshu",
                "time": 1704120000000,
            },
            "geometry": {"type": "Point", "coordinates": [137.1, 37.3, 12.5]},
        },
    ],
}


# 200 events with 5,000-character place names: the tool's answer is over 1 MB.
USGS_BIG_START = "1900-01-01"
USGS_BIG_RESPONSE = {
    "type": "FeatureCollection",
    "features": [
        {
            "properties": {"mag": 5.0, "place": f"{i} ".ljust(5_000, "x"), "time": 1704093010000},
            "geometry": {"type": "Point", "coordinates": [137.27, 37.49, 10.0]},
        }
        for i in range(200)
    ],
}


class _UsgsFake(BaseHTTPRequestHandler):
    """The USGS event API's answer to any query (the tool's own tests check its query string);
    a query starting on USGS_BIG_START gets USGS_BIG_RESPONSE."""

    def do_GET(self) -> None:
        big = f"starttime={USGS_BIG_START}" in self.path
        body = json.dumps(USGS_BIG_RESPONSE if big else USGS_RESPONSE).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture(scope="session")
def usgs_big_query() -> dict[str, Any]:
    """query_earthquakes input the USGS fake answers with USGS_BIG_RESPONSE."""
    return {"start_date": USGS_BIG_START, "end_date": "1900-01-31", "limit": 200}


@pytest.fixture(scope="session")
def usgs_url() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _UsgsFake)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


@pytest.fixture(scope="session")
def perplexity() -> Iterator[ScriptedServer]:
    """Perplexity speaks OpenAI's Chat Completions: the strict OpenAI fake stands in for it."""
    script = {"turns": [{"text": "Step Functions states carry at most 256 KiB of data [1]."}]}
    with ScriptedServer("openai", script) as fake:
        yield fake


@pytest.fixture(scope="session")
def engine(
    scripted_model: ScriptedModels, usgs_url: str, perplexity: ScriptedServer
) -> Iterator[LocalEngine]:
    fakes = scripted_model.fakes
    with LocalEngine() as local:
        local.deploy(
            ROOT / "template.yaml",
            function_env={
                "AnthropicLlmFunction": {"ANTHROPIC_BASE_URL": fakes["anthropic"].url},
                "OpenAiLlmFunction": {"OPENAI_BASE_URL": fakes["openai"].url},
                "GeminiLlmFunction": {"GOOGLE_GEMINI_BASE_URL": fakes["gemini"].url},
                "BedrockLlmFunction": {"AWS_ENDPOINT_URL_BEDROCK_RUNTIME": fakes["bedrock"].url},
                "EarthquakeToolFunction": {"USGS_BASE_URL": usgs_url},
                "WebResearchToolFunction": {
                    "PERPLEXITY_BASE_URL": perplexity.url,
                    "PERPLEXITY_SECRET_NAME": "",
                    "PERPLEXITY_API_KEY": "test-perplexity-key",
                },
            },
            secret_values={
                name: "test-key"
                for name in (
                    "ANTHROPIC_API_KEY",
                    "OPENAI_API_KEY",
                    "DEEPSEEK_API_KEY",
                    "GEMINI_API_KEY",
                )
            },
        )
        local.client("s3").create_bucket(Bucket=SESSION_MARK)
        yield local


SESSION_MARK = "sfn-agents-tests-session-engine"  # a bucket: gone when moto's state was reset


@pytest.fixture(autouse=True)
def _engine_state_intact(request: pytest.FixtureRequest) -> None:
    if "engine" not in request.fixturenames:
        return
    engine: LocalEngine = request.getfixturevalue("engine")
    buckets = {b["Name"] for b in engine.client("s3").list_buckets()["Buckets"]}
    enforcer = local_iam._enforcer
    intact = (
        SESSION_MARK in buckets
        and enforcer is not None
        and enforcer.engine is engine
        and os.environ.get("AWS_ENDPOINT_URL") == engine.endpoint
    )
    assert intact, (
        "the session engine's moto state, environment or IAM enforcer was taken by a test that"
        " ran before in this process (mock_aws, or an engine of its own): run the end-to-end"
        " tests first (pytest's collection order; with pytest-xdist, --no-loadscope-reorder)"
    )


@pytest.fixture
def run_agent(engine: LocalEngine, scripted_model: ScriptedServer) -> Callable[..., AgentRun]:
    def run(
        script: dict[str, Any],
        prompt: str = "question",
        agent: str = "sql-agent",
        timeout_seconds: float = 120,
        **execution_input: Any,
    ) -> AgentRun:
        scripted_model.play(script)
        result = run_execution(
            engine.client("stepfunctions"),
            engine.state_machine_for(agent),
            {"prompt": prompt, **execution_input},
            timeout_seconds=timeout_seconds,
        )
        if result.output and "receipt" in result.output:  # on every path a test takes
            assert result.output["receipt"]["transitions"] == result.transitions, result.events
        return AgentRun(engine, result)

    return run


@pytest.fixture(scope="session")
def sample_db() -> Callable[[str], list[tuple[Any, ...]]]:
    def query(sql: str) -> list[tuple[Any, ...]]:
        with sqlite3.connect(f"file:{SAMPLE_DB}?mode=ro", uri=True) as connection:
            return connection.execute(sql).fetchall()

    return query
