"""News of execution histories within this process, so that a follower need not poll blind.

The local engine's Step Functions backend calls :func:`published` as it adds an event to an
execution's history (see moto_executions). A follower in the same process, such as ``sfn-agents
run`` over its own engine, waits with :func:`wait` instead of sleeping its whole poll interval:
a run that ended while its follower slept a backed-off interval (up to 0.5 s locally) used to be
seen that much later. A follower of another process's engine, or of AWS, hears nothing here and
sleeps as before. Only followed executions are tracked (:func:`following`).
"""

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

_changed = threading.Condition()
_newest: dict[str, int] = {}  # a followed execution's ARN -> the id of its newest event
_followers: dict[str, int] = {}  # how many follow it


@contextmanager
def following(execution_arn: str) -> Iterator[None]:
    """While the block runs, the execution's new events are news."""
    with _changed:
        _followers[execution_arn] = _followers.get(execution_arn, 0) + 1
        _newest.setdefault(execution_arn, 0)
    try:
        yield
    finally:
        with _changed:
            _followers[execution_arn] -= 1
            if not _followers[execution_arn]:
                del _followers[execution_arn], _newest[execution_arn]


def published(execution_arn: str, event_id: int) -> None:
    with _changed:
        if execution_arn in _newest:
            _newest[execution_arn] = max(_newest[execution_arn], event_id)
            _changed.notify_all()


def wait(execution_arn: str, after: int, seconds: float, at_least: float = 0.0) -> None:
    """Sleep ``at_least`` (a run's events come in bursts: one read for a burst, not one per
    event), then until an event newer than ``after`` was published, ``seconds`` in all at most."""
    deadline = time.monotonic() + seconds
    time.sleep(min(at_least, seconds))
    with _changed:
        _changed.wait_for(
            lambda: _newest.get(execution_arn, 0) > after,
            timeout=max(0.0, deadline - time.monotonic()),
        )
