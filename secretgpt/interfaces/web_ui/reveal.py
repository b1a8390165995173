"""How fast streamed text is revealed: a typing pace that never falls far behind the model, over
a backlog of what has arrived and is not shown yet."""

from __future__ import annotations

import math
from collections import deque

from ...config import TypingSpeed
from ...records import ChunkKind

# Characters per second at the steady pace, and how old the backlog may get before the
# reveal speeds up to drain it (an exponential catch-up with this time constant).
_PACE = {TypingSpeed.FAST: (600.0, 0.5), TypingSpeed.NATURAL: (120.0, 1.5)}


class RevealPacer:
    def __init__(self, speed: TypingSpeed) -> None:
        self.speed = speed

    def allowance(self, backlog: int, dt: float) -> int:
        """How many of `backlog` waiting characters to show after `dt` seconds."""
        if backlog <= 0:
            return 0
        if self.speed is TypingSpeed.INSTANT:
            return backlog
        rate, catch_up = _PACE[self.speed]
        steady = math.ceil(rate * dt)
        draining = math.ceil(backlog * min(1.0, dt / catch_up))
        return min(backlog, max(steady, draining))


class Backlog:
    """Text that has arrived and is not shown yet, in order, consecutive pieces of a kind merged."""

    def __init__(self) -> None:
        self._segments: deque[tuple[ChunkKind, str]] = deque()
        self.waiting = 0  # characters

    def __bool__(self) -> bool:
        return bool(self._segments)

    def add(self, kind: ChunkKind, text: str) -> None:
        if self._segments and self._segments[-1][0] is kind:
            self._segments[-1] = (kind, self._segments[-1][1] + text)
        else:
            self._segments.append((kind, text))
        self.waiting += len(text)

    def take(self, count: int) -> list[tuple[ChunkKind, str]]:
        """Up to `count` characters from the front, as (kind, text) pieces."""
        out: list[tuple[ChunkKind, str]] = []
        while count > 0 and self._segments:
            kind, text = self._segments[0]
            piece, rest = text[:count], text[count:]
            count -= len(piece)
            self.waiting -= len(piece)
            if rest:
                self._segments[0] = (kind, rest)
            else:
                self._segments.popleft()
            out.append((kind, piece))
        return out
