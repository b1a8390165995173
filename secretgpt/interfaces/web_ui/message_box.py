"""`MessageBox`: a textarea for long text (a message, a system prompt) whose text reaches the
server only when it may be sent.

NiceGUI sends an input's whole value to the server on every change, in one websocket message, and
its client drops a message of more than 999,900 characters (its "Message too long" pop-up; the
server's engine.io would close the connection at 1,000,000). A 1 MB paste never arrived, and the
page then said the message was empty. Here a text over the limit stays in the browser, and the
server learns only its length: the page can say how long it is, and nothing is lost.
"""

from __future__ import annotations

from collections.abc import Callable

from nicegui import ui

from ...hub import BadMessage

# The value goes into the websocket message JSON-encoded twice (the event's arguments, then the
# packet): up to 7 characters for one (a control character: \u0001). A text of this many
# characters fits in NiceGUI's 999,900 whatever it holds.
CARRIED_CHARS = 140_000

# Past the limit, the value is not sent at all.
_VALUE_UP_TO = "(v) => {{ if (v == null || v.length <= {limit}) emit(v); }}"
_LENGTH = "(v) => emit(v == null ? 0 : v.length)"


class MessageBox(ui.textarea):
    """`limit`: the most characters the text may have (MAX_MESSAGE_CHARS for a message);
    `validate_length` raises BadMessage saying why a length is too long (`ChatHub.validate_length`)."""

    def __init__(self, limit: int, validate_length: Callable[[int], None], label: str | None = None, *,
                 placeholder: str | None = None, value: str = "") -> None:
        super().__init__(label, placeholder=placeholder, value=value)
        self.limit = limit
        self.carried = min(limit, CARRIED_CHARS)
        self._validate_length = validate_length
        self.length = len(value)  # of the text in the browser, which the server may not have
        # NiceGUI's own listener (the one it made for the value); a NiceGUI that makes it otherwise
        # must fail here, not drop the guard silently.
        [value_listener] = [x for x in self._event_listeners.values() if x.type == "update:value"]
        value_listener.js_handler = _VALUE_UP_TO.format(limit=self.carried)
        self.on("update:value", lambda e: self._measured(int(e.args or 0)), js_handler=_LENGTH)
        self.on_value_change(lambda e: self._measured(len(e.value or "")))  # set by the page, too

    def _measured(self, length: int) -> None:
        if length != self.length:
            self.length = length
            self.error = None  # an error about the text is stale once the text changes

    def held_back(self) -> str | None:
        """Why the text cannot be sent, if it is longer than the server was given; else None."""
        if self.length <= self.carried:
            return None
        try:
            self._validate_length(self.length)
        except BadMessage as exc:
            return str(exc)
        # Only with a limit raised past what the websocket carries.
        return (f"The message is {self.length:,} characters long; the page sends at most {self.carried:,} "
                f"characters at once (the HTTP API takes up to {self.limit:,}).")
