"""A loopback PCCS: serves given collateral on the PCCS v4 paths, so the real
`dcap_qvl.get_collateral` (its own Rust HTTP client) fetches it as from Intel's PCS."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import quote, urlsplit


class LoopbackPccs:
    def __init__(self, collateral: dict[str, str]) -> None:
        self.collateral = collateral
        self.requests: list[str] = []
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.02,), daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_port}"

    def __enter__(self) -> LoopbackPccs:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def answer(self, path: str) -> tuple[bytes, dict[str, str]] | None:
        c = self.collateral
        if path.endswith("/pckcrl"):
            return bytes.fromhex(c["pck_crl"]), {"SGX-PCK-CRL-Issuer-Chain": quote(c["pck_crl_issuer_chain"])}
        if path.endswith("/rootcacrl"):
            return c["root_ca_crl"].encode(), {}  # PCCS serves the root CA CRL as hex text
        if path.endswith("/tcb"):
            body = '{"tcbInfo":' + c["tcb_info"] + ',"signature":' + json.dumps(c["tcb_info_signature"]) + "}"
            return body.encode(), {"TCB-Info-Issuer-Chain": quote(c["tcb_info_issuer_chain"])}
        if path.endswith("/qe/identity"):
            body = '{"enclaveIdentity":' + c["qe_identity"] + ',"signature":' + json.dumps(c["qe_identity_signature"]) + "}"
            return body.encode(), {"SGX-Enclave-Identity-Issuer-Chain": quote(c["qe_identity_issuer_chain"])}
        return None

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        pccs = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server's name
                pccs.requests.append(self.path)
                found = pccs.answer(urlsplit(self.path).path)
                if found is None:
                    self.send_response(404)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                body, headers = found
                self.send_response(200)
                for key, value in headers.items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        return Handler
