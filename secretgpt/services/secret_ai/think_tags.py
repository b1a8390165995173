"""Incremental separation of reasoning from answer text.

Models put reasoning either in a separate field (Ollama >= 0.12.4 `thinking`, surfaced by
langchain-ollama as `reasoning_content`; on the OpenAI-compatible API `delta.reasoning_content` from
vLLM's reasoning parser or `delta.reasoning`) or inline as `<think>…</think>` in the content. Inline
tags may be split anywhere across chunks, so the parser holds back any tail that could still
become a tag and never lets a partial tag reach the answer text. How long the model thought is
timed where the chunks are read (the hub's `Tally`), not here.
"""

from __future__ import annotations

from ...records import ChunkKind, StreamChunk

Delta = tuple[str | None, str | None]  # (reasoning, content) of one chunk, as a model client reads it
OPEN_TAG = "<think>"
CLOSE_TAG = "</think>"


def _partial_tag_suffix(buffer: str, tag: str) -> int:
    """Length of the longest suffix of `buffer` that is a proper prefix of `tag`."""
    for size in range(min(len(tag) - 1, len(buffer)), 0, -1):
        if buffer.endswith(tag[:size]):
            return size
    return 0


class ThinkTagParser:
    """Feed content and reasoning deltas; get back THINK/TEXT chunks in order."""

    def __init__(self) -> None:
        self._in_think = False
        self._pending = ""  # held-back characters that may be the start of a tag

    @property
    def in_think(self) -> bool:
        return self._in_think

    def feed_reasoning(self, reasoning: str) -> list[StreamChunk]:
        """Reasoning delivered out of band (the `thinking` field)."""
        if not reasoning:
            return []
        return [StreamChunk(ChunkKind.THINK, reasoning)]

    def feed(self, content: str) -> list[StreamChunk]:
        """Answer content that may contain inline think tags."""
        if not content:
            return []
        out: list[StreamChunk] = []
        if not self._pending and "<" not in content:
            # Fast path (nearly every token): no tag can start here.
            self._emit(out, content)
            return out
        buffer = self._pending + content
        self._pending = ""
        while buffer:
            tag = CLOSE_TAG if self._in_think else OPEN_TAG
            index = buffer.find(tag)
            if index >= 0:
                self._emit(out, buffer[:index])
                buffer = buffer[index + len(tag):]
                self._in_think = not self._in_think
                continue
            hold = _partial_tag_suffix(buffer, tag)
            self._emit(out, buffer[: len(buffer) - hold])
            self._pending = buffer[len(buffer) - hold:]
            break
        return out

    def finish(self) -> list[StreamChunk]:
        """End of stream: release held-back text and close an unclosed think block."""
        out: list[StreamChunk] = []
        if self._pending:
            # A dangling "<th…" (or "</th…" inside reasoning) at the very end is a truncated tag,
            # not text; a lone "<" is more likely a real character, so it is kept.
            tag = CLOSE_TAG if self._in_think else OPEN_TAG
            if len(self._pending) > 1 and tag.startswith(self._pending):
                self._pending = ""
            self._emit(out, self._pending)
            self._pending = ""
        self._in_think = False
        return out

    def _emit(self, out: list[StreamChunk], text: str) -> None:
        if not text:
            return
        kind = ChunkKind.THINK if self._in_think else ChunkKind.TEXT
        if out and out[-1].kind is kind:
            out[-1].content += text
        else:
            out.append(StreamChunk(kind, text))
