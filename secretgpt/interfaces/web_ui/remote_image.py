"""Fetch one image the reader asked for ("Load image"), through the app, as a `data:` URL.

The page's CSP lets the browser load images only from the app itself, so a remote image in model
text can never be fetched by the browser: that is what stops a model from sending the conversation
to a server inside an image address. On a click the app fetches that one address instead, and
since the address is the model's (or an imported file's), the fetch must not become a way into the
app's machine or its network:

- only public addresses: the name is resolved once and every address checked (`public_address`),
  the connection goes to the address checked (`pinned_network`), and every redirect (at most 3,
  followed here) is checked the same way;
- no cookies, no `Referer`, no proxy from the environment; `Accept-Encoding: identity`, and an
  answer with any `Content-Encoding` is refused (a 131 KB zstd body once decoded to gigabytes
  before a cap on decoded bytes could act); the cap counts the bytes as they arrive;
- 10 s for everything, 5 MB at most, and only if the bytes really are a raster image;
- every failure reads the same (`IMAGE_FAILED`): a status, content type or error name per cause
  would let model text scan ports and fingerprint services through the reader's clicks. The cause
  goes to the log, with the host only (a path or query may carry message text).
"""

from __future__ import annotations

import asyncio
import base64
import functools
import logging
import ssl
from collections.abc import Iterable
from urllib.parse import urlsplit

import httpcore
import httpx

from .pinned_network import PinnedBackend
from .public_address import FetchRefused, IPAddress, checked_address, loopback_allowance, resolve

log = logging.getLogger(__name__)

IMAGE_FAILED = "Could not load this image."
MAX_IMAGE_BYTES = 5 * 1024 * 1024
TIMEOUT = 10.0  # seconds for the whole fetch, redirects and name lookups included
MAX_REDIRECTS = 3
_REDIRECTS = frozenset({301, 302, 303, 307, 308})
_HEADERS = [(b"User-Agent", b"SecretGPT image fetch"),
            (b"Accept", b"image/avif,image/webp,image/png,image/jpeg,image/gif"),
            (b"Accept-Encoding", b"identity")]
# What a failed connection or a broken answer raises below us (the rest is a bug, logged louder).
_NETWORK_ERRORS = (httpcore.TimeoutException, httpcore.NetworkError, httpcore.ProtocolError,
                   httpcore.UnsupportedProtocol, httpx.InvalidURL, OSError, ValueError)
# SVG is left out on purpose: it is a document, not a picture.
_SIGNATURES: tuple[tuple[bytes, int, str], ...] = (
    (b"\x89PNG\r\n\x1a\n", 0, "image/png"),
    (b"\xff\xd8\xff", 0, "image/jpeg"),
    (b"GIF87a", 0, "image/gif"),
    (b"GIF89a", 0, "image/gif"),
    (b"WEBP", 8, "image/webp"),
    (b"ftypavif", 4, "image/avif"),
    (b"BM", 0, "image/bmp"),
)


class ImageFetchError(Exception):
    """The image cannot be shown. Its text is always IMAGE_FAILED; `cause` is for the log and tests."""

    def __init__(self, cause: str) -> None:
        super().__init__(IMAGE_FAILED)
        self.cause = cause


class ImageFetcher:
    """Fetches images from public addresses only. `allow_loopback`: loopback addresses let
    through anyway, for the tests' own servers (SECRETGPT_IMAGE_FETCH_ALLOW_LOOPBACK); empty by
    default, and nothing but loopback can be listed. `ssl_context`: the tests' own CA (by
    default httpx's: certifi's CAs, verified)."""

    def __init__(self, allow_loopback: Iterable[str] = (), *, ssl_context: ssl.SSLContext | None = None) -> None:
        self._allowed = loopback_allowance(allow_loopback)
        self._ssl_context = ssl_context

    async def fetch(self, address: str) -> str:
        """The image at `address` as a `data:` URL, or ImageFetchError."""
        host = _host(address)
        try:
            async with asyncio.timeout(TIMEOUT):
                body = await self._follow(fetch_url(address))
            mime = sniff(body)
            if mime is None:
                raise FetchRefused("the bytes are not a PNG, JPEG, GIF, WebP, AVIF or BMP image")
        except FetchRefused as exc:
            cause = str(exc)
        except TimeoutError:
            cause = f"no complete answer within {TIMEOUT:.0f} s"
        except _NETWORK_ERRORS as exc:
            cause = f"the request failed ({type(exc).__name__})"
        except Exception as exc:  # noqa: BLE001 (the reader still gets the one sentence)
            log.warning("Load image from %s failed unexpectedly (%s)", host, type(exc).__name__)
            raise ImageFetchError(f"unexpected {type(exc).__name__}") from None
        else:
            log.info("Load image from %s: %s, %d bytes", host, mime, len(body))
            return f"data:{mime};base64,{base64.b64encode(body).decode('ascii')}"
        log.info("Load image from %s failed: %s", host, cause)
        raise ImageFetchError(cause) from None

    async def _follow(self, url: str) -> bytes:
        """The body at `url`, following redirects ourselves: each hop's host is checked afresh."""
        target = httpx.URL(url)
        for hop in range(MAX_REDIRECTS + 1):
            if target.scheme not in ("http", "https") or not target.host:
                raise FetchRefused(f"redirect {hop} is not to an http or https address")
            address = await self._address_of(target)
            body, location = await _get(target, address, self._ssl_context or _default_ssl_context())
            if location is None:
                return body
            target = target.join(location)
        raise FetchRefused(f"more than {MAX_REDIRECTS} redirects")

    async def _address_of(self, url: httpx.URL) -> IPAddress:
        host = url.raw_host.decode("ascii")  # IDNA-encoded by httpx, brackets of IPv6 removed
        port = url.port or (443 if url.scheme == "https" else 80)
        return checked_address(host, await resolve(host, port), self._allowed)


