"""A local AWS emulator: moto in server mode, with the extended App Mesh and Service Connect.

``start_server()`` is for tests (an ephemeral port by default);
``python -m tests.support.emulator --port N`` runs one in the foreground until
interrupted. It binds to 127.0.0.1 only: the emulator accepts any credentials.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from dataclasses import dataclass, field
from typing import Any

from moto.server import ThreadedMotoServer

from tests.support import moto_ecs_rules, moto_service_connect
from tests.support.moto_appmesh import install

HOST = "127.0.0.1"


@dataclass
class Emulator:
    """A running emulator; point boto3 at ``endpoint_url`` (or ``AWS_ENDPOINT_URL``)."""

    endpoint_url: str
    _server: Any = field(repr=False)
    _stopped: bool = field(default=False, repr=False)

    def stop(self) -> None:
        """Stop serving and release the port. Safe to call more than once."""
        if self._stopped:
            return
        self._stopped = True
        self._server.stop()
        # ThreadedMotoServer.stop() shuts the serve loop down but leaves the listening
        # socket open until garbage collection; close it so the port is free at once.
        wsgi_server = getattr(self._server, "_server", None)
        if wsgi_server is not None:
            wsgi_server.server_close()

    def __enter__(self) -> Emulator:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.stop()


def start_server(port: int = 0) -> Emulator:
    """Start moto's server on 127.0.0.1:``port`` (0 = any free port) with App Mesh extended."""
    # Before the server starts: its per-service apps are built from the backends' url_paths.
    install()
    moto_service_connect.install()
    moto_ecs_rules.install()
    server = ThreadedMotoServer(ip_address=HOST, port=port, verbose=False)
    server.start()
    host, bound_port = server.get_host_and_port()
    return Emulator(endpoint_url=f"http://{host}:{bound_port}", _server=server)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tests.support.emulator",
        description="Run the local AWS emulator (moto + extended App Mesh) until interrupted.",
    )
    parser.add_argument("--port", type=int, default=5000, help="port on 127.0.0.1 (0 = any)")
    args = parser.parse_args(argv)

    emulator = start_server(args.port)
    stop = threading.Event()

    def _request_stop(_signum: int, _frame: object) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, _request_stop)
    signal.signal(signal.SIGINT, _request_stop)
    print(emulator.endpoint_url, flush=True)
    try:
        stop.wait()
    finally:
        emulator.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
