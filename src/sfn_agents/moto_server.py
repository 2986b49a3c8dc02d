"""The local engine's moto server, imported when an engine starts (moto takes a second to import;
planning a deploy needs none of it).

Costs moto 5.2.5's server pays on every request, or once more than needed, are cut where they
arise, with the same result (``lean_dispatch``):

- finding the backend for a request lists moto's package directory and stats each entry
  (~180 calls): the list is read once, as it cannot change while the process runs;
- the request id is substituted into the body with a regular expression scanned over all of it,
  JSON included (~0.15 ms per 10 KB, on every history page and conversation object): a body
  without ``<RequestId>`` is left alone, which is what the substitution does to it;
- each service's backend lists its regions from a boto3 session of moto's own, which reads and
  decodes botocore's endpoint data (~1 MB of JSON: 50-80 ms) that the engine's clients' default
  session has already loaded: the backends ask that session.
"""

import logging
import socket
from typing import Any
from urllib.parse import urlsplit

import boto3
from botocore.awsrequest import AWSPreparedRequest, AWSResponse
from botocore.compat import HTTPHeaders
from moto import backends
from moto.core.base_backend import AccountSpecificBackend
from moto.core.botocore_stubber import MockRawResponse
from moto.core.responses import BaseResponse
from moto.server import ThreadedMotoServer
from moto.utilities.aws_headers import gen_amzn_requestid_long
from werkzeug.serving import make_server
from werkzeug.test import EnvironBuilder, run_wsgi_app

from sfn_agents import local_iam
from sfn_agents.engine import EngineStartError

_serving: dict[str, Any] = {}  # host:port -> the app a MotoServer of this process serves there


def lean_dispatch() -> None:
    if getattr(backends.list_of_moto_modules, "patched", False):
        return
    modules = tuple(backends.list_of_moto_modules())

    def list_of_moto_modules() -> tuple[str, ...]:
        return modules

    list_of_moto_modules.patched = True  # type: ignore[attr-defined]
    backends.list_of_moto_modules = list_of_moto_modules
    enrich = BaseResponse._enrich_response

    def _enrich_response(headers: dict[str, str], body: Any) -> tuple[dict[str, str], Any]:
        if isinstance(body, str) and "<RequestId>" not in body:  # moto's, but for the body
            if "status" in headers:
                headers["status"] = str(headers["status"])
            gen_amzn_requestid_long(headers)
            return headers, body
        return enrich(headers, body)

    BaseResponse._enrich_response = staticmethod(_enrich_response)  # type: ignore[method-assign]
    # Its endpoint data, like boto3's other defaults, as the engine's clients have it.
    AccountSpecificBackend.get_session = classmethod(  # type: ignore[method-assign,assignment]
        lambda cls: boto3._get_default_session()
    )


def quiet_servers() -> None:
    for name in ("werkzeug", "moto", "botocore.credentials"):
        logging.getLogger(name).setLevel(logging.CRITICAL)


class MotoServer(ThreadedMotoServer):
    """moto's threaded server, which hangs when its port cannot be bound (werkzeug exits the
    server's thread) and stops on a 0.5 s poll: here the port is bound first, so a busy one is
    an error from start(), and stop() is prompt."""

    def __init__(self, port: int) -> None:
        super().__init__(ip_address="127.0.0.1", port=port, verbose=False)
        self._socket: socket.socket | None = None
        self._netloc = ""  # host:port, once bound

    def _server_entry(self) -> None:
        from moto.moto_server.werkzeug_app import (
            DomainDispatcherApplication,
            MotoRequestHandler,
            create_backend_app,
        )

        assert self._socket is not None
        app = local_iam.guard(DomainDispatcherApplication(create_backend_app))
        self._server = make_server(
            self._ip_address,
            self._port,
            app,
            True,
            request_handler=MotoRequestHandler,
            fd=self._socket.fileno(),
        )
        self._socket.close()  # the server holds its own duplicate
        self._netloc = "{}:{}".format(*self.get_host_and_port())
        _serving[self._netloc] = app
        self._server_ready_event.set()
        self._server.serve_forever(poll_interval=0.05)

    def start(self) -> None:
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as werkzeug does
        try:
            listener.bind((self._ip_address, self._port))
            listener.listen(128)
        except OSError as error:
            listener.close()
            reason = error.strerror or str(error)
            raise EngineStartError(
                f"cannot serve on {self._ip_address}:{self._port}: {reason}"
            ) from None
        self._socket = listener
        lean_dispatch()
        super().start()

    def stop(self) -> None:
        _serving.pop(self._netloc, None)
        super().stop()


def in_process(client: Any) -> Any:
    """The client, its requests to a server of this process sent in process (see send)."""
    client.meta.events.register_first("before-send", send)
    return client


def send(request: AWSPreparedRequest, **_: Any) -> AWSResponse | None:
    """A botocore ``before-send`` handler: a request to a MotoServer of this process goes through
    the app it serves (the local IAM guard, then moto) in the calling thread, with no socket, HTTP
    parsing or server thread between (~4 ms a call less). The app sees the same request (method,
    path, headers, body) and botocore the same response (status, headers, body) as over HTTP.
    A request to any other address (or a stopped server) is sent as usual."""
    url = urlsplit(request.url)
    app = _serving.get(url.netloc)
    if app is None:
        return None
    body: Any = request.body
    if hasattr(body, "read"):  # a file-like upload: what urllib3 would send
        body = body.read()
    environ = EnvironBuilder(
        method=request.method,
        base_url=f"{url.scheme}://{url.netloc}",
        path=url.path,
        query_string=url.query,
        headers=[
            (name, value.decode("latin-1") if isinstance(value, bytes) else value)
            for name, value in request.headers.items()
        ],
        data=bytes(body) if isinstance(body, bytearray) else body or b"",
    ).get_environ()
    chunks, status, served_headers = run_wsgi_app(app, environ, buffered=True)
    headers = HTTPHeaders()
    for name, value in served_headers.items():
        headers[name] = value
    return AWSResponse(
        request.url, int(status.split(" ", 1)[0]), headers, MockRawResponse(b"".join(chunks))
    )