def fetch_url(address: str) -> str:
    """The URL the app would fetch for an image address; protocol-relative means https."""
    url = "https:" + address if address.startswith("//") else address
    try:
        parts = urlsplit(url)
        hostname = parts.hostname
    except ValueError:
        raise FetchRefused("not a URL") from None
    if parts.scheme.lower() not in ("http", "https") or not hostname:
        raise FetchRefused("not an http or https address")
    return url


async def _get(url: httpx.URL, address: IPAddress, context: ssl.SSLContext) -> tuple[bytes, str | None]:
    """One GET to `address` for `url`: (body, None), or (b"", Location) for a redirect."""
    host = url.raw_host.decode("ascii")
    target = httpcore.URL(scheme=url.raw_scheme, host=url.raw_host, port=url.port, target=url.raw_path)
    headers = [(b"Host", url.netloc), *_HEADERS]  # netloc: IPv6 in brackets, no user info
    # A fresh pool per hop: no cookie jar, no connection shared with anything else.
    async with httpcore.AsyncConnectionPool(ssl_context=context, max_connections=1, retries=0,
                                            network_backend=PinnedBackend(host, address)) as pool:
        async with pool.stream("GET", target, headers=headers) as response:
            return await _read(response)


async def _read(response: httpcore.Response) -> tuple[bytes, str | None]:
    headers = {name.lower(): value for name, value in response.headers}
    status = response.status
    if status in _REDIRECTS:
        location = headers.get(b"location", b"").decode("latin-1").strip()
        if not location:
            raise FetchRefused(f"HTTP {status} without a Location")
        return b"", location
    if status != 200:
        raise FetchRefused(f"HTTP {status}")
    encoding = headers.get(b"content-encoding", b"").decode("latin-1").strip().lower()
    if encoding not in ("", "identity"):
        raise FetchRefused(f"a {encoding[:40]} encoded body (only identity is taken)")
    declared = headers.get(b"content-type", b"").decode("latin-1").split(";")[0].strip().lower()
    if not declared.startswith("image/") or declared == "image/svg+xml":
        raise FetchRefused(f"it sent {declared[:60] or 'no content type'}, not an image")
    length = headers.get(b"content-length", b"").decode("latin-1").strip()
    if length.isdigit() and int(length) > MAX_IMAGE_BYTES:
        raise FetchRefused(_too_large())
    body = bytearray()
    # The raw body (httpcore decodes no Content-Encoding): what is counted is what arrived.
    async for chunk in response.aiter_stream():
        if len(body) + len(chunk) > MAX_IMAGE_BYTES:
            raise FetchRefused(_too_large())
        body += chunk
    return bytes(body), None


def sniff(body: bytes) -> str | None:
    for signature, offset, mime in _SIGNATURES:
        if body[offset:offset + len(signature)] == signature:
            if mime == "image/webp" and not body.startswith(b"RIFF"):
                continue
            return mime
    return None


@functools.cache
def _default_ssl_context() -> ssl.SSLContext:
    # httpx's default (certifi's CAs, verified), made once: loading the CAs takes a while.
    return httpx.create_ssl_context()


def _host(address: str) -> str:
    """Only the host, for the log: an image's path and query may carry message text."""
    try:
        return urlsplit("https:" + address if address.startswith("//") else address).hostname or "?"
    except ValueError:
        return "?"


def _too_large() -> str:
    return f"larger than {MAX_IMAGE_BYTES // (1024 * 1024)} MB"
