"""The certificate of the connection a response arrived on, captured by the httpx hook, against a
real loopback HTTPS server (including a response still streaming)."""

from __future__ import annotations

import ssl
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from openai import AsyncOpenAI

from secretgpt.services.attestation import (
    captured_certificate,
    client_options,
    record_peer_certificates,
    spki_sha256,
    tls_context,
)
from secretgpt.services.loopback_model import LoopbackModelServer, Reply

from .conftest import REPO, SecretVM
from .tls_pki import TestCA


async def test_hook_records_the_certificate_of_the_connection(secretvm: SecretVM, ca_bundle: Path) -> None:
    async with httpx.AsyncClient(**client_options(secretvm.origin, ca_bundle)) as client:
        with record_peer_certificates() as seen:
            response = await client.get(f"{secretvm.origin}/v1/models")
    assert response.status_code == 200
    assert captured_certificate(response) == secretvm.identity.der
    assert seen.last is not None and seen.last.der == secretvm.identity.der
    assert seen.last.url.startswith(secretvm.origin)


async def test_a_streamed_answer_has_its_certificate_before_the_body_is_read(secretvm: SecretVM,
                                                                             ca_bundle: Path) -> None:
    secretvm.server.reply_for = lambda _request: Reply.of(" ".join(["token"] * 50), tokens_per_second=200)
    http = httpx.AsyncClient(**client_options(secretvm.origin, ca_bundle))
    client = AsyncOpenAI(api_key="k", base_url=f"{secretvm.origin}/v1", http_client=http, max_retries=0)
    with record_peer_certificates() as seen:
        stream = await client.chat.completions.create(model="loopback", messages=[{"role": "user", "content": "hi"}],
                                                      stream=True)
        # headers are in, the body is still streaming: the certificate is already known
        assert seen.last is not None and seen.last.der == secretvm.identity.der
        first = await anext(aiter(stream))
        assert first is not None
        await stream.close()
    assert secretvm.server.connections[-1].finished is False
    assert spki_sha256(seen.last.der) == spki_sha256(secretvm.identity.der)
    await http.aclose()


async def test_the_ollama_path_takes_the_same_options(secretvm: SecretVM, ca_bundle: Path) -> None:
    """ChatSecret → langchain-ollama → ollama.AsyncClient → httpx: `client_options` pass through."""
    import ollama

    secretvm.server.protocols = frozenset({"ollama", "openai"})
    client = ollama.AsyncClient(host=secretvm.origin, **client_options(secretvm.origin, ca_bundle))
    with record_peer_certificates() as seen:
        parts = [part async for part in await client.chat(model="loopback", stream=True,
                                                           messages=[{"role": "user", "content": "hi"}])]
    assert parts and seen.last is not None and seen.last.der == secretvm.identity.der


def test_importing_the_app_side_does_not_load_secretvm_verify_or_web3() -> None:
    code = ("import sys, secretgpt.services.attestation, secretgpt.proofs; "
            "print(sorted(m for m in ('web3', 'secretvm', 'secretvm.verify') if m in sys.modules))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, cwd=REPO)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


async def test_plain_http_records_no_certificate() -> None:
    async with LoopbackModelServer(lambda _r: Reply.of("x"), protocols={"openai"}) as server:
        async with httpx.AsyncClient(**client_options(server.url, None)) as client:
            with record_peer_certificates() as seen:
                response = await client.get(f"{server.url}/v1/models")
    assert response.status_code == 200
    assert seen.last is not None and seen.last.der is None and not seen.last.is_tls


async def test_the_ca_bundle_is_what_makes_the_host_trusted(secretvm: SecretVM, ca_bundle: Path) -> None:
    # Without SECRET_AI_CA_BUNDLE the default store does not know the test CA: TLS is refused.
    async with httpx.AsyncClient(**client_options(secretvm.origin, None)) as client:
        with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
            await client.get(f"{secretvm.origin}/v1/models")
    # Another CA in the bundle does not help either.
    other = TestCA().write_bundle(ca_bundle.parent / "other.pem")
    async with httpx.AsyncClient(**client_options(secretvm.origin, other)) as client:
        with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
            await client.get(f"{secretvm.origin}/v1/models")


def test_one_verifying_context_per_bundle(ca_bundle: Path) -> None:
    context = tls_context(ca_bundle)
    assert context is tls_context(ca_bundle)
    assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname
    assert tls_context(None) is not context
