"""Work worth doing in an init that no request waits for, and only then.

With SnapStart, Lambda runs the init phase once per published version and snapshots it, so
clients created at init cost nothing on later cold starts; a provisioned-concurrency sandbox (and
the local engine's first sandbox of a function, started when it deploys the function) initialises
before its first request. Otherwise (sam local, $LATEST, an on-demand cold start) the same work
would only lengthen the cold start, so it waits for first use instead."""

import os
from collections.abc import Callable

AHEAD_OF_REQUESTS = ("snap-start", "provisioned-concurrency")  # AWS_LAMBDA_INITIALIZATION_TYPE


def init_ahead_of_requests() -> bool:
    return os.environ.get("AWS_LAMBDA_INITIALIZATION_TYPE") in AHEAD_OF_REQUESTS


def prewarm(*steps: Callable[[], object]) -> None:
    if init_ahead_of_requests():
        for step in steps:
            step()
