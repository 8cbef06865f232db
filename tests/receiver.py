"""A webhook receiver for tests: a small http.server on 127.0.0.1 that records every POST it gets."""

from __future__ import annotations

import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Receiver:
    """Records (path, headers, body, arrival time) of each POST; answers the first ``fail_first`` POSTs to
    each path with 500, and every answer after ``delay`` seconds."""

    def __init__(self, fail_first: int = 0, delay: float = 0.0):
        self.fail_first, self.delay = fail_first, delay
        self.calls: list[tuple[str, dict, bytes, float]] = []
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - http.server's naming
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with receiver.lock:
                    receiver.calls.append((self.path, dict(self.headers), body, time.monotonic()))
                    seen = sum(1 for call in receiver.calls if call[0] == self.path)
                time.sleep(receiver.delay)
                self.send_response(500 if seen <= receiver.fail_first else 200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> Receiver:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()

    def for_path(self, path: str) -> list[tuple[dict, bytes, float]]:
        """The (headers, body, arrival time) of every POST to ``path``."""
        with self.lock:
            return [call[1:] for call in self.calls if call[0] == path]

    def paths(self) -> dict[str, int]:
        """How many POSTs each path got."""
        with self.lock:
            counts: dict[str, int] = {}
            for call in self.calls:
                counts[call[0]] = counts.get(call[0], 0) + 1
            return counts
