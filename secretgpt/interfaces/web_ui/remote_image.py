"""Fetch one image the reader asked for ("Load image"), through the app, as a `data:` URL.

The page's CSP lets the browser load images only from the app itself, so a remote image in model
text can never be fetched by the browser: that is what stops a model from sending the conversation
to a server inside an image address. On a click the app fetches that one address instead: no
cookies, no `Referer`, http(s) only (redirects included), a timeout and a size cap, and only if
the bytes really are a raster image.
"""

from __future__ import annotations

import asyncio
import base64
from urllib.parse import urlsplit

import httpx

MAX_IMAGE_BYTES = 5 * 1024 * 1024
TIMEOUT = 10.0  # seconds for the whole fetch
MAX_REDIRECTS = 3
_HEADERS = {"User-Agent": "SecretGPT image fetch", "Accept": "image/avif,image/webp,image/png,image/jpeg,image/gif"}
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
    """Why the image could not be shown, in words for the reader."""


def fetch_url(address: str) -> str:
    """The URL the app would fetch for an image address; protocol-relative means https."""
    url = "https:" + address if address.startswith("//") else address
    parts = urlsplit(url)
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise ImageFetchError("only http and https images can be loaded")
    return url


async def fetch_image(address: str) -> str:
    """The image at `address` as a `data:` URL, or ImageFetchError."""
    url = fetch_url(address)
    try:
        async with asyncio.timeout(TIMEOUT):
            body, declared = await _download(url)
    except TimeoutError:
        raise ImageFetchError(f"no complete answer within {TIMEOUT:.0f} s") from None
    except httpx.UnsupportedProtocol:
        raise ImageFetchError("it redirected to an address that is not http or https") from None
    except httpx.TooManyRedirects:
        raise ImageFetchError(f"more than {MAX_REDIRECTS} redirects") from None
    except httpx.HTTPError as exc:
        raise ImageFetchError(f"the request failed ({type(exc).__name__})") from None
    mime = sniff(body)
    if mime is None:
        raise ImageFetchError(f"the answer is not a PNG, JPEG, GIF, WebP, AVIF or BMP image (it said {declared!r})")
    return f"data:{mime};base64,{base64.b64encode(body).decode('ascii')}"


async def _download(url: str) -> tuple[bytes, str]:
    # A fresh client per click: no cookie jar, no connection shared with anything else.
    async with httpx.AsyncClient(follow_redirects=True, max_redirects=MAX_REDIRECTS, headers=_HEADERS,
                                 timeout=TIMEOUT) as client:
        async with client.stream("GET", url) as response:
            if response.status_code != 200:
                raise ImageFetchError(f"the server answered HTTP {response.status_code}")
            declared = response.headers.get("content-type", "").split(";")[0].strip().lower()
            if not declared.startswith("image/") or declared == "image/svg+xml":
                raise ImageFetchError(f"the server sent {declared or 'no content type'}, not an image")
            length = response.headers.get("content-length", "")
            if length.isdigit() and int(length) > MAX_IMAGE_BYTES:
                raise ImageFetchError(_too_large())
            body = bytearray()
            async for chunk in response.aiter_bytes():
                body += chunk
                if len(body) > MAX_IMAGE_BYTES:
                    raise ImageFetchError(_too_large())
            return bytes(body), declared


def sniff(body: bytes) -> str | None:
    for signature, offset, mime in _SIGNATURES:
        if body[offset:offset + len(signature)] == signature:
            if mime == "image/webp" and not body.startswith(b"RIFF"):
                continue
            return mime
    return None


def _too_large() -> str:
    return f"larger than {MAX_IMAGE_BYTES // (1024 * 1024)} MB"
