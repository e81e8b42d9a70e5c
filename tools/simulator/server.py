"""Serve an ASGI fake on 127.0.0.1 with a random port, in a background thread.

The socket is bound and listening before the thread starts, so the URL is usable at
once: a connection made before uvicorn's loop is up waits in the listen backlog. Nothing
polls for readiness.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Generator
from contextlib import contextmanager

import uvicorn
from starlette.types import ASGIApp


class ServedApp:
    """A running uvicorn server for one app."""

    def __init__(self, app: ASGIApp, *, port: int = 0) -> None:
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind(("127.0.0.1", port))  # Loopback only, always.
        self._sock.listen(128)
        self.port: int = self._sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(
            app,
            log_level="warning",
            access_log=False,
            lifespan="off",
            timeout_graceful_shutdown=1,
            timeout_keep_alive=30,
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run,
            kwargs={"sockets": [self._sock]},
            daemon=True,
            name=f"fake:{self.port}",
        )
        self._thread.start()

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=5)
        self._sock.close()


@contextmanager
def serve(app: ASGIApp, *, port: int = 0) -> Generator[str]:
    """Run `app` on 127.0.0.1 for the duration of the block; yields its base URL."""
    served = ServedApp(app, port=port)
    try:
        yield served.url
    finally:
        served.stop()
