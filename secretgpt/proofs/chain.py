"""A hash chain over an answer's chunks, in the order they were received.

    head_0 = SHA-256("secretgpt-proof-chain-v1")
    head_i = SHA-256(head_{i-1} || kind || len(chunk) as 8 bytes big-endian || chunk)

`kind` is one byte: b"c" for answer text, b"r" for reasoning; chunks are UTF-8. The chain keeps
only each chunk's kind and UTF-8 length (the text itself is the answer's text and reasoning), so
adding a chunk costs O(1) time and memory whatever the answer's length. A verifier cuts the
answer's text and reasoning at those lengths, replays the chain, and compares the head.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from typing import Literal

ChunkKind = Literal["c", "r"]  # answer text, reasoning
GENESIS = hashlib.sha256(b"secretgpt-proof-chain-v1").digest()


def step(head: bytes, kind: ChunkKind, data: bytes) -> bytes:
    return hashlib.sha256(head + kind.encode() + len(data).to_bytes(8, "big") + data).digest()


class HashChain:
    """Feed it every chunk as it arrives (`add`); a stopped answer's chain ends where it stopped."""

    def __init__(self) -> None:
        self._head = GENESIS
        self.chunks: list[tuple[ChunkKind, int]] = []  # (kind, UTF-8 length)

    def add(self, kind: ChunkKind, text: str) -> None:
        if kind not in ("c", "r"):
            raise ValueError(f"chunk kind must be 'c' (text) or 'r' (reasoning), not {kind!r}")
        if not text:
            return
        data = text.encode("utf-8")
        self._head = step(self._head, kind, data)
        self.chunks.append((kind, len(data)))

    @classmethod
    def recorded(cls, chunks: Iterable[tuple[str, int]], head: str) -> HashChain:
        """A chain as it was kept with an answer (`build_proof` checks it against the text)."""
        chain = cls()
        chain.chunks = [(kind, length) for kind, length in chunks]  # type: ignore[misc]
        chain._head = bytes.fromhex(head)
        return chain

    @property
    def head(self) -> str:
        return self._head.hex()


def split(text: str, reasoning: str, chunks: Iterable[tuple[str, int]]) -> list[tuple[ChunkKind, bytes]]:
    """The chunks again, cut from the text and reasoning; ValueError unless they add up exactly."""
    streams = {"c": text.encode("utf-8"), "r": reasoning.encode("utf-8")}
    offsets = {"c": 0, "r": 0}
    pieces: list[tuple[ChunkKind, bytes]] = []
    for kind, length in chunks:
        if kind not in streams or not isinstance(length, int) or length <= 0:
            raise ValueError(f"bad chunk {kind!r}, {length!r}")
        start = offsets[kind]
        if start + length > len(streams[kind]):
            raise ValueError("the chunks are longer than the text")
        pieces.append((kind, streams[kind][start:start + length]))  # type: ignore[arg-type]
        offsets[kind] = start + length
    if offsets["c"] != len(streams["c"]) or offsets["r"] != len(streams["r"]):
        raise ValueError("the text is longer than its chunks")
    return pieces


def replay(pieces: Iterable[tuple[ChunkKind, bytes]]) -> str:
    head = GENESIS
    for kind, data in pieces:
        head = step(head, kind, data)
    return head.hex()
