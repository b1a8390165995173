"""The app's errors that cross layers: what is not there (a conversation, a message), an import
that cannot be made, and the model side's failures with a kind a person can act on. Storage and
the services raise them; the hub passes them on; the interfaces turn them into words and statuses."""

from __future__ import annotations

from enum import Enum

from .surrogates import well_formed


class ConversationNotFound(LookupError):
    pass


class MessageNotFound(LookupError):
    """The message does not exist in that conversation (or the conversation is someone else's). Its
    text is a sentence for the user (`absent` makes the usual one)."""

    @classmethod
    def absent(cls, message_id: str) -> MessageNotFound:
        return cls(f"No message {message_id!r} in this conversation.")


class InvalidImport(ValueError):
    """The file cannot be imported; the message says why in words a user can act on. Nothing was
    changed."""


class ImportTooLarge(InvalidImport):
    """The file holds more than one import may (MAX_IMPORT_MESSAGES, MAX_IMPORT_CONVERSATIONS)."""


class ErrorKind(str, Enum):
    AUTH = "auth"
    UNREACHABLE = "unreachable"
    TIMEOUT = "timeout"
    MODEL = "model_error"
    INTERRUPTED = "interrupted"
    BAD_REQUEST = "bad_request"
    OVERLOADED = "overloaded"
    UNAVAILABLE = "unavailable"
    STORAGE = "storage"  # the answer arrived but could not be saved
    NOT_ATTESTED = "not_attested"  # refused: the host (or this connection's key) is not verified
    REDIRECT = "redirect"  # the model host redirected; model connections follow none


class SecretAIError(Exception):
    """A model-side failure, mapped from raw SDK/httpx/ollama errors to a kind a user can act on."""

    def __init__(self, kind: ErrorKind, message: str, *, status: int | None = None) -> None:
        message = well_formed(message)  # it may quote the model server's own words, odd text included
        super().__init__(message)
        self.kind = kind
        self.message = message
        self.status = status


class ConversationBusy(RuntimeError):
    """An answer is still streaming in the conversation."""

    def __init__(self) -> None:
        super().__init__("An answer is still streaming in this conversation; stop it first.")


class TooManyStreams(Exception):
    def __init__(self, limit: int) -> None:
        super().__init__(f"Too many answers are streaming at once (limit {limit}, MAX_CONCURRENT_STREAMS). "
                         "Wait for one to finish or stop one, then try again.")
        self.limit = limit
