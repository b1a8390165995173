"""`Tally`: what an answer has produced so far and when — its text and reasoning, chunk count,
timings (first token, the one think timer, pauses) and the usage the model server reported."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime, timezone

from ..proofs.chain import HashChain
from ..records import ChunkKind, StreamChunk, Usage

CHAIN_KIND = {ChunkKind.THINK: "r", ChunkKind.TEXT: "c"}


class Tally:
    def __init__(self, streaming: bool, clock: Callable[[], float] = time.monotonic) -> None:
        self.streaming = streaming
        self._clock = clock
        self._text: list[str] = []
        self._think: list[str] = []
        self.chunks = 0
        self.usage: Usage | None = None
        # Every chunk as it was received (a proof's hash chain); the text is `text` and `think`.
        self.chain = HashChain()
        # UTF-8 bytes at the start of the text and reasoning carried over from an earlier answer
        # (Continue): in the chain, so it covers the whole answer, but not received over this
        # answer's connection, and its proof says so.
        self.continued_text_bytes = 0
        self.continued_reasoning_bytes = 0
        self.started_at = datetime.now(timezone.utc)
        self.started = clock()
        self.last_activity = self.started
        self.first_token_at: datetime | None = None
        self.first_token: float | None = None  # monotonic
        self.ended_at: datetime | None = None
        # The think timer: from the first reasoning to the first answer text (or the model's end).
        self._think_started: float | None = None
        self._think_ended: float | None = None
        self.paused_since: float | None = None
        self._paused_total = 0.0

    @property
    def text(self) -> str:
        return "".join(self._text)

    @property
    def think(self) -> str:
        return "".join(self._think)

    def seed(self, text: str, think: str = "") -> None:
        """Begin from an earlier partial answer (Continue): it is part of this answer's text, but
        it came from elsewhere (another connection, attestation or an imported file)."""
        if think:
            self._think.append(think)
            self.chain.add("r", think)
            self.continued_reasoning_bytes += len(think.encode("utf-8"))
        if text:
            self._text.append(text)
            self.chain.add("c", text)
            self.continued_text_bytes += len(text.encode("utf-8"))

    def add(self, chunk: StreamChunk) -> bool:
        """Count a chunk; True if it is the answer's first."""
        now = self.last_activity = self._clock()
        first = self.first_token is None
        if first:
            self.first_token = now
            self.first_token_at = datetime.now(timezone.utc)
        self.chunks += 1
        self.chain.add(CHAIN_KIND[chunk.kind], chunk.content)  # type: ignore[arg-type]
        if chunk.kind is ChunkKind.THINK:
            self._think.append(chunk.content)
            if self._think_started is None:
                self._think_started = now
        else:
            self._text.append(chunk.content)
            self._end_thinking(now)
        return first

    def model_ended(self) -> None:
        """The model has said everything: thinking, if still open, is over."""
        self._end_thinking(self._clock())

    def _end_thinking(self, now: float) -> None:
        if self._think_started is not None and self._think_ended is None:
            self._think_ended = now

    @property
    def think_seconds(self) -> float | None:
        """How long the model reasoned (so far, while it still is); unknown without streaming,
        where the whole answer arrives at once."""
        if self._think_started is None or not self.streaming:
            return None
        end = self._think_ended if self._think_ended is not None else self._clock()
        return max(0.0, end - self._think_started)

    @property
    def time_to_first_token(self) -> float | None:
        return self.first_token - self.started if self.first_token is not None else None

    # --- pauses ---------------------------------------------------------------------------------

    @property
    def paused(self) -> bool:
        return self.paused_since is not None

    def pause(self) -> None:
        self.paused_since = self._clock()

    def end_pause(self) -> None:
        if self.paused_since is not None:
            self._paused_total += self._clock() - self.paused_since
            self.paused_since = None

    @property
    def paused_seconds(self) -> float:
        ongoing = self._clock() - self.paused_since if self.paused_since is not None else 0.0
        return self._paused_total + ongoing

    @property
    def tokens_per_second(self) -> float | None:
        if self.first_token is None:
            return None
        elapsed = self._clock() - self.first_token - self.paused_seconds
        return self.chunks / elapsed if elapsed > 0.2 else None

    def end(self) -> None:
        self.end_pause()
        self.ended_at = datetime.now(timezone.utc)
