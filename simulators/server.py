"""Threaded loopback WSGI server shared by the simulators (stdlib only)."""

from __future__ import annotations

import os
import socket
import struct
import sys
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from socketserver import ThreadingMixIn
from typing import Any
from wsgiref.simple_server import ServerHandler, WSGIRequestHandler, WSGIServer

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]

# The request handler exposes the raw socket so that an app can reset the connection itself.
SOCKET_KEY = "simulator.socket"
# Set by abort_connection(): the handler must not write anything afterwards.
ABORTED_KEY = "simulator.aborted"


def abort_connection(environ: dict[str, Any]) -> None:
    """Close the client connection with a TCP RST instead of a response."""
    sock: socket.socket = environ[SOCKET_KEY]
    # Linger on with a zero timeout turns close() into an RST rather than an orderly FIN.
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    # socket.close() would wait for the handler's rfile/wfile to release the socket; detaching
    # hands us sole ownership of the descriptor so the RST goes out now and nothing else can
    # close (or write to) a reused descriptor number later.
    os.close(sock.detach())
    environ[ABORTED_KEY] = True


class _ServerHandler(ServerHandler):
    # Set by BaseHandler.run(); typeshed does not declare them.
    environ: dict[str, Any]
    result: Any

    def finish_response(self) -> None:
        if self.environ.get(ABORTED_KEY):
            # The socket is gone: skip the response and the access-log line (no status exists).
            if hasattr(self.result, "close"):
                self.result.close()
            return
        super().finish_response()

    def log_exception(self, exc_info: Any) -> None:
        # Clients that time out or hang up mid-body are expected in fault tests; stay quiet.
        if isinstance(exc_info[1], OSError):
            return
        super().log_exception(exc_info)

    def run(self, application: Any) -> None:
        try:
            super().run(application)
        except OSError:
            # Writing the error page also failed because the client is gone.
            return


class _RequestHandler(WSGIRequestHandler):
    def get_environ(self) -> dict[str, Any]:
        environ = super().get_environ()
        environ[SOCKET_KEY] = self.connection
        return environ

    def log_message(self, format: str, *args: Any) -> None:
        """Keep test output clean: no access log."""

    def handle(self) -> None:
        # Same as WSGIRequestHandler.handle, but with our handler class and multithread=True.
        self.raw_requestline = self.rfile.readline(65537)
        if len(self.raw_requestline) > 65536:
            self.requestline = ""
            self.request_version = ""
            self.command = ""
            self.send_error(414)
            return
        if not self.parse_request():
            return
        handler = _ServerHandler(
            self.rfile,
            self.wfile,  # type: ignore[arg-type]  # a binary file; typeshed says BufferedIOBase
            self.get_stderr(),
            self.get_environ(),
            multithread=True,
        )
        handler.request_handler = self  # type: ignore[attr-defined]
        handler.run(self.server.get_app())  # type: ignore[attr-defined]


class ThreadingWSGIServer(ThreadingMixIn, WSGIServer):
    """WSGIServer with one daemon thread per request."""

    # Daemon threads and no join on close: a handler sleeping for slow_headers after the client
    # gave up must neither block stop() nor keep the interpreter alive.
    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        if isinstance(sys.exc_info()[1], OSError):
            return
        super().handle_error(request, client_address)


def make_wsgi_server(app: WSGIApp, host: str = "127.0.0.1", port: int = 0) -> ThreadingWSGIServer:
    """Bind a threaded WSGI server for app (port 0 picks a free port)."""
    server = ThreadingWSGIServer((host, port), _RequestHandler)
    server.set_app(app)
    return server


def server_url(server: ThreadingWSGIServer) -> str:
    """Return the http://host:port base URL of a bound server."""
    host, port = str(server.server_address[0]), server.server_address[1]
    if ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{port}"


@dataclass
class RunningServer:
    """A simulator served from a background thread; stop() or use as a context manager."""

    server: ThreadingWSGIServer
    thread: threading.Thread = field(repr=False)

    @property
    def port(self) -> int:
        return int(self.server.server_address[1])

    @property
    def base_url(self) -> str:
        return server_url(self.server)

    def stop(self) -> None:
        """Stop accepting requests and release the port; in-flight slow requests are abandoned."""
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)

    def __enter__(self) -> RunningServer:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def start_in_thread(app: WSGIApp, host: str = "127.0.0.1", port: int = 0) -> RunningServer:
    """Serve app on host:port from a daemon thread and return once it accepts connections."""
    server = make_wsgi_server(app, host, port)
    thread = threading.Thread(
        target=server.serve_forever,
        kwargs={"poll_interval": 0.05},
        name=f"simulator-{server.server_address[1]}",
        daemon=True,
    )
    thread.start()
    # The socket is already listening after bind+listen, so clients can connect right away.
    return RunningServer(server=server, thread=thread)


def serve_forever(app: WSGIApp, host: str, port: int, announce: Callable[[str], None]) -> None:
    """Serve app in the current thread until interrupted; announce(base_url) once bound."""
    server = make_wsgi_server(app, host, port)
    announce(server_url(server))
    try:
        server.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
