"""Who has signed in, kept on the server, and how wrong tokens are held back.

A browser is signed in while its session id is listed here with the current token's marker: the
cookie alone (signed, but copyable, and alive for its Max-Age) proves nothing once the server has
forgotten the session, which is how signing out ends it. The list lives in NiceGUI's general
storage (`<data dir>/nicegui`, 0600), so a restart signs nobody out.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections import deque
from collections.abc import Callable, MutableMapping
from typing import Any

from nicegui import app

SIGNED_IN_KEY = "signed_in"


def login_marker(token: str) -> str:
    """What a signed-in session is listed with: not the token itself, and a new token signs every
    browser out."""
    return hashlib.sha256(b"secretgpt-login\0" + token.encode()).hexdigest()


def tokens_match(given: str, token: str) -> bool:
    """Constant time, length included (compare_digest returns early on a length mismatch)."""
    return hmac.compare_digest(hashlib.sha256(given.encode()).digest(), hashlib.sha256(token.encode()).digest())


class SignIns:
    """Signed-in browser sessions: session id -> the token's marker and the owner of the
    conversations the page shows."""

    def __init__(self, storage: MutableMapping[str, Any], marker: str = "") -> None:
        self._storage = storage
        self.marker = marker

    @property
    def _sessions(self) -> MutableMapping[str, Any]:
        return self._storage.setdefault(SIGNED_IN_KEY, {})

    def signed_in(self, session: str) -> bool:
        entry = self._sessions.get(session) if session else None
        return isinstance(entry, dict) and hmac.compare_digest(str(entry.get("marker", "")), self.marker)

    def owner_of(self, session: str) -> str:
        """Whose conversations this browser's page shows: those of the browser it signed in from,
        else its own."""
        entry = self._sessions.get(session)
        return str(entry["owner"]) if isinstance(entry, dict) and entry.get("owner") else "web:" + session

    def sign_in(self, previous: str, new: str) -> None:
        """`new` (the browser's new session) is signed in, keeping the conversations of `previous`
        (its session before): a planted cookie's session cannot have any on an exposed app, where
        every page but sign-in needs a signed-in session; the browser's own, made while sign-in
        was off, stay its own.

        `previous` is retired, not just forgotten: whoever else holds its cookie (who planted it)
        must not see those conversations as its own should sign-in ever be turned off."""
        owner = self.owner_of(previous)
        self._sessions[previous] = {"owner": "retired:" + previous}  # signed in no more, owning nothing
        self._sessions[new] = {"marker": self.marker, "owner": owner}

    def sign_out(self, session: str) -> None:
        """The session signs in no more; its owner goes with it (the next sign-in in this browser
        starts a conversation list of its own)."""
        self._sessions.pop(session, None)


def browser_owner(browser_id: str) -> str:
    """The page's owner for this browser (NiceGUI's `app.storage.browser['id']`)."""
    return SignIns(app.storage.general).owner_of(browser_id)


class LoginThrottle:
    """Wrong tokens per client address. Past `attempts` within `window` seconds, each further
    wrong one is answered only after a delay that doubles (1 s, 2 s, 4 s … at most `max_delay`).

    The right token is never held back: it is checked first, and refusing it would let anyone at
    the same address (a NAT, the proxy) lock its owner out with five guesses. Every answer then
    tells right from wrong, so what bounds guessing is this delay (per connection) and the
    token's length (the generated one has 256 bits)."""

    def __init__(self, attempts: int = 5, window: float = 900.0, max_delay: float = 30.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.attempts = attempts
        self.window = window
        self.max_delay = max_delay
        self._clock = clock
        self._failures: dict[str, deque[float]] = {}

    def failed(self, client: str) -> float:
        """Count a wrong token from `client`; return the seconds to hold its answer (0: none)."""
        if len(self._failures) > 10_000:  # many addresses: forget the ones whose window has passed
            cutoff = self._clock() - self.window
            self._failures = {c: f for c, f in self._failures.items() if f and f[-1] > cutoff}
        failures = self._recent(client)
        failures.append(self._clock())
        excess = len(failures) - self.attempts
        return 0.0 if excess <= 0 else min(self.max_delay, 2.0 ** min(excess - 1, 16))

    def _recent(self, client: str) -> deque[float]:
        failures = self._failures.setdefault(client, deque())
        cutoff = self._clock() - self.window
        while failures and failures[0] <= cutoff:
            failures.popleft()
        return failures
