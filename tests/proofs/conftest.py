"""Proof tests reuse the attestation fixtures (offline guard, loopback SecretVM, PCCS, test PKI)
and stream real answers from the loopback SecretVM with AsyncOpenAI over captured TLS."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from openai import AsyncOpenAI

from secretgpt.proofs import HashChain
from secretgpt.services.attestation import client_options, record_peer_certificates

from ..attestation.conftest import (  # noqa: F401 - fixtures
    ca_bundle,
    measurements,
    offline_only,
    pccs,
    remote_services_unreachable,
    secretvm,
    server_identity,
    settings,
    sgx_pki,
    shared,
    test_ca,
)
from ..attestation.conftest import SecretVM


@dataclass
class StreamedAnswer:
    text: str = ""
    reasoning: str = ""
    ended: str = "completed"
    certificate: bytes | None = None
    chain: HashChain = field(default_factory=HashChain)
    started_at: datetime = field(default_factory=lambda: datetime.now(timezone.utc))
    finished_at: datetime | None = None


async def stream_answer(vm: SecretVM, ca_bundle: Path, *, stop_after: int | None = None) -> StreamedAnswer:
    """Stream one answer as a model path would: the chain fed chunk by chunk, Stop = close."""
    import httpx

    answer = StreamedAnswer()
    async with httpx.AsyncClient(**client_options(vm.origin, ca_bundle)) as http:
        client = AsyncOpenAI(api_key="unused", base_url=f"{vm.origin}/v1", http_client=http, max_retries=0)
        with record_peer_certificates() as seen:
            stream = await client.chat.completions.create(
                model="loopback", messages=[{"role": "user", "content": "Tell me"}], stream=True)
            received = 0
            async for chunk in stream:
                delta = chunk.choices[0].delta if chunk.choices else None
                reasoning = getattr(delta, "reasoning_content", None) or getattr(delta, "reasoning", None)
                if reasoning:
                    answer.chain.add("r", reasoning)
                    answer.reasoning += reasoning
                if delta is not None and delta.content:
                    answer.chain.add("c", delta.content)
                    answer.text += delta.content
                    received += 1
                if stop_after is not None and received >= stop_after:
                    answer.ended = "stopped"
                    break
            await stream.close()
        answer.certificate = seen.last.der if seen.last else None
    answer.finished_at = datetime.now(timezone.utc)
    return answer
