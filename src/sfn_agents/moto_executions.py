"""The execution API of moto 5.2.5's executing Step Functions backend, made to behave as AWS's.

- ``GetExecutionHistory`` pages: ``maxResults`` (default 100, at most 1000, 0 = default),
  ``nextToken`` and ``reverseOrder``, as AWS does; moto returned the whole history every time
  (deep-copying all of it), through a generic serializer that took ~1 ms per event: a page is
  written as JSON directly, as that serializer writes it. A ``nextToken`` comes back only when more
  events exist now, as on AWS, so a follower of a running execution keeps the last event id it saw.
- ``StartExecution`` rejects an input over 262,144 bytes with AWS's ValidationException (moto
  accepted any size), and names an unnamed execution with a UUID, as AWS does (moto named it
  ``None``, so two unnamed executions of one state machine, sub-agents' say, collided).
- ``StopExecution`` of an execution that waits on a task token or an activity stops it at once:
  moto set the program's state but left the Task state waiting (up to its timeout), so the
  execution stayed RUNNING. Its waits are woken, and the error the woken state raises does not
  overwrite the stop: the execution is ABORTED, as on AWS.
- A long-lived engine keeps every execution with its whole evaluation state (~0.75 MB each):
  ended executions beyond ``KEEP_ENDED_EXECUTIONS`` per state machine are forgotten, oldest first
  (AWS keeps them 90 days; ask for an old one and it answers ExecutionDoesNotExist). moto also
  keeps every thread it ever started for an execution, a Map iteration or a parallel branch in
  a module-level list (``TMP_THREADS``, a test-cleanup aid); finished ones are dropped from it.
- Each event added to a history is news for a follower in this process (``history_news``).
"""

import base64
import binascii
import json
import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Any

from moto.core.responses import ActionResult
from moto.core.serialize import TimestampSerializer
from moto.stepfunctions.exceptions import InvalidToken, ValidationException
from moto.stepfunctions.parser.api import ExecutionStatus
from moto.stepfunctions.parser.asl.eval.callback.callback import ActivityCallbackEndpoint
from moto.stepfunctions.parser.asl.eval.environment import Environment
from moto.stepfunctions.parser.asl.eval.event.event_manager import EventManager
from moto.stepfunctions.parser.asl.eval.program_state import ProgramStopped
from moto.stepfunctions.parser.backend.execution import Execution
from moto.stepfunctions.parser.backend.execution_worker import ExecutionWorker
from moto.stepfunctions.parser.models import StepFunctionsParserBackend
from moto.stepfunctions.parser.utils import TMP_THREADS
from moto.stepfunctions.responses import StepFunctionResponse

from sfn_agents import history_news

MAX_INPUT_BYTES = 262_144
DEFAULT_PAGE = 100
MAX_PAGE = 1000
KEEP_ENDED_EXECUTIONS = 100


# ---------------------------------------------------------------------------- history paging
def _token(execution_arn: str, reverse: bool, position: int) -> str:
    raw = json.dumps({"arn": execution_arn, "reverse": reverse, "position": position})
    return base64.urlsafe_b64encode(raw.encode()).decode()


def _position(token: str, execution_arn: str, reverse: bool) -> int:
    try:
        decoded = json.loads(base64.urlsafe_b64decode(token.encode()))
        if decoded["arn"] == execution_arn and decoded["reverse"] == reverse:
            return int(decoded["position"])
    except (binascii.Error, ValueError, KeyError, TypeError):
        pass
    raise InvalidToken("the token does not belong to this history request")


def get_execution_history(
    self: StepFunctionsParserBackend,
    execution_arn: str,
    max_results: int | None = None,
    next_token: str | None = None,
    reverse_order: bool = False,
) -> dict[str, Any]:
    execution = self.describe_execution(execution_arn=execution_arn)
    size = max_results or DEFAULT_PAGE
    if not 0 < size <= MAX_PAGE:
        raise ValidationException(
            "1 validation error detected: Value at 'maxResults' failed to satisfy constraint: "
            f"Member must have value less than or equal to {MAX_PAGE}"
        )
    worker = getattr(execution, "exec_worker", None)
    env = worker.env if worker else None
    if env is None:
        return {"events": []}
    manager = env.event_manager
    with manager._mutex:
        events = manager._history_event_list
        if reverse_order:  # position: where the page ends (exclusive), counted from the start
            end = len(events) if next_token is None else _position(next_token, execution_arn, True)
            start = max(0, end - size)
            page, more, following = events[start:end][::-1], start > 0, start
        else:
            start = 0 if next_token is None else _position(next_token, execution_arn, False)
            end = min(len(events), start + size)
            page, more, following = events[start:end], end < len(events), end
    result: dict[str, Any] = {"events": page}  # events are not changed once added: not copied
    if more:
        result["nextToken"] = _token(execution_arn, reverse_order, following)
    return result


def history_json(page: dict[str, Any]) -> str:
    """A history page as the response body, as moto's serializer writes it (timestamps in epoch
    seconds, to the millisecond, as AWS sends them) in a fraction of its time: its generic
    serializer took ~1 ms per event, most of a followed run's CPU. moto keeps each event's
    timestamp as ISO text; sent as such, botocore parsed every one with dateutil (~0.1 ms each)."""
    events = [{**e, "timestamp": _epoch_seconds(e["timestamp"])} for e in page["events"]]
    return json.dumps({**page, "events": events}, separators=(",", ":"))


