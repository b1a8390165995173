"""The hub: each stream's lifecycle between the model path and the interfaces. Its public face is
this package: `ChatHub` (every verb the page and the API use), the read-only `StreamView` of a
stream and its events, the app's errors, and the interfaces the hub owns and the layers below
implement (a conversation store, a model client, a stream bus).

The interfaces import from here, from `secretgpt.records` and `secretgpt.config`, and nothing
else of the app (tests/test_architecture.py).
"""

from ..services.attestation.freshness import NO_NONCE_NOTE, fetched_at_of
from ..services.attestation.measurements import LABELS as MEASUREMENT_LABELS
from ..services.attestation.measurements import short as short_digest
from ..proofs.verify import EXIT_TAMPERED, EXIT_UNKNOWN_SIGNER, EXIT_UNVERIFIED, EXIT_VERIFIED, ProofReport
from .admission import Via
from ..services.attestation.measurement_log import Change, LogEntry
from .attestation_desk import AttestationDesk, HostReport
from .bus import EventSource, StreamBus
from .chat_hub import ChatHub, OpenConversation
from .errors import (
    BadMessage, ConversationBusy, ConversationNotFound, ErrorKind, HostNotVerified, ImportTooLarge, InvalidImport,
    MessageNotFound, NoProof, SecretAIError, StreamNotFound, TooManyStreams,
)
from .event_feed import EventFeed
from ..records import Command, Signal, StreamEvent, StreamInfo
from .local_bus import LocalBus
from .ports import ConversationStore, HubObserver, ModelClient, Unobserved
from .readiness import Readiness
from .stream_state import StreamState
from .stream_view import StreamView

__all__ = [
    "EXIT_TAMPERED", "EXIT_UNKNOWN_SIGNER", "EXIT_UNVERIFIED", "EXIT_VERIFIED", "MEASUREMENT_LABELS", "NO_NONCE_NOTE",
    "fetched_at_of", "short_digest",
    "AttestationDesk", "BadMessage", "Change", "ChatHub", "Command", "ConversationBusy", "ConversationNotFound", "ConversationStore", "ErrorKind",
    "EventFeed", "EventSource", "HostNotVerified", "HubObserver", "HostReport", "ImportTooLarge", "InvalidImport", "LocalBus", "LogEntry",
    "MessageNotFound", "ModelClient", "NoProof", "OpenConversation", "ProofReport", "Readiness", "SecretAIError", "Signal",
    "StreamBus", "StreamEvent", "StreamInfo", "StreamNotFound", "StreamState", "StreamView", "TooManyStreams", "Unobserved", "Via",
]
