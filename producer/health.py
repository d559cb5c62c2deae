"""HTTP endpoint on ``METRICS_PORT``: ``/metrics``, ``/healthz`` and ``/readyz``.

``/healthz`` answers 200 while the poll loop is making progress; ``/readyz``
answers 200 once the state is restored and while polls can publish.
"""

from __future__ import annotations

import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from producer import metrics


class Health:
    """Liveness and readiness as the poll loop reports them."""

    def __init__(self, stall_seconds: float) -> None:
        self.stall_seconds = stall_seconds
        self._beat = time.monotonic()
        self._ready = False
        self.reason = "restoring state"

    def beat(self) -> None:
        self._beat = time.monotonic()

    def set_ready(self, ready: bool, reason: str = "") -> None:
        self._ready = ready
        self.reason = reason
        metrics.READY.set(1 if ready else 0)

    @property
    def ready(self) -> bool:
        return self._ready

    def alive(self) -> bool:
        return time.monotonic() - self._beat < self.stall_seconds


def serve(health: Health, host: str, port: int) -> ThreadingHTTPServer:
    """Start the endpoint in a daemon thread and return the server."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (http.server's name)
            path = self.path.split("?", 1)[0]
            if path == "/metrics":
                self._send(200, generate_latest(metrics.REGISTRY), CONTENT_TYPE_LATEST)
            elif path == "/healthz":
                ok = health.alive()
                self._send(200 if ok else 503, b"ok\n" if ok else b"poll loop stalled\n")
            elif path == "/readyz":
                ok = health.ready
                text = b"ready\n" if ok else f"not ready: {health.reason}\n".encode()
                self._send(200 if ok else 503, text)
            else:
                self._send(404, b"not found\n")

        def _send(self, status: int, body: bytes, content_type: str = "text/plain") -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer((host, port), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, name="health", daemon=True).start()
    return server
