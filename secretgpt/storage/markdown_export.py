"""The readable Markdown export of a conversation's active thread (not importable: the JSON is).

A pure function over the stored conversation; the store reads it (sql.py). Every text it quotes
— model text above all, but also titles, prompts and error words — goes through `inert`, so the
file loads nothing by itself in any Markdown viewer (images become links, raw HTML is text).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime, timezone

from .. import __version__
from ..records import ConversationSettings, StreamStatus
from .inert_markdown import as_text, inert, loads_nothing, may_load
from ..records import StoredConversation, StoredMessage

_STATUS_NOTES = {
    StreamStatus.STOPPED: "stopped — partial answer",
    StreamStatus.INTERRUPTED: "interrupted — partial answer",
    StreamStatus.TIMEOUT: "timed out — partial answer",
    StreamStatus.PAUSE_TIMEOUT: "paused too long — partial answer",
    StreamStatus.CONNECTING: "still connecting",
    StreamStatus.STREAMING: "still streaming — partial answer",
    StreamStatus.PAUSED: "paused — partial answer",
}


# The export's own HTML: the collapsible blocks around reasoning and the system prompt.
_OWN_HTML = re.compile(r"(<details><summary>[^<>\n]*</summary>|</details>)\n?")

Quote = Callable[[str], str]


def render_markdown(conversation: StoredConversation) -> str:
    """The active thread as a readable document."""
    quoted: list[str] = []  # the pieces as written: only those that may still load need the check

    def quote(text: str) -> str:
        written = inert(text)
        quoted.append(written)
        return written

    document = _document(conversation, quote)
    if not any(may_load(piece) for piece in quoted) or loads_nothing(document, allowed_html=_OWN_HTML):
        return document
    # A piece that read safely alone does not in the whole (a reference defined in another one):
    # everything quoted as plain text rather than a file that loads something.
    return _document(conversation, as_text)


def _document(conversation: StoredConversation, quote: Quote) -> str:
    out = [f"# {quote(_one_line(conversation.title))}", "",
           f"_Exported from SecretGPT {__version__} · started {_when(conversation.created_at)} · "
           f"last message {_when(conversation.updated_at)}_", ""]
    if conversation.system.strip() or conversation.options.sent():
        out += _settings_lines(conversation.settings, quote)
    for m in conversation.messages:
        out += [f"## {quote(_heading(m))}", ""]
        if m.think:
            seconds = m.metadata.get("think_seconds")
            label = f"Reasoning (thought for {seconds:.1f} s)" if isinstance(seconds, (int, float)) else "Reasoning"
            out += [f"<details><summary>{label}</summary>", "", quote(_no_close_tag(closed_fences(m.think.strip()))),
                    "", "</details>", ""]
        if m.content:
            out += [quote(closed_fences(m.content.rstrip())), ""]
        elif m.role == "assistant":
            out += ["_(no text)_", ""]
        # Files by name only: their text and images are in the JSON export (nothing here loads).
        out += [f"- Attached: {quote(_one_line(a.name))} ({a.label})" for a in m.attachments]
        out += [""] if m.attachments else []
    return "\n".join(out).rstrip() + "\n"


def _settings_lines(settings: ConversationSettings, quote: Quote) -> list[str]:
    out = []
    if settings.system.strip():
        out += ["<details><summary>System prompt</summary>", "",
                quote(_no_close_tag(closed_fences(settings.system.strip()))), "", "</details>", ""]
    if settings.options.sent():
        out += ["_Options: " + ", ".join(f"{k} {v}" for k, v in settings.options.sent().items()) + "_", ""]
    return out


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _heading(m: StoredMessage) -> str:
    parts = [m.role.capitalize()]
    if m.role == "assistant":
        if m.model:
            parts.append(f"`{_one_line(str(m.model))}`")
        if m.status is StreamStatus.ERROR:
            error = m.metadata.get("error")
            parts.append(f"error: {_one_line(str(error))}" if error else "error — partial answer")
        elif m.status is not None:
            parts.append(_STATUS_NOTES.get(m.status, m.status.value))
    if len(m.sibling_ids) > 1:
        noun = "answer" if m.role == "assistant" else "version"
        parts.append(f"{noun} {m.sibling_index + 1} of {len(m.sibling_ids)}")
    return " · ".join(parts)


def _when(value: datetime) -> str:
    return value.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


def _no_close_tag(text: str) -> str:
    # Reasoning that mentions </details> must not end the collapsible block early.
    return text.replace("</details>", "&lt;/details&gt;")


# A CommonMark code fence: up to three spaces, then three or more backticks or tildes.
_FENCE = re.compile(r" {0,3}(`{3,}|~{3,})(.*)")
_LINE_END = re.compile(r"\r\n|\r|\n")  # CommonMark's line endings (str.splitlines knows more)


def closed_fences(text: str) -> str:
    """`text` with the code fence it leaves open (an answer stopped inside a code block) closed at its
    end, by the same character at the same length, so what follows in the document is not code."""
    open_fence: str | None = None
    for line in _LINE_END.split(text):
        match = _FENCE.fullmatch(line)
        if match is None:
            continue
        fence, rest = match.groups()
        if open_fence is None:
            if not (fence[0] == "`" and "`" in rest):  # backticks in a backtick fence's info string: not a fence
                open_fence = fence
        elif fence[0] == open_fence[0] and len(fence) >= len(open_fence) and not rest.strip(" \t"):
            open_fence = None
    return text if open_fence is None else f"{text}\n{open_fence}"