def _epoch_seconds(iso: str) -> float:
    """moto's 2026-12-03T11:53:27.366Z as AWS sends it: 1796298807.366."""
    return TimestampSerializer._timestamp_unixtimestamp(datetime.fromisoformat(iso))


def _get_execution_history_response(self: StepFunctionResponse) -> ActionResult | str:
    """GetExecutionHistory: a page of the history (``history_json``)."""
    backend = self.stepfunction_backend
    arn = self._get_param("executionArn")
    if not isinstance(backend, StepFunctionsParserBackend):
        return ActionResult(backend.get_execution_history(arn))
    page = get_execution_history(
        backend,
        arn,
        max_results=self._get_param("maxResults"),
        next_token=self._get_param("nextToken"),
        reverse_order=bool(self._get_param("reverseOrder")),
    )
    return history_json(page)


# ---------------------------------------------------------------------------- start and stop
def _checked_and_bounded(original: Callable[..., Execution]) -> Callable[..., Execution]:
    def start_execution(
        self: StepFunctionsParserBackend,
        state_machine_arn: str,
        name: str | None = None,
        execution_input: str | None = None,
        trace_header: str | None = None,
    ) -> Execution:
        if execution_input is not None and len(execution_input.encode()) > MAX_INPUT_BYTES:
            raise ValidationException(
                "1 validation error detected: Value at 'input' failed to satisfy constraint: "
                f"Member must have length less than or equal to {MAX_INPUT_BYTES}"
            )
        name = name or str(uuid.uuid4())  # as AWS names an unnamed execution
        execution = original(self, state_machine_arn, name, execution_input, trace_header)
        _forget_old_executions(self.describe_state_machine(state_machine_arn).executions)
        TMP_THREADS[:] = [thread for thread in TMP_THREADS if thread.is_alive()]
        return execution

    start_execution.bounded = True  # type: ignore[attr-defined]
    return start_execution


def _forget_old_executions(executions: list[Any]) -> None:
    ended = [e for e in executions if e.exec_status != ExecutionStatus.RUNNING]
    for execution in ended[: max(0, len(ended) - KEEP_ENDED_EXECUTIONS)]:
        executions.remove(execution)


def _waking_waiters(original: Callable[..., None]) -> Callable[..., None]:
    def stop(self: Execution, stop_date: Any, error: str | None, cause: str | None) -> None:
        original(self, stop_date, error, cause)
        env = self.exec_worker.env if self.exec_worker else None
        if env is None:
            return
        for endpoint in list(env.callback_pool_manager._pool.values()):
            if isinstance(endpoint, ActivityCallbackEndpoint):  # waiting for a worker to take it
                endpoint._activity_task_start_endpoint._next_activity_task_start_event.set()
            endpoint.interrupt_all()

    stop.wakes = True  # type: ignore[attr-defined]
    return stop


def _keeping_stops(original: Callable[..., None]) -> Callable[..., None]:
    def set_error(self: Environment, *args: Any, **kwargs: Any) -> None:
        if not isinstance(self._program_state, ProgramStopped):
            original(self, *args, **kwargs)

    set_error.keeps_stops = True  # type: ignore[attr-defined]
    return set_error


# ---------------------------------------------------------------------------- news
def _naming_its_history(original: Callable[..., Environment]) -> Callable[..., Environment]:
    def _get_evaluation_environment(self: ExecutionWorker) -> Environment:
        env = original(self)
        env.event_manager.execution_arn = self._evaluation_details.execution_details.arn  # type: ignore[attr-defined]
        return env

    _get_evaluation_environment.names = True  # type: ignore[attr-defined]
    return _get_evaluation_environment


def _publishing(original: Callable[..., int]) -> Callable[..., int]:
    def add_event(self: EventManager, *args: Any, **kwargs: Any) -> int:
        event_id = original(self, *args, **kwargs)
        execution_arn = getattr(self, "execution_arn", None)
        if execution_arn is not None:
            history_news.published(execution_arn, event_id)
        return event_id

    add_event.publishes = True  # type: ignore[attr-defined]
    return add_event


def install() -> None:
    if not getattr(ExecutionWorker._get_evaluation_environment, "names", False):
        ExecutionWorker._get_evaluation_environment = _naming_its_history(  # type: ignore[method-assign]
            ExecutionWorker._get_evaluation_environment
        )
    if not getattr(EventManager.add_event, "publishes", False):
        EventManager.add_event = _publishing(EventManager.add_event)  # type: ignore[method-assign]
    for name in ("set_error", "set_timed_out"):
        if not getattr(getattr(Environment, name), "keeps_stops", False):
            setattr(Environment, name, _keeping_stops(getattr(Environment, name)))
    StepFunctionResponse.get_execution_history = _get_execution_history_response  # type: ignore[method-assign,assignment]
    if not getattr(Execution.stop, "wakes", False):
        Execution.stop = _waking_waiters(Execution.stop)  # type: ignore[method-assign]
    if not getattr(StepFunctionsParserBackend.start_execution, "bounded", False):
        StepFunctionsParserBackend.start_execution = _checked_and_bounded(  # type: ignore[method-assign]
            StepFunctionsParserBackend.start_execution
        )
