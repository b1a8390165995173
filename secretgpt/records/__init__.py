"""The records every layer shares (the bottom of the app: it imports nothing of it): chat turns and
chunks, how an answer ended and everything known about it, the models there are, conversations as
they are kept, the errors that cross layers, and well-formed text (no lone surrogates)."""

from .streams import (
    Role, ChatTurn, ChunkKind, StreamChunk, Usage, StreamStatus, LIVE_STATUSES, MAX_SYSTEM_PROMPT_CHARS,
    GenerationOptions, ConversationSettings, AttestationWord, AnswerAttestation, Consent, Admission,
    AnswerProvenance, StreamRecord,
)
from .stream_events import (
    Command, Signal, EventType, FINAL_EVENTS, StreamEvent, StreamInfo, EventList,
)
from .catalog import (
    ModelApi, ModelInfo, Catalog,
)
from .conversations import (
    StoredMessage, StoredConversation, ImportCandidate, ConversationSummary, AnswerProof,
)
from .errors import (
    ConversationNotFound, MessageNotFound, InvalidImport, ImportTooLarge, ErrorKind, SecretAIError,
    ConversationBusy, TooManyStreams,
)
from .attachments import (
    AttachmentKind, Attachment, ExtractedFile, TurnAttachment, UnreadableFile, FileTooLarge, FileNotFound,
    CannotSeeImages, can_see_images, size_words,
)
from .surrogates import (
    well_formed, well_formed_json, SurrogateMender,
)

from .log_context import current_stream, working_for
__all__ = [
    "current_stream", "working_for",
    "Attachment", "AttachmentKind", "CannotSeeImages", "ExtractedFile", "FileNotFound", "FileTooLarge",
    "TurnAttachment", "UnreadableFile", "can_see_images", "size_words",
    "Admission", "AnswerAttestation", "AnswerProof", "AnswerProvenance", "AttestationWord", "Catalog", "ChatTurn",
    "ChunkKind", "Command", "Consent", "ConversationBusy", "ConversationNotFound", "ConversationSettings",
    "ConversationSummary", "ErrorKind", "EventList", "EventType", "FINAL_EVENTS", "GenerationOptions",
    "ImportCandidate", "ImportTooLarge", "InvalidImport", "LIVE_STATUSES", "MAX_SYSTEM_PROMPT_CHARS",
    "MessageNotFound", "ModelApi", "ModelInfo", "Role", "SecretAIError", "Signal", "StoredConversation",
    "StoredMessage", "StreamChunk", "StreamEvent", "StreamInfo", "StreamRecord", "StreamStatus", "SurrogateMender",
    "TooManyStreams", "Usage", "well_formed", "well_formed_json",
]
