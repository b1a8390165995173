"""The app's errors, in one place for the interfaces: the hub's own refusals, and the records'
errors that come up through it (not found, imports, the model side's failures)."""

from __future__ import annotations

from ..records import (
    ConversationBusy, ConversationNotFound, TooManyStreams, ErrorKind, ImportTooLarge, InvalidImport, MessageNotFound, SecretAIError,
)
from ..services.attestation import AttestationStatus

__all__ = [
    "BadMessage", "ConversationBusy", "ConversationNotFound", "ErrorKind", "HostNotVerified", "ImportTooLarge",
    "InvalidImport", "MessageNotFound", "NoProof", "SecretAIError", "StreamNotFound", "TooManyStreams",
]


class BadMessage(ValueError):
    """The message cannot be sent as it is; the text says why."""


class StreamNotFound(LookupError):
    pass


class NoProof(LookupError):
    """No proof for this message: a question, or an answer without proof material (made before proofs
    existed, imported, or cut off by a crash)."""


class HostNotVerified(SecretAIError):
    """Refused before anything was sent: the host's attestation did not verify."""

    def __init__(self, origin: str, status: AttestationStatus) -> None:
        word = "could not be verified" if status.status == "unverified" else f"is {status.status}"
        super().__init__(ErrorKind.NOT_ATTESTED, (
            f"Nothing was sent: the model host {origin} {word} ({status.reason}). SecretGPT sends prompts only "
            "to a verified confidential VM (ATTESTATION_POLICY=require). To send anyway to this unverified host: "
            "choose \"Send anyway\" on the page, or send with \"allow_unverified\": true over the API, or set "
            "ATTESTATION_POLICY=warn."))
        self.origin = origin
        self.host_status = status
