"""HTTP server of the Skillable API simulator, and the faults that act on sockets.

A `ThreadingHTTPServer` (HTTP/1.1, keep-alive) hands every request to
`endpoints`; this module only moves bytes, and carries out the faults that
are about the connection rather than the answer: `reset` (abort with a TCP
RST), `timeout` (accept, never answer, close after a bounded wait or when
the client leaves) and `slow` (the real answer, one body byte per interval).
"""

from __future__ import annotations

import logging
import select
import socket
import struct
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any
from urllib.parse import parse_qs, urlsplit

from producer.sim.endpoints import api_reply, control_reply
from producer.sim.faults import Reply, apply_fault
from producer.sim.world import Simulator

log = logging.getLogger(__name__)

_CONTROL_PREFIX = "/_sim"


class _SimHTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], simulator: Simulator) -> None:
        self.simulator = simulator
        self.stopping = threading.Event()
        super().__init__(address, _Handler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        log.debug("request from %s failed", client_address, exc_info=True)


class _SimHTTPServer6(_SimHTTPServer):
    address_family = socket.AF_INET6


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "SkillableSimulator/1.0"
    # Headers and body go out in separate writes; with Nagle's algorithm on,
    # the client's delayed ACK would hold every answer back by ~40 ms.
    disable_nagle_algorithm = True
    server: _SimHTTPServer

    def version_string(self) -> str:
        return self.server_version

    def do_GET(self) -> None:
        self._handle("GET")

    def do_POST(self) -> None:
        self._handle("POST")

    def do_DELETE(self) -> None:
        self._handle("DELETE")

    def do_PUT(self) -> None:
        self._handle("PUT")

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s %s", self.address_string(), format % args)

    def _handle(self, method: str) -> None:
        url = urlsplit(self.path)
        query = parse_qs(url.query, keep_blank_values=True)
        body = self._read_body()
        sim = self.server.simulator
        if url.path == _CONTROL_PREFIX or url.path.startswith(_CONTROL_PREFIX + "/"):
            self._send(control_reply(sim, method, url.path, query, body))
            return
        fault = sim.faults.draw()
        if fault == "reset":
            self._reset()
            return
        if fault == "timeout":
            self._stall(sim.faults.timeout_seconds)
            return
        reply = api_reply(sim, method, url.path, query, self.headers.get("api_key"))
        if fault == "slow":
            self._send_slowly(reply, sim.faults.slow_interval)
        elif fault is not None:
            self._send(apply_fault(fault, reply, sim.faults.retry_after))
        else:
            self._send(reply)

    def _read_body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def _send_head(self, reply: Reply) -> None:
        self.send_response(reply.status)
        self.send_header("Content-Type", reply.content_type)
        self.send_header("Content-Length", str(len(reply.body)))
        for name, value in reply.headers:
            self.send_header(name, value)
        self.end_headers()

    def _send(self, reply: Reply) -> None:
        try:
            self._send_head(reply)
            self.wfile.write(reply.body)
        except OSError:
            self.close_connection = True

    def _send_slowly(self, reply: Reply, interval: float) -> None:
        """Headers at once, then the body one byte per `interval` seconds."""
        stopping = self.server.stopping
        try:
            self._send_head(reply)
            for index in range(len(reply.body)):
                if stopping.wait(interval):
                    self.close_connection = True
                    return
                self.wfile.write(reply.body[index : index + 1])
        except OSError:
            self.close_connection = True

    def _reset(self) -> None:
        """Abort the connection: SO_LINGER 0 makes close() send a TCP RST."""
        self.close_connection = True
        linger = struct.pack("ii", 1, 0)
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, linger)
        self.rfile.close()
        self.wfile.close()
        self.connection.close()

    def _stall(self, seconds: float) -> None:
        """Answer nothing until the client leaves, the server stops or time is up."""
        self.close_connection = True
        stopping = self.server.stopping
        waited = 0.0
        while waited < seconds and not self._client_gone():
            step = min(0.1, seconds - waited)
            if stopping.wait(step):
                return
            waited += step

    def _client_gone(self) -> bool:
        try:
            readable, _, _ = select.select([self.connection], [], [], 0)
            if not readable:
                return False
            return self.connection.recv(1, socket.MSG_PEEK) == b""
        except OSError:
            return True


class SimServer:
    """A simulator served over HTTP from a background thread."""

    def __init__(self, httpd: _SimHTTPServer, thread: threading.Thread) -> None:
        self._httpd = httpd
        self._thread = thread
        self.simulator = httpd.simulator
        host, port = httpd.server_address[:2]
        self.host = str(host)
        self.port = int(port)
        shown = f"[{host}]" if ":" in self.host else self.host
        self.url = f"http://{shown}:{port}"

    def close(self) -> None:
        """Stop serving; stalled and slow answers end at once."""
        self._httpd.stopping.set()
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> SimServer:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()


def start_in_thread(
    sim: Simulator, host: str = "127.0.0.1", port: int = 0
) -> SimServer:
    """Serve `sim` on host:port (0 picks a free port) from a daemon thread."""
    server_class = _SimHTTPServer6 if ":" in host else _SimHTTPServer
    httpd = server_class((host, port), sim)
    thread = threading.Thread(
        target=httpd.serve_forever,
        kwargs={"poll_interval": 0.05},
        name=f"skillable-sim-{httpd.server_address[1]}",
        daemon=True,
    )
    thread.start()
    return SimServer(httpd, thread)
