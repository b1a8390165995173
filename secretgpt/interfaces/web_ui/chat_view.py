"""`ChatView`: the conversation on the page, the message box, and the stream controls."""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque

from nicegui import background_tasks, ui
from nicegui.events import GenericEventArguments

from ...config import TypingSpeed
from ...hub.core.events import FINAL_EVENTS, StreamStatus
from ...hub.core.router import BadMessage, HubRouter, TooManyStreams
from ...hub.core.stream import ActiveStream
from ...services.secret_ai import SecretAIError
from ...storage import ConversationNotFound, StoredConversation
from .answer_view import AnswerView
from .preferences import Preferences
from .reveal import RevealPacer

log = logging.getLogger(__name__)

FINAL_STATUS = {"done": StreamStatus.COMPLETED, "cancelled": StreamStatus.STOPPED}


class ChatView:
    def __init__(self, hub: HubRouter, owner: str, prefs: Preferences) -> None:
        self.hub = hub
        self.owner = owner
        self.prefs = prefs
        self.conversation_id: str | None = prefs.conversation_id
        self.stream: ActiveStream | None = None
        self.answer: AnswerView | None = None
        self._answers: list[AnswerView] = []
        self._follow = True
        self._last_message = ""

        with ui.scroll_area().classes("w-full grow sg-scroll") as self.scroll:
            self.messages = ui.column().classes("w-full max-w-4xl mx-auto gap-3 p-2")
        with ui.column().classes("w-full max-w-4xl mx-auto gap-1"):
            with ui.row().classes("w-full items-end no-wrap gap-2"):
                self.input = ui.textarea(label="Message", placeholder="Ask anything — Enter sends, Shift+Enter "
                                         "adds a line").props("autogrow outlined dense input-class=max-h-48 "
                                                              "aria-label=Message").classes("grow")
                self.input.on("keydown.enter.exact.prevent", self.send)
                self.send_button = ui.button("Send", icon="send", on_click=self.send).props("aria-label=Send")
            with ui.row().classes("items-center gap-2"):
                self.stop_button = ui.button("Stop", icon="stop", on_click=self.stop) \
                    .props("outline dense color=negative aria-label=Stop")
                self.pause_button = ui.button("Pause", icon="pause", on_click=self.toggle_pause) \
                    .props("outline dense aria-label=Pause")
                self.status = ui.label("").classes("text-xs text-grey-7 sg-stream-status")
        # Throttled: every programmatic scroll echoes an event back, and a stream scrolls often.
        self.scroll.on("scroll", self._on_scroll, args=["verticalPosition", "verticalSize", "verticalContainerSize"],
                       throttle=0.25, leading_events=False)
        self._scroll_position = 0.0
        self._set_running(False)

    # --- conversation -------------------------------------------------------------------------

    async def load(self) -> None:
        """Show the stored conversation and re-attach to an answer still streaming."""
        if self.conversation_id is None:
            return
        try:
            conversation = await self.hub.store.get(self.conversation_id, self.owner)
        except ConversationNotFound:
            self.new_chat()
            return
        self._render_history(conversation)
        running = self.hub.registry.for_conversation(conversation.id)
        if running is not None and running.owner == self.owner:
            self._attach(running, replay=True)

    def new_chat(self) -> None:
        if self.stream is not None:
            return
        self.conversation_id = None
        self.prefs.conversation_id = None
        self.messages.clear()
        self._answers.clear()

    def _render_history(self, conversation: StoredConversation) -> None:
        for index, turn in enumerate(conversation.turns):
            record = conversation.answers.get(index)
            if turn.role == "user":
                self._user_bubble(turn.content)
            elif turn.role == "assistant" and (record is None or record.status.ended):
                view = self._new_answer()
                view.add_think(turn.think)
                view.add_text(turn.content, record.think_seconds if record else None)
                status = record.status if record else StreamStatus.COMPLETED
                view.finish(record, status, record.error if record else None)

    def _user_bubble(self, text: str) -> None:
        with self.messages:
            ui.chat_message(text, name="You", sent=True).classes("sg-user").props("bg-color=blue-1")

    def _new_answer(self) -> AnswerView:
        with self.messages:
            view = AnswerView(emoji=self.hub.settings.think_emoji, color=self.hub.settings.think_color,
                              show_reasoning=self.prefs.show_reasoning, on_retry=self.retry)
        self._answers.append(view)
        return view

    def set_show_reasoning(self, show: bool) -> None:
        for view in self._answers:
            view.set_show_reasoning(show)

    # --- actions ------------------------------------------------------------------------------

    async def send(self) -> None:
        if self.stream is not None:
            return
        message = self.input.value or ""
        try:
            self.hub.validate(message)
        except BadMessage as exc:
            ui.notify(str(exc), type="warning")
            return
        if await self._start(message, retry=False):
            self.input.value = ""

    async def retry(self) -> None:
        if self.stream is None and self.conversation_id is not None:
            await self._start(self._last_message, retry=True)

    async def _start(self, message: str, *, retry: bool) -> bool:
        try:
            stream = await self.hub.stream_message(
                message, owner=self.owner, conversation_id=self.conversation_id, model=self.prefs.model,
                streaming=self.prefs.streaming, retry=retry)
        except (BadMessage, TooManyStreams, ConversationNotFound, SecretAIError) as exc:
            # Nothing was sent: the text stays in the box.
            ui.notify(getattr(exc, "message", None) or str(exc), type="negative", multi_line=True)
            return False
        self._last_message = message
        self.conversation_id = stream.conversation_id
        self.prefs.conversation_id = stream.conversation_id
        if not retry:
            self._user_bubble(message)
        self._attach(stream, replay=False)
        return True

    def stop(self) -> None:
        if self.stream is not None:
            self.stream.cancel()

    def toggle_pause(self) -> None:
        stream = self.stream
        if stream is None:
            return
        if stream.paused:
            stream.resume()
        else:
            stream.pause()
        self._show_pause_state(stream.paused)

    # --- streaming into the page ----------------------------------------------------------------

    def _attach(self, stream: ActiveStream, *, replay: bool) -> None:
        self.stream = stream
        self.answer = self._new_answer()
        self._follow = True
        self._set_running(True)
        self._show_pause_state(stream.paused)
        background_tasks.create(self._consume(stream, self.answer, replay), name=f"ui-{stream.id}")

    async def _consume(self, stream: ActiveStream, view: AnswerView, replay: bool) -> None:
        """Pull delivered events, reveal them at the typing pace, flush at STREAMING_UPDATE_HZ.

        One wake-up per flush, not per token: the page cost does not grow with the token rate.
        """
        interval = 1.0 / self.hub.settings.streaming_update_hz
        speed = TypingSpeed(self.prefs.typing_speed)
        pacer = RevealPacer(TypingSpeed.INSTANT if replay else speed)
        backlog: deque[list[str]] = deque()  # [kind, text] segments not yet shown
        waiting = 0
        seq = 0
        final = None
        last = time.monotonic()
        last_status = 0.0
        try:
            while True:
                for event in stream.events_after(seq):
                    seq = event.seq
                    if event.type in ("think", "text"):
                        if backlog and backlog[-1][0] == event.type:
                            backlog[-1][1] += event.content
                        else:
                            backlog.append([event.type, event.content])
                        waiting += len(event.content)
                    elif event.type in FINAL_EVENTS:
                        final = event
                if replay and final is None:
                    pacer = RevealPacer(speed)  # caught up with the replay: back to the chosen pace
                now = time.monotonic()
                if stream.paused and final is None:
                    # Pause freezes the display at once, including text already received.
                    last = now
                    await stream.changed()
                    continue
                take = waiting if final is not None else pacer.allowance(waiting, now - last)
                waiting_before = waiting
                last = now
                waiting -= take
                while take > 0 and backlog:
                    kind, text = backlog[0]
                    piece, rest = text[:take], text[take:]
                    take -= len(piece)
                    if rest:
                        backlog[0][1] = rest
                    else:
                        backlog.popleft()
                    if kind == "think":
                        view.add_think(piece)
                    else:
                        view.add_text(piece, stream.think_seconds)
                shown = waiting_before != waiting
                view.flush()
                if final is not None and not backlog:
                    self._finish(stream, view, final.data or {})
                    return
                if now - last_status >= 0.5:
                    last_status = now
                    self._update_status(stream, view)
                if self._follow and shown:
                    self.scroll.scroll_to(percent=1.0)
                if not backlog:
                    await stream.changed()
                await asyncio.sleep(interval)
        except Exception:
            log.exception("showing stream %s failed", stream.id)
            view.finish(None, StreamStatus.ERROR, "The page failed to show this answer; it is kept on the server.")
            self._stream_ended()

    def _finish(self, stream: ActiveStream, view: AnswerView, data: dict) -> None:
        record = stream.record()
        error = data.get("message") if record.status not in (StreamStatus.COMPLETED, StreamStatus.STOPPED) else None
        view.finish(record, record.status, error)
        if self._follow:
            self.scroll.scroll_to(percent=1.0)
        self._stream_ended()

    def _stream_ended(self) -> None:
        self.stream = None
        self._set_running(False)
        self.status.text = ""

    def _update_status(self, stream: ActiveStream, view: AnswerView) -> None:
        rate = stream.tokens_per_second
        detail = f"{rate:.0f} tok/s" if rate is not None and stream.status is StreamStatus.STREAMING else ""
        view.set_status(stream.status, detail)
        self.status.text = f"{view.status.text} {detail}".strip()

    def _set_running(self, running: bool) -> None:
        self.stop_button.set_visibility(running)
        self.pause_button.set_visibility(running)
        self.send_button.set_enabled(not running)

    def _show_pause_state(self, paused: bool) -> None:
        label = "Resume" if paused else "Pause"
        self.pause_button.text = label
        self.pause_button.props(f"aria-label={label} icon={'play_arrow' if paused else 'pause'}")
        if self.answer is not None and self.stream is not None:
            self.answer.set_status(StreamStatus.PAUSED if paused else self.stream.status)

    def _on_scroll(self, event: GenericEventArguments) -> None:
        """Follow the stream until the reader scrolls up; follow again once they are back at the bottom.

        Content growing under a still scroll position is not the reader scrolling up."""
        position = float(event.args.get("verticalPosition") or 0)
        size = float(event.args.get("verticalSize") or 0)
        container = float(event.args.get("verticalContainerSize") or 0)
        if size - container - position <= 48:
            self._follow = True
        elif position < self._scroll_position - 4:
            self._follow = False
        self._scroll_position = position

