"""A loopback HTTP server that records every request: where a leaked image request would land.

It answers every GET with a 1×1 PNG, or with 404 under `/missing`, or with what `answers` holds
for the path (query left out): a status, headers and a body (bytes, or chunks sent until the
client hangs up). `host` is the loopback address it listens on (Linux answers all of 127/8), on
`port` (0: any free one), with TLS if given a server context.
"""

from __future__ import annotations

import base64
import ssl
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PNG = base64.b64decode("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==")


@dataclass(frozen=True)
class LeakedRequest:
    path: str
    headers: dict[str, str]


@dataclass(frozen=True)
class Answer:
    """What the server sends for one path. `body`: bytes, or a function giving the chunks of an
    answer without a Content-Length; `delay`: seconds before anything is sent."""

    status: int = 200
    headers: dict[str, str] = field(default_factory=lambda: {"Content-Type": "image/png"})
    body: bytes | Callable[[], Iterable[bytes]] = PNG
    delay: float = 0.0


class LeakServer:
    def __init__(self, host: str = "127.0.0.1", port: int = 0, tls: ssl.SSLContext | None = None) -> None:
        self.requests: list[LeakedRequest] = []
        self.answers: dict[str, Answer] = {}
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 (http.server's name)
                owner.requests.append(LeakedRequest(self.path, {k.lower(): v for k, v in self.headers.items()}))
                answer = owner.answers.get(self.path.split("?")[0])
                if answer is not None:
                    self._send(answer)
                elif self.path.startswith("/missing"):
                    self.send_error(404)
                else:
                    self._send(Answer(headers={"Content-Type": "image/png", "Content-Length": str(len(PNG))}))

            def _send(self, answer: Answer) -> None:
                time.sleep(answer.delay)
                self.send_response(answer.status)
                for name, value in answer.headers.items():
                    self.send_header(name, value)
                if isinstance(answer.body, bytes):
                    if "Content-Length" not in answer.headers:
                        self.send_header("Content-Length", str(len(answer.body)))
                    self.end_headers()
                    self.wfile.write(answer.body)
                    return
                self.send_header("Connection", "close")  # the body ends when the connection does
                self.end_headers()
                try:
                    for chunk in answer.body():
                        self.wfile.write(chunk)
                except (BrokenPipeError, ConnectionResetError):
                    pass

            def log_message(self, *args: object) -> None:
                pass

        self._httpd = ThreadingHTTPServer((host, port), Handler)
        if tls is not None:
            self._httpd.socket = tls.wrap_socket(self._httpd.socket, server_side=True)
        self.host = host
        self.port = self._httpd.server_address[1]
        self.origin = f"{'https' if tls else 'http'}://{host}:{self.port}"
        # Polled often: each test's servers stop at once rather than half a second later.
        self._thread = threading.Thread(target=self._httpd.serve_forever, args=(0.02,), name="leak-server",
                                        daemon=True)

    def start(self) -> LeakServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    def paths(self) -> list[str]:
        return [r.path for r in self.requests]


def image_forms(origin: str, tag: str) -> str:
    """Markdown with every image form we know of, each at its own `/leak/<tag>-<form>` address."""
    host = origin.removeprefix("http:")
    return (
        f"Inline: ![inline chart]({origin}/leak/{tag}-inline?q=bank+PIN+4921) and text.\n\n"
        f"[r-{tag}]: {origin}/leak/{tag}-reference\n"
        f"Reference: ![reference chart][r-{tag}]\n\n"
        f"Late reference: ![late chart][late-{tag}]\n\n"
        f"Protocol-relative: ![relative chart]({host}/leak/{tag}-protocol-relative)\n\n"
        f"| table | cell |\n| --- | --- |\n| ![table chart]({origin}/leak/{tag}-table) | 2 |\n\n"
        f"Linked: [![linked chart]({origin}/leak/{tag}-in-link)]({origin}/leak/{tag}-link-target)\n\n"
        f"Raw: <img src=\"{origin}/leak/{tag}-raw-img\"> <img src={origin}/leak/{tag}-raw-bare>\n\n"
        f"[late-{tag}]: {origin}/leak/{tag}-late-reference\n"
    )
