"""The HTTP API in front of the agents (API Gateway REST, Lambda proxy), and the web UI it serves.

Thin: parse and validate the request (Powertools' REST resolver with pydantic models), delegate to
``agent_api``, answer JSON. Errors are ``{error, message}`` with their status."""

import functools
import json
import mimetypes
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, cast

import boto3
from agent_core.observability import observed
from agent_core.settings import sandbox_environment
from aws_lambda_powertools.event_handler import APIGatewayRestResolver, CORSConfig, Response
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.exceptions import NotFoundError
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError
from aws_lambda_powertools.event_handler.openapi.params import Header, Query
from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEvent
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel, ConfigDict, Field

from agent_api.approvals import Approvals
from agent_api.catalog import Catalog
from agent_api.errors import ApiError, NotFound
from agent_api.runs import Runs
from agent_api.sessions import Sessions, session_store
from agent_api.settings import ApiSettings

UI_DIR = Path(__file__).resolve().parents[1] / "ui"
STREAM_SECONDS = 20.0  # API Gateway's REST integration answers within 29 s
ID = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$"

router = Router()


@dataclass(frozen=True)
class Api:
    """The resolver and the services behind it, built from the settings."""

    resolver: APIGatewayRestResolver
    catalog: Catalog
    runs: Runs
    approvals: Approvals
    sessions: Sessions


def api() -> Api:
    """This thread's Api. Powertools' resolver holds the request in flight, so each thread gets its
    own, as each Lambda sandbox serves one request at a time (a test may serve concurrent API
    requests on threads of one process)."""
    return _sandbox_api(sandbox_environment(), threading.get_ident())


@functools.lru_cache(maxsize=64)
def _sandbox_api(environment: frozenset[tuple[str, str]], thread: int) -> Api:
    settings = ApiSettings.from_env()
    dynamodb = boto3.resource("dynamodb")
    sfn = boto3.client("stepfunctions")
    catalog = Catalog(boto3.client("dynamodb"), settings.agent_table, settings.tool_table)
    runs = Runs(settings, catalog, sfn, dynamodb.Table(settings.runs_table))
    approvals = Approvals(settings, catalog, sfn, dynamodb.Table(settings.approvals_table))
    sessions = session_store(
        settings, runs, dynamodb.Table(settings.runs_table), boto3.client("s3")
    )
    resolver = APIGatewayRestResolver(
        cors=CORSConfig(allow_origin=settings.ui_origin, allow_headers=["x-api-key"], max_age=600),
        enable_validation=True,
    )
    resolver.include_router(router)
    resolver.not_found(_no_route)
    return Api(resolver, catalog, runs, approvals, sessions)


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class StartRun(Strict):
    agent: str = Field(min_length=1, max_length=64)
    prompt: str = Field(min_length=1, max_length=100_000)
    session_id: str | None = Field(default=None, pattern=ID)


class Approve(Strict):
    notes: str = Field(default="", max_length=4000)
    reviewer: str = Field(default="", max_length=200)


class Reject(Approve):
    reason: str = Field(min_length=1, max_length=4000)


def _error(status: int, code: str, message: str) -> Response[str]:
    return Response(
        status_code=status,
        content_type="application/json",
        body=json.dumps({"error": code, "message": message}),
    )


@router.exception_handler(ApiError)
def _api_error(error: ApiError) -> Response[str]:
    return _error(error.status, error.code, error.message)


@router.exception_handler(RequestValidationError)
def _invalid(error: RequestValidationError) -> Response[str]:
    problems = [
        f"{'.'.join(str(p) for p in e['loc'] if p != 'body') or 'body'}: {e['msg']}"
        for e in error.errors()
    ]
    return _error(400, "bad_request", "; ".join(problems))


def _no_route(_: NotFoundError) -> Response[str]:
    event = api().resolver.current_event
    return _error(404, "not_found", f"no route {event.http_method} {event.path}")


def _reviewer(name: str) -> dict[str, str]:
    """Who answered: the API key API Gateway checked (its id, never the key) and the name given."""
    event = cast(APIGatewayProxyEvent, api().resolver.current_event)
    key_id = event.request_context.identity.api_key_id or "unknown"
    return {"name": name or f"api-key:{key_id}", "api_key_id": key_id}


