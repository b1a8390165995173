"""Find which chat models exist and where they are served."""

from __future__ import annotations

import asyncio
import logging
import os

import httpx

from ..attestation.tls import tls_context
from .catalog import Catalog, ModelInfo
from .errors import SecretAIError
from .protocol import ProtocolDetector, bearer

log = logging.getLogger(__name__)

# Secret AI's contract, and /v1/models on an OpenAI-compatible host, also list speech, embedding
# and reranking models; they do not chat.
NON_CHAT_MARKERS = ("stt", "tts", "whisper", "kokoro", "embed", "voice", "rerank", "bge-",
                    "moderation", "transcribe", "speech")


def is_chat_model(name: str) -> bool:
    lowered = name.lower()
    return not any(marker in lowered for marker in NON_CHAT_MARKERS)


async def discover(url: str | None, model: str | None, api_key: str | None,
                   detector: ProtocolDetector | None = None) -> Catalog:
    """Resolve models and URLs: SECRET_AI_URL/SECRET_AI_MODEL skip the Secret Network lookup.

    Every host, however it was found, goes through the same protocol choice (SECRET_AI_PROTOCOL).
    """
    detector = detector or ProtocolDetector()
    if url and model:
        catalog = Catalog(models=[ModelInfo(name=model, url=url)])
    elif url:
        return await _from_server(url, api_key, detector)
    else:
        catalog = await asyncio.to_thread(_from_secret_network, model)
    await _with_protocols(catalog, detector)
    return catalog


async def _with_protocols(catalog: Catalog, detector: ProtocolDetector) -> None:
    """Ask each host which API it speaks now, so the first answer does not wait for it. A host that
    does not answer yet keeps its model: it is asked again on first use, whose error names the tries."""
    for info in catalog.models:
        try:
            info.protocol = await detector.protocol_for(info.url)
        except SecretAIError as exc:
            log.warning("%s", exc.message)


async def _from_server(url: str, api_key: str | None, detector: ProtocolDetector) -> Catalog:
    try:
        protocol = await detector.protocol_for(url)
    except SecretAIError as exc:
        return Catalog(error=f"{exc.message} Set SECRET_AI_MODEL to skip the model lookup.")
    path, key = ("/v1/models", "data") if protocol == "openai" else ("/api/tags", "models")
    try:
        async with httpx.AsyncClient(timeout=10, headers=bearer(api_key),
                                     verify=tls_context(detector.ca_bundle)) as client:
            response = await client.get(url.rstrip("/") + path)
            response.raise_for_status()
            listed = response.json().get(key, [])
            names = [m.get("id") or m.get("name") or m.get("model") for m in listed if isinstance(m, dict)]
    except (httpx.HTTPError, ValueError, AttributeError) as exc:
        return Catalog(error=f"Could not list models at SECRET_AI_URL={url} (GET {path}): {exc}. "
                             "Set SECRET_AI_MODEL to skip the lookup.")
    chat = [ModelInfo(name=n, url=url, protocol=protocol) for n in names if isinstance(n, str) and is_chat_model(n)]
    if not chat:
        return Catalog(error=f"SECRET_AI_URL={url} lists no chat models (GET {path}). Set SECRET_AI_MODEL.")
    return Catalog(models=chat)


def _from_secret_network(model: str | None) -> Catalog:
    from secret_ai_sdk import Secret
    from secret_ai_sdk._config import SECRET_NODE_URL, SECRET_NODE_URL_DEFAULT

    node = os.getenv(SECRET_NODE_URL, SECRET_NODE_URL_DEFAULT)
    where = f"the Secret Network worker contract via node {node}"
    try:
        secret = Secret()
        names = [model] if model else [n for n in secret.get_models() if is_chat_model(n)]
        found: list[ModelInfo] = []
        for name in names:
            urls = secret.get_urls(model=name)
            if urls:
                found.append(ModelInfo(name=name, url=urls[0]))
    except Exception as exc:  # the SDK wraps network failures in several types
        log.warning("model discovery failed: %s", type(exc).__name__)
        return Catalog(error=f"Model discovery failed: could not query {where}: {exc}. "
                             "Set SECRET_AI_URL and SECRET_AI_MODEL to use a known server.")
    if not found:
        return Catalog(error=f"Model discovery found no chat model with a URL in {where}.")
    return Catalog(models=found)
