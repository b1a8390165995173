"""`AnswerMessage`: one assistant message on the page — reasoning block, streamed answer, status,
error and the buttons under it."""

from __future__ import annotations

from dataclasses import dataclass

from nicegui import ui

from ...records import ChunkKind, StreamRecord, StreamStatus
from ...records import StoredMessage
from .attestation_badge import AnswerAttestationBar
from .message_actions import MessageActions, action_row
from .remote_image import ImageFetcher
from .streaming_markdown import StreamingMarkdown
from .think_block import ThinkBlock

STATUS_TEXT = {
    StreamStatus.CONNECTING: "Connecting…",
    StreamStatus.STREAMING: "Streaming",
    StreamStatus.PAUSED: "Paused",
    StreamStatus.COMPLETED: "Completed",
    StreamStatus.STOPPED: "Stopped",
    StreamStatus.ERROR: "Error",
    StreamStatus.TIMEOUT: "Timed out",
    StreamStatus.PAUSE_TIMEOUT: "Paused too long",
    StreamStatus.INTERRUPTED: "Interrupted",
}
STATUS_COLOR = {
    StreamStatus.CONNECTING: "grey-7", StreamStatus.STREAMING: "primary", StreamStatus.PAUSED: "orange-8",
    StreamStatus.COMPLETED: "positive", StreamStatus.STOPPED: "grey-8",
}
# Answers that ended without completing or being stopped.
FAILED = frozenset({StreamStatus.ERROR, StreamStatus.TIMEOUT, StreamStatus.PAUSE_TIMEOUT, StreamStatus.INTERRUPTED})
# Dark mode: the bubble's background is its text colour (Quasar's chat message), set !important.
DARK_BUBBLE = "dark:[&_.q-message-text]:!text-[#2a2b30] dark:[&_.q-message-text-content]:!text-[#e6e6e6]"


@dataclass(frozen=True)
class ThinkStyle:
    """How reasoning blocks look (THINK_EMOJI, THINK_COLOR) and whether they are shown."""

    emoji: str
    color: str
    show: bool


