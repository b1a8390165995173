"""Export files: the lossless JSON format, and its validation on import (readable Markdown:
markdown_export.py).

Pure functions over stored models; the store does the reading and writing (sql.py), and runs
`parse_import` on a worker thread: a 50 MB file is seconds of CPU.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from datetime import datetime, timezone
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator, Base64Bytes, BaseModel, ConfigDict, Field, ValidationError, model_serializer, model_validator,
)

from .. import __version__
from ..records import (
    LIVE_STATUSES, MAX_SYSTEM_PROMPT_CHARS, ConversationSettings, GenerationOptions, Role, StreamStatus,
)
from ..records import well_formed_json
from ..records import ImportTooLarge, InvalidImport, StoredConversation
from .tree_shape import parents_first, tree_problem

FORMAT_ONE = "secretgpt.conversation"
FORMAT_ALL = "secretgpt.conversations"
FORMAT_VERSION = 1
# An export is about six levels deep; anything far deeper is not one, and would exhaust Python's
# recursion limit in the JSON parser, in validation or when the metadata is stored again.
MAX_IMPORT_DEPTH = 64
_TOO_DEEP = f"This is not a SecretGPT export: its JSON is nested more than {MAX_IMPORT_DEPTH} levels deep."
# What one file may hold. Far above any real conversation (hundreds of messages; the benchmark's
# heavy user has 200 of 50), while the worst file stays a few seconds of work, off the event
# loop, and one write transaction of bounded length. MAX_IMPORT_MB caps its bytes.
MAX_IMPORT_MESSAGES = 100_000  # in all its conversations together, so also in any one of them
MAX_IMPORT_CONVERSATIONS = 10_000  # an empty conversation costs a row too


def _as_utc(value: datetime) -> datetime:
    # Files edited by hand may drop the offset; the app always writes UTC.
    return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value.astimezone(timezone.utc)


UtcDatetime = Annotated[datetime, AfterValidator(_as_utc)]
Id = Annotated[str, Field(min_length=1, max_length=200)]


_THUMBNAIL = r"^data:image/(png|jpeg);base64,[A-Za-z0-9+/=]+$"


class ExportedAttachment(BaseModel):
    """A file kept with a user message: its listing, its extracted text (documents) or its bytes
    (images, base64), and the thumbnail the app drew of it. A file's text and bytes come from the
    file: an image whose bytes do not match its hash is refused."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=500)
    kind: Literal["text", "image"]
    media_type: str = Field(max_length=128)
    size: int = Field(ge=0)
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    chars: int | None = Field(None, ge=0)
    pages: int | None = Field(None, ge=0)
    text: str | None = None
    data: Base64Bytes | None = None
    thumbnail: str | None = Field(None, pattern=_THUMBNAIL)

    @model_validator(mode="after")
    def _bytes_match(self) -> ExportedAttachment:
        if self.kind == "image":
            if self.data is None or hashlib.sha256(self.data).hexdigest() != self.sha256:
                raise ValueError(f"the image {self.name!r} is missing, or its bytes do not match its sha256")
            self.size = len(self.data)
        return self


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
    attachments: list[ExportedAttachment] = Field(default_factory=list)  # user messages' files

    @model_serializer(mode="wrap")
    def _files_only_when_there(self, handler: Any) -> Any:
        # A message without files is written as before attachments existed.
        dumped = handler(self)
        if isinstance(dumped, dict) and not dumped.get("attachments"):
            dumped.pop("attachments", None)
        return dumped


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
        problem = tree_problem(self.messages)  # linear: the file may hold a 100 000-message chain
        if problem is not None:
            raise ValueError(problem)
        streams = [m.stream_id for m in self.messages if m.stream_id is not None]
        if len(streams) != len(set(streams)):
            raise ValueError("two messages have the same stream_id")
        if self.current_leaf_id is not None and self.current_leaf_id not in {m.id for m in self.messages}:
            raise ValueError(f"current_leaf_id {self.current_leaf_id!r} is not a message of this conversation")
        return self

    def parents_first(self) -> list[ExportedMessage]:
        """The messages in file order, except that a parent always comes before its children."""
        ordered = parents_first(self.messages)
        if len(ordered) != len(self.messages):  # the validator has ruled this out
            raise ValueError("messages whose parents are missing or form a loop")
        return ordered


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