# ---------------------------------------------------------------------- the web UI (no key)
@router.get("/")
def index() -> Response[str]:
    return _asset("index.html")


@router.get("/ui/<asset>")
def ui_asset(asset: str) -> Response[str]:
    return _asset(asset)


def _asset(name: str) -> Response[str]:
    path = UI_DIR / name
    if path.parent != UI_DIR or not path.is_file():
        raise NotFound(f"no UI file {name!r}")
    return Response(
        status_code=200,
        content_type=mimetypes.guess_type(name)[0] or "application/octet-stream",
        body=path.read_text(),
        headers={"Cache-Control": "no-cache"},
    )


# ---------------------------------------------------------------------- agents and runs
@router.get("/agents")
def list_agents() -> dict[str, Any]:
    return {"agents": [agent.public() for agent in api().catalog.agents().values()]}


@router.post("/runs")
def start_run(body: StartRun) -> Response[str]:
    started = api().runs.start(body.agent, body.prompt, body.session_id)
    return Response(status_code=202, content_type="application/json", body=json.dumps(started))


@router.get("/runs")
def list_runs(
    agent: Annotated[str | None, Query(max_length=64)] = None,
    session_id: Annotated[str | None, Query(pattern=ID)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> dict[str, Any]:
    return {"runs": api().runs.list(agent=agent, session_id=session_id, limit=limit)}


@router.get("/runs/<run_id>")
def get_run(run_id: str) -> dict[str, Any]:
    return api().runs.get(run_id)


@router.get("/runs/<run_id>/events")
def run_events(
    run_id: str, after: Annotated[str | None, Query(max_length=64)] = None
) -> dict[str, Any]:
    page = api().runs.events(run_id, after)
    page.pop("calls")
    return page


@router.get("/runs/<run_id>/stream")
def run_stream(
    run_id: str,
    after: Annotated[str | None, Query(max_length=64)] = None,
    last_event_id: Annotated[str | None, Header(alias="last-event-id", max_length=64)] = None,
) -> Response[str]:
    """Server-sent events: a ``step`` event per step, then ``end`` (the run is over) or ``more``,
    whose ``id`` is the cursor: EventSource reconnects after ``retry`` ms with it as
    Last-Event-ID. Each response holds what arrived within STREAM_SECONDS of polling."""
    page = api().runs.wait_for_news(run_id, last_event_id or after, STREAM_SECONDS)
    frames = ["retry: 500\n\n"]
    frames += [f"event: step\ndata: {json.dumps(step, default=str)}\n\n" for step in page["events"]]
    last = "end" if page["status"] != "RUNNING" and not page["more"] else "more"
    status = json.dumps({"next": page["next"], "status": page["status"]})
    frames.append(f"id: {page['next']}\nevent: {last}\ndata: {status}\n\n")
    return Response(
        status_code=200,
        content_type="text/event-stream",
        body="".join(frames),
        headers={"Cache-Control": "no-cache"},
    )


# ---------------------------------------------------------------------- approvals
@router.get("/approvals")
def list_approvals() -> dict[str, Any]:
    return {"approvals": api().approvals.pending()}


@router.post("/approvals/<approval_id>/approve")
def approve(approval_id: str, body: Approve) -> dict[str, Any]:
    decision = {"approved": True, "review_notes": body.notes}
    return api().approvals.answer(approval_id, decision, _reviewer(body.reviewer))


@router.post("/approvals/<approval_id>/reject")
def reject(approval_id: str, body: Reject) -> dict[str, Any]:
    decision = {"approved": False, "rejection_reason": body.reason, "review_notes": body.notes}
    return api().approvals.answer(approval_id, decision, _reviewer(body.reviewer))


# ---------------------------------------------------------------------- sessions
@router.get("/sessions/<session_id>")
def get_session(session_id: str) -> dict[str, Any]:
    session = api().sessions.get(session_id)
    if session is None:
        raise NotFound(f"no session {session_id!r}")
    return session | {"messages": api().sessions.messages(session_id)}


@router.delete("/sessions/<session_id>")
def delete_session(session_id: str) -> dict[str, Any]:
    if not api().sessions.delete(session_id):
        raise NotFound(f"no session {session_id!r}")
    return {"session_id": session_id, "deleted": True}


@observed
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return api().resolver.resolve(event, context)
