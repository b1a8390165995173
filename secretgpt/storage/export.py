"""Export files: the lossless JSON format (and its validation on import) and readable Markdown.

Pure functions over stored models; the store does the reading and writing (sql.py).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from datetime import datetime, timezone
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, model_validator

from .. import __version__
from ..records import (
    LIVE_STATUSES, MAX_SYSTEM_PROMPT_CHARS, ConversationSettings, GenerationOptions, Role, StreamStatus,
)
from .stored import StoredConversation, StoredMessage

FORMAT_ONE = "secretgpt.conversation"
FORMAT_ALL = "secretgpt.conversations"
FORMAT_VERSION = 1
# An export is about six levels deep; anything far deeper is not one, and would exhaust Python's
# recursion limit in the JSON parser, in validation or when the metadata is stored again.
MAX_IMPORT_DEPTH = 64
_TOO_DEEP = f"This is not a SecretGPT export: its JSON is nested more than {MAX_IMPORT_DEPTH} levels deep."


class InvalidImport(ValueError):
    """The file cannot be imported; the message says why in words a user can act on. Nothing was
    changed."""


def _as_utc(value: datetime) -> datetime:
    # Files edited by hand may drop the offset; the app always writes UTC.
    return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value.astimezone(timezone.utc)


UtcDatetime = Annotated[datetime, AfterValidator(_as_utc)]
Id = Annotated[str, Field(min_length=1, max_length=200)]


class ExportedMessage(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: Id
    parent_id: Id | None
    role: Role
    content: str
    think: str = ""
    created_at: UtcDatetime
    updated_at: UtcDatetime
    stream_id: str | None = Field(None, max_length=64)
    status: StreamStatus | None = None
    metadata: dict[str, Any] = Field(default_factory=dict)


class ExportedConversation(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: Id
    title: str
    created_at: UtcDatetime
    updated_at: UtcDatetime
    current_leaf_id: Id | None
    # Every message of the tree, parents before children.
    messages: list[ExportedMessage]
    # The conversation's settings; files from before they existed import with the defaults.
    system: str = Field("", max_length=MAX_SYSTEM_PROMPT_CHARS)
    options: GenerationOptions = Field(default_factory=GenerationOptions)

    @property
    def settings(self) -> ConversationSettings:
        return ConversationSettings(system=self.system, options=self.options)

    @model_validator(mode="after")
    def _a_tree(self) -> ExportedConversation:
        ids: set[str] = set()
        for m in self.messages:
            if m.id in ids:
                raise ValueError(f"message id {m.id!r} appears twice")
            ids.add(m.id)
        parent = {m.id: m.parent_id for m in self.messages}
        for m in self.messages:
            if m.parent_id is not None and m.parent_id not in ids:
                raise ValueError(f"message {m.id!r} has parent_id {m.parent_id!r}, which is not a message "
                                 f"of this conversation")
        streams = [m.stream_id for m in self.messages if m.stream_id is not None]
        if len(streams) != len(set(streams)):
            raise ValueError("two messages have the same stream_id")
        for m in self.messages:
            seen: set[str] = set()
            node: str | None = m.id
            while node is not None:
                if node in seen:
                    raise ValueError(f"message {m.id!r} is its own ancestor (parent_id loop)")
                seen.add(node)
                node = parent[node]
        if self.current_leaf_id is not None and self.current_leaf_id not in ids:
            raise ValueError(f"current_leaf_id {self.current_leaf_id!r} is not a message of this conversation")
        return self

    def parents_first(self) -> list[ExportedMessage]:
        """The messages in file order, except that a parent always comes before its children."""
        placed: set[str] = set()
        out: list[ExportedMessage] = []
        pending = list(self.messages)
        # The file is normally in order already, so this is one pass; a shuffled one takes more.
        while pending:
            waiting = []
            for m in pending:
                if m.parent_id is None or m.parent_id in placed:
                    out.append(m)
                    placed.add(m.id)
                else:
                    waiting.append(m)
            if len(waiting) == len(pending):
                raise ValueError("messages whose parents are missing or form a loop")
            pending = waiting
        return out


class ConversationExport(BaseModel):
    model_config = ConfigDict(extra="forbid")

    format: Literal["secretgpt.conversation"] = FORMAT_ONE
    version: Literal[1] = FORMAT_VERSION
    app_version: str
    exported_at: UtcDatetime
    conversation: ExportedConversation


class ConversationsExport(BaseModel):
    model_config = ConfigDict(extra="forbid")

    format: Literal["secretgpt.conversations"] = FORMAT_ALL
    version: Literal[1] = FORMAT_VERSION
    app_version: str
    exported_at: UtcDatetime
    conversations: list[ExportedConversation]


# --- export ------------------------------------------------------------------------------------

def exported_conversation(conversation: StoredConversation, messages: Sequence[StoredMessage]) -> ExportedConversation:
    return ExportedConversation(
        id=conversation.id,
        title=conversation.title,
        created_at=conversation.created_at,
        updated_at=conversation.updated_at,
        current_leaf_id=conversation.current_leaf_id,
        system=conversation.system,
        options=conversation.options,
        messages=[ExportedMessage.model_validate(m.model_dump(include=set(ExportedMessage.model_fields)))
                  for m in messages],
    )


def export_one(conversation: ExportedConversation) -> dict[str, Any]:
    doc = ConversationExport(app_version=__version__, exported_at=datetime.now(timezone.utc),
                             conversation=conversation)
    return doc.model_dump(mode="json")


def export_many(conversations: Sequence[ExportedConversation]) -> dict[str, Any]:
    doc = ConversationsExport(app_version=__version__, exported_at=datetime.now(timezone.utc),
                              conversations=list(conversations))
    return doc.model_dump(mode="json")


# --- import ------------------------------------------------------------------------------------

def parse_import(data: Mapping[str, Any] | str | bytes) -> list[ExportedConversation]:
    """Validate an export file (either format). Raises InvalidImport saying what is wrong."""
    if isinstance(data, (str, bytes, bytearray)):
        try:
            data = json.loads(data)
        except RecursionError:
            raise InvalidImport(_TOO_DEEP) from None
        except (ValueError, UnicodeDecodeError) as exc:
            if _looks_like_markdown_export(data):
                raise InvalidImport(_MARKDOWN_EXPORT) from None
            raise InvalidImport(f"This file is not JSON ({exc}). SecretGPT imports the JSON files it exports "
                                "(Export JSON, or Export all).") from None
    if _too_deep(data, MAX_IMPORT_DEPTH):
        raise InvalidImport(_TOO_DEEP)
    if not isinstance(data, Mapping):
        raise InvalidImport(f"This is not a SecretGPT export: expected a JSON object, found {_json_kind(data)}.")
    fmt = data.get("format")
    if fmt is None:
        raise InvalidImport("This is not a SecretGPT export: it has no \"format\" field.")
    if fmt not in (FORMAT_ONE, FORMAT_ALL):
        raise InvalidImport(f"This is not a SecretGPT export: its \"format\" is {fmt!r}, expected "
                            f"{FORMAT_ONE!r} or {FORMAT_ALL!r}.")
    version = data.get("version")
    if version != FORMAT_VERSION or isinstance(version, bool):
        raise InvalidImport(f"This export has format version {version!r}; SecretGPT {__version__} reads version "
                            f"{FORMAT_VERSION}.")
    model = ConversationExport if fmt == FORMAT_ONE else ConversationsExport
    try:
        doc = model.model_validate(data)
    except ValidationError as exc:
        raise InvalidImport(f"This SecretGPT export is damaged: {_explain(exc)}") from None
    return [doc.conversation] if isinstance(doc, ConversationExport) else doc.conversations


_MARKDOWN_EXPORT = ("This is a Markdown export: it is for reading and cannot be imported back (it keeps only the "
                    "active thread, without alternatives or answer details). Import the conversation's JSON "
                    "export instead (Export JSON, or Export all).")


def _looks_like_markdown_export(data: str | bytes | bytearray) -> bool:
    head = data[:2000] if isinstance(data, str) else bytes(data[:2000]).decode("utf-8", "replace")
    return head.startswith("# ") and "_Exported from SecretGPT" in head


def _too_deep(value: Any, limit: int) -> bool:
    """Whether lists/objects nest more than `limit` levels (iterative: it must not recurse itself)."""
    level: list[tuple[Any, int]] = [(value, 1)]
    while level:
        item, depth = level.pop()
        children = item.values() if isinstance(item, Mapping) else item if isinstance(item, list) else ()
        for child in children:
            if isinstance(child, (Mapping, list)):
                if depth + 1 > limit:
                    return True
                level.append((child, depth + 1))
    return False


_COPY_SUFFIX = re.compile(r" \(imported copy(?: \d+)?\)$")


def copy_title(title: str, taken: set[str]) -> str:
    """The title of an imported copy of a conversation the owner already has: "<title> (imported
    copy)", then "(imported copy 2)" and on, whichever is not `taken` (a copy of a copy too)."""
    base = _COPY_SUFFIX.sub("", title)
    candidate, n = f"{base} (imported copy)", 1
    while candidate in taken:
        n += 1
        candidate = f"{base} (imported copy {n})"
    return candidate