def exported_conversation(conversation: StoredConversation, messages: Sequence[ExportedMessage]) -> ExportedConversation:
    return ExportedConversation(
        id=conversation.id,
        title=conversation.title,
        created_at=conversation.created_at,
        updated_at=conversation.updated_at,
        current_leaf_id=conversation.current_leaf_id,
        system=conversation.system,
        options=conversation.options,
        messages=list(messages),
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
    surrogates = _may_hold_surrogates(data)
    if isinstance(data, (str, bytes, bytearray)):
        try:
            data = json.loads(data, object_pairs_hook=_json_object)
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
    _within_caps(data.get("conversations") if fmt == FORMAT_ALL else [data.get("conversation")])
    if surrogates:
        # pydantic refuses such a string, and one inside `metadata` would fail every JSON
        # response that carries it: U+FFFD instead, as for model text.
        data = well_formed_json(data)
    model = ConversationExport if fmt == FORMAT_ONE else ConversationsExport
    try:
        doc = model.model_validate(data)
    except ValidationError as exc:
        raise InvalidImport(f"This SecretGPT export is damaged: {_explain(exc)}") from None
    return [doc.conversation] if isinstance(doc, ConversationExport) else doc.conversations


_MARKDOWN_EXPORT = ("This is a Markdown export: it is for reading and cannot be imported back (it keeps only the "
                    "active thread, without alternatives or answer details). Import the conversation's JSON "
                    "export instead (Export JSON, or Export all).")


def _json_object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """Each JSON object, as json.loads would make it. A Python function on purpose: json's C parser
    holds the GIL for the whole file (0.2 s for 37 MB, during which the event loop's thread cannot
    run), and calling back into Python gives it a chance to hand the GIL over, object by object."""
    return dict(pairs)


def _looks_like_markdown_export(data: str | bytes | bytearray) -> bool:
    head = data[:2000] if isinstance(data, str) else bytes(data[:2000]).decode("utf-8", "replace")
    return head.startswith("# ") and "_Exported from SecretGPT" in head


def _within_caps(conversations: Any) -> None:
    """Raises ImportTooLarge for a file over MAX_IMPORT_CONVERSATIONS or MAX_IMPORT_MESSAGES,
    before the costly part (validation, the tree check, the insert) starts. A malformed file is
    left for validation to name."""
    if not isinstance(conversations, list):
        return
    if len(conversations) > MAX_IMPORT_CONVERSATIONS:
        raise ImportTooLarge(f"This file holds {len(conversations):,} conversations; SecretGPT imports at most "
                             f"{MAX_IMPORT_CONVERSATIONS:,} conversations per file. Export fewer at a time.")
    messages = sum(len(c["messages"]) for c in conversations
                   if isinstance(c, Mapping) and isinstance(c.get("messages"), list))
    if messages > MAX_IMPORT_MESSAGES:
        raise ImportTooLarge(f"This file holds {messages:,} messages; SecretGPT imports at most "
                             f"{MAX_IMPORT_MESSAGES:,} messages per file (all its conversations together). "
                             "Export fewer conversations at a time.")


# A surrogate's JSON escape, or the surrogate itself (in bytes: as UTF-8 would encode one; valid
# UTF-8 never has ED followed by A0-BF).
_SURROGATE_TEXT = re.compile("\\\\u[dD][89a-fA-F][0-9a-fA-F]{2}|[\ud800-\udfff]")
_SURROGATE_BYTES = re.compile(rb"\\u[dD][89a-fA-F][0-9a-fA-F]{2}|\xed[\xa0-\xbf]")


def _may_hold_surrogates(data: Mapping[str, Any] | str | bytes | bytearray) -> bool:
    """Whether the parsed file may hold a lone surrogate (one scan of the raw text; a false yes
    only costs one more pass over the parsed file)."""
    if isinstance(data, str):
        return bool(_SURROGATE_TEXT.search(data))
    if isinstance(data, (bytes, bytearray)):
        # json.loads decodes bytes with surrogatepass, and reads UTF-16 and UTF-32 too.
        return json.detect_encoding(data) != "utf-8" or bool(_SURROGATE_BYTES.search(data))
    return True  # already parsed (a caller's own dict): walked, never changed in place


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