class AnswerMessage(ui.chat_message):
    def __init__(self, style: ThinkStyle, actions: MessageActions, images: ImageFetcher | None = None) -> None:
        super().__init__(name="SecretGPT", sent=False)
        self.classes("w-full sg-message").props("bg-color=grey-2")
        # The bubble takes the row's width from the start (no jump when the answer begins) and
        # never more: wide tables and code scroll inside their own box.
        self.classes("[&_.q-message-container>div]:min-w-0 [&_.q-message-container>div]:grow "
                     "[&_table]:block [&_table]:overflow-x-auto [&_table]:max-w-full [&_table]:[word-break:normal]")
        self.classes(DARK_BUBBLE + " dark:[&_pre]:!bg-[#17181b]")
        self.actions = actions
        self.message_id: str | None = None
        self._style = style
        self._images = images  # what "Load image" may reach (None: public addresses only)
        self.think: ThinkBlock | None = None  # made when reasoning arrives
        self._think_closed = False
        self._has_text = False
        self._retry_shown = False  # then Retry is the way to ask again (not Regenerate as well)
        with self, ui.column().classes("w-full gap-1 sg-answer-wrap") as self._column:
            # Code blocks get a panel; Tailwind arbitrary variants reach the rendered <pre>.
            with ui.element("div").classes("w-full sg-answer [&_pre]:bg-white [&_pre]:p-3 [&_pre]:rounded "
                                           "[&_pre]:overflow-x-auto dark:[&_pre]:bg-gray-900").mark("answer"):
                self._body = StreamingMarkdown(images)
            with ui.row().classes("w-full items-center gap-2 text-xs text-grey-7"):
                self.status = ui.badge(STATUS_TEXT[StreamStatus.CONNECTING], color="grey-7") \
                    .classes("sg-status").props("outline").mark("status")
                self._detail = ui.label("").classes("sg-detail")
                ui.space()
                self._actions_slot = ui.row().classes("items-center gap-0")

    async def _retry(self) -> None:
        if self.message_id is not None:
            await self.actions.regenerate(self.message_id)

    def bind(self, message: StoredMessage) -> None:
        """The stored message behind this view: its id and its action buttons."""
        self.message_id = message.id
        self._actions_slot.clear()
        # A failed answer with nothing in it has nothing to prove.
        empty_failure = message.status in FAILED and not message.content and not message.think
        with self._actions_slot:
            if message.role == "assistant" and self.actions.attestation is not None:
                AnswerAttestationBar(message, self.actions.attestation, proof=not empty_failure)
            action_row(message, self.actions, regenerate=not self._retry_shown)

    def show_stored(self, message: StoredMessage, conversation_id: str, owner: str) -> None:
        """A finished answer from history: rendered at once, not streamed."""
        record = message.stream_record(conversation_id, owner)
        self.add(ChunkKind.THINK, message.think)
        self.close_think(record.think_seconds if record else None)
        self._body.show(message.content)
        self._has_text = bool(message.content)
        status = message.status or StreamStatus.COMPLETED
        error = message.metadata.get("error") if status not in (StreamStatus.COMPLETED, StreamStatus.STOPPED) else None
        if status is StreamStatus.INTERRUPTED and not error:
            error = "The server stopped while this answer was being written. Continue picks up where it ended."
        self.finish(record, status, error)
        self.bind(message)

    def set_show_reasoning(self, show: bool) -> None:
        self._style = ThinkStyle(self._style.emoji, self._style.color, show)
        if self.think is not None:
            self.think.set_visibility(show)

    def add(self, kind: ChunkKind, text: str, think_seconds: float | None = None) -> None:
        """Streamed text of either kind; the first answer text closes the reasoning block."""
        if not text:
            return
        if kind is ChunkKind.TEXT:
            self.close_think(think_seconds)
            self._has_text = True
            self._body.append(text)
            return
        if self.think is None:
            with self._column:
                self.think = ThinkBlock(self._style.emoji, self._style.color, self._images)
            self.think.move(target_index=0)  # above the answer
            self.think.set_visibility(self._style.show)
        self.think.append(text)

    def close_think(self, seconds: float | None) -> None:
        if not self._think_closed and self.think is not None:
            self._think_closed = True
            self.think.done(seconds)

    def flush(self) -> None:
        if not self._think_closed and self.think is not None:
            self.think.flush()
        self._body.flush()

    @property
    def sent(self) -> int:
        """Bytes of HTML sent for this answer so far (the page has more to show when it grows)."""
        return self._body.sent + (self.think.sent if self.think is not None else 0)

    def set_status(self, status: StreamStatus, detail: str = "") -> None:
        self.status.text = STATUS_TEXT[status]
        self.status.props(f"color={STATUS_COLOR.get(status, 'negative')}")
        if self._detail.text != detail:
            self._detail.text = detail

    def finish(self, record: StreamRecord | None, status: StreamStatus, error: str | None) -> None:
        self.close_think(record.think_seconds if record else None)
        self._body.finish()
        detail = ""
        if record is not None:
            tokens = record.completion_tokens or record.chunks
            elapsed = (record.ended_at - record.started_at).total_seconds() if record.ended_at else None
            detail = f"{record.model} · {tokens:,} tokens" + (f" in {elapsed:.1f} s" if elapsed else "")
            if record.fallback:
                self.show_notice("Streaming failed before the first token, so this answer came from a "
                                 "non-streaming request.")
        self.set_status(status, detail)
        if status is StreamStatus.STOPPED:
            self.show_notice("Stopped — the answer above is partial." if self._has_text else
                             "Stopped before any text arrived.")
        if error:
            self._retry_shown = True
            with self._column, ui.row().classes("items-center gap-2"):
                ui.label(error).classes("text-negative text-sm sg-error")
                ui.button("Retry", icon="refresh", on_click=self._retry).props("flat dense color=negative") \
                    .mark("retry")

    def show_notice(self, text: str) -> None:
        with self._column:
            ui.label(text).classes("text-xs text-grey-8 sg-notice")