def importable_status(status: StreamStatus | None) -> StreamStatus | None:
    # An answer exported mid-stream has no stream behind it here.
    return StreamStatus.INTERRUPTED if status in LIVE_STATUSES else status


def _json_kind(value: object) -> str:
    if isinstance(value, list):
        return "a list"
    if value is None:
        return "null"
    return f"a {type(value).__name__}"


def _explain(exc: ValidationError, limit: int = 5) -> str:
    parts = []
    for err in exc.errors()[:limit]:
        where = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in err["loc"]).lstrip(".")
        msg = err["msg"].removeprefix("Value error, ")
        parts.append(f"{where}: {msg}" if where else msg)
    more = exc.error_count() - limit
    return "; ".join(parts) + (f" (and {more} more problems)" if more > 0 else "") + "."


# --- Markdown ----------------------------------------------------------------------------------

_STATUS_NOTES = {
    StreamStatus.STOPPED: "stopped — partial answer",
    StreamStatus.INTERRUPTED: "interrupted — partial answer",
    StreamStatus.TIMEOUT: "timed out — partial answer",
    StreamStatus.PAUSE_TIMEOUT: "paused too long — partial answer",
    StreamStatus.CONNECTING: "still connecting",
    StreamStatus.STREAMING: "still streaming — partial answer",
    StreamStatus.PAUSED: "paused — partial answer",
}


