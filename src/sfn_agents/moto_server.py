"""The local engine's moto server, imported when an engine starts (moto takes a second to import;
planning a deploy needs none of it)."""

import logging
import socket

from moto.server import ThreadedMotoServer
from werkzeug.serving import make_server

from sfn_agents import local_iam
from sfn_agents.engine import EngineStartError


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
        super().start()
