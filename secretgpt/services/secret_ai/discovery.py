"""Find which chat models exist and where they are served."""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Callable, Iterator

import httpx

from ...records import Catalog, ModelInfo
from .errors import ErrorKind, SecretAIError
from .protocol import ProtocolDetector

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


# While no model is available, discovery runs again after 1 s, 2 s, 4 s … at most 30 s apart: a
# model host that comes up after the app is found without a restart.
FIRST_RETRY = 1.0
MAX_RETRY = 30.0


def retry_delays(first: float = FIRST_RETRY, cap: float = MAX_RETRY) -> Iterator[float]:
    delay = first
    while True:
        yield delay
        delay = min(delay * 2, cap)


async def discover_until_found(url: str | None, model: str | None, api_key: str | None,
                               detector: ProtocolDetector, publish: Callable[[Catalog], None],
                               delays: Iterator[float] | None = None) -> Catalog:
    """`discover` until it finds a model. `publish` gets each outcome as it comes: every failure
    (what was tried, and that the search goes on), then the catalog with models."""
    delays = delays or retry_delays()
    tries, said = 0, None
    while True:
        tries += 1
        catalog = await discover(url, model, api_key, detector)
        if catalog.models:
            if tries > 1:
                log.info("model discovery succeeded on try %d", tries)
            publish(catalog)
            return catalog
        delay = next(delays)
        if catalog.error != said:  # each new failure once, not every 30 s; a warning, as it may mend itself
            log.warning("%s (trying again in the background)", catalog.error)
            said = catalog.error
        publish(catalog.model_copy(update={
            "error": f"{catalog.error} SecretGPT keeps looking (try {tries}; the next in {delay:g} s)."}))
        await asyncio.sleep(delay)


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
        # Each kind names the setting that fixes it (auth and "neither API" already do).
        hint = _HOST_DOWN if exc.kind in (ErrorKind.UNREACHABLE, ErrorKind.TIMEOUT) else ""
        return Catalog(error=exc.message + hint)
    path, key = ("/v1/models", "data") if protocol == "openai" else ("/api/tags", "models")
    try:
        async with detector.client(url, api_key) as client:
            response = await client.get(url.rstrip("/") + path)
            response.raise_for_status()
            listed = response.json().get(key, [])
            names = [m.get("id") or m.get("name") or m.get("model") for m in listed if isinstance(m, dict)]
    except SecretAIError as exc:  # not attested: the list was not asked for
        return Catalog(error=exc.message)
    except (httpx.HTTPError, ValueError, AttributeError) as exc:
        return Catalog(error=_listing_failed(url, path, exc))
    chat = [ModelInfo(name=n, url=url, protocol=protocol) for n in names if isinstance(n, str) and is_chat_model(n)]
    if not chat:
        return Catalog(error=f"SECRET_AI_URL={url} lists no chat models (GET {path}). "
                             "Set SECRET_AI_MODEL to the name of a model it serves.")
    if protocol == "ollama":
        await _capabilities(url, api_key, detector, chat)
    return Catalog(models=chat)


async def _capabilities(url: str, api_key: str | None, detector: ProtocolDetector, models: list[ModelInfo]) -> None:
    """Ollama says what each model can do (`POST /api/show`: "capabilities", since 0.6): whether it
    sees images. A host that does not say leaves it to the model's name."""
    try:
        async with detector.client(url, api_key) as client:
            for info in models[:MAX_SHOWN]:
                response = await client.post(url.rstrip("/") + "/api/show", json={"model": info.name})
                capabilities = response.json().get("capabilities") if response.status_code == 200 else None
                if isinstance(capabilities, list):
                    info.vision = "vision" in capabilities
    except (SecretAIError, httpx.HTTPError, ValueError, AttributeError) as exc:
        log.info("model capabilities not read at %s: %s", url, type(exc).__name__)


MAX_SHOWN = 50  # models asked about, one request each
_HOST_DOWN = " Check SECRET_AI_URL and that the model server is up."


def _listing_failed(url: str, path: str, exc: Exception) -> str:
    where = f"Could not list models at SECRET_AI_URL={url} (GET {path}"
    if isinstance(exc, httpx.HTTPStatusError):
        status = exc.response.status_code
        if status in (401, 403):
            return f"{where}: HTTP {status}): the server rejected the API key. Check SECRET_AI_API_KEY."
        return f"{where}: HTTP {status}). Check SECRET_AI_URL, or set SECRET_AI_MODEL to skip the lookup."
    if isinstance(exc, (httpx.ConnectError, httpx.TimeoutException)):
        return f"{where}: {type(exc).__name__}).{_HOST_DOWN}"
    return f"{where}: {type(exc).__name__}: {exc}). Check SECRET_AI_URL, or set SECRET_AI_MODEL to skip the lookup."


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