def render_markdown(conversation: StoredConversation) -> str:
    """The active thread as a readable document."""
    out = [f"# {conversation.title}", "",
           f"_Exported from SecretGPT {__version__} · started {_when(conversation.created_at)} · "
           f"last message {_when(conversation.updated_at)}_", ""]
    if conversation.system.strip() or conversation.options.sent():
        out += _settings_lines(conversation.settings)
    for m in conversation.messages:
        out += [f"## {_heading(m)}", ""]
        if m.think:
            seconds = m.metadata.get("think_seconds")
            label = f"Reasoning (thought for {seconds:.1f} s)" if isinstance(seconds, (int, float)) else "Reasoning"
            out += [f"<details><summary>{label}</summary>", "", _no_close_tag(closed_fences(m.think.strip())), "",
                    "</details>", ""]
        if m.content:
            out += [closed_fences(m.content.rstrip()), ""]
        elif m.role == "assistant":
            out += ["_(no text)_", ""]
    return "\n".join(out).rstrip() + "\n"


def _settings_lines(settings: ConversationSettings) -> list[str]:
    out = []
    if settings.system.strip():
        out += ["<details><summary>System prompt</summary>", "", _no_close_tag(closed_fences(settings.system.strip())),
                "", "</details>", ""]
    if settings.options.sent():
        out += ["_Options: " + ", ".join(f"{k} {v}" for k, v in settings.options.sent().items()) + "_", ""]
    return out


def _heading(m: StoredMessage) -> str:
    parts = [m.role.capitalize()]
    if m.role == "assistant":
        if m.model:
            parts.append(f"`{m.model}`")
        if m.status is StreamStatus.ERROR:
            error = m.metadata.get("error")
            parts.append(f"error: {error}" if error else "error — partial answer")
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
