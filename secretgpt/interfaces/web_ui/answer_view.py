"""One assistant message on the page: reasoning block, streamed answer, status and error."""

from __future__ import annotations

from nicegui import ui

from ...hub.core.events import StreamRecord, StreamStatus
from ...storage import StoredMessage
from .message_actions import MessageActions, action_row
from .streaming_markdown import StreamingMarkdown

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


class ThinkBlock:
    """Reasoning in its own collapsible block, in the think colour, never mixed into the answer."""

    def __init__(self, emoji: str, color: str) -> None:
        self.emoji = emoji
        self.expansion = ui.expansion(f"{emoji} Thinking…", value=True).classes("w-full sg-think").mark("think") \
            .props("dense header-class='text-sm'").style(f"color: {color}")
        with self.expansion:
            self.body = StreamingMarkdown()

    def append(self, text: str) -> None:
        self.body.append(text)

    def flush(self) -> None:
        self.body.flush()

    def done(self, seconds: float | None) -> None:
        """Thinking is over: label it with its duration and fold it away (re-openable)."""
        self.body.finish()
        if seconds is None:
            self.expansion.text = f"{self.emoji} Reasoning"  # arrived whole: its duration is unknown
        elif seconds < 0.1:
            self.expansion.text = f"{self.emoji} Thought briefly"
        else:
            self.expansion.text = f"{self.emoji} Thought for {seconds:.0f} s" if seconds >= 1 else \
                f"{self.emoji} Thought for {seconds:.1f} s"
        self.expansion.value = False


class AnswerView:
    def __init__(self, *, emoji: str, color: str, show_reasoning: bool, actions: MessageActions) -> None:
        self.actions = actions
        self.message_id: str | None = None
        with ui.chat_message(name="SecretGPT", sent=False).classes("w-full sg-message") \
                .props("bg-color=grey-2") as self.message:
            with ui.column().classes("w-full gap-1 sg-answer-wrap") as self.column:
                self._emoji, self._color = emoji, color
                self.think: ThinkBlock | None = None  # made when reasoning arrives
                self._show_reasoning = show_reasoning
                # Code blocks get a panel; Tailwind arbitrary variants reach the rendered <pre>.
                with ui.element("div").classes("w-full sg-answer [&_pre]:bg-white [&_pre]:p-3 [&_pre]:rounded "
                                               "[&_pre]:overflow-x-auto").mark("answer"):
                    self.body = StreamingMarkdown()
                with ui.row().classes("w-full items-center gap-2 text-xs text-grey-7") as self.footer:
                    self.status = ui.badge(STATUS_TEXT[StreamStatus.CONNECTING], color="grey-7") \
                        .classes("sg-status").props("outline").mark("status")
                    self.detail = ui.label("").classes("sg-detail")
                    ui.space()
                    self.actions_slot = ui.row().classes("items-center gap-0")
        self._think_closed = False

    async def _retry(self) -> None:
        if self.message_id is not None:
            await self.actions.regenerate(self.message_id)

    def bind(self, message: StoredMessage) -> None:
        """The stored message behind this view: its id and its action buttons."""
        self.message_id = message.id
        self.actions_slot.clear()
        with self.actions_slot:
            action_row(message, self.actions)

    def show_stored(self, message: StoredMessage, conversation_id: str, owner: str) -> None:
        """A finished answer from history: rendered at once, not streamed."""
        record = message.stream_record(conversation_id, owner)
        self.add_think(message.think)
        self.close_think(record.think_seconds if record else None)
        self.body.show(message.content)
        status = message.status or StreamStatus.COMPLETED
        error = message.metadata.get("error") if status not in (StreamStatus.COMPLETED, StreamStatus.STOPPED) else None
        if status is StreamStatus.INTERRUPTED and not error:
            error = "The server stopped while this answer was being written. Continue picks up where it ended."
        self.finish(record, status, error)
        self.bind(message)

    def set_show_reasoning(self, show: bool) -> None:
        self._show_reasoning = show
        if self.think is not None:
            self.think.expansion.set_visibility(show)

    def add_think(self, text: str) -> None:
        if not text:
            return
        if self.think is None:
            with self.column:
                self.think = ThinkBlock(self._emoji, self._color)
            self.think.expansion.move(target_index=0)  # above the answer
            self.think.expansion.set_visibility(self._show_reasoning)
        self.think.append(text)

    def add_text(self, text: str, think_seconds: float | None) -> None:
        if text and not self._think_closed and self.think is not None:
            self.close_think(think_seconds)
        self.body.append(text)

    def close_think(self, seconds: float | None) -> None:
        if not self._think_closed and self.think is not None:
            self._think_closed = True
            self.think.done(seconds)

    def flush(self) -> None:
        if not self._think_closed and self.think is not None:
            self.think.flush()
        self.body.flush()

    def set_status(self, status: StreamStatus, detail: str = "") -> None:
        self.status.text = STATUS_TEXT[status]
        self.status.props(f"color={STATUS_COLOR.get(status, 'negative')}")
        if self.detail.text != detail:
            self.detail.text = detail

    def finish(self, record: StreamRecord | None, status: StreamStatus, error: str | None) -> None:
        self.close_think(record.think_seconds if record else None)
        self.body.finish()
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
            self.show_notice("Stopped — the answer above is partial.")
        if error:
            with self.column:
                with ui.row().classes("items-center gap-2"):
                    ui.label(error).classes("text-negative text-sm sg-error")
                    ui.button("Retry", icon="refresh", on_click=self._retry).props("flat dense color=negative")

    def show_notice(self, text: str) -> None:
        with self.column:
            ui.label(text).classes("text-xs text-grey-8 sg-notice")
