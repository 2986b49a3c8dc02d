"""Where a custom resource's function answers, as it answers CloudFormation: it PUTs its response
(Status, Reason, PhysicalResourceId, Data) to the event's ResponseURL, which points here. (Its own
module: the engine imports it on first use, not before its Python functions start preloading.)"""

import http.server
import json
import threading
from typing import Any


class _Server(http.server.HTTPServer):
    response: dict[str, Any] | None = None


class _Handler(http.server.BaseHTTPRequestHandler):
    server: _Server

    def do_PUT(self) -> None:
        length = int(self.headers.get("Content-Length", 0))
        self.server.response = json.loads(self.rfile.read(length))
        self.send_response(200)
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        pass


class ResponseCatcher:
    """A server on 127.0.0.1 for one response: ``url`` for the event, then ``response`` once the
    function has answered (None if it did not); ``close`` when done."""

    def __init__(self) -> None:
        self._server = _Server(("127.0.0.1", 0), _Handler)
        threading.Thread(target=self._server.handle_request, daemon=True).start()

    def url(self, request_id: str) -> str:
        return f"http://127.0.0.1:{self._server.server_port}/{request_id}"

    @property
    def response(self) -> dict[str, Any] | None:
        return self._server.response

    def close(self) -> None:
        self._server.server_close()
