"""How fast streamed text is revealed: a typing pace that never falls far behind the model."""

from __future__ import annotations

import math

from ...config import TypingSpeed

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
